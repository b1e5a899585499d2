// ARC verification (RFC 8617): the chain of ARC sets (ARC-Authentication-Results,
// ARC-Message-Signature, ARC-Seal) intermediaries such as mailing lists add, verified with the
// DKIM machinery (canonicalization, key records, crypto). Verify only: credence never seals.
#ifndef CREDENCE_ARC_H_
#define CREDENCE_ARC_H_

#include <string>
#include <string_view>
#include <vector>

#include "credence/clock.h"
#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/limits.h"
#include "credence/message.h"

namespace credence {

// RFC 8617 §4.4 chain validation status, the "arc" A-R method's results (§10.1).
enum class ArcVerdict { kNone, kPass, kFail };
std::string_view ArcVerdictName(ArcVerdict v);  // "none", "pass", "fail"

// Why the chain got its verdict; kNone for none and pass.
enum class ArcReason {
  kNone,
  kStructure,         // a field without a readable i=, an instance missing or given twice, a
                      // set without its three fields (RFC 8617 §4.2.1, §5.2 step 3)
  kTooManySets,       // an instance over 50 (RFC 8617 §4.2.1)
  kSealedFail,        // the newest ARC-Seal says cv=fail (§5.2 step 2)
  kChainStatus,       // cv= of instance 1 is not none, or of a later one not pass (§5.2 step 3)
  kMessageSignature,  // the newest ARC-Message-Signature does not verify (§5.2 step 4)
  kSeal,              // an ARC-Seal does not verify (§5.2 step 6)
  kKeyDnsError,       // a key lookup failed temporarily (or the deadline passed): asking later
                      // may pass. Still fail: ARC has no temperror result
  kNotEvaluated,      // a limit (Limits::max_arc_key_queries, a message cut at
                      // Limits::max_message_bytes) stopped it: fail closed
};
std::string_view ArcReasonName(ArcReason r);  // "structure", ... ("" for kNone)

// One ARC set, as verified.
struct ArcSet {
  int instance = 0;                // i=
  std::string cv;                  // the seal's cv= ("none", "pass", "fail")
  DkimResult seal;                 // the ARC-Seal: verdict, reason, d= (the sealer), s=, key
  DkimResult message_signature;    // the ARC-Message-Signature (not verified: permerror
                                   // not_evaluated, when the chain failed before it)
  std::string authserv_id;         // of the ARC-Authentication-Results, when domain-like
  // The ARC-Authentication-Results value after "i=N;" (authserv-id and results), as the
  // sealer wrote it: message bytes, to parse, never to show.
  std::string results;
};

struct ArcResult {
  ArcVerdict result = ArcVerdict::kNone;
  ArcReason reason = ArcReason::kNone;
  std::string detail;  // human-readable, for logs and A-R comments; empty for none and pass
  // RFC 8617 §7 header.oldest-pass: the lowest instance from which every AMS up to the newest
  // still verifies; 0 when all of them do (or the chain did not pass).
  int oldest_pass = 0;
  // Instance 1 first. Filled when the sets could be told apart (empty for none and for a
  // structure failure).
  std::vector<ArcSet> sets;
  // The sealing domains (each ARC-Seal's d=, well-formed ones only), instance 1 first.
  std::vector<std::string> Sealers() const;
  // Whether the chain passed and the message is still as the sealer of set `instance` signed
  // it: that set's ARC-Message-Signature and every newer one verify (oldest_pass at or below
  // it), and that signature leaves nothing a reader sees unsigned (no instance of a field it
  // signs added above the signed one, no text past l=: DkimResult::unsigned_fields,
  // unsigned_body_bytes). Only then is what that sealer wrote about the message about this
  // message: the seals cover ARC fields only, so a later hop can carry an older set over to
  // another message and seal the result with its own key, or replay the message with a new
  // Subject on top.
  bool UnchangedSince(int instance) const {
    if (result != ArcVerdict::kPass || (oldest_pass != 0 && instance < oldest_pass) ||
        instance < 1 || static_cast<size_t>(instance) > sets.size()) {
      return false;
    }
    const DkimResult& ams = sets[static_cast<size_t>(instance) - 1].message_signature;
    return ams.unsigned_fields.empty() && ams.unsigned_body_bytes == 0;
  }
};

class ArcVerifier {
 public:
  // `options`: its limits (RSA sizes, max_arc_key_queries, deadline) and timestamp slack.
  ArcVerifier(const Clock& clock, DkimOptions options = DkimOptions());
  ~ArcVerifier();
  ArcVerifier(const ArcVerifier&) = delete;
  ArcVerifier& operator=(const ArcVerifier&) = delete;

  // The key questions verifying `message`'s chain would ask (one TXT question per distinct
  // selector/domain, at most Limits::max_arc_key_queries), for batching with other protocols'.
  // Empty when there is no chain or it fails without DNS.
  std::vector<DnsQuestion> KeyQuestions(const Message& message) const;

  // RFC 8617 §5.2 chain validation, oldest instance to newest; the seal signatures over the
  // sets in the RFC's order whatever order the fields are in. All keys are asked of
  // `resolver` in one batch. Never throws. Not const: it changes its key cache, so a verifier
  // is not thread-safe: one per thread.
  ArcResult Verify(const Message& message, Resolver& resolver, Deadline deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace credence

#endif  // CREDENCE_ARC_H_
