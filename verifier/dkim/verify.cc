// RFC 6376 §6 verification: plan (parse every signature, collect key names), fetch (one
// Resolver batch), decide (pure checks, each distinct body hash computed once).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "credence/dkim.h"
#include "dkim/body_hash.h"
#include "dkim/canonicalize.h"
#include "dkim/key_cache.h"
#include "dkim/key_record.h"
#include "dkim/signature.h"
#include "dkim/tag_list.h"

namespace credence {

std::string_view DkimVerdictName(DkimVerdict v) {
  switch (v) {
    case DkimVerdict::kPass: return "pass";
    case DkimVerdict::kFail: return "fail";
    case DkimVerdict::kNeutral: return "neutral";
    case DkimVerdict::kPolicy: return "policy";
    case DkimVerdict::kTempError: return "temperror";
    case DkimVerdict::kPermError: return "permerror";
  }
  return "permerror";
}

std::string_view DkimReasonName(DkimReason r) {
  switch (r) {
    case DkimReason::kNone: return "";
    case DkimReason::kBodyHashMismatch: return "body_hash_mismatch";
    case DkimReason::kSignatureMismatch: return "signature_mismatch";
    case DkimReason::kKeyRevoked: return "key_revoked";
    case DkimReason::kKeyTooSmall: return "key_too_small";
    case DkimReason::kKeyTooLarge: return "key_too_large";
    case DkimReason::kExpired: return "expired";
    case DkimReason::kFutureTimestamp: return "future_timestamp";
    case DkimReason::kNoKey: return "no_key";
    case DkimReason::kKeyDnsError: return "key_dns_error";
    case DkimReason::kKeySyntax: return "key_syntax";
    case DkimReason::kKeyInvalid: return "key_invalid";
    case DkimReason::kKeyAlgorithmMismatch: return "key_algorithm_mismatch";
    case DkimReason::kKeyHashNotAllowed: return "key_hash_not_allowed";
    case DkimReason::kKeyServiceType: return "key_service_type";
    case DkimReason::kKeyStrictSubdomain: return "key_strict_subdomain";
    case DkimReason::kSignatureSyntax: return "signature_syntax";
    case DkimReason::kUnsupportedVersion: return "unsupported_version";
    case DkimReason::kUnsupportedAlgorithm: return "unsupported_algorithm";
    case DkimReason::kUnsupportedCanon: return "unsupported_canonicalization";
    case DkimReason::kUnsupportedQuery: return "unsupported_query";
    case DkimReason::kFromNotSigned: return "from_not_signed";
    case DkimReason::kIdentityMismatch: return "identity_mismatch";
    case DkimReason::kBodyLengthExceeded: return "body_length_exceeded";
    case DkimReason::kNotEvaluated: return "not_evaluated";
    case DkimReason::kDeadline: return "deadline";
  }
  return "";
}

namespace {

using dkim::Algorithm;
using dkim::CachedKey;
using dkim::Canon;
using dkim::KeyError;
using dkim::KeyRecord;
using dkim::Signature;

void SetError(DkimResult* r, DkimVerdict verdict, DkimReason reason, std::string detail) {
  r->result = verdict;
  r->reason = reason;
  r->detail = std::move(detail);
}

// RFC 5322 §3.6.8 field name (ftext).
bool IsFieldName(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

// Copies what the signature says into its result, each field only when it is well-formed:
// values from the message leave the verifier (A-R, JSON, the C ABI, Exim variables, rspamd
// and SpamAssassin options) only after this check, so a d= with CR LF or "$(...)" in it never
// reaches a host. A field that fails the check stays empty. b= as written is moved, not
// copied: the verifier needs only the decoded b afterwards.
void CopySignatureFields(Signature& s, DkimResult* r) {
  if (dkim::IsDomainLike(s.domain)) r->domain = s.domain;
  if (dkim::IsDomainLike(s.selector)) r->selector = s.selector;
  if (EqualsIgnoreCase(s.algorithm_text, "rsa-sha256") ||
      EqualsIgnoreCase(s.algorithm_text, "ed25519-sha256")) {
    r->algorithm = s.algorithm_text;
  }
  r->canonicalization = s.CanonName();
  if (!r->domain.empty() && dkim::IsIdentityLike(s.identity)) r->identity = s.identity;
  if (dkim::IsBase64Text(s.b_text)) r->signature_b = std::move(s.b_text);
  if (std::all_of(s.signed_headers.begin(), s.signed_headers.end(), IsFieldName)) {
    r->signed_headers = s.signed_headers;
  }
  r->timestamp = s.t;
  r->expiration = s.x;
  r->body_length = s.l;
}

// `d` (lower-case) is `from`, a parent or a subdomain of it: a signer the From domain's owner
// controls (or is controlled by).
bool Related(std::string_view d, std::string_view from) {
  auto under = [](std::string_view a, std::string_view b) {  // a is b or below it
    return a.size() >= b.size() && EqualsIgnoreCase(a.substr(a.size() - b.size()), b) &&
           (a.size() == b.size() || a[a.size() - b.size() - 1] == '.');
  };
  return !d.empty() && !from.empty() && (under(d, from) || under(from, d));
}

// The d= of a DKIM-Signature value, without a full parse ("" when there is none).
std::string PeekDomain(std::string_view value) {
  Result<std::vector<dkim::Tag>> tags = dkim::ParseTagList(value);
  if (!tags.ok()) return "";
  const dkim::Tag* d = dkim::FindTag(*tags, "d");
  return d == nullptr ? "" : ToLower(d->value);
}

bool IsDkimSignature(const HeaderField& h) { return EqualsIgnoreCase(h.name, "DKIM-Signature"); }

// Which of the DKIM-Signature fields (counted top first) are evaluated when there are more
// than `max`: a sender adding signatures above the one that matters must not push it out, so
// signatures of a `preferred` domain (or a parent or subdomain) come first, then the others
// top first.
std::vector<bool> ChooseSignatures(const std::vector<HeaderField>& headers,
                                   std::span<const std::string> preferred, size_t max) {
  std::vector<size_t> fields;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (IsDkimSignature(headers[i])) fields.push_back(i);
  }
  std::vector<bool> chosen(fields.size(), false);
  size_t left = max;
  for (size_t k = 0; k < fields.size() && left > 0; ++k) {
    std::string d = PeekDomain(headers[fields[k]].value);
    if (std::any_of(preferred.begin(), preferred.end(),
                    [&](const std::string& p) { return Related(d, p); })) {
      chosen[k] = true;
      --left;
    }
  }
  for (size_t k = 0; k < fields.size() && left > 0; ++k) {
    if (!chosen[k]) {
      chosen[k] = true;
      --left;
    }
  }
  return chosen;
}

}  // namespace

namespace dkim {
namespace {

// RFC 6376 §6.1.2: DNS trouble is TEMPFAIL; no key record is PERMFAIL. True when `answer`
// has records to read; false with *r set otherwise.
bool KeyAnswerUsable(const Signature& sig, const DnsAnswer& answer, DkimResult* r) {
  switch (answer.outcome) {
    case DnsOutcome::kOk:
      return true;
    case DnsOutcome::kNxDomain:
    case DnsOutcome::kNoData:
      SetError(r, DkimVerdict::kPermError, DkimReason::kNoKey, "no key record at " + sig.KeyName());
      return false;
    case DnsOutcome::kNotAsked:
      SetError(r, DkimVerdict::kPermError, DkimReason::kNotEvaluated,
               "key for " + sig.KeyName() + " not looked up: " + answer.detail);
      return false;
    case DnsOutcome::kTempFail:
      if (answer.failure == DnsFailure::kDeadline) {
        SetError(r, DkimVerdict::kTempError, DkimReason::kDeadline,
                 "deadline passed before the key for " + sig.KeyName() + " came");
      } else {
        // The reason says "key lookup failed" already (the A-R writes reason: detail).
        SetError(r, DkimVerdict::kTempError, DkimReason::kKeyDnsError,
                 sig.KeyName() + ": " + answer.detail);
      }
      return false;
  }
  return true;
}

// Whether a well-formed key record may verify `sig`: the key type, h=, t=s and the RSA size
// bounds. False with *r set when it may not.
bool KeyFitsSignature(const Signature& sig, const KeyRecord& rec, const Limits& limits,
                      DkimResult* r) {
  const bool rsa = sig.algorithm == Algorithm::kRsaSha256;
  if (rsa != (rec.type == crypto::KeyType::kRsa)) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kKeyAlgorithmMismatch,
             "a=" + sig.algorithm_text + " does not match the key type");
    return false;
  }
  // RFC 6376 §3.6.1 h=: the hash algorithms the key may be used with.
  if (!rec.sha256_allowed) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kKeyHashNotAllowed,
             "key h= does not allow sha256");
    return false;
  }
  // RFC 6376 §3.6.1 t=s: "the "i=" domain MUST NOT be a subdomain of "d="".
  if (rec.strict && sig.identity_domain != sig.domain) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kKeyStrictSubdomain,
             "key t=s but i= domain " + sig.identity_domain + " is a subdomain of d=");
    return false;
  }
  // RFC 8301 §3.2: RSA keys under 1024 bits MUST NOT be accepted; the upper bound is ours.
  if (rsa && rec.key->bits() < limits.min_rsa_bits) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kKeyTooSmall,
             "RSA key of " + std::to_string(rec.key->bits()) + " bits");
    return false;
  }
  if (rsa && rec.key->bits() > limits.max_rsa_bits) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kKeyTooLarge,
             "RSA key of " + std::to_string(rec.key->bits()) + " bits");
    return false;
  }
  return true;
}

