// Messages whose DKIM-Signature carries the body hash of some other body: what the archive's
// body-hash hints (quoting_test, body_hint_test) are given. No key: only bh= matters to them.
#ifndef CREDENCE_TESTS_UNIT_BODY_HASH_FIXTURE_H_
#define CREDENCE_TESTS_UNIT_BODY_HASH_FIXTURE_H_

#include <limits>
#include <string>

#include <boost/test/unit_test.hpp>

#include "credence/dkim.h"
#include "credence/message.h"
#include "dkim/canonicalize.h"
#include "dkim/tag_list.h"

namespace credence::testing {

// A message whose DKIM-Signature's bh= is the hash of the bytes `signed_body` as they are
// (c=`canon`, l= when `l` > 0: give CRLF line ends unless a signer bug is the point),
// carrying `body` instead.
inline std::string SignedBodyMessage(const std::string& signed_body, const std::string& body,
                                     const std::string& canon = "relaxed/simple", size_t l = 0) {
  const bool relaxed = canon.substr(canon.find('/') + 1) == "relaxed";
  dkim::BodyHasher hasher(l > 0 ? l : std::numeric_limits<uint64_t>::max());
  dkim::CanonicalizeBody(relaxed ? dkim::Canon::kRelaxed : dkim::Canon::kSimple,
                         signed_body, &hasher);
  crypto::Sha256Digest digest = hasher.Final();
  const std::string bh =
      dkim::EncodeBase64(std::string_view(reinterpret_cast<const char*>(digest.data()), 32));
  return "DKIM-Signature: v=1; a=rsa-sha256; c=" + canon + "; d=example.org; s=s; h=from;" +
         (l > 0 ? " l=" + std::to_string(l) + ";" : "") + " bh=" + bh + "; b=AAAA\r\n" +
         "From: a@example.org\r\n\r\n" + body;
}

// What the verifier reports for the signature above when the bodies differ.
inline DkimResult BodyHashFailure() {
  DkimResult r;
  r.result = DkimVerdict::kFail;
  r.reason = DkimReason::kBodyHashMismatch;
  r.header_index = 0;
  return r;
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_BODY_HASH_FIXTURE_H_
