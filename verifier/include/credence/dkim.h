// DKIM verification: RFC 6376, with RFC 8301 (no rsa-sha1, RSA >= 1024 bits) and RFC 8463
// (ed25519-sha256). Every DKIM-Signature field gets its own result, in header order.
#ifndef CREDENCE_DKIM_H_
#define CREDENCE_DKIM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/limits.h"
#include "credence/message.h"

namespace credence {

// RFC 8601 §2.7.1 result values.
enum class DkimVerdict { kPass, kFail, kNeutral, kPolicy, kTempError, kPermError };
std::string_view DkimVerdictName(DkimVerdict v);  // "pass", "fail", ..., "temperror", "permerror"

// Why a signature got its verdict; kNone for pass.
enum class DkimReason {
  kNone,
  kBodyHashMismatch,      // fail: bh= does not match the canonicalized body
  kSignatureMismatch,     // fail: the signature does not verify with the key
  kKeyRevoked,            // permerror: key record has an empty p= (RFC 6376 §3.6.1)
  kKeyTooSmall,           // permerror: RSA key under Limits::min_rsa_bits (RFC 8301 §3.2)
  kKeyTooLarge,           // permerror: RSA key over Limits::max_rsa_bits
  kExpired,               // fail/permerror: x= is in the past (RFC 6376 §3.5)
  kFutureTimestamp,       // permerror: t= is in the future
  kNoKey,                 // permerror: no key record (NXDOMAIN / no TXT) (RFC 6376 §6.1.2)
  kKeyDnsError,           // temperror: key lookup failed temporarily (SERVFAIL, timeout)
  kKeySyntax,             // permerror: key record malformed (bad tag-list, bad base64, bad v=)
  kKeyInvalid,            // permerror: p= does not decode as a key of the stated type
  kKeyAlgorithmMismatch,  // permerror: k= does not match the signature's algorithm
  kKeyHashNotAllowed,     // permerror: key h= does not list the signature's hash
  kKeyServiceType,        // permerror: key s= is neither "email" nor "*"
  kKeyStrictSubdomain,    // permerror: key t=s but i= domain is a subdomain of d=
  kSignatureSyntax,       // permerror: DKIM-Signature malformed (missing tag, bad tag-list...)
  kUnsupportedVersion,    // permerror: v= is not 1
  kUnsupportedAlgorithm,  // permerror: a= unknown, or rsa-sha1 (RFC 8301 §3.1)
  kUnsupportedCanon,      // permerror: c= unknown
  kUnsupportedQuery,      // permerror: q= has no dns/txt
  kFromNotSigned,         // permerror: h= does not include From (RFC 6376 §5.4)
  kIdentityMismatch,      // permerror: i= domain is not d= or a subdomain of it
  kBodyLengthExceeded,    // permerror: l= is larger than the canonicalized body
  kNotEvaluated,          // permerror: a limit stopped it (beyond Limits::max_dkim_signatures,
                          // or a body cut at Limits::max_message_bytes)
  kDeadline,              // temperror: the overall deadline passed before the key came
};
std::string_view DkimReasonName(DkimReason r);  // "body_hash_mismatch", ... ("" for kNone)

struct DkimResult {
  DkimVerdict result = DkimVerdict::kPermError;
  DkimReason reason = DkimReason::kNone;
  std::string detail;  // human-readable, for logs and A-R comments; may be empty

  // From the signature (empty when it could not be read).
  std::string domain;            // d=, lower-cased
  std::string selector;          // s=
  std::string algorithm;         // a= as written ("rsa-sha256")
  std::string canonicalization;  // c= normalised ("relaxed/simple")
  std::string identity;          // i= (default "@" + d=)
  std::string signature_b;       // b= with whitespace removed (for A-R header.b)
  std::vector<std::string> signed_headers;  // h=, as written
  std::optional<int64_t> timestamp;         // t=
  std::optional<int64_t> expiration;        // x=
  std::optional<uint64_t> body_length;      // l=
  uint64_t unsigned_body_bytes = 0;         // canonicalized body bytes after l= (not signed)
  // Of a signature that passed: the single-instance fields (RFC 5322 §3.6: date, from, sender,
  // reply-to, to, cc, bcc, message-id, in-reply-to, references, subject) that h= signs and
  // that the message has more instances of than h= names. h= picks instances from the bottom,
  // so the extra ones, above (the instance a mail reader shows), are not signed: the replay
  // of RFC 6376 §8.15. Lower case, in the order above, each name once.
  std::vector<std::string> unsigned_fields;

  // From the key record.
  bool testing = false;   // key t= contains y: the signer is testing DKIM (RFC 6376 §3.6.1)
  unsigned key_bits = 0;  // RSA modulus bits, 256 for Ed25519, 0 if no key