// RFC 6376 §3.6.2.2 leaves several TXT records open ("the results are undefined"), and name
// servers shuffle them: so that the verdict does not depend on their order, a record whose
// key `sig` may use comes first, in the order given (the others are tried when its signature
// does not verify: OtherKeys); else a record with a usable key (its mismatch is the error);
// else the first that parses as a key record (a revoked key, an unknown k=); else the first
// record's error. Null without a TXT record.
std::shared_ptr<const CachedKey> PickKeyRecord(const Signature& sig, const DnsAnswer& answer,
                                               const Limits& limits, KeyCache* cache) {
  std::shared_ptr<const CachedKey> first, parsed, usable;
  for (const ResourceRecord& rr : answer.records) {
    if (rr.type != RRType::kTXT) continue;
    std::shared_ptr<const CachedKey> k = cache->Get(rr.data);
    if (k->error.reason == DkimReason::kNone) {
      DkimResult scratch;
      if (KeyFitsSignature(sig, k->record, limits, &scratch)) return k;
      if (!usable) usable = k;
    }
    if (!first) first = k;
    if (!parsed && k->error.reason != DkimReason::kKeySyntax) parsed = k;
  }
  return usable ? usable : parsed ? parsed : first;
}

}  // namespace

const crypto::PublicKey* CheckKey(const Signature& sig, const DnsAnswer& answer,
                                  const Limits& limits, KeyCache* cache, DkimResult* r,
                                  std::shared_ptr<const CachedKey>* hold) {
  if (!KeyAnswerUsable(sig, answer, r)) return nullptr;
  *hold = PickKeyRecord(sig, answer, limits, cache);
  const CachedKey* key = hold->get();
  if (key == nullptr) {
    SetError(r, DkimVerdict::kPermError, DkimReason::kNoKey, "no TXT record at " + sig.KeyName());
    return nullptr;
  }
  const KeyRecord& rec = key->record;
  r->testing = rec.testing;
  if (key->error.reason != DkimReason::kNone) {
    SetError(r, DkimVerdict::kPermError, key->error.reason, key->error.detail);
    return nullptr;
  }
  r->key_bits = rec.key->bits();
  return KeyFitsSignature(sig, rec, limits, r) ? rec.key.get() : nullptr;
}

