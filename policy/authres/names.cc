#include "authres/names.h"

namespace credence::authres_internal {

// The RFC 8601 spellings are the verifier's and DMARC's own names; one table each.
std::string_view DkimResultName(DkimVerdict v) { return DkimVerdictName(v); }
std::string_view SpfResultName(SpfVerdict v) { return SpfVerdictName(v); }
std::string_view DmarcResultName(DmarcVerdict v) { return DmarcVerdictName(v); }
std::string_view PolicyName(DmarcPolicy p) { return DmarcPolicyName(p); }
std::string_view DispositionName(DmarcDisposition d) { return DmarcDispositionName(d); }

std::string_view DkimReasonText(DkimReason r) {
  switch (r) {
    case DkimReason::kNone: return "";
    case DkimReason::kBodyHashMismatch: return "body hash did not verify";
    case DkimReason::kSignatureMismatch: return "signature did not verify";
    case DkimReason::kKeyRevoked: return "key revoked";
    case DkimReason::kKeyTooSmall: return "key too small";
    case DkimReason::kKeyTooLarge: return "key too large";
    case DkimReason::kExpired: return "signature expired";
    case DkimReason::kFutureTimestamp: return "timestamp in the future";
    case DkimReason::kNoKey: return "no key";
    case DkimReason::kKeyDnsError: return "key lookup failed";
    case DkimReason::kKeySyntax: return "key record syntax error";
    case DkimReason::kKeyInvalid: return "key invalid";
    case DkimReason::kKeyAlgorithmMismatch: return "key type does not match algorithm";
    case DkimReason::kKeyHashNotAllowed: return "hash not allowed by key";
    case DkimReason::kKeyServiceType: return "key not for email";
    case DkimReason::kKeyStrictSubdomain: return "key forbids subdomain identity";
    case DkimReason::kSignatureSyntax: return "signature syntax error";
    case DkimReason::kUnsupportedVersion: return "unsupported version";
    case DkimReason::kUnsupportedAlgorithm: return "unsupported algorithm";
    case DkimReason::kUnsupportedCanon: return "unsupported canonicalization";
    case DkimReason::kUnsupportedQuery: return "unsupported query method";
    case DkimReason::kFromNotSigned: return "From not signed";
    case DkimReason::kIdentityMismatch: return "identity not in signing domain";
    case DkimReason::kBodyLengthExceeded: return "l= exceeds body length";
    case DkimReason::kNotEvaluated: return "not evaluated";
    case DkimReason::kDeadline: return "deadline passed";
  }
  return "";
}

}  // namespace credence::authres_internal
