// DMARC evaluation: policy discovery (RFC 9989 §4.10.1), identifier alignment (§4.10.2,
// §3.2.6), policy choice with sp=/np= (§4.7, RFC 9091), t= testing, RFC 7489 pct= sampling.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/psl.h"
#include "credence/policy/dmarc.h"
#include "dmarc/discover.h"
#include "dmarc/domain_util.h"

namespace credence {

using dmarc_internal::DomainOfDmarcName;
using dmarc_internal::DnsFetcher;
using dmarc_internal::NameLookup;
using dmarc_internal::NameRecord;
using dmarc_internal::WalkResult;

namespace {

constexpr size_t kMaxFromDomains = 8;

DmarcPolicy OneLevelDown(DmarcPolicy p) {
  return p == DmarcPolicy::kReject ? DmarcPolicy::kQuarantine : DmarcPolicy::kNone;
}

// RFC 9989 §4.7 t=y, and RFC 7489 §6.6.4 pct: a message outside the sample gets "the next
// less strict policy". Both express testing, so the policy is lowered at most one level.
bool SampledOut(const DmarcRecord& record, uint64_t sampling_key) {
  return record.pct < 100 && (sampling_key % 100) >= record.pct;
}
DmarcPolicy LoweredForTesting(const DmarcRecord& record, DmarcPolicy requested,
                              uint64_t sampling_key) {
  return record.t || SampledOut(record, sampling_key) ? OneLevelDown(requested) : requested;
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
  // Whether the PSL names `domain` a public suffix: the file loaded for the PSL method, else
  // the list libpsl was built with (for the score's "related" identifiers only).
  bool ListedPublicSuffix(const std::string& domain) const {
    return ev->psl_ ? ev->psl_->IsPublicSuffix(domain)
                    : PublicSuffixList::IsBuiltinPublicSuffix(domain);
  }
  void Prefetch(const std::vector<std::string>& domains);
};

namespace {

// What policy discovery found for one Author Domain (RFC 9989 §4.10.1).
struct Discovery {
  enum Status { kFound, kNoRecord, kTempFail, kBudget } status = kNoRecord;
  std::string detail;       // kTempFail, kBudget
  NameRecord policy;        // kFound: the record that applies and where it was found
  std::string org_domain;   // empty when the walk could not finish
  bool org_known = true;
  // kTempFail at a name below a record that was answered: that record, which applies if the
  // failed name holds none, and the highest Organizational Domain there can be then. Only
  // for the score of the temperror: no policy is applied.
  std::optional<NameRecord> policy_if_none;
  std::string org_if_none;
  // The Author Domain is a public suffix: the PSL lists it, or its own record says psd=y.
  bool author_public_suffix = false;
};

// RFC 7489 §6.6.3 with the PSL: the Author Domain's record, then its Organizational Domain's.
Discovery DiscoverByPsl(EvalContext& ctx, const std::string& author) {
  Discovery out;
  std::vector<DnsQuestion> qs = ctx.ev->Questions(author);
  ctx.fetcher.Fetch(qs);
  for (const DnsQuestion& q : qs) {
    const DnsAnswer* a = ctx.fetcher.Get(q);
    NameLookup look =
        a ? dmarc_internal::InterpretDmarcAnswer(*a)
          : NameLookup{NameLookup::kNotAsked, {}, "the DMARC DNS query budget is spent"};
    if (look.kind == NameLookup::kTempFail || look.kind == NameLookup::kNotAsked) {
      out.status = look.kind == NameLookup::kTempFail ? Discovery::kTempFail : Discovery::kBudget;
      out.detail = q.name + ": " + look.detail;
      if (out.status == Discovery::kTempFail && &q == &qs.front() && qs.size() > 1) {
        // The Author Domain's own name failed: its Organizational Domain's record is what
        // applies if the author has none.
        const DnsAnswer* org = ctx.fetcher.Get(qs[1]);
        NameLookup o = org ? dmarc_internal::InterpretDmarcAnswer(*org) : NameLookup{};
        if (o.kind == NameLookup::kRecord) {
          out.policy_if_none =
              NameRecord{std::string(DomainOfDmarcName(qs[1].name)), std::move(o.record)};
          out.org_if_none = *ctx.Org(author);
        }
      }
      return out;
    }
    if (look.kind == NameLookup::kRecord) {
      out.status = Discovery::kFound;
      out.policy = {std::string(DomainOfDmarcName(q.name)), std::move(look.record)};
      break;
    }
  }
  out.org_domain = *ctx.Org(author);  // the PSL never needs DNS
  return out;
}

// Whether a DKIM signature or the SPF check passed for a name strictly under `author`
// (ASCII case-insensitive).
bool PassUnder(std::string_view author, std::span<const DkimResult> dkim, const SpfResult& spf) {
  auto under = [&](std::string_view d) {
    return d.size() > author.size() + 1 && d[d.size() - author.size() - 1] == '.' &&
           EqualsIgnoreCase(d.substr(d.size() - author.size()), author);
  };
  for (const DkimResult& k : dkim) {
    if (k.result == DkimVerdict::kPass && under(k.domain)) return true;
  }
  return spf.result == SpfVerdict::kPass && under(spf.domain);
}

// Of a walk's records below the Author Domain's own, the one that applies: the Organizational
// Domain's, else a Public Suffix Domain's (psd=y); null when none.
NameRecord* RecordAbove(std::vector<NameRecord>& records, const std::string& org_domain) {
  NameRecord* policy = nullptr;
  for (NameRecord& nr : records) {
    if (nr.domain == org_domain) policy = &nr;
  }
  if (policy == nullptr) {
    for (NameRecord& nr : records) {
      if (nr.record.psd == DmarcPsd::kYes) policy = &nr;
    }
  }
  return policy;
}

// RFC 9989 §4.10: the DNS Tree Walk, then the record that applies: the Author Domain's, else
// the Organizational Domain's, else a Public Suffix Domain's (psd=y).
Discovery DiscoverByTreeWalk(EvalContext& ctx, const std::string& author) {
  Discovery out;
  WalkResult walk = dmarc_internal::TreeWalk(author, ctx.fetcher, ctx.ev->options().batch_tree_walk);
  bool author_has_record = !walk.records.empty() && walk.records.front().domain == author;
  if (walk.status != WalkResult::kOk) {
    // A failure after the Author Domain's own record still leaves its policy known; only
    // the Organizational Domain (relaxed alignment) is unknown then.
    if (!author_has_record) {
      out.status = walk.status == WalkResult::kTempFail ? Discovery::kTempFail : Discovery::kBudget;
      out.detail = walk.detail;
      std::vector<NameRecord> above =
          walk.status == WalkResult::kTempFail && walk.records.empty()
              ? dmarc_internal::RecordsAbove(author, walk.failed_at, ctx.fetcher,
                                             ctx.ev->options().batch_tree_walk)
              : std::vector<NameRecord>();
      if (!above.empty()) {
        // The record that would apply if the failed names hold none: chosen as below.
        out.org_if_none = dmarc_internal::SelectOrgDomain(author, above);
        if (NameRecord* p = RecordAbove(above, out.org_if_none)) out.policy_if_none = std::move(*p);
      }
      return out;
    }
    out.org_known = false;
    ctx.orgs.emplace(author, walk.status == WalkResult::kTempFail
                                 ? Result<std::string>(Status::TempFail(walk.detail))
                                 : Result<std::string>(Status::TooLarge(walk.detail)));
  } else {
    out.org_domain = walk.org_domain;
    ctx.orgs.emplace(author, walk.org_domain);
  }
  out.author_public_suffix =
      author_has_record && walk.records.front().record.psd == DmarcPsd::kYes;
  NameRecord* policy =
      author_has_record ? &walk.records.front() : RecordAbove(walk.records, walk.org_domain);
  if (policy != nullptr) {
    out.status = Discovery::kFound;
    out.policy = std::move(*policy);  // the walk ends here
  }
  return out;
}

Discovery Discover(EvalContext& ctx, const std::string& author) {
  return ctx.ev->options().org_domain_method == OrgDomainMethod::kPsl
             ? DiscoverByPsl(ctx, author)
             : DiscoverByTreeWalk(ctx, author);
}

// RFC 9989 §4.5: the Author Domain "does not exist" when A, AAAA and MX all answer NXDOMAIN.
std::vector<DnsQuestion> ExistenceQuestions(const std::string& author) {
  return {{author, RRType::kA}, {author, RRType::kAAAA}, {author, RRType::kMX}};
}

// np= applies only when the policy comes from another domain's record that has np=.
bool NeedsExistenceCheck(const Discovery& d, const std::string& author) {
  return d.status == Discovery::kFound && d.policy.domain != author && d.policy.record.np;
}

}  // namespace

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
  const dmarc_internal::TreeWalkViews names = dmarc_internal::TreeWalkNameViews(d);
  qs.reserve(names.size);
  for (std::string_view n : names) qs.push_back(dmarc_internal::DmarcQuestion(n));
  return qs;
}

std::vector<DnsQuestion> DmarcEvaluator::FollowUpQuestions(std::string_view author_domain,
                                                           Resolver& resolver,
                                                           Deadline deadline) const {
  std::string author = dmarc_internal::NormalizeDomain(author_domain);
  if (author.empty()) return {};
  EvalContext ctx{this, DnsFetcher(resolver, deadline, options_.limits.max_dmarc_dns_queries), {}};
  // The common case first: the Author Domain's own record applies, so np= cannot. Its answer
  // is read where the per-message memo holds it (the first batch asked it), else fetched.
  // Its name is built on the stack for that read (NormalizeDomain keeps to 253 octets); the
  // question is made only when it must be fetched.
  dmarc_internal::DmarcNameBuffer own_name;
  const std::string_view held_name = dmarc_internal::DmarcNameIn(author, own_name);
  const DnsAnswer* a = held_name.empty() ? nullptr : resolver.Held(held_name, RRType::kTXT);
  if (a == nullptr) {
    const DnsQuestion own = dmarc_internal::DmarcQuestion(author);
    if (ctx.fetcher.Fetch(std::span<const DnsQuestion>(&own, 1))) a = ctx.fetcher.Get(own);
  }
  if (a != nullptr && dmarc_internal::InterpretDmarcAnswer(*a).kind == NameLookup::kRecord) {
    return {};
  }
  Discovery d = Discover(ctx, author);
  return NeedsExistenceCheck(d, author) ? ExistenceQuestions(author) : std::vector<DnsQuestion>();
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
    for (std::string_view n : dmarc_internal::TreeWalkNameViews(d)) {
      qs.push_back(dmarc_internal::DmarcQuestion(n));
    }
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

namespace {

// Identifier alignment (RFC 9989 §4.10.2, §3.2.6) of one evaluation: which identifiers are
// aligned with the Author Domain under the record's modes, asking the organizational domains
// it needs (in one batch where it can).
class Alignment {
 public:
  Alignment(EvalContext& ctx, const std::string& author, const Discovery& d)
      : ctx_(ctx), author_(author), org_known_(d.org_known), org_domain_(d.org_domain) {}

  enum class Result { kYes, kNo, kUnknown, kBudget };

  // Asks, in one batch, the walks of identifiers that need one (NeedsWalk).
  void Prefetch(const std::vector<std::string>& walks) { ctx_.Prefetch(walks); }

  Result Aligned(const std::string& id, DmarcAlignmentMode mode) {
    if (id == author_) return Result::kYes;
    if (!NeedsWalk(id, mode)) return Result::kNo;
    credence::Result<std::string> a = ctx_.Org(author_);
    credence::Result<std::string> b = ctx_.Org(id);
    for (const credence::Result<std::string>* x : {&a, &b}) {
      if (!x->ok()) {
        detail_ = x->status().message();
        return x->status().code() == StatusCode::kTempFail ? Result::kUnknown : Result::kBudget;
      }
    }
    return *a == *b ? Result::kYes : Result::kNo;
  }
  // Why the last kUnknown / kBudget.
  const std::string& detail() const { return detail_; }

  // Aligned() of `id` needs the Organizational Domains (relaxed mode, same TLD, not the
  // Author Domain itself).
  bool NeedsWalk(const std::string& id, DmarcAlignmentMode mode) const {
    if (mode == DmarcAlignmentMode::kStrict || id == author_ || Tld(id) != Tld(author_)) {
      return false;
    }
    return !org_known_ || dmarc_internal::IsSameOrSubdomain(id, org_domain_);
  }

 private:
  EvalContext& ctx_;
  const std::string& author_;
  bool org_known_;
  std::string org_domain_;
  std::string detail_;
};

}  // namespace

namespace {

// The identifiers DMARC may align (RFC 9989 §3.2.6): the d= of each DKIM pass (of a t=y key
// only when the options say so) and the MAIL FROM domain; a HELO result does not count.
struct Identifiers {
  struct Dkim {
    std::string domain;
    bool testing = false;  // from a t=y key
  };
  std::vector<Dkim> dkim;
  std::string spf;  // "" when there is none
};

Identifiers IdentifiersOf(std::span<const DkimResult> dkim, const SpfResult& spf,
                          bool testing_counts) {
  Identifiers ids;
  for (const DkimResult& d : dkim) {
    if (d.result != DkimVerdict::kPass) continue;
    if (d.testing && !testing_counts) continue;
    std::string id = dmarc_internal::NormalizeDomain(d.domain);
    if (id.empty()) continue;
    ids.dkim.push_back({std::move(id), d.testing});
  }
  if (spf.identity != "helo") ids.spf = dmarc_internal::NormalizeDomain(spf.domain);
  return ids;
}

// Alignment as one evaluation asks it: remembers whether an answer was missing (the
// identifier might have aligned) and marks the result when the budget stopped a walk.
class Aligner {
 public:
  Aligner(EvalContext& ctx, const std::string& author, const Discovery& found, DmarcResult& r)
      : alignment_(ctx, author, found), r_(r) {}

  void Prefetch(const Identifiers& ids, const SpfResult& spf, const DmarcRecord& rec) {
    std::vector<std::string> walks;  // usually none: strict, or the Author Domain's own
    for (const Identifiers::Dkim& id : ids.dkim) {
      if (alignment_.NeedsWalk(id.domain, rec.adkim)) walks.push_back(id.domain);
    }
    if (spf.result == SpfVerdict::kPass && !ids.spf.empty() &&
        alignment_.NeedsWalk(ids.spf, rec.aspf)) {
      walks.push_back(ids.spf);
    }
    alignment_.Prefetch(walks);
  }

  bool operator()(const std::string& id, DmarcAlignmentMode mode) {
    Alignment::Result al = alignment_.Aligned(id, mode);
    if (al == Alignment::Result::kUnknown) {
      unknown_ = true;
      unknown_detail_ = alignment_.detail();
    } else if (al == Alignment::Result::kBudget) {
      r_.limit_reached = true;  // not aligned: asking again would be refused again
    }
    return al == Alignment::Result::kYes;
  }

  bool unknown() const { return unknown_; }
  const std::string& unknown_detail() const { return unknown_detail_; }

 private:
  Alignment alignment_;
  DmarcResult& r_;
  bool unknown_ = false;
  std::string unknown_detail_;
};

// The record found and the policy its owner requests, whatever the verdict: p for the Author
// Domain's own record, else sp, else p (RFC 9989 §4.7). np= needs an existence check that only
// a fail can use (ApplyExistenceCheck).
void TakeRecord(const Discovery& found, const std::string& author, DmarcResult& r) {
  r.org_domain = found.org_domain;
  r.author_public_suffix = found.author_public_suffix;
  r.has_record = true;
  r.record = found.policy.record;
  r.record_domain = found.policy.domain;
  r.policy_tag = DmarcPolicyTag::kP;
  r.requested = r.record.p;
  if (author != r.record_domain && r.record.sp) {
    r.policy_tag = DmarcPolicyTag::kSp;
    r.requested = *r.record.sp;
  }
  r.testing = r.record.t || r.record.pct == 0;
}

// Identifier alignment (RFC 9989 §4.10.2): sets dkim_aligned / spf_aligned. A signature of a
// key in testing mode counts (RFC 9989 counts every DKIM pass), but the reader is told when
// nothing else aligned: a non-testing aligned pass is preferred.
void FindAlignedPasses(const Identifiers& ids, const SpfResult& spf, Aligner& aligned,
                       DmarcResult& r) {
  for (const Identifiers::Dkim& id : ids.dkim) {
    if (r.dkim_aligned && id.testing) continue;
    if (aligned(id.domain, r.record.adkim)) {
      r.dkim_aligned = true;
      r.aligned_dkim_domain = id.domain;
      r.aligned_dkim_testing = id.testing;
      if (!id.testing) break;
    }
  }
  if (spf.result == SpfVerdict::kPass && !ids.spf.empty()) {
    r.spf_aligned = aligned(ids.spf, r.record.aspf);
  }
}

// RFC 7489 §6.6.2: "If neither passes and one or both of them fail due to a temporary error,
// the Receiver evaluating the message is unable to conclude that the DMARC mechanism had a
// permanent failure; they therefore cannot apply the advertised DMARC policy." Only an
// aligned identifier counts: a sender's own unaligned signature cannot stop the policy.
// Returns the reason of the temperror, or "" when no aligned identifier failed temporarily.
std::string TemporarilyFailedIdentifier(std::span<const DkimResult> dkim, const SpfResult& spf,
                                        const std::string& spf_id, Aligner& aligned,
                                        DmarcResult& r) {
  for (const DkimResult& d : dkim) {
    if (d.result != DkimVerdict::kTempError) continue;
    std::string id = dmarc_internal::NormalizeDomain(d.domain);
    if (!id.empty() && aligned(id, r.record.adkim)) {
      r.temporary_identifier = "dkim";
      return "the aligned DKIM signature d=" + id + " could not be checked (" + d.detail +
             "): policy not applied (RFC 7489 §6.6.2)";
    }
  }
  if (spf.result == SpfVerdict::kTempError && !spf_id.empty() && aligned(spf_id, r.record.aspf)) {
    r.temporary_identifier = "spf";
    return "the aligned SPF check of " + spf_id + " failed temporarily (" + spf.detail +
           "): policy not applied (RFC 7489 §6.6.2)";
  }
  return "";
}

// RFC 9989 §4.5 (non-existent domains): NXDOMAIN for A, AAAA and MX selects np=. Asked only
// when np= could change the outcome; hosts ask these early (FollowUpQuestions), so nothing the
// sender controls can spend their time or budget. Returns false, with the verdict and reason
// in *verdict / *reason, when the check could not be made.
bool ApplyExistenceCheck(EvalContext& ctx, const std::string& author, DmarcResult& r,
                         DmarcVerdict* verdict, std::string* reason) {
  std::vector<DnsQuestion> qs = ExistenceQuestions(author);
  if (!ctx.fetcher.Fetch(qs)) {
    r.limit_reached = true;
    *verdict = DmarcVerdict::kPermError;
    *reason = "not evaluated: DMARC DNS query budget spent (np= check)";
    return false;
  }
  bool all_nx = true;
  for (const DnsQuestion& q : qs) {
    const DnsAnswer* a = ctx.fetcher.Get(q);
    if (a->outcome == DnsOutcome::kTempFail) {
      *verdict = DmarcVerdict::kTempError;
      *reason = "existence check " + RRTypeName(q.type) + ": " + a->detail;
      return false;
    }
    if (a->outcome == DnsOutcome::kNotAsked) {
      r.limit_reached = true;
      *verdict = DmarcVerdict::kPermError;
      *reason = "not evaluated: " + a->detail + " (np= check)";
      return false;
    }
    all_nx = all_nx && a->outcome == DnsOutcome::kNxDomain;
  }
  r.non_existent = all_nx;
  if (r.non_existent) {
    r.policy_tag = DmarcPolicyTag::kNp;
    r.requested = *r.record.np;
  }
  return true;
}

// Policy discovery failed at a name below a record that was answered (a lame or broken
// subdomain of a domain with a policy: what a spoofer may choose as its From). When no passing
// identifier could align whatever the failed name holds, the temperror is scored as the fail
// it would be under that record (the policy is not applied: DmarcResult::has_record is set
// for the score and the report, the disposition stays none): docs/security.md, promise 5.
// Returns what the reason adds.
std::string ScoreAsIfNone(const Discovery& found, const std::string& author,
                          std::span<const DkimResult> dkim, const SpfResult& spf,
                          uint64_t sampling_key, DmarcResult& r) {
  if (!found.policy_if_none) return {};
  const std::string& org = found.org_if_none;
  const Identifiers ids = IdentifiersOf(dkim, spf, /*testing_counts=*/true);
  for (const Identifiers::Dkim& d : ids.dkim) {
    if (dmarc_internal::IsSameOrSubdomain(d.domain, org)) return {};
  }
  if (spf.result == SpfVerdict::kPass && dmarc_internal::IsSameOrSubdomain(ids.spf, org)) {
    return {};
  }
  Discovery as_if;
  as_if.policy = *found.policy_if_none;
  TakeRecord(as_if, author, r);
  r.record_assumed = true;
  DmarcPolicy requested = r.requested;
  if (r.record.np && *r.record.np > requested) requested = *r.record.np;  // it may not exist
  r.disposition_if_fail = ToDisposition(LoweredForTesting(r.record, requested, sampling_key));
  return " (the record of " + r.record_domain + " applies if it holds none)";
}

}  // namespace

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
    r.from_problem = DmarcFromProblem::kUnreadable;
    return r;
  }
  EvalContext ctx{this, DnsFetcher(resolver, deadline, options_.limits.max_dmarc_dns_queries), {}};
  // Every use is `return done(...)`: r moves out.
  auto done = [&](DmarcVerdict v, std::string reason) {
    r.verdict = v;
    r.reason = std::move(reason);
    r.dns_queries = ctx.fetcher.queries();
    // The PSL is asked only when its answer can matter: a passing identifier strictly under
    // the Author Domain (whose credit a public suffix withholds).
    if (!r.author_public_suffix && PassUnder(author, dkim, spf)) {
      r.author_public_suffix = ctx.ListedPublicSuffix(author);
    }
    return std::move(r);
  };