std::vector<std::shared_ptr<const CachedKey>> OtherKeys(const Signature& sig,
                                                        const DnsAnswer& answer,
                                                        const Limits& limits, KeyCache* cache,
                                                        const CachedKey* tried) {
  std::vector<std::shared_ptr<const CachedKey>> out;
  size_t txt = 0;
  for (const ResourceRecord& rr : answer.records) txt += rr.type == RRType::kTXT;
  if (txt < 2) return out;
  constexpr size_t kMaxOtherKeys = 4;  // a rotation publishes two; each costs a verification
  for (const ResourceRecord& rr : answer.records) {
    if (rr.type != RRType::kTXT || out.size() >= kMaxOtherKeys) continue;
    std::shared_ptr<const CachedKey> k = cache->Get(rr.data);
    if (k.get() == tried || k->error.reason != DkimReason::kNone) continue;
    DkimResult scratch;
    if (KeyFitsSignature(sig, k->record, limits, &scratch)) out.push_back(std::move(k));
  }
  return out;
}
}  // namespace dkim

namespace dkim_internal {
// One DKIM-Signature under evaluation.
struct Pending {
  size_t result = 0;          // index in the result vector
  dkim::Signature sig;
  size_t question = 0;        // index in the DNS batch
};
}  // namespace dkim_internal
using dkim_internal::Pending;

struct DkimVerifier::Prepared::Data {
  std::vector<DkimResult> results;  // every field: errors final, the rest provisional
  std::vector<Pending> pending;     // the signatures that need a key
  std::vector<DnsQuestion> questions;
};

