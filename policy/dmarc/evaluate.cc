// DMARC evaluation: policy discovery (RFC 9989 §4.10.1), identifier alignment (§4.10.2,
// §3.2.6), policy choice with sp=/np= (§4.7, RFC 9091), t= testing, RFC 7489 pct= sampling.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/psl.h"
#include "credence/policy/dmarc.h"
#include "dmarc/discover.h"
#include "dmarc/domain_util.h"

namespace credence {

using dmarc_internal::DnsFetcher;
using dmarc_internal::NameLookup;
using dmarc_internal::NameRecord;
using dmarc_internal::WalkResult;

namespace {

constexpr size_t kMaxFromDomains = 8;

DmarcPolicy OneLevelDown(DmarcPolicy p) {
  return p == DmarcPolicy::kReject ? DmarcPolicy::kQuarantine : DmarcPolicy::kNone;
}

DmarcDisposition ToDisposition(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::kReject: return DmarcDisposition::kReject;
    case DmarcPolicy::kQuarantine: return DmarcDisposition::kQuarantine;
    case DmarcPolicy::kNone: return DmarcDisposition::kNone;
  }
  return DmarcDisposition::kNone;
}

std::string_view Tld(std::string_view d) { return dmarc_internal::LastLabels(d, 1); }

enum class Align { kYes, kNo, kUnknown };

}  // namespace

// Per-evaluation state: the fetcher and organizational domains found so far.
struct EvalContext {
  const DmarcEvaluator* ev;
  DnsFetcher fetcher;
  std::map<std::string, Result<std::string>> orgs;

  Result<std::string> Org(const std::string& domain);
  void Prefetch(const std::vector<std::string>& domains);
};

DmarcEvaluator::DmarcEvaluator(const DmarcOptions& options) : options_(options) {}
DmarcEvaluator::~DmarcEvaluator() = default;

Result<std::unique_ptr<DmarcEvaluator>> DmarcEvaluator::Create(const DmarcOptions& options) {
  std::unique_ptr<DmarcEvaluator> ev(new DmarcEvaluator(options));
  if (options.org_domain_method == OrgDomainMethod::kPsl) {
    Result<std::unique_ptr<PublicSuffixList>> psl = PublicSuffixList::Load(options.psl_file);
    if (!psl.ok()) return psl.status();
    ev->psl_ = std::move(psl).value();
  }
  return ev;
}

std::vector<DnsQuestion> DmarcEvaluator::Questions(std::string_view author_domain) const {
  std::vector<DnsQuestion> qs;
  std::string d = dmarc_internal::NormalizeDomain(author_domain);
  if (d.empty()) return qs;
  if (psl_) {
    qs.push_back(dmarc_internal::DmarcQuestion(d));
    std::string org = psl_->RegistrableDomain(d);
    if (!org.empty() && org != d) qs.push_back(dmarc_internal::DmarcQuestion(org));
    return qs;
  }
  for (const std::string& n : TreeWalkNames(d)) qs.push_back(dmarc_internal::DmarcQuestion(n));
  return qs;
}

Result<std::string> EvalContext::Org(const std::string& domain) {
  auto it = orgs.find(domain);
  if (it != orgs.end()) return it->second;
  Result<std::string> out = std::string();
  if (ev->psl_) {
    // RFC 7489 §3.2: the public suffix plus one label; a public suffix is its own.
    std::string reg = ev->psl_->RegistrableDomain(domain);
    out = reg.empty() ? domain : reg;
  } else {
    WalkResult w = dmarc_internal::TreeWalk(domain, fetcher, ev->options().batch_tree_walk);
    if (w.status == WalkResult::kTempFail) {
      out = Status::TempFail(w.detail);
    } else if (w.status == WalkResult::kBudget) {
      out = Status::TooLarge(w.detail);
    } else {
      out = w.org_domain;
    }
  }
  orgs.emplace(domain, out);
  return out;
}

