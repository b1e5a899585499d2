// RFC 4180 CSV: CRLF line ends, a field with ',', '"', CR or LF quoted with '"' doubled.
#include <map>
#include <string>

#include "credence/reports/format.h"

namespace credence::reports {
namespace {

void Field(std::string_view v, std::string* out) {
  // A leading = + - @ would make a spreadsheet evaluate a reporter's text as a formula.
  const bool formula = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@');
  if (!formula && v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
    return;
  }
  *out += '"';
  if (formula) *out += '\'';
  for (char c : v) {
    if (c == '"') *out += '"';
    *out += c;
  }
  *out += '"';
}

}  // namespace

std::string FormatCsv(const Summary& summary) {
  std::string out(kCsvHeader);
  out += "\r\n";
  for (const DomainSummary& d : summary.domains) {
    std::map<std::string, std::string> ptr;
    for (const SourceSummary& s : d.sources) ptr[s.ip] = s.ptr;
    for (const ResultRow& r : d.rows) {
      const bool pass = r.dkim_aligned == "pass" || r.spf_aligned == "pass";
      const std::string cells[] = {d.domain, r.ip, ptr[r.ip], std::to_string(r.messages),
                                   pass ? "pass" : "fail", r.disposition, r.dkim_aligned,
                                   r.spf_aligned, r.header_from, r.envelope_from, r.dkim, r.spf,
                                   r.reasons};
      bool first = true;
      for (const std::string& c : cells) {
        if (!first) out += ',';
        first = false;
        Field(c, &out);
      }
      out += "\r\n";
    }
  }
  return out;
}

}  // namespace credence::reports