DkimVerifier::Prepared::Prepared() = default;
DkimVerifier::Prepared::~Prepared() = default;
DkimVerifier::Prepared::Prepared(Prepared&&) noexcept = default;
DkimVerifier::Prepared& DkimVerifier::Prepared::operator=(Prepared&&) noexcept = default;

const std::vector<DnsQuestion>& DkimVerifier::Prepared::questions() const {
  static const std::vector<DnsQuestion> kNone;
  return data_ ? data_->questions : kNone;
}

struct DkimVerifier::Impl {
  Impl(const Clock& c, DkimOptions o) : clock(c), options(std::move(o)) {}
  const Clock& clock;
  DkimOptions options;
  dkim::KeyCache key_cache;  // parsed key records by text, bounded in bytes
  std::string header_data;  // RFC 6376 §3.7 header hash input, reused between signatures
  std::string field_without_b;  // this DKIM-Signature field with b= emptied, reused likewise

  // Plan: parses up to max_dkim_signatures fields (those related to a `preferred` domain
  // first, then top first), fills `results` for all of them (errors final, the rest
  // provisional) and returns the signatures that need a key.
  std::vector<Pending> Plan(const Message& message, std::span<const std::string> preferred,
                            std::vector<DkimResult>* results,
                            std::vector<DnsQuestion>* questions) const;
  void Decide(const Message& message, const Pending& p, const DnsAnswer& answer,
              const dkim::HeaderIndex& index, dkim::BodyHashes* bodies,
              DkimResult* r);
};

std::vector<Pending> DkimVerifier::Impl::Plan(const Message& message,
                                              std::span<const std::string> preferred,
                                              std::vector<DkimResult>* results,
                                              std::vector<DnsQuestion>* questions) const {
  std::vector<Pending> pending;
  const std::vector<HeaderField>& headers = message.headers();
  const int64_t now = clock.Now();
  const size_t count = static_cast<size_t>(std::count_if(
      headers.begin(), headers.end(), [](const HeaderField& h) { return IsDkimSignature(h); }));
  const size_t max = options.limits.max_dkim_signatures;
  // Empty (no allocation) in the usual case of no more than `max` signatures: all chosen.
  const std::vector<bool> chosen =
      count > max ? ChooseSignatures(headers, preferred, max) : std::vector<bool>();
  results->reserve(count);
  pending.reserve(count);
  size_t k = 0;  // the how-many-th DKIM-Signature field headers[i] is
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!IsDkimSignature(headers[i])) continue;
    const bool evaluated = chosen.empty() || chosen[k];
    ++k;
    DkimResult& r = results->emplace_back();
    r.header_index = i;
    if (!evaluated) {
      SetError(&r, DkimVerdict::kPermError, DkimReason::kNotEvaluated,
               "more than " + std::to_string(max) + " DKIM signatures");
      continue;
    }
    Pending p;
    p.result = results->size() - 1;
    dkim::SignatureError e = dkim::ParseSignature(headers[i].value, &p.sig);
    CopySignatureFields(p.sig, &r);
    if (e.reason == DkimReason::kNone) {
      e = dkim::CheckSignatureTimes(p.sig, now, options.future_timestamp_slack);
    }
    if (e.reason != DkimReason::kNone) {
      SetError(&r, DkimVerdict::kPermError, e.reason, std::move(e.detail));
      continue;
    }
    std::string name = p.sig.KeyName();
    auto it = std::find_if(questions->begin(), questions->end(),
                           [&](const DnsQuestion& q) { return q.name == name; });
    p.question = static_cast<size_t>(it - questions->begin());
    if (it == questions->end()) questions->push_back({std::move(name), RRType::kTXT});
    pending.push_back(std::move(p));
  }
  return pending;
}

