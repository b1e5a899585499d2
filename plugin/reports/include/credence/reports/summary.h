// What a domain owner wants from a pile of aggregate reports: per domain, who sends as it
// (each source IP with its message count and its SPF and DKIM results before and after
// alignment), what the receivers did (disposition), what would be lost under a stricter
// policy, the DKIM selectors seen failing, the reporters and their date ranges, and the
// pass/fail volume per day.
#ifndef CREDENCE_PLUGIN_REPORTS_SUMMARY_H_
#define CREDENCE_PLUGIN_REPORTS_SUMMARY_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "credence/reports/read.h"

namespace credence::reports {

struct SummaryOptions {
  // Policy domains to keep (<policy_published><domain>, lower case); empty: every domain.
  std::vector<std::string> domains;
  // Keep reports whose day (below) is in [since, until], seconds since the epoch (UTC
  // midnights; inclusive).
  int64_t since = std::numeric_limits<int64_t>::min();
  int64_t until = std::numeric_limits<int64_t>::max();
  // Bytes (estimated: strings and their containers) the per-record detail may take, all
  // domains together: rows, sources and failing selectors. Past it, a record whose row,
  // source or selector is new is counted in that table's "(other)" entry instead; every
  // count (totals, days, reporters) stays exact. docs/reports.md, "Limits".
  size_t max_detail_bytes = size_t{64} << 20;
};

// The name of the entry that holds, in each detail table, what the byte budget left out.
inline constexpr const char* kOtherEntry = "(other)";

// The UTC day (its midnight, seconds since the epoch) a report's messages are counted on:
// the day of the middle of its date range (a 24-hour report from 22:00 counts on the day
// most of it lies in).
int64_t ReportDay(const AggregateReport& report);

// Message counts by outcome; every field a number of messages.
struct Counts {
  uint64_t messages = 0;
  uint64_t dmarc_pass = 0, dmarc_fail = 0;             // policy_evaluated: DKIM or SPF aligned
  uint64_t dkim_aligned_pass = 0, spf_aligned_pass = 0;  // policy_evaluated (after alignment)
  uint64_t dkim_pass = 0, spf_pass = 0;                // auth_results: any DKIM / SPF pass
                                                       // (before alignment)
  uint64_t none = 0, quarantine = 0, reject = 0;       // disposition applied
  // DMARC failed and the receiver delivered anyway (disposition none): these would go to
  // spam under p=quarantine. Under p=reject the quarantined ones are lost too.
  uint64_t lost_quarantine = 0, lost_reject = 0;

  void Add(const ReportRecord& r);
};

// One source IP of a domain.
struct SourceSummary {
  std::string ip;
  std::string ptr;  // filled by the caller (--dns); "" when not looked up or none
  Counts counts;
  std::vector<std::string> header_from;   // From domains seen from it
  std::vector<std::string> dkim_domains;  // d= seen (auth_results), any result
  std::vector<std::string> spf_domains;   // SPF domains seen (auth_results)
  std::vector<std::string> reasons;       // override reason types
  std::vector<std::string> reporters;
};

// One distinct row: the messages of a domain with the same source and the same results.
struct ResultRow {
  std::string ip, header_from, envelope_from;
  std::string disposition, dkim_aligned, spf_aligned;
  std::string dkim;     // auth_results: "RESULT d=D s=S", joined by "; "
  std::string spf;      // auth_results: "RESULT D (SCOPE)", joined by "; "
  std::string reasons;  // "TYPE[: COMMENT]", joined by "; "
  uint64_t messages = 0;
};

// A DKIM selector seen with a result other than pass (auth_results).
struct SelectorFailure {
  std::string domain, selector, result;
  uint64_t messages = 0;
  std::vector<std::string> ips;
};

struct ReporterSummary {
  std::string org_name, email;
  size_t reports = 0;
  uint64_t messages = 0;
  int64_t begin = 0, end = 0;  // earliest begin, latest end
};

struct DaySummary {
  int64_t day = 0;  // UTC midnight
  uint64_t pass = 0, fail = 0;
};

struct DomainSummary {
  std::string domain;
  PublishedPolicy policy;  // as the latest report (by end) saw it
  Counts counts;
  int64_t begin = 0, end = 0;
  size_t reports = 0;
  std::vector<SourceSummary> sources;  // most messages first, then by address
  std::vector<ResultRow> rows;         // most messages first
  std::vector<SelectorFailure> failing_selectors;
  std::vector<ReporterSummary> reporters;  // by name
  std::vector<DaySummary> days;            // by day
  // Records whose row, source or selector the detail budget put under "(other)", and their
  // messages (0: nothing was).
  uint64_t other_records = 0, other_messages = 0;
};

struct Summary {
  std::vector<DomainSummary> domains;  // by name
  size_t reports = 0;                  // reports counted (after filters)
  size_t max_detail_bytes = 0;         // SummaryOptions::max_detail_bytes
  bool detail_cut = false;             // the budget was reached: some domain has "(other)"
};

// Builds a Summary one report at a time: memory holds the summary, not the reports.
class Summarizer {
 public:
  explicit Summarizer(SummaryOptions options = {});
  ~Summarizer();
  Summarizer(const Summarizer&) = delete;
  Summarizer& operator=(const Summarizer&) = delete;
  // Adds `report` when the options keep it (domain, day); returns whether it did.
  bool Add(const AggregateReport& report);
  // The summary of every report added. Call once.
  Summary Finish();
  // Whether the options keep `report`.
  bool Wanted(const AggregateReport& report) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The same in one call.
Summary Summarize(const std::vector<SourcedReport>& reports, const SummaryOptions& options = {});

// "2024-03-01" for a UTC day; "2024-03-01T12:00:00Z" for a time ("?" when out of range).
std::string FormatDay(int64_t t);
std::string FormatTime(int64_t t);

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_SUMMARY_H_
