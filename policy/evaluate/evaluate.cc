// The one-call evaluation: plan every DKIM and DMARC question, ask them in one batch, then
// decide. SPF runs through the same per-message resolver, so its answers are shared too.
#include "credence/policy/evaluate.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "common/idna.h"

namespace credence {
namespace {

// A per-message resolver in front of the host's resolver: remembers every answer of this
// message, so the prefetch batch serves DKIM, DMARC and SPF. Budgets are kept by each
// protocol (Limits: max_dkim_signatures, max_spf_dns_queries, max_dmarc_dns_queries), so that
// no check can spend another's. Those budgets keep the memo to a few dozen names at most, so
// it is a flat list searched in order (no map nodes, no lower-cased key per lookup).
class MessageResolver final : public Resolver {
 public:
  explicit MessageResolver(Resolver& inner) : inner_(inner) {
    memo_.reserve(8);  // a signed message's key and _dmarc names, and SPF's first questions
  }

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    if (questions.size() == 1) return ResolveOne(questions, deadline);  // the usual call
    std::vector<DnsQuestion> unique;
    for (const DnsQuestion& q : questions) {
      if (!IsNew(q, unique)) continue;
      if (unique.empty()) unique.reserve(questions.size());
      unique.push_back(q);
    }
    Keep(std::move(unique), deadline);
    std::vector<DnsAnswer> answers;
    answers.reserve(questions.size());
    for (const DnsQuestion& q : questions) {
      const DnsAnswer* memo = Find(q);  // never null: Keep kept an answer for every question
      answers.push_back(memo != nullptr ? *memo : DnsAnswer());
    }
    return answers;
  }

  // Every answer of this message so far, in place.
  const DnsAnswer* Held(std::string_view name, RRType type) const override {
    return Find(name, type);
  }

  // Resolve() for a caller that reads the answers later, one by one (the first batch of
  // Evaluate): the questions move in and the answers are only kept, not copied out.
  void Prefetch(std::vector<DnsQuestion> questions, Deadline deadline) {
    size_t kept = 0;
    for (DnsQuestion& q : questions) {
      if (!IsNew(q, std::span<const DnsQuestion>(questions).first(kept))) continue;
      if (&questions[kept] != &q) questions[kept] = std::move(q);
      ++kept;
    }
    questions.resize(kept);
    Keep(std::move(questions), deadline);
  }

 private:
  // Neither in the memo nor among `asking` (the questions of this batch so far).
  bool IsNew(const DnsQuestion& q, std::span<const DnsQuestion> asking) const {
    if (Find(q) != nullptr) return false;
    return std::none_of(asking.begin(), asking.end(), [&](const DnsQuestion& a) {
      return a.type == q.type && EqualsIgnoreCase(a.name, q.name);
    });
  }

  // Asks `unique` (questions not in the memo, once each) of the inner resolver in one batch,
  // in lower case, and keeps the answers; an answer the inner resolver pins (Pinned: a
  // batch's, in the archive runner) is kept as a pointer, without asking or copying.
  void Keep(std::vector<DnsQuestion> unique, Deadline deadline) {
    if (unique.empty()) return;
    size_t asking = 0;
    for (DnsQuestion& q : unique) {
      for (char& c : q.name) c = AsciiLower(c);
      if (const DnsAnswer* pinned = inner_.Pinned(q.name, q.type)) {
        memo_.push_back({std::move(q), DnsAnswer(), pinned});
        continue;
      }
      if (&unique[asking] != &q) unique[asking] = std::move(q);
      ++asking;
    }
    unique.resize(asking);
    if (unique.empty()) return;
    std::vector<DnsAnswer> got = inner_.Resolve(unique, deadline);
    got.resize(unique.size());  // a misbehaving resolver must not make us read past the end
    for (size_t u = 0; u < unique.size(); ++u) {
      memo_.push_back({std::move(unique[u]), std::move(got[u]), nullptr});
    }
  }

