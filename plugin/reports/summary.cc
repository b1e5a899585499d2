#include "credence/reports/summary.h"

#include <algorithm>
#include <ctime>
#include <set>
#include <tuple>

namespace credence::reports {
namespace {

constexpr int64_t kDay = 86400;

// Counts stay far below 2^64 (a record's count is at most 10^12, records are bounded by the
// bytes read), but a sum never wraps.
void AddTo(uint64_t* total, uint64_t n) {
  *total = n > UINT64_MAX - *total ? UINT64_MAX : *total + n;
}

// The detail tables' byte budget (SummaryOptions::max_detail_bytes), shared by every domain.
struct Budget {
  size_t max = 0;
  size_t used = 0;
  bool cut = false;
  // Takes `bytes` when they fit; false (and cut) when they do not.
  bool Take(size_t bytes) {
    if (bytes > max - std::min(used, max)) return cut = true, false;
    used += bytes;
    return true;
  }
};

// What a string costs beyond its object (no heap below the small-string size).
size_t HeapBytes(const std::string& s) { return s.size() > 15 ? s.size() + 1 : 0; }

// An entry of a map keyed by strings: the node (about four pointers), the value, the keys.
template <typename Value, typename... Strings>
size_t EntryBytes(const Strings&... keys) {
  return 32 + sizeof(Value) + ((sizeof(std::string) + HeapBytes(keys)) + ...);
}

void AddUnique(std::vector<std::string>* list, const std::string& v, Budget* budget) {
  if (v.empty() || list->size() >= 64) return;
  if (std::find(list->begin(), list->end(), v) != list->end()) return;
  if (budget->Take(sizeof(std::string) + HeapBytes(v))) list->push_back(v);
}

int64_t FloorDay(int64_t t) {
  int64_t d = t / kDay;
  if (t % kDay < 0) --d;
  return d * kDay;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::string DkimText(const ReportRecord& r) {
  std::vector<std::string> parts;
  for (const DkimAuth& d : r.dkim) {
    std::string s = (d.result.empty() ? "?" : d.result) + " d=" + d.domain;
    if (!d.selector.empty()) s += " s=" + d.selector;
    parts.push_back(s);
  }
  return Join(parts);
}

std::string SpfText(const ReportRecord& r) {
  std::vector<std::string> parts;
  for (const SpfAuth& s : r.spf) {
    std::string t = (s.result.empty() ? "?" : s.result) + " " + s.domain;
    if (!s.scope.empty()) t += " (" + s.scope + ")";
    parts.push_back(t);
  }
  return Join(parts);
}

std::string ReasonText(const ReportRecord& r) {
  std::vector<std::string> parts;
  for (const OverrideReason& o : r.reasons) {
    parts.push_back(o.comment.empty() ? o.type : o.type + ": " + o.comment);
  }
  return Join(parts);
}

int Tags(const PublishedPolicy& p) {
  int n = 0;
  for (const std::string* t : {&p.adkim, &p.aspf, &p.p, &p.sp, &p.np, &p.pct, &p.fo, &p.testing,
                               &p.discovery_method}) {
    n += !t->empty();
  }
  return n;
}

// What one domain's summary is built from, keyed for merging.
struct DomainBuilder {
  explicit DomainBuilder(Budget* b) : budget(b) {}
  Budget* budget;
  DomainSummary out;
  int64_t policy_end = std::numeric_limits<int64_t>::min();
  using RowKey = std::tuple<std::string, std::string, std::string, std::string, std::string,
                            std::string, std::string, std::string, std::string>;
  std::map<std::string, SourceSummary> sources;
  std::map<RowKey, uint64_t> rows;
  std::map<std::tuple<std::string, std::string, std::string>, SelectorFailure> selectors;
  std::map<std::string, ReporterSummary> reporters;
  std::map<int64_t, DaySummary> days;

  void Add(const AggregateReport& rep) {
    if (out.reports == 0 || rep.begin < out.begin) out.begin = rep.begin;
    if (out.reports == 0 || rep.end > out.end) out.end = rep.end;
    ++out.reports;
    // The latest report's view of the policy; of reports that end together, the one that
    // names the most tags (a small reporter may give only p=).
    if (rep.end > policy_end || (rep.end == policy_end && Tags(rep.policy) > Tags(out.policy))) {
      policy_end = rep.end;
      out.policy = rep.policy;
    }
    ReporterSummary& who = reporters[rep.org_name];
    if (who.reports == 0) {
      who.org_name = rep.org_name;
      who.begin = rep.begin;
      who.end = rep.end;
    }
    if (who.email.empty()) who.email = rep.email;
    who.begin = std::min(who.begin, rep.begin);
    who.end = std::max(who.end, rep.end);
    ++who.reports;
    const int64_t day = ReportDay(rep);
    DaySummary& d = days[day];
    d.day = day;
    for (const ReportRecord& r : rep.records) {
      out.counts.Add(r);
      AddTo(&who.messages, r.count);
      AddTo(r.DmarcPass() ? &d.pass : &d.fail, r.count);
      bool other = !AddSource(rep, r);
      other = !AddRow(r) || other;
      for (const DkimAuth& k : r.dkim) {
        if (k.result == "pass") continue;
        other = !AddSelector(k, r) || other;
      }
      if (other) {
        ++out.other_records;
        AddTo(&out.other_messages, r.count);
      }
    }
  }

  // Each Add* counts the record in its table; false when the budget put it under "(other)".
  bool AddSource(const AggregateReport& rep, const ReportRecord& r) {
    auto it = sources.find(r.source_ip);
    bool own = true;
    if (it == sources.end()) {
      own = budget->Take(EntryBytes<SourceSummary>(r.source_ip) + HeapBytes(r.source_ip));
      it = sources.try_emplace(own ? r.source_ip : std::string(kOtherEntry)).first;
      it->second.ip = it->first;
    }
    SourceSummary& s = it->second;
    s.counts.Add(r);
    if (!own) return false;
    AddUnique(&s.header_from, r.header_from, budget);
    for (const DkimAuth& k : r.dkim) AddUnique(&s.dkim_domains, k.domain, budget);
    for (const SpfAuth& k : r.spf) AddUnique(&s.spf_domains, k.domain, budget);
    for (const OverrideReason& o : r.reasons) AddUnique(&s.reasons, o.type, budget);
    AddUnique(&s.reporters, rep.org_name, budget);
    return true;
  }

  bool AddRow(const ReportRecord& r) {
    RowKey key{r.source_ip, r.header_from, r.envelope_from, r.disposition, r.dkim_aligned,
               r.spf_aligned, DkimText(r), SpfText(r), ReasonText(r)};
    auto it = rows.find(key);
    bool own = true;
    if (it == rows.end()) {
      own = budget->Take(std::apply(
          [](const auto&... k) { return EntryBytes<uint64_t>(k...); }, key));
      // "(other)" keeps what the pass/fail and disposition columns need, each folded to its
      // few known values (the report's text is anyone's: it must not make new keys), so every
      // format's DMARC column stays exact: at most 4 x 2 x 2 "(other)" rows.
      if (!own) {
        const auto known = [](const std::string& v, std::initializer_list<const char*> ok) {
          for (const char* k : ok) {
            if (v == k) return v;
          }
          return std::string();
        };
        key = RowKey{kOtherEntry, "", "", known(r.disposition, {"none", "quarantine", "reject"}),
                     known(r.dkim_aligned, {"pass"}), known(r.spf_aligned, {"pass"}), "", "", ""};
      }
      it = rows.try_emplace(std::move(key), 0).first;
    }
    AddTo(&it->second, r.count);
    return own;
  }

  bool AddSelector(const DkimAuth& k, const ReportRecord& r) {
    std::tuple<std::string, std::string, std::string> key{k.domain, k.selector, k.result};
    auto it = selectors.find(key);
    bool own = true;
    if (it == selectors.end()) {
      own = budget->Take(EntryBytes<SelectorFailure>(k.domain, k.selector, k.result) +
                         HeapBytes(k.domain) + HeapBytes(k.selector) + HeapBytes(k.result));
      if (!own) key = {kOtherEntry, "", ""};
      it = selectors.try_emplace(std::move(key)).first;
      SelectorFailure& f = it->second;
      std::tie(f.domain, f.selector, f.result) = it->first;
    }
    AddTo(&it->second.messages, r.count);
    if (own) AddUnique(&it->second.ips, r.source_ip, budget);
    return own;
  }

  DomainSummary Finish() {
    for (auto& [ip, s] : sources) out.sources.push_back(std::move(s));
    std::stable_sort(out.sources.begin(), out.sources.end(),
                     [](const SourceSummary& a, const SourceSummary& b) {
                       return a.counts.messages > b.counts.messages;
                     });
    while (!rows.empty()) {
      auto node = rows.extract(rows.begin());
      ResultRow row;
      std::tie(row.ip, row.header_from, row.envelope_from, row.disposition, row.dkim_aligned,
               row.spf_aligned, row.dkim, row.spf, row.reasons) = std::move(node.key());
      row.messages = node.mapped();
      out.rows.push_back(std::move(row));
    }
    std::stable_sort(out.rows.begin(), out.rows.end(),
                     [](const ResultRow& a, const ResultRow& b) {
                       return a.messages > b.messages;
                     });
    for (auto& [k, f] : selectors) out.failing_selectors.push_back(std::move(f));
    std::stable_sort(out.failing_selectors.begin(), out.failing_selectors.end(),
                     [](const SelectorFailure& a, const SelectorFailure& b) {
                       return a.messages > b.messages;
                     });
    for (auto& [k, r] : reporters) out.reporters.push_back(std::move(r));
    for (auto& [k, d] : days) out.days.push_back(d);
    return std::move(out);
  }
};

}  // namespace

void Counts::Add(const ReportRecord& r) {
  const uint64_t n = r.count;
  AddTo(&messages, n);
  const bool pass = r.DmarcPass();
  AddTo(pass ? &dmarc_pass : &dmarc_fail, n);
  if (r.dkim_aligned == "pass") AddTo(&dkim_aligned_pass, n);
  if (r.spf_aligned == "pass") AddTo(&spf_aligned_pass, n);
  auto passed = [](const auto& a) { return a.result == "pass"; };
  if (std::any_of(r.dkim.begin(), r.dkim.end(), passed)) {
    AddTo(&dkim_pass, n);
  }
  if (std::any_of(r.spf.begin(), r.spf.end(), passed)) {
    AddTo(&spf_pass, n);
  }
  // A disposition left out or unknown counts as delivered (none): what the receiver did not
  // say it did not do.
  const bool quarantined = r.disposition == "quarantine";
  const bool rejected = r.disposition == "reject";
  AddTo(rejected ? &reject : quarantined ? &quarantine : &none, n);
  if (!pass && !quarantined && !rejected) AddTo(&lost_quarantine, n);
  if (!pass && !rejected) AddTo(&lost_reject, n);
}

int64_t ReportDay(const AggregateReport& report) {
  return FloorDay(report.begin + (report.end - report.begin) / 2);
}

struct Summarizer::Impl {
  SummaryOptions options;
  Budget budget;
  std::map<std::string, DomainBuilder> domains;
  size_t reports = 0;
};

Summarizer::Summarizer(SummaryOptions options) : impl_(new Impl) {
  impl_->options = std::move(options);
  impl_->budget.max = impl_->options.max_detail_bytes;
}
Summarizer::~Summarizer() = default;

bool Summarizer::Wanted(const AggregateReport& rep) const {
  const SummaryOptions& o = impl_->options;
  if (!o.domains.empty() &&
      std::find(o.domains.begin(), o.domains.end(), rep.policy.domain) == o.domains.end()) {
    return false;
  }
  const int64_t day = ReportDay(rep);
  return day >= o.since && day <= o.until;
}

bool Summarizer::Add(const AggregateReport& rep) {
  if (!Wanted(rep)) return false;
  ++impl_->reports;
  DomainBuilder& b =
      impl_->domains.try_emplace(rep.policy.domain, &impl_->budget).first->second;
  b.out.domain = rep.policy.domain;
  b.Add(rep);
  return true;
}

Summary Summarizer::Finish() {
  Summary summary;
  summary.reports = impl_->reports;
  summary.max_detail_bytes = impl_->options.max_detail_bytes;
  summary.detail_cut = impl_->budget.cut;
  for (auto& [name, b] : impl_->domains) summary.domains.push_back(b.Finish());
  impl_->domains.clear();
  return summary;
}

Summary Summarize(const std::vector<SourcedReport>& reports, const SummaryOptions& options) {
  Summarizer s(options);
  for (const SourcedReport& r : reports) s.Add(r.report);
  return s.Finish();
}

std::string FormatDay(int64_t t) {
  std::string s = FormatTime(t);
  return s == "?" ? s : s.substr(0, 10);
}

std::string FormatTime(int64_t t) {
  std::tm tm{};
  const time_t tt = static_cast<time_t>(t);
  char buf[32];
  if (gmtime_r(&tt, &tm) == nullptr || tm.tm_year > 9999 - 1900 || tm.tm_year < -1900 ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return "?";
  }
  return buf;
}

}  // namespace credence::reports
