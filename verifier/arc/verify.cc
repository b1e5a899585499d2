// RFC 8617 §5.2 chain validation: read the sets (arc/sets.cc), ask every key in one batch,
// then verify the newest ARC-Message-Signature, the older ones (oldest-pass) and every
// ARC-Seal, with the DKIM machinery (dkim/canonicalize, dkim/key_cache, crypto).
#include <algorithm>
#include <cstring>
#include <limits>

#include "arc/sets.h"
#include "credence/arc.h"
#include "dkim/body_hash.h"
#include "dkim/canonicalize.h"
#include "dkim/key_cache.h"
#include "dkim/signature.h"

namespace credence {

std::string_view ArcVerdictName(ArcVerdict v) {
  switch (v) {
    case ArcVerdict::kNone: return "none";
    case ArcVerdict::kPass: return "pass";
    case ArcVerdict::kFail: return "fail";
  }
  return "fail";
}

std::string_view ArcReasonName(ArcReason r) {
  switch (r) {
    case ArcReason::kNone: return "";
    case ArcReason::kStructure: return "structure";
    case ArcReason::kTooManySets: return "too_many_sets";
    case ArcReason::kSealedFail: return "sealed_fail";
    case ArcReason::kChainStatus: return "chain_status";
    case ArcReason::kMessageSignature: return "message_signature";
    case ArcReason::kSeal: return "seal";
    case ArcReason::kKeyDnsError: return "key_dns_error";
    case ArcReason::kNotEvaluated: return "not_evaluated";
  }
  return "";
}

std::vector<std::string> ArcResult::Sealers() const {
  std::vector<std::string> out;
  for (const ArcSet& s : sets) {
    if (!s.seal.domain.empty()) out.push_back(s.seal.domain);
  }
  return out;
}

namespace {

using arc::ParsedChain;
using arc::ParsedSet;

void SetError(DkimResult* r, DkimVerdict verdict, DkimReason reason, std::string detail) {
  r->result = verdict;
  r->reason = reason;
  r->detail = std::move(detail);
}

// What leaves the verifier of a signature: only well-formed identifiers (as DKIM's
// CopySignatureFields).
void CopyFields(const dkim::Signature& s, size_t index, DkimResult* r) {
  r->header_index = index;
  if (dkim::IsDomainLike(s.domain)) r->domain = s.domain;
  if (dkim::IsDomainLike(s.selector)) r->selector = s.selector;
  if (EqualsIgnoreCase(s.algorithm_text, "rsa-sha256") ||
      EqualsIgnoreCase(s.algorithm_text, "ed25519-sha256")) {
    r->algorithm = s.algorithm_text;
  }
  r->canonicalization = s.CanonName();
  r->identity = r->domain.empty() ? "" : "@" + r->domain;
  r->timestamp = s.t;
  r->expiration = s.x;
  r->body_length = s.l;
  SetError(r, DkimVerdict::kPermError, DkimReason::kNotEvaluated, "not verified");
}

bool TempFailure(const DkimResult& r) { return r.result == DkimVerdict::kTempError; }

ArcReason FailureReason(const DkimResult& r, ArcReason otherwise) {
  if (TempFailure(r)) return ArcReason::kKeyDnsError;
  if (r.reason == DkimReason::kNotEvaluated) return ArcReason::kNotEvaluated;
  return otherwise;
}

}  // namespace

struct ArcVerifier::Impl {
  Impl(const Clock& c, DkimOptions o) : clock(c), options(std::move(o)) {}
  const Clock& clock;
  DkimOptions options;
  dkim::KeyCache key_cache;
  std::string data;  // signed-data buffer, reused

  // The distinct key names of the chain, in order of need (newest AMS first).
  static std::vector<DnsQuestion> Questions(const ParsedChain& chain) {
    std::vector<DnsQuestion> out;
    auto add = [&](const dkim::Signature& s) {
      std::string name = s.KeyName();
      if (std::none_of(out.begin(), out.end(), [&](const DnsQuestion& q) { return q.name == name; }))
        out.push_back({std::move(name), RRType::kTXT});
    };
    for (size_t i = chain.sets.size(); i-- > 0;) add(chain.sets[i].ams_sig);
    for (size_t i = chain.sets.size(); i-- > 0;) add(chain.sets[i].as_sig);
    return out;
  }