  // Policy discovery (RFC 9989 §4.10.1).
  Discovery found = Discover(ctx, author);
  switch (found.status) {
    case Discovery::kTempFail:
      return done(DmarcVerdict::kTempError,
                  found.detail + ScoreAsIfNone(found, author, dkim, spf, sampling_key, r));
    case Discovery::kBudget:
      r.limit_reached = true;
      return done(DmarcVerdict::kPermError, "not evaluated: " + found.detail);
    case Discovery::kNoRecord:
      // RFC 9989 §4.10.1: no DMARC Policy Record: "MUST NOT apply the DMARC mechanism".
      r.org_domain = found.org_domain;
      r.author_public_suffix = found.author_public_suffix;
      return done(DmarcVerdict::kNone, "no DMARC record");
    case Discovery::kFound:
      break;
  }
  TakeRecord(found, author, r);
  // A temperror once the record is known: the fail it would be, for the score.
  auto temperror = [&](std::string reason) {
    DmarcPolicy requested = r.requested;
    if (NeedsExistenceCheck(found, author) && *r.record.np > requested) requested = *r.record.np;
    r.disposition_if_fail = ToDisposition(LoweredForTesting(r.record, requested, sampling_key));
    return done(DmarcVerdict::kTempError, std::move(reason));
  };

