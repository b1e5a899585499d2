// DMARC aggregate reports, the receiver's side (RFC 9990): from history records to one XML
// report per policy domain, the gzip file, its name, the report message and where it may go.
// Everything here is pure (no I/O) apart from VerifyExternalDestination, which asks DNS
// through the Resolver. `credence report aggregate` (plugin/cli) does the sending.
#ifndef CREDENCE_POLICY_REPORT_H_
#define CREDENCE_POLICY_REPORT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/dns.h"
#include "credence/policy/history.h"
#include "credence/status.h"

namespace credence {

// A reporting period: [begin, end], seconds since the epoch, both inclusive (RFC 9990
// date_range; a UTC day is [00:00:00, 23:59:59]).
struct ReportPeriod {
  int64_t begin = 0;
  int64_t end = 0;
  bool operator==(const ReportPeriod&) const = default;
};
// The UTC day that contains `t`.
ReportPeriod DayOf(int64_t t);
// The last UTC day that has ended at `now` (yesterday).
ReportPeriod LastCompleteDay(int64_t now);
// "YYYY-MM-DD" -> the period of that UTC day. kInvalidInput otherwise (no such date).
Result<ReportPeriod> ParseReportDay(std::string_view day);
// "YYYY-MM-DD" of `t` (UTC).
std::string FormatDay(int64_t t);
// The days a catch-up run considers: the `max_days` complete days ending with
// LastCompleteDay(now), oldest first, none before the day of `earliest` (the oldest record).
std::vector<ReportPeriod> CatchUpDays(int64_t now, int64_t earliest, int max_days);

// One merged row: identical rows of the period (same source, identifiers, results, applied
// disposition and override) are one row with a count (RFC 9990 §2.1 "record").
struct AggregateRow {
  std::string source_ip;
  uint64_t count = 0;
  std::string disposition;
  bool dkim_aligned = false;  // policy_evaluated dkim pass
  bool spf_aligned = false;   // policy_evaluated spf pass
  std::string override_type, override_comment;
  std::string header_from, envelope_from, envelope_to;
  std::vector<HistoryDkim> dkim;
  std::string spf_domain, spf_scope, spf_result;
  bool SameAs(const AggregateRow& o) const;  // everything but count
};

// One report: one policy domain, one period.
struct AggregateReport {
  ReportPeriod period;
  std::string policy_domain;
  std::string org_domain;  // the policy domain's organizational domain (for EDV)
  // The policy as last observed in the period (RFC 9990 §2.1: "SHOULD note only the final
  // configuration observed").
  HistoryRecord policy;
  std::vector<std::string> rua;
  std::vector<AggregateRow> rows;  // sorted (source_ip, header_from, ...) for stable output
  uint64_t messages = 0;           // the sum of the counts
};

// What BuildAggregateReports left out, and why.
struct AggregateSkips {
  uint64_t reports_to_us = 0;  // records of mail that was itself a DMARC report (no loops)
  uint64_t no_rua = 0;         // the policy asks for no aggregate reports
  uint64_t no_source_ip = 0;   // the host gave no client IP (a report row needs one)
};

// Groups the records of `period` by policy domain (only policies with a rua), merges
// identical rows. Records outside the period are ignored.
std::vector<AggregateReport> BuildAggregateReports(std::span<const HistoryRecord> records,
                                                   ReportPeriod period,
                                                   AggregateSkips* skips = nullptr);

// Who sends the reports (RFC 9990 report_metadata).
struct ReportIdentity {
  std::string org_name;
  std::string email;
  std::string extra_contact_info;  // optional
  std::string receiver_domain;     // file name and Subject "Submitter"
  std::string report_from;         // From: of report messages
  std::string generator;           // "credence 0.1.0"
};

// RFC 9990 Appendix A XML (namespace urn:ietf:params:xml:ns:dmarc-2.0, version 1.0).
std::string AggregateReportXml(const AggregateReport& report, const ReportIdentity& identity,
                               std::string_view report_id);

// A new Report-ID: 32 hex digits from the system's random source (RFC 9990 §2.5.1 ridfmt,
// a dot-atom-text; also valid as the file name's unique-id).
std::string NewReportId();

// RFC 9990 §5.2.1.1: receiver "!" policy-domain "!" begin "!" end "!" unique-id ".xml.gz".
std::string ReportFileName(std::string_view receiver, std::string_view policy_domain,
                           ReportPeriod period, std::string_view report_id);
// RFC 9990 §5.2.1.2: "Report Domain: D Submitter: S Report-ID: <ID>".
std::string ReportSubject(std::string_view policy_domain, std::string_view submitter,
                          std::string_view report_id);
// The report message (RFC 5322 + MIME, CRLF line ends): a text/plain part saying what it is
// and the gzip file as an application/gzip attachment, base64-encoded. `date` is the
// Date: field's time.
std::string ReportMessage(const AggregateReport& report, const ReportIdentity& identity,
                          std::string_view to, std::string_view report_id,
                          std::string_view file_name, std::string_view gzip_bytes, int64_t date);

// gzip (RFC 1952) of `data`; kInternal only when zlib fails.
Result<std::string> Gzip(std::string_view data);

// A rua destination (RFC 9989 §4.7 rua=, RFC 3986 URI with an optional "!size" suffix).
struct RuaDestination {
  std::string uri;         // as published
  std::string address;     // the mailto: address (percent-decoded, hfields dropped)
  std::string domain;      // its domain, lower-case
  uint64_t max_bytes = 0;  // "!10m" -> 10 MiB; 0 when no limit was given
};
// Parses one rua URI. kUnsupported for a scheme other than mailto: (reports are sent by
// mail only); kInvalidInput for a malformed one (no '@', a bad size, ...). Bounded (URIs
// over 1024 bytes are refused), never throws.
Result<RuaDestination> ParseRuaUri(std::string_view uri);

// RFC 9990 §4 / RFC 9989 §... External Destination Verification is needed when the
// destination's domain is not the policy's organizational domain or below it.
bool NeedsExternalVerification(std::string_view org_domain, std::string_view dest_domain);
// "<policy-domain>._report._dmarc.<dest-domain>".
std::string ExternalVerificationName(std::string_view policy_domain, std::string_view dest_domain);
// Asks TXT at ExternalVerificationName: OK(true) when a record starts with "v=DMARC1";
// OK(false) when there is none (NXDOMAIN, no data, other records); kTempFail on DNS trouble
// (the report is not sent this time and the period stays unsent).
Result<bool> VerifyExternalDestination(Resolver& resolver, std::string_view policy_domain,
                                       std::string_view dest_domain, Deadline deadline);

}  // namespace credence

#endif  // CREDENCE_POLICY_REPORT_H_
