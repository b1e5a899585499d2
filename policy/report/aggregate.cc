// Records -> reports: grouping by policy domain and merging identical rows (RFC 9990 §2.1).
#include <algorithm>
#include <map>
#include <tuple>

#include "credence/policy/report.h"

namespace credence {
namespace {

auto Key(const AggregateRow& r) {
  return std::tie(r.source_ip, r.header_from, r.envelope_from, r.envelope_to, r.disposition,
                  r.dkim_aligned, r.spf_aligned, r.override_type, r.override_comment, r.dkim,
                  r.spf_domain, r.spf_scope, r.spf_result);
}

// RFC 9990 §2.1.2 orders the DKIM results a row shows: aligned passes first, then other
// passes, then the rest; at most 100 per row.
std::vector<HistoryDkim> OrderedDkim(const HistoryRecord& r) {
  std::vector<HistoryDkim> d = r.dkim;
  auto rank = [&](const HistoryDkim& s) {
    bool pass = s.result == "pass";
    bool strict = s.domain == r.header_from;
    bool relaxed = s.domain == r.org_domain ||
                   (s.domain.size() > r.org_domain.size() && s.domain.ends_with(r.org_domain) &&
                    s.domain[s.domain.size() - r.org_domain.size() - 1] == '.');
    if (pass && strict) return 0;
    if (pass && relaxed) return 1;
    return pass ? 2 : 3;
  };
  std::stable_sort(d.begin(), d.end(),
                   [&](const HistoryDkim& a, const HistoryDkim& b) { return rank(a) < rank(b); });
  if (d.size() > 100) d.resize(100);
  return d;
}

AggregateRow RowOf(const HistoryRecord& r) {
  AggregateRow row;
  row.source_ip = r.source_ip;
  row.count = 1;
  row.disposition = r.disposition;
  row.dkim_aligned = r.dkim_aligned;
  row.spf_aligned = r.spf_aligned;
  row.override_type = r.override_type;
  row.override_comment = r.override_comment;
  row.header_from = r.header_from;
  row.envelope_from = r.envelope_from;
  row.envelope_to = r.envelope_to;
  row.dkim = OrderedDkim(r);
  row.spf_domain = r.spf_domain;
  row.spf_scope = r.spf_scope;
  row.spf_result = r.spf_result;
  return row;
}

}  // namespace

bool AggregateRow::SameAs(const AggregateRow& o) const { return Key(*this) == Key(o); }

std::vector<AggregateReport> BuildAggregateReports(std::span<const HistoryRecord> records,
                                                   ReportPeriod period, AggregateSkips* skips) {
  AggregateSkips local;
  AggregateSkips& sk = skips != nullptr ? *skips : local;
  std::map<std::string, AggregateReport> by_domain;
  for (const HistoryRecord& r : records) {
    if (r.time < period.begin || r.time > period.end) continue;
    if (r.is_report) {
      ++sk.reports_to_us;
      continue;
    }
    if (r.rua.empty()) {
      ++sk.no_rua;
      continue;
    }
    if (r.source_ip.empty()) {
      ++sk.no_source_ip;
      continue;
    }
    AggregateReport& rep = by_domain[r.policy_domain];
    if (rep.policy_domain.empty() || r.time >= rep.policy.time) {
      rep.policy = r;  // the last configuration observed
      rep.rua = r.rua;
    }
    rep.period = period;
    rep.policy_domain = r.policy_domain;
    // The policy domain's organizational domain: the From domain's (the policy domain is
    // the From domain or its organizational domain, RFC 9989 §4.10).
    rep.org_domain = r.org_domain.empty() ? r.policy_domain : r.org_domain;
    rep.rows.push_back(RowOf(r));
  }
  std::vector<AggregateReport> out;
  for (auto& [domain, rep] : by_domain) {
    std::sort(rep.rows.begin(), rep.rows.end(),
              [](const AggregateRow& a, const AggregateRow& b) { return Key(a) < Key(b); });
    std::vector<AggregateRow> merged;
    for (AggregateRow& row : rep.rows) {
      if (!merged.empty() && merged.back().SameAs(row)) {
        merged.back().count += row.count;
      } else {
        merged.push_back(std::move(row));
      }
    }
    rep.rows = std::move(merged);
    rep.messages = 0;
    for (const AggregateRow& row : rep.rows) rep.messages += row.count;
    out.push_back(std::move(rep));
  }
  return out;
}

}  // namespace credence
