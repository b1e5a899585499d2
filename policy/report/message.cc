// Report IDs, file names, the Subject and the report message (RFC 9990 §5.2.1).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "credence/policy/report.h"

namespace credence {
namespace {

std::string Base64Lines(std::string_view data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
    col += 4;
    // RFC 2045 §6.8: lines of at most 76 characters.
    if (col == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  if (col != 0) out += "\r\n";
  return out;
}

std::string Rfc5322Date(int64_t t) {
  time_t when = static_cast<time_t>(t);
  struct tm tmv = {};
  gmtime_r(&when, &tmv);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tmv);
  return buf;
}

}  // namespace

std::string NewReportId() {
  unsigned char bytes[16];
  bool ok = false;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ok = ::read(fd, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes);
    ::close(fd);
  }
  if (!ok) {
    std::random_device rd;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

std::string ReportFileName(std::string_view receiver, std::string_view policy_domain,
                           ReportPeriod period, std::string_view report_id) {
  return std::string(receiver) + "!" + std::string(policy_domain) + "!" +
         std::to_string(period.begin) + "!" + std::to_string(period.end) + "!" +
         std::string(report_id) + ".xml.gz";
}

std::string ReportSubject(std::string_view policy_domain, std::string_view submitter,
                          std::string_view report_id) {
  return "Report Domain: " + std::string(policy_domain) + " Submitter: " + std::string(submitter) +
         " Report-ID: <" + std::string(report_id) + ">";
}

std::string ReportMessage(const AggregateReport& report, const ReportIdentity& id,
                          std::string_view to, std::string_view report_id,
                          std::string_view file_name, std::string_view gzip_bytes, int64_t date) {
  std::string boundary = "=_credence_" + std::string(report_id);
  std::string m;
  m += "From: " + id.report_from + "\r\n";
  m += "To: " + std::string(to) + "\r\n";
  m += "Date: " + Rfc5322Date(date) + "\r\n";
  m += "Subject: " + ReportSubject(report.policy_domain, id.receiver_domain, report_id) + "\r\n";
  m += "Message-ID: <" + std::string(report_id) + "@" + id.receiver_domain + ">\r\n";
  // RFC 3834 §5: an automatic message; well-behaved responders do not answer it.
  m += "Auto-Submitted: auto-generated\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a DMARC aggregate report (RFC 9990) in MIME format.\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\n";
  m += "Content-Transfer-Encoding: 7bit\r\n\r\n";
  m += "This is a DMARC aggregate report for " + report.policy_domain + " from " + id.org_name +
       ".\r\n";
  m += "Period: " + FormatDay(report.period.begin) + " (UTC), " + std::to_string(report.messages) +
       " message(s) in " + std::to_string(report.rows.size()) + " record(s).\r\n";
  m += "Report-ID: " + std::string(report_id) + "\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: application/gzip; name=\"" + std::string(file_name) + "\"\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment; filename=\"" + std::string(file_name) + "\"\r\n\r\n";
  m += Base64Lines(gzip_bytes);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace credence