  // One question: from the memo, or asked as it is (the resolvers below compare names
  // case-insensitively) and kept, without the bookkeeping of a batch.
  std::vector<DnsAnswer> ResolveOne(std::span<const DnsQuestion> question, Deadline deadline) {
    const DnsQuestion& q = question[0];
    if (const DnsAnswer* memo = Find(q)) return std::vector<DnsAnswer>(1, *memo);
    if (const DnsAnswer* pinned = inner_.Pinned(q.name, q.type)) {
      memo_.push_back({DnsQuestion{ToLower(q.name), q.type}, DnsAnswer(), pinned});
      return std::vector<DnsAnswer>(1, *pinned);
    }
    std::vector<DnsAnswer> got = inner_.Resolve(question, deadline);
    got.resize(1);  // a misbehaving resolver must not make us read past the end
    memo_.push_back({DnsQuestion{ToLower(q.name), q.type}, got[0], nullptr});
    return got;
  }

  struct Entry {
    DnsQuestion question;  // name in lower case
    DnsAnswer answer;      // when `pinned` is null
    const DnsAnswer* pinned;  // the inner resolver's own (Resolver::Pinned), or null
    const DnsAnswer& Answer() const { return pinned != nullptr ? *pinned : answer; }
  };
  const DnsAnswer* Find(const DnsQuestion& q) const { return Find(q.name, q.type); }
  const DnsAnswer* Find(std::string_view name, RRType type) const {
    for (const Entry& e : memo_) {
      if (e.question.type == type && EqualsIgnoreCase(e.question.name, name)) return &e.Answer();
    }
    return nullptr;
  }

  Resolver& inner_;
  std::vector<Entry> memo_;
};

// The From domains (for choosing which DKIM signatures to evaluate first), at most 8.
std::vector<std::string> FromDomains(const Message& message) {
  std::vector<std::string> out;
  for (const HeaderField* f : message.FindAll("From")) {
    Result<std::vector<std::string>> domains = ParseFromDomains(f->value);
    if (!domains.ok()) continue;
    for (std::string& d : *domains) {
      if (out.size() < 8 && std::find(out.begin(), out.end(), d) == out.end()) {
        out.push_back(std::move(d));
      }
    }
  }
  return out;
}

// The sealers of a passing chain that the site trusts, each on a message unchanged since its
// set (they vouch for a List-Id rule).
std::vector<std::string> TrustedSealers(const ArcResult& arc,
                                        const std::vector<std::string>& trusted) {
  std::vector<std::string> out;
  for (const ArcSet& set : arc.sets) {
    const std::string& s = set.seal.domain;
    // A set counts while the message is as its sealer signed it (ArcResult::UnchangedSince).
    if (!s.empty() && arc.UnchangedSince(set.instance) &&
        std::any_of(trusted.begin(), trusted.end(),
                    [&](const std::string& t) { return EqualsIgnoreCase(t, s); }) &&
        std::find(out.begin(), out.end(), s) == out.end()) {
      out.push_back(s);
    }
  }
  return out;
}

// What the limits left out of this evaluation, one note each (Evaluation::limits).
std::vector<std::string> LimitNotes(const Message& message, const Evaluation& ev,
                                    const Limits& limits) {
  std::vector<std::string> notes = message.limit_notes();
  size_t skipped = 0;
  for (const DkimResult& d : ev.dkim) {
    if (d.reason == DkimReason::kNotEvaluated && d.domain.empty()) ++skipped;
  }
  if (skipped > 0) {
    notes.push_back(std::to_string(skipped) + " of " + std::to_string(ev.dkim.size()) +
                    " DKIM signatures not evaluated (limit " +
                    std::to_string(limits.max_dkim_signatures) + ")");
  }
  for (const SpfResult* spf : {&ev.spf_mailfrom, &ev.spf_helo}) {
    if (spf->limit_reached) notes.push_back("SPF " + spf->identity + ": " + spf->detail);
  }
  if (ev.dmarc.limit_reached) notes.push_back("DMARC: DNS query budget spent");
  if (ev.arc.reason == ArcReason::kNotEvaluated) notes.push_back("ARC: " + ev.arc.detail);
  return notes;
}

// A HELO name or MAIL FROM domain written with U-labels (SMTPUTF8, RFC 6531) as SPF looks
// it up: A-labels (RFC 8616 §4; the From domain is read the same way). Unchanged when ASCII
// or when IDNA2008 refuses it (SPF then finds no record there).
std::string ALabelDomain(const std::string& domain) {
  if (std::none_of(domain.begin(), domain.end(), [](char c) { return (c & 0x80) != 0; })) {
    return domain;
  }
  Result<std::string> a = ToALabels(domain);
  return a.ok() ? *a : domain;
}

std::string ALabelAddress(const std::string& address) {
  const size_t at = address.rfind('@');
  if (at == std::string::npos ||
      std::none_of(address.begin() + static_cast<std::ptrdiff_t>(at), address.end(),
                   [](char c) { return (c & 0x80) != 0; })) {
    return address;  // the common case: one copy, as before
  }
  return address.substr(0, at + 1) + ALabelDomain(address.substr(at + 1));
}

}  // namespace