void EvalContext::Prefetch(const std::vector<std::string>& domains) {
  if (ev->psl_ || !ev->options().batch_tree_walk) return;
  std::vector<DnsQuestion> qs;
  for (const std::string& d : domains) {
    for (const std::string& n : TreeWalkNames(d)) qs.push_back(dmarc_internal::DmarcQuestion(n));
  }
  fetcher.Fetch(qs);  // over budget: each walk then asks (and is refused) on its own
}

Result<std::string> DmarcEvaluator::OrgDomain(std::string_view domain, Resolver& resolver,
                                              Deadline deadline) const {
  std::string d = dmarc_internal::NormalizeDomain(domain);
  if (d.empty()) return Status::Invalid("not a valid domain name");
  EvalContext ctx{this, DnsFetcher(resolver, deadline, options_.limits.max_dmarc_dns_queries), {}};
  return ctx.Org(d);
}

DmarcResult DmarcEvaluator::EvaluateDomain(std::string_view author_domain,
                                           std::span<const DkimResult> dkim,
                                           const SpfResult& spf, Resolver& resolver,
                                           Deadline deadline, uint64_t sampling_key) const {
  DmarcResult r;
  std::string author = dmarc_internal::NormalizeDomain(author_domain);
  r.from_domain = author.empty() ? ToLower(author_domain) : author;
  if (author.empty()) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = "From domain is not a valid domain name";
    return r;
  }
  EvalContext ctx{this, DnsFetcher(resolver, deadline, options_.limits.max_dmarc_dns_queries), {}};
  auto done = [&](DmarcVerdict v, std::string reason) {
    r.verdict = v;
    r.reason = std::move(reason);
    r.dns_queries = ctx.fetcher.queries();
    return r;
  };

  // ---- Policy discovery (RFC 9989 §4.10.1) ----
  const NameRecord* policy = nullptr;
  std::vector<NameRecord> psl_records;
  WalkResult walk;
  bool org_known = true;
  if (psl_) {
    // RFC 7489 §6.6.3: the Author Domain, then its Organizational Domain.
    std::vector<DnsQuestion> qs = Questions(author);
    ctx.fetcher.Fetch(qs);
    for (const DnsQuestion& q : qs) {
      const DnsAnswer* a = ctx.fetcher.Get(q);
      NameLookup look = a ? dmarc_internal::InterpretDmarcAnswer(*a)
                          : NameLookup{NameLookup::kTempFail, {}, "DNS query budget exhausted"};
      if (look.kind == NameLookup::kTempFail) {
        return done(DmarcVerdict::kTempError, q.name + ": " + look.detail);
      }
      if (look.kind == NameLookup::kRecord) {
        psl_records.push_back({q.name.substr(7), std::move(look.record)});
        break;
      }
    }
    Result<std::string> org = ctx.Org(author);
    r.org_domain = *org;
    if (!psl_records.empty()) policy = &psl_records.front();
  } else {
    walk = dmarc_internal::TreeWalk(author, ctx.fetcher, options_.batch_tree_walk);
    bool author_has_record = !walk.records.empty() && walk.records.front().domain == author;
    if (walk.status != WalkResult::kOk) {
      // A failure after the Author Domain's own record still leaves its policy known; only
      // the Organizational Domain (relaxed alignment) is unknown then.
      if (!author_has_record) {
        return done(walk.status == WalkResult::kTempFail ? DmarcVerdict::kTempError
                                                         : DmarcVerdict::kPermError,
                    walk.detail);
      }
      org_known = false;
      ctx.orgs.emplace(author, walk.status == WalkResult::kTempFail
                                   ? Result<std::string>(Status::TempFail(walk.detail))
                                   : Result<std::string>(Status::TooLarge(walk.detail)));
    } else {
      r.org_domain = walk.org_domain;
      ctx.orgs.emplace(author, walk.org_domain);
    }
    if (author_has_record) {
      policy = &walk.records.front();
    } else {
      // "The Organizational Domain of the Author Domain", then "The Public Suffix Domain".
      for (const NameRecord& nr : walk.records) {
        if (nr.domain == walk.org_domain) policy = &nr;
      }
      if (policy == nullptr) {
        for (const NameRecord& nr : walk.records) {
          if (nr.record.psd == DmarcPsd::kYes) policy = &nr;
        }
      }
    }
  }
  if (policy == nullptr) {
    // RFC 9989 §4.10.1: no DMARC Policy Record: "MUST NOT apply the DMARC mechanism".
    return done(DmarcVerdict::kNone, "no DMARC record");
  }
  r.has_record = true;
  r.record = policy->record;
  r.record_domain = policy->domain;
  const DmarcRecord& rec = r.record;
  // The policy the Domain Owner requests is reported whatever the verdict (pass, temperror,
  // fail): p for the Author Domain's own record, else sp, else p (RFC 9989 §4.7). np= needs
  // an existence check that only a fail can use, so it is decided below, on fail only.
  r.policy_tag = DmarcPolicyTag::kP;
  r.requested = rec.p;
  if (author != r.record_domain && rec.sp) {
    r.policy_tag = DmarcPolicyTag::kSp;
    r.requested = *rec.sp;
  }
  r.testing = rec.t || rec.pct == 0;

  // ---- Identifier alignment (RFC 9989 §4.10.2, §3.2.6) ----
  std::vector<std::string> dkim_ids;
  for (const DkimResult& d : dkim) {
    if (d.result != DkimVerdict::kPass) continue;
    if (d.testing && !options_.dkim_testing_counts_for_alignment) continue;
    std::string id = dmarc_internal::NormalizeDomain(d.domain);
    if (!id.empty()) dkim_ids.push_back(id);
  }
  std::string spf_id;
  // RFC 9989 §3.2.6: the SPF-Authenticated Identifier is the MAIL FROM domain; a HELO
  // result does not count.
  if (spf.result == SpfVerdict::kPass && spf.identity != "helo") {
    spf_id = dmarc_internal::NormalizeDomain(spf.domain);
  }
  auto needs_walk = [&](const std::string& id, DmarcAlignmentMode mode) {
    if (mode == DmarcAlignmentMode::kStrict || id == author || Tld(id) != Tld(author)) return false;
    if (org_known && !dmarc_internal::IsSameOrSubdomain(id, r.org_domain)) return false;
    return true;
  };
  std::vector<std::string> walks;
  for (const std::string& id : dkim_ids) {
    if (needs_walk(id, rec.adkim)) walks.push_back(id);
  }
  if (!spf_id.empty() && needs_walk(spf_id, rec.aspf)) walks.push_back(spf_id);
  ctx.Prefetch(walks);

  bool unknown = false;
  std::string unknown_detail;
  auto aligned = [&](const std::string& id, DmarcAlignmentMode mode) -> Align {
    if (id == author) return Align::kYes;
    if (!needs_walk(id, mode)) return Align::kNo;
    Result<std::string> a = ctx.Org(author);
    Result<std::string> b = ctx.Org(id);
    for (const Result<std::string>* x : {&a, &b}) {
      if (!x->ok()) {
        if (x->status().code() == StatusCode::kTempFail) {
          unknown_detail = x->status().message();
          return Align::kUnknown;
        }
        return Align::kNo;  // query budget spent: retrying would not help
      }
    }
    return *a == *b ? Align::kYes : Align::kNo;
  };
  for (const std::string& id : dkim_ids) {
    Align al = aligned(id, rec.adkim);
    if (al == Align::kYes) {
      r.dkim_aligned = true;
      r.aligned_dkim_domain = id;
      break;
    }
    unknown = unknown || al == Align::kUnknown;
  }
  if (!spf_id.empty()) {
    Align al = aligned(spf_id, rec.aspf);
    r.spf_aligned = al == Align::kYes;
    unknown = unknown || al == Align::kUnknown;
  }
  if (r.dkim_aligned || r.spf_aligned) {
    return done(DmarcVerdict::kPass, r.dkim_aligned ? "aligned DKIM pass" : "aligned SPF pass");
  }
  // Never fail because DNS was unavailable: the missing answer might have aligned.
  if (unknown) return done(DmarcVerdict::kTempError, "alignment: " + unknown_detail);

  // ---- Policy choice (RFC 9989 §4.10.1, §4.7 sp/np; RFC 9091): p / sp chosen above ----
  if (author != r.record_domain) {
    if (rec.np) {
      // RFC 9989 §4.5 (non-existent domains): NXDOMAIN for A, AAAA and MX. Asked only when
      // np= could change the outcome.
      std::vector<DnsQuestion> qs = {{author, RRType::kA}, {author, RRType::kAAAA},
                                     {author, RRType::kMX}};
      if (!ctx.fetcher.Fetch(qs)) {
        return done(DmarcVerdict::kPermError, "DNS query budget exhausted (np= check)");
      }
      bool all_nx = true;
      for (const DnsQuestion& q : qs) {
        const DnsAnswer* a = ctx.fetcher.Get(q);
        if (a->outcome == DnsOutcome::kTempFail) {
          return done(DmarcVerdict::kTempError,
                      "existence check " + RRTypeName(q.type) + ": " + a->detail);
        }
        all_nx = all_nx && a->outcome == DnsOutcome::kNxDomain;
      }
      r.non_existent = all_nx;
    }
    if (r.non_existent) {
      r.policy_tag = DmarcPolicyTag::kNp;
      r.requested = *rec.np;
    }
  }
  // RFC 9989 §4.7 t=y, and RFC 7489 §6.6.4 pct: a message outside the sample gets "the next
  // less strict policy". Both express testing, so the policy is lowered at most one level.
  DmarcPolicy applied = r.requested;
  r.sampled_out = rec.pct < 100 && (sampling_key % 100) >= rec.pct;
  if (rec.t || r.sampled_out) applied = OneLevelDown(applied);
  r.disposition = ToDisposition(applied);
  return done(DmarcVerdict::kFail, "no aligned DKIM or SPF pass");
}

