// libFuzzer target for the DMARC aggregate report parser (plugin/reports, expat door) and
// what is built on it: ParseAggregateReport, then Summarize and the text, CSV and HTML
// formats of what it accepted.
//
// Invariants: the parser returns (no crash, no hang: bounds from XmlLimits, kept small here);
// an accepted report has an org_name, a report_id, a policy domain and begin <= end; every
// record it keeps has a source IP in inet_ntop's form and a count of at most 10^12 (the rest
// are named in `problems`); the HTML page never carries a '<' that came from the report (the
// only elements are its own).
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "credence/reports/format.h"
#include "credence/reports/report.h"
#include "credence/reports/summary.h"

using namespace credence::reports;

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

bool IsAddress(const std::string& ip) {
  unsigned char b[16];
  return inet_pton(AF_INET, ip.c_str(), b) == 1 || inet_pton(AF_INET6, ip.c_str(), b) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  XmlLimits limits;
  limits.max_bytes = 1u << 20;
  limits.max_records = 2000;
  const std::string xml(reinterpret_cast<const char*>(data), size);
  credence::Result<AggregateReport> r = ParseAggregateReport(xml, limits);
  if (!r.ok()) {
    Require(!r.status().message().empty(), "an error says why");
    return 0;
  }
  Require(!r->org_name.empty() && !r->report_id.empty() && !r->policy.domain.empty(),
          "an accepted report has its metadata");
  Require(r->begin <= r->end, "begin <= end");
  for (const ReportRecord& rec : r->records) {
    Require(IsAddress(rec.source_ip), "a kept record has an address");
    Require(rec.count <= 1000000000000ull, "a kept record's count is bounded");
  }
  std::vector<SourcedReport> reports = {{"fuzz", std::move(r).value()}};
  Summary s = Summarize(reports);
  ReadResult read;
  (void)FormatText(s, read);
  (void)FormatCsv(s);
  const std::string marker = "\x01\x02";
  std::string html = FormatHtml(s, read, marker);
  // The title is ours; no report text may open an element: every '<' in the page is
  // followed by a name the page itself writes.
  for (size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
    const char next = pos + 1 < html.size() ? html[pos + 1] : '\0';
    Require(next == '/' || next == '!' || (next >= 'a' && next <= 'z'),
            "every '<' in the page starts an element of its own");
  }
  return 0;
}