  size_t header_index = 0;  // index of the DKIM-Signature field in Message::headers()
};

// A key record read on its own, with the parser verification uses (RFC 6376 §3.6.1, RFC 8463
// §4), for tools that check a domain's published keys (`credence check`). No size policy is
// applied: `key_bits` says what was published and the caller judges it (RFC 8301 §3.2).
struct DkimKeyRecordInfo {
  // kNone when the record is usable; else kKeySyntax (tag-list, v=, p= base64),
  // kKeyAlgorithmMismatch (unknown k=), kKeyServiceType (s= excludes email), kKeyRevoked
  // (empty p=) or kKeyInvalid (p= is not a key of type k=).
  DkimReason problem = DkimReason::kNone;
  std::string detail;           // why, for every problem
  bool ed25519 = false;         // k=ed25519 (RFC 8463); else k=rsa
  unsigned key_bits = 0;        // RSA modulus bits, 256 for Ed25519; 0 when no key decoded
  bool sha256_allowed = true;   // h= absent or lists sha256
  bool testing = false;         // t= has "y"
  bool strict = false;          // t= has "s"
  // Read although RFC 6376 does not allow it (v= not first, 8-bit bytes in a tag value):
  // what, or empty.
  std::string lenient;
};
DkimKeyRecordInfo InspectDkimKeyRecord(std::string_view text);

// The body half of one DKIM signature alone (RFC 6376 §3.7): whether `body` (a Message's
// body(), CRLF line ends), canonicalized and cut as the DKIM-Signature field value
// `signature` says (c=, l=), hashes to its bh=. False when the value does not parse or l= is
// longer than the body. No key, no DNS: for tools that ask "would this body have matched?"
// (the archive's mbox-quoting hint).
bool DkimBodyHashMatches(std::string_view signature, std::string_view body);

// The two sides of one signature's body hash, for people reading why it failed: the bh= the
// signature carries and the hash of `body` as its c= and l= say (both base64), and the
// canonicalized body's length. parsed is false (and the rest empty) when `signature` does not
// parse.
struct DkimBodyHashSides {
  bool parsed = false;
  std::string expected;  // bh=
  std::string computed;  // of the body as received
  uint64_t canonical_bytes = 0;
  std::optional<uint64_t> l;  // l=, when the signature has one
};
DkimBodyHashSides DkimBodyHashOf(std::string_view signature, std::string_view body);

// The header half of one DKIM signature alone (RFC 6376 §3.7), for tools that ask "would
// these header fields have verified?" (the archive's header hash hints): the signature and
// its key are parsed once, then Verifies() tries any list of header fields. No DNS, no clock;
// the body is not looked at (the caller knows bh= matched).
class DkimHeaderCheck {
 public:
  // `signature`: a DKIM-Signature field (HeaderField::raw and value are used); `key_record`:
  // the text of the key record it names (TXT strings joined). ok() is false when either does
  // not parse, the key is revoked, or its type is not the signature's algorithm.
  DkimHeaderCheck(const HeaderField& signature, std::string_view key_record);
  ~DkimHeaderCheck();
  DkimHeaderCheck(const DkimHeaderCheck&) = delete;
  DkimHeaderCheck& operator=(const DkimHeaderCheck&) = delete;

  bool ok() const;
  const std::vector<std::string>& signed_headers() const;  // h=, as written
  bool simple_headers() const;                              // c= header part is simple

  // Whether the signature verifies over `headers` (a message's fields, top first; RFC 6376
  // §5.4.2 bottom-up selection applies to them; the signature's own field is hashed as given
  // to the constructor, b= emptied). `relaxed`: canonicalize the fields relaxed whatever c=
  // says (a diagnosis only). Adds the bytes hashed to *hashed_bytes. False when !ok().
  bool Verifies(const std::vector<HeaderField>& headers, bool relaxed,
                size_t* hashed_bytes) const;

 private:
  struct Data;
  std::unique_ptr<Data> data_;
};

struct DkimOptions {
  Limits limits;
  // Seconds of clock skew allowed for a t= in the future. Default 300 (5 minutes).
  int64_t future_timestamp_slack = 300;
};

class DkimVerifier {
 public:
  DkimVerifier(const Clock& clock, DkimOptions options = DkimOptions());
  ~DkimVerifier();
  DkimVerifier(const DkimVerifier&) = delete;
  DkimVerifier& operator=(const DkimVerifier&) = delete;

  // A message's DKIM-Signature fields parsed once (and checked against the clock's time),
  // for hosts that first collect the key questions of many messages, ask them in one batch,
  // then verify: Prepare, ask questions(), then Verify(message, std::move(prepared), ...).
  // Owns its data (no views into the message); use it with the message it was made from.
  class Prepared {
   public:
    Prepared();
    ~Prepared();
    Prepared(Prepared&&) noexcept;
    Prepared& operator=(Prepared&&) noexcept;
    // One TXT question per distinct selector/domain that needs a key.
    const std::vector<DnsQuestion>& questions() const;

   private:
    friend class DkimVerifier;
    struct Data;
    std::unique_ptr<Data> data_;  // null: preparing failed (Verify then starts over)
  };
  // `preferred`: the From domains. When a message has more than Limits::max_dkim_signatures
  // signatures, those whose d= is a preferred domain, a parent or a subdomain of it are
  // evaluated first (then the others, top first), so that signatures added above the one
  // that matters cannot push it out.
  Prepared Prepare(const Message& message, std::span<const std::string> preferred = {}) const;

  // The key questions `message` needs (one TXT question per distinct selector/domain), for
  // batching with other protocols' questions.
  std::vector<DnsQuestion> KeyQuestions(const Message& message) const;

  // Verifies every DKIM-Signature of `message`, in header order (top first). All keys are asked
  // of `resolver` in one batch. Never throws; never returns fewer results than there are
  // DKIM-Signature fields. Each distinct body hash (canonicalization, algorithm, l=) is
  // computed once. Parsed keys are cached inside the verifier by record text, so a verifier
  // reused across messages does not re-decode the same key. Not const: it changes that cache
  // (and a reused buffer), so a verifier is not thread-safe: one per thread.
  std::vector<DkimResult> Verify(const Message& message, Resolver& resolver, Deadline deadline);
  // Same, deadline = now + options.limits.deadline.
  std::vector<DkimResult> Verify(const Message& message, Resolver& resolver);
  // Same, with the signatures Prepare parsed (no second parse).
  std::vector<DkimResult> Verify(const Message& message, Prepared&& prepared, Resolver& resolver,
                                 Deadline deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace credence

#endif  // CREDENCE_DKIM_H_