namespace {

// Severity for combining several Author Domains (RFC 7489 §6.6.1: "apply the most strict
// policy selected among the checks that fail").
int Severity(const DmarcResult& r) {
  switch (r.verdict) {
    case DmarcVerdict::kFail: return 10 + static_cast<int>(r.disposition);
    case DmarcVerdict::kTempError: return 5;
    case DmarcVerdict::kPermError: return 4;
    case DmarcVerdict::kPass: return 2;
    case DmarcVerdict::kNone: return 1;
  }
  return 0;
}

}  // namespace

DmarcResult DmarcEvaluator::Evaluate(const Message& message, std::span<const DkimResult> dkim,
                                     const SpfResult& spf, Resolver& resolver,
                                     Deadline deadline) const {
  DmarcResult r;
  std::vector<const HeaderField*> froms = message.FindAll("From");
  if (froms.size() != 1) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = froms.empty() ? "no From field" : "multiple From fields";
    return r;
  }
  Result<std::vector<std::string>> domains = ParseFromDomains(froms[0]->value);
  if (!domains.ok()) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = "From: " + domains.status().message();
    return r;
  }
  std::vector<std::string> distinct;
  for (const std::string& d : *domains) {
    if (std::find(distinct.begin(), distinct.end(), d) == distinct.end()) distinct.push_back(d);
  }
  if (distinct.size() > kMaxFromDomains) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = "too many From domains";
    return r;
  }
  const HeaderField* mid = message.Find("Message-ID");
  uint64_t key = DmarcSamplingKey(mid ? mid->value : std::string_view());
  DmarcResult best;
  size_t queries = 0;
  for (size_t i = 0; i < distinct.size(); ++i) {
    DmarcResult one = EvaluateDomain(distinct[i], dkim, spf, resolver, deadline, key);
    queries += one.dns_queries;
    if (i == 0 || Severity(one) > Severity(best)) best = std::move(one);
  }
  best.dns_queries = queries;
  if (distinct.size() > 1) {
    best.reason += " (" + std::to_string(distinct.size()) + " From domains, strictest result)";
  }
  return best;
}

}  // namespace credence