  const DnsAnswer* AnswerFor(const dkim::Signature& s, const std::vector<DnsQuestion>& questions,
                             const std::vector<DnsAnswer>& answers) const {
    std::string name = s.KeyName();
    for (size_t i = 0; i < questions.size() && i < answers.size(); ++i) {
      if (questions[i].name == name) return &answers[i];
    }
    return nullptr;
  }

  // What an AMS and an AS check alike before their data: an answer, the times, the key.
  // Null (with *r set) when the signature cannot be verified.
  const crypto::PublicKey* UsableKey(const dkim::Signature& sig, const DnsAnswer* answer,
                                     std::shared_ptr<const dkim::CachedKey>* hold,
                                     DkimResult* r) {
    if (answer == nullptr) {
      SetError(r, DkimVerdict::kTempError, DkimReason::kKeyDnsError, "resolver gave no answer");
      return nullptr;
    }
    dkim::SignatureError e =
        dkim::CheckSignatureTimes(sig, clock.Now(), options.future_timestamp_slack);
    if (e.reason != DkimReason::kNone) {
      SetError(r, DkimVerdict::kPermError, e.reason, std::move(e.detail));
      return nullptr;
    }
    return dkim::CheckKey(sig, *answer, options.limits, &key_cache, r, hold);
  }

  // RFC 8617 §5.1.2 / RFC 6376 §6: the AMS, as a DKIM signature over the message.
  void VerifyMessageSignature(const Message& message, const ParsedSet& set,
                              const DnsAnswer* answer, const dkim::HeaderIndex& index,
                              dkim::BodyHashes* bodies, DkimResult* r) {
    const dkim::Signature& sig = set.ams_sig;
    std::shared_ptr<const dkim::CachedKey> hold;
    const crypto::PublicKey* key = UsableKey(sig, answer, &hold, r);
    if (key == nullptr) return;
    if (!bodies->Check(sig, r)) return;
    data.clear();
    index.AppendSignedHeaders(sig.signed_headers, sig.header_canon, &data);
    AppendWithoutB(message.headers()[set.ams], sig, /*crlf=*/false);
    Finish(*key, sig, r);
    if (r->result == DkimVerdict::kPass) {  // what it leaves unsigned (ArcResult::UnchangedSince)
      r->unsigned_fields = dkim::UnsignedInstances(message, sig.signed_headers);
    }
  }

  // RFC 8617 §5.1.1: the AS signs, for instances 1..i in order, the AAR, the AMS and the AS
  // (relaxed), the last AS with b= emptied and no final CRLF.
  void VerifySeal(const Message& message, const ParsedChain& chain, size_t i,
                  const DnsAnswer* answer, DkimResult* r) {
    const dkim::Signature& sig = chain.sets[i].as_sig;
    std::shared_ptr<const dkim::CachedKey> hold;
    const crypto::PublicKey* key = UsableKey(sig, answer, &hold, r);
    if (key == nullptr) return;
    const std::vector<HeaderField>& headers = message.headers();
    data.clear();
    for (size_t k = 0; k <= i; ++k) {
      const ParsedSet& s = chain.sets[k];
      dkim::CanonicalizeHeader(dkim::Canon::kRelaxed, headers[s.aar].raw, true, &data);
      dkim::CanonicalizeHeader(dkim::Canon::kRelaxed, headers[s.ams].raw, true, &data);
      if (k < i) dkim::CanonicalizeHeader(dkim::Canon::kRelaxed, headers[s.as].raw, true, &data);
    }
    AppendWithoutB(headers[chain.sets[i].as], sig, /*crlf=*/false);
    Finish(*key, sig, r);
  }

  void AppendWithoutB(const HeaderField& field, const dkim::Signature& sig, bool crlf) {
    const size_t value_offset = static_cast<size_t>(field.value.data() - field.raw.data());
    std::string stripped =
        dkim::RemoveBValue(field.raw, value_offset, sig.b_value_begin, sig.b_value_end);
    dkim::CanonicalizeHeader(sig.header_canon, stripped, crlf, &data);
  }

  void Finish(const crypto::PublicKey& key, const dkim::Signature& sig, DkimResult* r) {
    if (!key.VerifyDigest(crypto::Sha256::Hash(data), sig.b)) {
      SetError(r, DkimVerdict::kFail, DkimReason::kSignatureMismatch,
               "signature did not verify");
      return;
    }
    SetError(r, DkimVerdict::kPass, DkimReason::kNone, "");
  }