void DkimVerifier::Impl::Decide(const Message& message, const Pending& p,
                                const DnsAnswer& answer, const dkim::HeaderIndex& index,
                                dkim::BodyHashes* bodies, DkimResult* r) {
  const Signature& sig = p.sig;
  std::shared_ptr<const CachedKey> key;
  const crypto::PublicKey* public_key =
      dkim::CheckKey(sig, answer, options.limits, &key_cache, r, &key);
  if (public_key == nullptr) return;
  if (!bodies->Check(sig, r)) return;
  // RFC 6376 §3.7 header hash: signed fields, then this field with b= emptied, no CRLF.
  std::string& data = header_data;  // reused: keeps its capacity across messages
  data.clear();
  index.AppendSignedHeaders(sig.signed_headers, sig.header_canon, &data);
  const HeaderField& field = message.headers()[r->header_index];
  const size_t value_offset = static_cast<size_t>(field.value.data() - field.raw.data());
  dkim::RemoveBValue(field.raw, value_offset, sig.b_value_begin, sig.b_value_end,
                     &field_without_b);
  dkim::CanonicalizeHeader(sig.header_canon, field_without_b, /*crlf=*/false, &data);
  const auto digest = crypto::Sha256::Hash(data);
  if (!public_key->VerifyDigest(digest, sig.b)) {
    bool verified = false;
    for (const std::shared_ptr<const CachedKey>& other :
         dkim::OtherKeys(sig, answer, options.limits, &key_cache, key.get())) {
      if (other->record.key->VerifyDigest(digest, sig.b)) {
        verified = true;
        r->testing = other->record.testing;
        r->key_bits = other->record.key->bits();
        break;
      }
    }
    if (!verified) {
      SetError(r, DkimVerdict::kFail, DkimReason::kSignatureMismatch, "signature did not verify");
      return;
    }
  }
  r->result = DkimVerdict::kPass;
  r->reason = DkimReason::kNone;
  r->detail.clear();
  r->unsigned_fields = dkim::UnsignedInstances(message, sig.signed_headers);
}

DkimVerifier::DkimVerifier(const Clock& clock, DkimOptions options)
    : impl_(std::make_unique<Impl>(clock, std::move(options))) {}
DkimVerifier::~DkimVerifier() = default;

DkimVerifier::Prepared DkimVerifier::Prepare(const Message& message,
                                             std::span<const std::string> preferred) const {
  Prepared prepared;
  try {
    auto data = std::make_unique<Prepared::Data>();
    data->pending = impl_->Plan(message, preferred, &data->results, &data->questions);
    prepared.data_ = std::move(data);
  } catch (const std::exception&) {
    // Only allocation failure lands here: Verify starts over (and reports what it can).
  }
  return prepared;
}

std::vector<DnsQuestion> DkimVerifier::KeyQuestions(const Message& message) const {
  return Prepare(message).questions();
}

std::vector<DkimResult> DkimVerifier::Verify(const Message& message, Resolver& resolver,
                                             Deadline deadline) {
  return Verify(message, Prepared(), resolver, deadline);
}

std::vector<DkimResult> DkimVerifier::Verify(const Message& message, Prepared&& prepared,
                                             Resolver& resolver, Deadline deadline) {
  std::vector<DkimResult> results;
  try {
    // Not prepared (or preparing failed): plan here, filling `results` as we go, so that an
    // allocation failure half-way still reports every field read so far.
    std::vector<Pending> own_pending;
    std::vector<DnsQuestion> own_questions;
    const std::vector<Pending>* pending = &own_pending;
    const std::vector<DnsQuestion>* questions = &own_questions;
    if (prepared.data_) {
      results = std::move(prepared.data_->results);
      pending = &prepared.data_->pending;
      questions = &prepared.data_->questions;
    } else {
      own_pending = impl_->Plan(message, {}, &results, &own_questions);
    }
    if (pending->empty()) return results;
    // Keys a per-message memo holds already (Resolver::Held) are read there, not copied.
    const auto held = [&](size_t i) {
      return resolver.Held((*questions)[i].name, (*questions)[i].type);
    };
    bool all_held = true;
    for (size_t i = 0; i < questions->size() && all_held; ++i) all_held = held(i) != nullptr;
    std::vector<DnsAnswer> answers;
    if (!all_held) answers = resolver.Resolve(*questions, deadline);
    dkim::HeaderIndex index(message.headers());
    dkim::BodyHashes bodies(message);
    for (const Pending& p : *pending) {
      DkimResult& r = results[p.result];
      const DnsAnswer* answer = all_held                       ? held(p.question)
                                : p.question < answers.size() ? &answers[p.question]
                                                              : nullptr;
      if (answer == nullptr) {
        SetError(&r, DkimVerdict::kTempError, DkimReason::kKeyDnsError,
                 "resolver gave no answer");
        continue;
      }
      impl_->Decide(message, p, *answer, index, &bodies, &r);
    }
  } catch (const std::exception& e) {
    // Only allocation failure can land here; report what is left as temperror.
    for (DkimResult& r : results) {
      if (r.result == DkimVerdict::kPermError && r.reason == DkimReason::kNone) {
        SetError(&r, DkimVerdict::kTempError, DkimReason::kKeyDnsError, e.what());
      }
    }
  }
  return results;
}

std::vector<DkimResult> DkimVerifier::Verify(const Message& message, Resolver& resolver) {
  return Verify(message, resolver,
                std::chrono::steady_clock::now() + impl_->options.limits.deadline);
}

}  // namespace credence
