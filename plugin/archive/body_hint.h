// Why a DKIM body hash failed, in words a postmaster can act on (issue 17): the hash the
// signature carries and the one the body has, and the first of the likely causes whose
// repair makes the body match the signature again. Each hypothesis is tested by hashing a
// repaired copy of the body against the signature's own c=, l= and bh= (no key, no DNS).
#ifndef CREDENCE_PLUGIN_ARCHIVE_BODY_HINT_H_
#define CREDENCE_PLUGIN_ARCHIVE_BODY_HINT_H_

#include <string>

#include "credence/dkim.h"
#include "credence/message.h"

namespace credence {

// Trailing lines tried one count at a time when looking for appended text.
inline constexpr size_t kMaxAppendedLinesTried = 40;

struct BodyHashHint {
  std::string cause;   // "" when no hypothesis matched; else a sentence
  // For the summary: "footer appended", "LF line ends hashed", "white space added (c=simple)",
  // "mbox quoting"; "" with no cause.
  std::string kind;
  std::string hashes;  // "bh= X; the body as received hashes to Y (N canonicalized bytes)"
};

// For `failed` (body_hash_mismatch; anything else gives an empty hint), in order: text
// appended after signing (a list footer, a disclaimer), LF line ends hashed by the signer,
// trailing white space removed in transit (c=simple), mbox ">From " quoting. Every try takes
// its bytes from *budget_bytes (shared by the message's signatures); none is made that the
// budget cannot pay.
BodyHashHint ExplainBodyHash(const Message& message, const DkimResult& failed,
                             size_t* budget_bytes);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_BODY_HINT_H_
