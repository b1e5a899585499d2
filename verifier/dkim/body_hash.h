// RFC 6376 §3.7 body hash: the body half of verifying a signature, shared by DKIM signatures
// and ARC-Message-Signatures. A message's body is canonicalized and hashed once per
// (canonicalization, l=) pair whatever the number of signatures that ask for it.
#ifndef CREDENCE_DKIM_BODY_HASH_H_
#define CREDENCE_DKIM_BODY_HASH_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "credence/dkim.h"
#include "credence/message.h"
#include "crypto/crypto.h"
#include "dkim/signature.h"

namespace credence::dkim {

class BodyHashes {
 public:
  explicit BodyHashes(const Message& message) : message_(message) {}

  // True when sig's bh= is the hash of the body as sig canonicalizes and bounds it; sets
  // r->unsigned_body_bytes for an l= signature. Otherwise sets r's verdict: permerror when
  // the body was not read whole (a size limit) or is shorter than l=, fail on a mismatch.
  bool Check(const Signature& sig, DkimResult* r);

 private:
  struct Entry {
    Canon canon;
    std::optional<uint64_t> l;
    crypto::Sha256Digest digest;
    uint64_t total;  // canonicalized body bytes, all of them (not only the first l=)
  };
  const Entry& Get(Canon canon, std::optional<uint64_t> l);

  const Message& message_;
  std::vector<Entry> entries_;  // at most a few: one per distinct (c=, l=)
};

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_BODY_HASH_H_
