#include "dmarc/discover.h"

#include <algorithm>
#include <iterator>

#include "dmarc/domain_util.h"

namespace credence::dmarc_internal {

bool DnsFetcher::Fetch(std::span<const DnsQuestion> questions) {
  // The questions not yet answered are appended to questions_ (once each) and asked from
  // there in one call: no list of their own.
  const size_t first = questions_.size();
  for (const DnsQuestion& q : questions) {
    if (Find(q, 0, questions_.size()) < questions_.size()) continue;  // answered, or a duplicate
    if (questions_.empty()) questions_.reserve(questions.size());
    questions_.push_back(q);
  }
  return Ask(first);
}

bool DnsFetcher::Fetch(std::vector<DnsQuestion>&& questions) {
  if (!questions_.empty()) return Fetch(std::span<const DnsQuestion>(questions));  // copied
  // The first batch: its vector is kept, its duplicates dropped in place.
  questions_ = std::move(questions);
  size_t kept = 0;
  for (size_t i = 0; i < questions_.size(); ++i) {
    if (Find(questions_[i], 0, kept) < kept) continue;
    if (kept != i) questions_[kept] = std::move(questions_[i]);
    ++kept;
  }
  questions_.resize(kept);
  return Ask(0);
}

bool DnsFetcher::Ask(size_t first) {
  const auto asking = std::span<const DnsQuestion>(questions_).subspan(first);
  if (asking.empty()) return true;
  if (queries_ + asking.size() > budget_) {
    questions_.resize(first);
    return false;
  }
  queries_ += asking.size();
  // A per-message memo in front holds them all already: Get reads them there, no copies.
  if (std::all_of(asking.begin(), asking.end(), [&](const DnsQuestion& q) {
        return resolver_.Held(q.name, q.type) != nullptr;
      })) {
    return true;
  }
  std::vector<DnsAnswer> got = resolver_.Resolve(asking, deadline_);
  const size_t answered = std::min(got.size(), asking.size());
  got.resize(asking.size());  // a misbehaving resolver: kTempFail for what it left out
  for (size_t i = answered; i < asking.size(); ++i) got[i].detail = "no answer";
  if (first == 0) {
    answers_ = std::move(got);  // the first batch: its vector is kept as it is
  } else {
    answers_.resize(first);  // the places of answers the memo held (read there)
    answers_.insert(answers_.end(), std::make_move_iterator(got.begin()),
                    std::make_move_iterator(got.end()));
  }
  return true;
}

const DnsAnswer* DnsFetcher::Get(const DnsQuestion& q) const {
  return AnswerAt(Find(q, 0, questions_.size()));
}

const DnsAnswer* DnsFetcher::GetDmarc(std::string_view domain) const {
  for (size_t i = 0; i < questions_.size(); ++i) {
    const DnsQuestion& asked = questions_[i];
    if (asked.type == RRType::kTXT && IsDmarcNameOf(asked.name, domain)) return AnswerAt(i);
  }
  return nullptr;
}

size_t DnsFetcher::Find(const DnsQuestion& q, size_t begin, size_t end) const {
  for (size_t i = begin; i < end; ++i) {
    if (questions_[i].type == q.type && EqualsIgnoreCase(questions_[i].name, q.name)) return i;
  }
  return end;
}

const DnsAnswer* DnsFetcher::AnswerAt(size_t i) const {
  if (i >= questions_.size()) return nullptr;
  const DnsQuestion& q = questions_[i];
  if (const DnsAnswer* held = resolver_.Held(q.name, q.type)) return held;
  return i < answers_.size() ? &answers_[i] : nullptr;
}

std::string DmarcName(std::string_view domain) {
  std::string name(kDmarcLabel);
  name += domain;
  return name;
}

std::string_view DmarcNameIn(std::string_view domain, DmarcNameBuffer& buf) {
  if (domain.size() > buf.size() - kDmarcLabel.size()) return {};
  char* end = std::copy(kDmarcLabel.begin(), kDmarcLabel.end(), buf.data());
  end = std::copy(domain.begin(), domain.end(), end);
  return std::string_view(buf.data(), static_cast<size_t>(end - buf.data()));
}

bool IsDmarcNameOf(std::string_view name, std::string_view domain) {
  return name.size() == kDmarcLabel.size() + domain.size() &&
         EqualsIgnoreCase(name.substr(0, kDmarcLabel.size()), kDmarcLabel) &&
         EqualsIgnoreCase(name.substr(kDmarcLabel.size()), domain);
}

std::string_view DomainOfDmarcName(std::string_view name) {
  return name.substr(std::min(name.size(), kDmarcLabel.size()));
}

DnsQuestion DmarcQuestion(std::string_view domain) {
  return DnsQuestion{DmarcName(domain), RRType::kTXT};
}

// RFC 9989 §4.10 step 2: "Records that do not start with a "v" tag that identifies the
// current version of DMARC are discarded."
bool StartsWithDmarcVersion(std::string_view txt) {
  size_t i = 0;
  auto skip = [&] { while (i < txt.size() && (txt[i] == ' ' || txt[i] == '\t')) ++i; };
  skip();
  if (i >= txt.size() || (txt[i] != 'v' && txt[i] != 'V')) return false;
  ++i;
  skip();
  if (i >= txt.size() || txt[i] != '=') return false;
  ++i;
  skip();
  if (txt.substr(i, 6) != "DMARC1") return false;
  i += 6;
  return i == txt.size() || txt[i] == ';' || txt[i] == ' ' || txt[i] == '\t';
}

NameLookup InterpretDmarcAnswer(const DnsAnswer& answer) {
  NameLookup out;
  if (answer.outcome == DnsOutcome::kTempFail) {
    out.kind = NameLookup::kTempFail;
    out.detail = answer.detail.empty() ? "temporary DNS failure" : answer.detail;
    return out;
  }
  if (answer.outcome == DnsOutcome::kNotAsked) {
    out.kind = NameLookup::kNotAsked;
    out.detail = answer.detail;
    return out;
  }
  if (answer.outcome != DnsOutcome::kOk) return out;
  const ResourceRecord* found = nullptr;
  size_t count = 0;
  for (const ResourceRecord& rr : answer.records) {
    if (rr.type != RRType::kTXT || !StartsWithDmarcVersion(rr.data)) continue;
    ++count;
    found = &rr;
  }
  // "If multiple DMARC Policy Records are returned, they are all discarded."
  if (count > 1) {
    out.detail = "multiple DMARC records";
    return out;
  }
  if (count == 0) return out;
  Result<DmarcRecord> rec = ParseDmarcRecord(found->data);
  if (!rec.ok()) {
    out.detail = rec.status().message();
    return out;
  }
  out.kind = NameLookup::kRecord;
  out.record = std::move(rec).value();
  return out;
}

WalkResult TreeWalk(std::string_view domain, DnsFetcher& fetcher, bool batch) {
  WalkResult walk;
  const TreeWalkViews names = TreeWalkNameViews(domain);
  if (batch) {
    std::vector<DnsQuestion> questions;
    questions.reserve(names.size);
    for (std::string_view n : names) questions.push_back(DmarcQuestion(n));
    if (!fetcher.Fetch(std::move(questions))) {  // moved in: the fetcher keeps them
      walk.status = WalkResult::kBudget;
      walk.detail = "DNS query budget exhausted";
      return walk;
    }
  }
  for (const std::string_view& n : names) {
    if (!batch) {
      const DnsQuestion q = DmarcQuestion(n);
      if (!fetcher.Fetch(std::span<const DnsQuestion>(&q, 1))) {
        walk.status = WalkResult::kBudget;
        walk.detail = "DNS query budget exhausted";
        return walk;
      }
    }
    const DnsAnswer* a = fetcher.GetDmarc(n);
    NameLookup look =
        a ? InterpretDmarcAnswer(*a) : NameLookup{NameLookup::kTempFail, {}, "unasked"};
    if (look.kind == NameLookup::kTempFail || look.kind == NameLookup::kNotAsked) {
      walk.status =
          look.kind == NameLookup::kTempFail ? WalkResult::kTempFail : WalkResult::kBudget;
      walk.detail = DmarcName(n) + ": " + look.detail;
      walk.failed_at = static_cast<size_t>(&n - names.begin());
      return walk;
    }
    if (look.kind != NameLookup::kRecord) continue;
    DmarcPsd psd = look.record.psd;
    walk.records.push_back({std::string(n), std::move(look.record)});
    // Steps 2 and 6: "If a single record remains and it contains a "psd=n" or "psd=y"
    // tag, stop."
    if (psd != DmarcPsd::kUnspecified) break;
  }
  walk.org_domain = SelectOrgDomain(domain, walk.records);
  return walk;
}

std::vector<NameRecord> RecordsAbove(std::string_view domain, size_t failed_at,
                                     DnsFetcher& fetcher, bool batch) {
  std::vector<NameRecord> out;
  const TreeWalkViews names = TreeWalkNameViews(domain);
  for (size_t i = failed_at + 1; i < names.size; ++i) {
    const std::string_view n = names.names[i];
    if (!batch) {
      const DnsQuestion q = DmarcQuestion(n);
      if (!fetcher.Fetch(std::span<const DnsQuestion>(&q, 1))) return {};
    }
    const DnsAnswer* a = fetcher.GetDmarc(n);
    if (a == nullptr) return {};
    NameLookup look = InterpretDmarcAnswer(*a);
    if (look.kind == NameLookup::kNotAsked) return {};
    if (look.kind != NameLookup::kRecord) continue;
    const DmarcPsd psd = look.record.psd;
    out.push_back({std::string(n), std::move(look.record)});
    if (psd != DmarcPsd::kUnspecified) break;  // where the walk itself would stop
  }
  return out;
}

std::string SelectOrgDomain(std::string_view start, const std::vector<NameRecord>& records) {
  // RFC 9989 §4.10.2, records from the longest name to the shortest.
  for (const NameRecord& r : records) {
    // 1. psd=n: this is the Organizational Domain.
    if (r.record.psd == DmarcPsd::kNo) return r.domain;
    // 2. psd=y on a record other than the starting domain's: the domain one label below.
    if (r.record.psd == DmarcPsd::kYes && r.domain != start) {
      size_t labels = LabelCount(r.domain);
      return std::string(LastLabels(start, labels + 1));
    }
  }
  // 3. Otherwise the record found at the name with the fewest labels.
  if (!records.empty()) return records.back().domain;
  // "If this process does not determine the Organizational Domain, then the initial target
  // domain is the Organizational Domain."
  return std::string(start);
}

}  // namespace credence::dmarc_internal
