#include "dkim/body_hash.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "dkim/canonicalize.h"
#include "dkim/tag_list.h"

namespace credence::dkim {
namespace {

bool SetError(DkimResult* r, DkimVerdict verdict, DkimReason reason, std::string detail) {
  r->result = verdict;
  r->reason = reason;
  r->detail = std::move(detail);
  return false;
}

}  // namespace

const BodyHashes::Entry& BodyHashes::Get(Canon canon, std::optional<uint64_t> l) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.canon == canon && e.l == l; });
  if (it != entries_.end()) return *it;
  BodyHasher hasher(l.value_or(std::numeric_limits<uint64_t>::max()));
  CanonicalizeBody(canon, message_.body(), &hasher);
  entries_.push_back({canon, l, hasher.Final(), hasher.total()});
  return entries_.back();
}

bool BodyHashes::Check(const Signature& sig, DkimResult* r) {
  // A body cut at Limits::max_message_bytes (or a host's prefix) cannot be hashed.
  if (message_.body_truncated()) {
    return SetError(r, DkimVerdict::kPermError, DkimReason::kNotEvaluated,
                    "the message is over the size limit: its whole body was not read");
  }
  const Entry& body = Get(sig.body_canon, sig.l);
  if (sig.l) {
    // RFC 6376 §6.1.3: l= larger than the canonicalized body cannot be verified.
    if (*sig.l > body.total) {
      return SetError(r, DkimVerdict::kPermError, DkimReason::kBodyLengthExceeded,
                      "l=" + std::to_string(*sig.l) + " but the canonicalized body has " +
                          std::to_string(body.total) + " bytes");
    }
    r->unsigned_body_bytes = body.total - *sig.l;
  }
  if (sig.bh.size() != body.digest.size() ||
      std::memcmp(sig.bh.data(), body.digest.data(), body.digest.size()) != 0) {
    return SetError(r, DkimVerdict::kFail, DkimReason::kBodyHashMismatch,
                    "body hash did not verify");
  }
  return true;
}

}  // namespace credence::dkim

namespace credence {

DkimBodyHashSides DkimBodyHashOf(std::string_view signature, std::string_view body) {
  DkimBodyHashSides out;
  dkim::Signature sig;
  if (dkim::ParseSignature(signature, &sig).reason != DkimReason::kNone) return out;
  dkim::BodyHasher hasher(sig.l.value_or(std::numeric_limits<uint64_t>::max()));
  dkim::CanonicalizeBody(sig.body_canon, body, &hasher);
  const crypto::Sha256Digest digest = hasher.Final();
  out.parsed = true;
  out.expected = dkim::EncodeBase64(sig.bh);
  out.computed = dkim::EncodeBase64(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  out.canonical_bytes = hasher.total();
  out.l = sig.l;
  return out;
}

bool DkimBodyHashMatches(std::string_view signature, std::string_view body) {
  dkim::Signature sig;
  if (dkim::ParseSignature(signature, &sig).reason != DkimReason::kNone) return false;
  dkim::BodyHasher hasher(sig.l.value_or(std::numeric_limits<uint64_t>::max()));
  dkim::CanonicalizeBody(sig.body_canon, body, &hasher);
  if (sig.l && *sig.l > hasher.total()) return false;
  const crypto::Sha256Digest digest = hasher.Final();
  return sig.bh.size() == digest.size() &&
         std::memcmp(sig.bh.data(), digest.data(), digest.size()) == 0;
}

}  // namespace credence