  // Identifier alignment.
  const Identifiers ids = IdentifiersOf(dkim, spf, options_.dkim_testing_counts_for_alignment);
  Aligner aligned(ctx, author, found, r);
  aligned.Prefetch(ids, spf, r.record);
  FindAlignedPasses(ids, spf, aligned, r);
  if (r.dkim_aligned || r.spf_aligned) {
    // For the score of a pass that rests on a signature leaving what a reader sees unsigned
    // (CREDENCE_DMARC_PARTIAL_*): the fail it would be without it.
    r.disposition_if_fail = ToDisposition(LoweredForTesting(r.record, r.requested, sampling_key));
    return done(DmarcVerdict::kPass, r.dkim_aligned ? "aligned DKIM pass" : "aligned SPF pass");
  }
  // Never fail because DNS was unavailable: the missing answer might have aligned.
  if (aligned.unknown()) return temperror("alignment: " + aligned.unknown_detail());
  std::string temporary = TemporarilyFailedIdentifier(dkim, spf, ids.spf, aligned, r);
  if (!temporary.empty()) return temperror(std::move(temporary));
  if (aligned.unknown()) return temperror("alignment: " + aligned.unknown_detail());

  // Policy choice (RFC 9989 §4.10.1, §4.7 sp/np; RFC 9091): p / sp chosen by TakeRecord.
  if (NeedsExistenceCheck(found, author)) {
    DmarcVerdict verdict = DmarcVerdict::kPermError;
    std::string reason;
    if (!ApplyExistenceCheck(ctx, author, r, &verdict, &reason)) {
      return verdict == DmarcVerdict::kTempError ? temperror(std::move(reason))
                                                 : done(verdict, std::move(reason));
    }
  }
  r.sampled_out = SampledOut(r.record, sampling_key);
  r.disposition = ToDisposition(LoweredForTesting(r.record, r.requested, sampling_key));
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
  const dmarc_internal::FromFields froms = dmarc_internal::FindFromFields(message);
  if (froms.count != 1) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = froms.count == 0 ? "no From field" : "multiple From fields";
    r.from_problem = froms.count == 0 ? DmarcFromProblem::kNoFrom
                                      : DmarcFromProblem::kMultipleFromFields;
    return r;
  }
  Result<std::vector<std::string>> domains = ParseFromDomains(froms.first->value);
  if (!domains.ok()) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = "From: " + domains.status().message();
    r.from_problem = DmarcFromProblem::kUnreadable;
    return r;
  }
  // The distinct domains, in order of first appearance, kept in place.
  std::vector<std::string>& distinct = *domains;
  size_t kept = 0;
  for (std::string& d : distinct) {
    const auto seen = distinct.begin() + kept;
    if (std::find(distinct.begin(), seen, d) != seen) continue;
    if (&distinct[kept] != &d) distinct[kept] = std::move(d);
    ++kept;
  }
  distinct.resize(kept);
  if (distinct.size() > kMaxFromDomains) {
    r.verdict = DmarcVerdict::kPermError;
    r.reason = "too many From domains";
    r.from_problem = DmarcFromProblem::kUnreadable;
    return r;
  }
  const uint64_t key = DmarcSamplingKey(message);
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