SpfRequest SpfRequestOf(const std::string& client_ip, const std::string& helo,
                        const std::string& mail_from) {
  return SpfRequest{client_ip, ALabelDomain(helo), ALabelAddress(mail_from)};
}

Evaluator::Evaluator(const EvaluatorOptions& options, const Clock& clock) : options_(options) {
  options_.dkim.limits = options_.limits;
  options_.spf.limits = options_.limits;
  options_.dmarc.limits = options_.limits;
  dkim_ = std::make_unique<DkimVerifier>(clock, options_.dkim);
  arc_ = std::make_unique<ArcVerifier>(clock, options_.dkim);
}

Evaluator::~Evaluator() = default;

Result<std::unique_ptr<Evaluator>> Evaluator::Create(const EvaluatorOptions& options,
                                                     const Clock& clock) {
  if (Status s = ValidateAuthServId(options.authres.authserv_id); !s.ok()) {
    return Status::Invalid("authserv-id: " + s.message());
  }
  // One owner: the protocols' own `limits` are filled from options.limits, so a bound set in
  // a sub-struct alone would be dropped without a word. Refused instead.
  const std::pair<const char*, const Limits*> subs[] = {
      {"dkim", &options.dkim.limits}, {"spf", &options.spf.limits}, {"dmarc", &options.dmarc.limits}};
  for (const auto& [name, limits] : subs) {
    if (*limits != Limits() && *limits != options.limits) {
      return Status::Invalid(std::string("EvaluatorOptions::") + name +
                             ".limits differs from EvaluatorOptions::limits: set the bounds in "
                             "EvaluatorOptions::limits (each protocol's copy is filled from it)");
    }
  }
  Result<ScorePolicy> score = ScorePolicy::Create(options.score);
  if (!score.ok()) return score.status();
  DmarcOptions dmarc_options = options.dmarc;
  dmarc_options.limits = options.limits;
  Result<std::unique_ptr<DmarcEvaluator>> dmarc = DmarcEvaluator::Create(dmarc_options);
  if (!dmarc.ok()) return dmarc.status();
  std::unique_ptr<Evaluator> e(new Evaluator(options, clock));
  e->dmarc_ = std::move(dmarc).value();
  e->score_ = std::move(score).value();
  return e;
}