  ArcResult Run(const Message& message, Resolver& resolver, Deadline deadline);
};

ArcResult ArcVerifier::Impl::Run(const Message& message, Resolver& resolver,
                                 Deadline deadline) {
  ArcResult result;
  ParsedChain chain = arc::ReadChain(message);
  auto fail = [&](ArcReason reason, std::string detail) {
    result.result = ArcVerdict::kFail;
    result.reason = reason;
    result.detail = std::move(detail);
    result.oldest_pass = 0;
    return result;
  };
  for (size_t i = 0; i < chain.sets.size(); ++i) {
    const ParsedSet& s = chain.sets[i];
    ArcSet& out = result.sets.emplace_back();
    out.instance = static_cast<int>(i + 1);
    out.cv = s.as_sig.cv;
    out.authserv_id = s.authserv_id;
    out.results = s.results;
    CopyFields(s.as_sig, s.as, &out.seal);
    CopyFields(s.ams_sig, s.ams, &out.message_signature);
  }
  if (chain.decided || chain.sets.empty()) {
    if (chain.verdict == ArcVerdict::kNone) return result;
    return fail(chain.reason, std::move(chain.detail));
  }
  std::vector<DnsQuestion> questions = Questions(chain);
  if (questions.size() > options.limits.max_arc_key_queries) {
    return fail(ArcReason::kNotEvaluated,
                "the chain needs " + std::to_string(questions.size()) + " keys (limit " +
                    std::to_string(options.limits.max_arc_key_queries) + ")");
  }
  std::vector<DnsAnswer> answers = resolver.Resolve(questions, deadline);
  const size_t n = chain.sets.size();
  dkim::HeaderIndex index(message.headers());
  dkim::BodyHashes bodies(message);
  // RFC 8617 §5.2 step 4: the newest AMS must verify.
  for (size_t i = n; i-- > 0;) {
    const dkim::Signature& sig = chain.sets[i].ams_sig;
    VerifyMessageSignature(message, chain.sets[i], AnswerFor(sig, questions, answers), index,
                           &bodies, &result.sets[i].message_signature);
    const DkimResult& r = result.sets[i].message_signature;
    if (i == n - 1 && r.result != DkimVerdict::kPass) {
      return fail(FailureReason(r, ArcReason::kMessageSignature),
                  "ARC-Message-Signature of instance " + std::to_string(n) + ": " + r.detail);
    }
    // Step 5, oldest-pass: the first older AMS that fails ends the run (0: all verify).
    if (r.result != DkimVerdict::kPass) {
      result.oldest_pass = static_cast<int>(i + 2);
      break;
    }
  }
  // Step 6: every AS, newest first.
  for (size_t i = n; i-- > 0;) {
    const dkim::Signature& sig = chain.sets[i].as_sig;
    DkimResult& r = result.sets[i].seal;
    VerifySeal(message, chain, i, AnswerFor(sig, questions, answers), &r);
    if (r.result != DkimVerdict::kPass) {
      return fail(FailureReason(r, ArcReason::kSeal),
                  "ARC-Seal of instance " + std::to_string(i + 1) + ": " + r.detail);
    }
  }
  result.result = ArcVerdict::kPass;
  return result;
}

ArcVerifier::ArcVerifier(const Clock& clock, DkimOptions options)
    : impl_(std::make_unique<Impl>(clock, std::move(options))) {}
ArcVerifier::~ArcVerifier() = default;

std::vector<DnsQuestion> ArcVerifier::KeyQuestions(const Message& message) const {
  try {
    ParsedChain chain = arc::ReadChain(message);
    if (chain.decided) return {};
    std::vector<DnsQuestion> q = Impl::Questions(chain);
    if (q.size() > impl_->options.limits.max_arc_key_queries) return {};
    return q;
  } catch (const std::exception&) {
    return {};
  }
}

ArcResult ArcVerifier::Verify(const Message& message, Resolver& resolver,
                              Deadline deadline) {
  try {
    return impl_->Run(message, resolver, deadline);
  } catch (const std::exception& e) {
    // Only allocation failure lands here: fail closed.
    ArcResult r;
    r.result = ArcVerdict::kFail;
    r.reason = ArcReason::kNotEvaluated;
    r.detail = e.what();
    return r;
  }
}

}  // namespace credence
