// RFC 6376 §3.5 DKIM-Signature fields, parsed and checked for everything that needs neither
// the key nor the clock.
#ifndef CREDENCE_DKIM_SIGNATURE_H_
#define CREDENCE_DKIM_SIGNATURE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/dkim.h"

namespace credence::dkim {

enum class Algorithm { kRsaSha256, kEd25519Sha256 };
enum class Canon { kSimple, kRelaxed };

// Which field a tag-list signs for: the tag rules differ (RFC 8617 §4.1.2, §4.1.3).
enum class SignatureKind {
  kDkim,        // DKIM-Signature (RFC 6376 §3.5)
  kArcMessage,  // ARC-Message-Signature: no v=, i= is the instance, c= default relaxed/relaxed,
                // h= may be empty and must not name ARC-Seal, From need not be signed
  kArcSeal,     // ARC-Seal: no v=, i= the instance, cv= required, no h= and no bh=, header
                // canonicalization always relaxed
};

struct Signature {
  Algorithm algorithm = Algorithm::kRsaSha256;
  Canon header_canon = Canon::kSimple;  // c= before "/"
  Canon body_canon = Canon::kSimple;    // c= after "/"
  std::string algorithm_text;           // a= as written
  std::string domain;                   // d=, lower-cased
  std::string selector;                 // s= as written
  std::string identity;                 // i= (default "@" + d=)
  std::string identity_domain;          // the part of i= after the last "@", lower-cased
  std::vector<std::string> signed_headers;  // h= entries, FWS trimmed, as written
  std::string b;                        // b=, decoded
  std::string b_text;                   // b= with FWS removed
  std::string bh;                       // bh=, decoded
  std::optional<uint64_t> l;            // l= body length
  std::optional<int64_t> t;             // t= signature timestamp
  std::optional<int64_t> x;             // x= expiration
  int instance = 0;                     // ARC only: i= (1..kMaxArcInstance)
  std::string cv;                       // ARC-Seal only: cv= ("none", "pass" or "fail")
  // Where b='s value (with its surrounding FWS) lies in the field's value (RFC 6376 §3.7).
  size_t b_value_begin = 0;
  size_t b_value_end = 0;

  // "s._domainkey.d" (RFC 6376 §3.6.2.1), lower-cased.
  std::string KeyName() const;
  // "relaxed/simple" etc.
  std::string CanonName() const;
};

struct SignatureError {
  DkimReason reason = DkimReason::kNone;
  std::string detail;
};

// Parses the value of a DKIM-Signature field (everything after the colon). On success returns
// kNone. On error returns the reason (kSignatureSyntax, kUnsupportedVersion,
// kUnsupportedAlgorithm, kUnsupportedCanon, kUnsupportedQuery, kFromNotSigned,
// kIdentityMismatch) with a detail, and `sig` holds every field read before the error.
// Checks, in order: tag-list syntax; v= present and "1"; a= present, rsa-sha256 or
// ed25519-sha256 (rsa-sha1 refused per RFC 8301 §3.1); b bh d h s present; c=; q=;
// base64 of b= and bh=; d= and s= syntax; h= contains From; i= within d=; l= t= x= decimal
// without overflow; x= >= t=.
// For the ARC kinds the differences above apply; an i= outside 1..kMaxArcInstance is
// kSignatureSyntax.
SignatureError ParseSignature(std::string_view value, Signature* sig,
                              SignatureKind kind = SignatureKind::kDkim);

// RFC 8617 §4.2.1: at most 50 ARC sets.
inline constexpr int kMaxArcInstance = 50;

// RFC 6376 §3.5 d= / s= shape: letters, digits, "-", "_", "." and UTF-8 (U-labels), no empty
// label, at most 253 bytes. The verifier shows a d= or s= outside (results, A-R, JSON, hosts)
// only when it has this shape.
bool IsDomainLike(std::string_view s);
// RFC 6376 §3.5 i= shape: a local-part of printable ASCII or UTF-8 without white space, "@",
// and a domain-like domain.
bool IsIdentityLike(std::string_view s);

// Checks against the time: x= before `now` -> kExpired (RFC 6376 §3.5, §6.1.1); t= later than
// now + slack -> kFutureTimestamp. kNone when neither applies.
SignatureError CheckSignatureTimes(const Signature& sig, int64_t now, int64_t future_slack);

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_SIGNATURE_H_