Evaluator::Prepared Evaluator::Prepare(const Message& message) const {
  Prepared prepared;
  // Which signatures come first matters only when there are more than the limit.
  size_t signatures = 0;
  for (const HeaderField& f : message.headers()) {
    signatures += EqualsIgnoreCase(f.name, "DKIM-Signature") ? 1 : 0;
  }
  prepared.dkim = dkim_->Prepare(message, signatures > options_.limits.max_dkim_signatures
                                              ? FromDomains(message)
                                              : std::vector<std::string>());
  const std::vector<DnsQuestion>& dkim_questions = prepared.dkim.questions();
  std::vector<DnsQuestion> arc_questions = arc_->KeyQuestions(message);
  std::vector<DnsQuestion> dmarc_questions;
  Result<std::string> author = ExtractAuthorDomain(message);
  if (author.ok()) {
    prepared.author = std::move(author).value();
    dmarc_questions = dmarc_->Questions(prepared.author);
  }
  // One list, allocated once; the ARC and DMARC questions are moved in.
  std::vector<DnsQuestion>& all = prepared.questions;
  all.reserve(dkim_questions.size() + arc_questions.size() + dmarc_questions.size());
  all.insert(all.end(), dkim_questions.begin(), dkim_questions.end());
  all.insert(all.end(), std::make_move_iterator(arc_questions.begin()),
             std::make_move_iterator(arc_questions.end()));
  all.insert(all.end(), std::make_move_iterator(dmarc_questions.begin()),
             std::make_move_iterator(dmarc_questions.end()));
  return prepared;
}

Evaluation Evaluator::Evaluate(const Message& message, const Envelope& envelope,
                               Resolver& resolver) {
  return Evaluate(message, envelope, resolver,
                  std::chrono::steady_clock::now() + options_.limits.deadline);
}

Evaluation Evaluator::Evaluate(const Message& message, const Envelope& envelope,
                               Resolver& resolver, Deadline deadline) {
  return Evaluate(message, Prepare(message), envelope, resolver, deadline);
}

