// Why a DKIM header hash failed (the body hash matched), in words a postmaster can act on
// (issue 17): trial repairs of the message's header fields, each verified against the
// signature and the key it already fetched (no DNS, no clock), and counts of what h= names
// that the message does not have. A diagnosis only: the verdict never changes.
//
// One signature has one hash over all its signed fields, so which field changed can only be
// told where a repair makes the signature verify again. What is tried, in order:
//  1. a mailing-list tag prefixed to Subject ("[list] "), removed;
//  2. From rewritten by a list (DMARC mitigation), put back from X-Original-From;
//  3. a field added after signing: each instance of a field name h= signs, left out (a field
//     added below the signed one wins RFC 6376 §5.4.2's bottom-up selection; a field h=
//     over-signs as absent counts as soon as one is added);
//  4. c=simple header fields whose white space or name case were rewritten in transit:
//     unfolded, white space runs made one space, names in their usual case; and the fields
//     canonicalized relaxed (a signer that hashed relaxed while c= says simple).
// Nothing repaired: the signed fields that lists and gateways rewrite (MIME-Version,
// Content-Type, Content-Transfer-Encoding, Subject, From) and what h= names more often than
// the message has are listed, worded as what can be known.
#ifndef CREDENCE_PLUGIN_ARCHIVE_HEADER_HINT_H_
#define CREDENCE_PLUGIN_ARCHIVE_HEADER_HINT_H_

#include <string>
#include <string_view>

#include "credence/dkim.h"
#include "credence/message.h"

namespace credence {

// What one message may spend on header repairs, all its failing signatures together: bytes
// canonicalized and hashed, and signature verifications (RSA-2048 ~16 µs, Ed25519 ~100 µs).
// A try is made only when both can pay for it (the bytes of the whole header section, an
// upper bound of what one try hashes).
struct HeaderHintBudget {
  size_t bytes = 16u << 20;
  size_t tries = 128;
};
// At most this many verifications per failing signature.
inline constexpr size_t kHeaderTriesPerSignature = 24;

struct HeaderHashHint {
  // "" when `failed` is not a header hash failure; else a sentence starting "header hash
  // fails: ".
  std::string cause;
  // For the summary: "Subject tag added", "From rewritten by a list", "field added after
  // signing", "header white space rewritten (c=simple)", "signer hashed relaxed (c=simple)",
  // "not explained"; "" with no cause.
  std::string kind;
};

// For `failed` (kSignatureMismatch: the body hash matched, the signature did not verify;
// anything else gives an empty hint) with the key record text `key_record` its s=/d= named
// (the one the verifier used). An empty or unusable key record gives the counts only.
HeaderHashHint ExplainHeaderHash(const Message& message, const DkimResult& failed,
                                 std::string_view key_record, HeaderHintBudget* budget);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_HEADER_HINT_H_
