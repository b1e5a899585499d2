// RFC 6376 §3.6.1 key records (the TXT at s._domainkey.d), RFC 8463 §4 Ed25519 keys.
#ifndef CREDENCE_DKIM_KEY_RECORD_H_
#define CREDENCE_DKIM_KEY_RECORD_H_

#include <memory>
#include <string>
#include <string_view>

#include "credence/dkim.h"
#include "crypto/crypto.h"

namespace credence::dkim {

struct KeyRecord {
  crypto::KeyType type = crypto::KeyType::kRsa;  // k= (default rsa)
  bool sha256_allowed = true;   // h= absent, or lists sha256
  bool testing = false;         // t= has "y"
  bool strict = false;          // t= has "s": i= domain must equal d=
  bool revoked = false;         // p= is empty
  // What RFC 6376 does not allow but every verifier reads (as dkimpy and Mail::DKIM do): v=
  // not the first tag, bytes outside US-ASCII in a tag value (n= notes). Empty when none.
  std::string lenient;
  // The decoded key; null when revoked or when decoding failed (then `error` says why).
  std::shared_ptr<const crypto::PublicKey> key;
};

struct KeyError {
  DkimReason reason = DkimReason::kNone;  // kKeySyntax, kKeyAlgorithmMismatch, kKeyServiceType
  std::string detail;                      // or kKeyRevoked, kKeyInvalid
};

// Parses one key record's text (TXT strings joined). Checks, in order: tag-list syntax; v=
// if present is the first tag and exactly "DKIM1"; p= present and valid base64; k= rsa or
// ed25519 (others -> kKeyAlgorithmMismatch: nothing can match); s= lists "email" or "*";
// then p= empty -> kKeyRevoked (flags are still filled in); p= decodes as a key of type k=
// (RSA SubjectPublicKeyInfo or PKCS#1 RSAPublicKey; Ed25519 raw 32 bytes) else kKeyInvalid.
// Unknown tags and unknown t= flags are ignored (RFC 6376 §3.6.1).
// h= lists acceptable hash algorithms: `sha256_allowed` is false when it does not list sha256
// (the caller reports kKeyHashNotAllowed).
KeyError ParseKeyRecord(std::string_view text, KeyRecord* key);

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_KEY_RECORD_H_