// The order is part of the security design (docs/security.md): what decides DMARC is asked
// first, and nothing the sender controls (their DKIM keys' DNS, their SPF records, their HELO)
// can spend the time or the DNS budget of what comes after it.
Evaluation Evaluator::Evaluate(const Message& message, Prepared&& prepared,
                               const Envelope& envelope, Resolver& resolver,
                               Deadline deadline) {
  Evaluation ev;
  MessageResolver dns(resolver);

  // 1. Every DKIM and ARC key and every _dmarc name of the tree walk, asked in one batch, within half
  //    of the time left: a slow name server of a sender's own signing domain then leaves the
  //    other half to the SPF check that follows.
  const auto now = std::chrono::steady_clock::now();
  const Deadline first_batch = deadline > now ? now + (deadline - now) / 2 : deadline;
  if (!prepared.questions.empty()) dns.Prefetch(std::move(prepared.questions), first_batch);
  // 2. DMARC's own follow-up (the np= existence check), before SPF.
  if (!prepared.author.empty()) {
    std::vector<DnsQuestion> more = dmarc_->FollowUpQuestions(prepared.author, dns, deadline);
    if (!more.empty()) dns.Resolve(more, deadline);
  }

  // 3. DKIM (answers from the batch), then SPF of the MAIL FROM identity (DMARC uses it).
  ev.dkim = dkim_->Verify(message, std::move(prepared.dkim), dns, deadline);
  ev.arc = arc_->Verify(message, dns, deadline);
  SpfRequest request = SpfRequestOf(envelope.client_ip, envelope.helo, envelope.mail_from);
  ev.spf_mailfrom.identity = "mailfrom";
  ev.spf_helo.identity = "helo";
  if (!envelope.client_ip.empty()) {
    ev.spf_evaluated = true;
    ev.spf_mailfrom = CheckSpfMailFrom(request, dns, deadline, options_.spf);
  } else {
    ev.spf_mailfrom.result = SpfVerdict::kNone;
    ev.spf_mailfrom.detail = "not evaluated: no client IP";
    size_t at = envelope.mail_from.rfind('@');
    // RFC 7208 §2.4: a null sender is checked as postmaster@HELO, but only a known HELO makes
    // that an address; without one there is no sender to name.
    ev.spf_mailfrom.sender = !envelope.mail_from.empty() ? envelope.mail_from
                             : envelope.helo.empty()     ? std::string()
                                                         : "postmaster@" + envelope.helo;
    ev.spf_mailfrom.domain = envelope.mail_from.empty()
                                 ? ToLower(envelope.helo)
                                 : (at == std::string::npos ? std::string()
                                                            : ToLower(envelope.mail_from.substr(at + 1)));
  }

  // 4. DMARC. 5. The HELO identity, reported only: last, so a sender's HELO name cannot delay
  //    anything that decides.
  // Prepare read the From field already: when it names one Author Domain, that domain is
  // what Evaluate would find (one From field, every address of that domain).
  ev.dmarc = prepared.author.empty()
                 ? dmarc_->Evaluate(message, ev.dkim, ev.spf_mailfrom, dns, deadline)
                 : dmarc_->EvaluateDomain(prepared.author, ev.dkim, ev.spf_mailfrom, dns,
                                          deadline, DmarcSamplingKey(message));
  // An evaluation cut by a host's limit (it started late: the host was busy): a policy that
  // could not be looked up may be unknown for want of time, so it fails closed.
  if (!envelope.host_limit.empty() && ev.dmarc.verdict == DmarcVerdict::kTempError &&
      (!ev.dmarc.has_record || ev.dmarc.record_assumed)) {
    ev.dmarc.unknown_scored_strict = true;
    ev.dmarc.disposition_if_fail = DmarcDisposition::kReject;
    ev.dmarc.reason += " (" + envelope.host_limit + ": scored as under p=reject)";
  }
  // The trusted-sealer override (docs/arc.md): disposition none, the verdict stays fail.
  ApplyArcOverride(ev.arc, options_.dmarc.arc_trusted_sealers, &ev.dmarc);
  if (ev.spf_evaluated && !envelope.helo.empty()) {
    ev.spf_helo = CheckSpfHelo(request, dns, deadline, options_.spf);
  }
  ev.limits = LimitNotes(message, ev, options_.limits);
  if (!envelope.host_limit.empty()) ev.limits.push_back(envelope.host_limit);

  ScoreInput in;
  in.dkim = ev.dkim;
  in.spf = ev.spf_evaluated ? &ev.spf_mailfrom : nullptr;  // not evaluated: no SPF symbol
  in.spf_helo = ev.spf_evaluated && !envelope.helo.empty() ? &ev.spf_helo : nullptr;
  in.dmarc = &ev.dmarc;
  in.arc = &ev.arc;
  in.trusted_arc_sealers = TrustedSealers(ev.arc, options_.dmarc.arc_trusted_sealers);
  in.client_ip = envelope.client_ip;
  in.helo = envelope.helo;
  in.limits = ev.limits;
  if (const HeaderField* list_id = message.Find("List-Id")) in.list_id = std::string(list_id->value);
  if (ev.dmarc.from_problem == DmarcFromProblem::kNone) {
    // One readable From field (else DMARC's own symbols say so): what else it shows.
    if (const HeaderField* from = message.Find("From")) {
      in.from_shown_domains = DomainsShownInFrom(from->value);
    }
  }
  ev.score = score_.Score(in);

  Result<AuthResHeader> header = WriteAuthResults(AuthResInputOf(ev, envelope), options_.authres);
  if (header.ok()) ev.authres = std::move(header).value();  // the id was validated in Create
  ev.forged_authres = FindAuthResultsPositions(message, options_.authres.authserv_id);
  return ev;
}

AuthResInput AuthResInputOf(const Evaluation& ev, const Envelope& envelope) {
  AuthResInput ar;
  ar.dkim = ev.dkim;
  ar.spf_mailfrom = ev.spf_evaluated ? &ev.spf_mailfrom : nullptr;  // no client IP: no spf=
  ar.spf_helo = ev.spf_evaluated && !envelope.helo.empty() ? &ev.spf_helo : nullptr;
  ar.dmarc = &ev.dmarc;
  ar.arc = &ev.arc;
  ar.client_ip = envelope.client_ip;
  return ar;
}

}  // namespace credence
