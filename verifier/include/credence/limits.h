// Every bound credence applies to untrusted input, in one place, with its default.
// Hosts may change any field; docs/limits.md lists them. A bound that is reached never makes
// credence give up on a message: the message is judged as far as it was read, the parts left
// out are named, and the score gets CREDENCE_LIMIT (docs/security.md), so reaching a bound can
// only make a message look worse, never better.
#ifndef CREDENCE_LIMITS_H_
#define CREDENCE_LIMITS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace credence {

// Defaults that more than one host repeats, named once.
// A message's bytes (Limits::max_message_bytes, serve's --max-request-bytes, Exim's spool read).
inline constexpr size_t kDefaultMaxMessageBytes = size_t{64} << 20;
// The longest time any millisecond setting may be given (serve's client timeouts, the C ABI's
// deadlines; one DNS try has its own, shorter bound below): 10 minutes; anything longer is a
// typo.
inline constexpr int64_t kMaxSettingMilliseconds = 600000;
// The longest one DNS try may be given (the c-ares resolver's bound): a minute.
inline constexpr int64_t kMaxDnsTimeoutMilliseconds = 60000;

struct Limits {
  // Bytes of a message read, headers and body, after LF -> CRLF normalisation. Default 64 MiB.
  // A longer message is judged on its header section and the first bytes of its body; DKIM
  // signatures (whose body hash needs the rest) are then not evaluated.
  size_t max_message_bytes = kDefaultMaxMessageBytes;
  // Header section bytes whose fields are all read. Default 1 MiB. Past it (or past
  // max_header_fields), only the fields verdicts depend on (From, DKIM-Signature,
  // Authentication-Results) are still read, at most max_header_fields of them; the others
  // are skipped and counted.
  size_t max_header_bytes = 1u << 20;
  // Header fields read before the rule above applies. Default 1000.
  size_t max_header_fields = 1000;
  // DKIM-Signature fields evaluated per message: first those whose d= is a From domain, a
  // parent or a subdomain of it, then the others top first; the rest get
  // permerror/not_evaluated. Default 16 (also the most key questions DKIM asks).
  size_t max_dkim_signatures = 16;
  // Distinct keys (selector/domain) one ARC chain may ask for (RFC 8617 sets: each ARC-Seal
  // and ARC-Message-Signature names one; a real hop uses one key for both). Default 16. A
  // chain that needs more is not evaluated: arc=fail, reason not_evaluated (fail closed: it
  // never earns a trusted-sealer override), and the evaluation notes the limit.
  size_t max_arc_key_queries = 16;
  // RSA key sizes accepted. RFC 8301 §3.2: below 1024 is invalid. Above the max a key is
  // refused (verification cost grows with the cube of the size). Defaults 1024 and 8192.
  unsigned min_rsa_bits = 1024;
  unsigned max_rsa_bits = 8192;
  // DNS questions one SPF check (MAIL FROM or HELO) may ask. Default 120: above the most
  // that RFC 7208 §4.6.4's own limits allow (10 terms of up to 11 questions, the record, exp=),
  // so a record within the RFC's limits is always evaluated in full. Past it the check is
  // permerror "not evaluated", never temperror.
  size_t max_spf_dns_queries = 120;
  // DNS questions DMARC may ask for one From domain: the tree walk, the np= existence check,
  // the organizational-domain walks of aligned identifiers. Default 40. A pool of its own, so
  // that nothing the sender controls (SPF records, DKIM signatures) can spend it.
  size_t max_dmarc_dns_queries = 40;
  // Overall deadline for verifying one message, DNS included. Default 10 s. The first batch of
  // DNS questions (DKIM keys, DMARC records) may use at most half of it, so that slow answers
  // for one sender-chosen name cannot leave the SPF check without time.
  std::chrono::milliseconds deadline{10000};

  bool operator==(const Limits&) const = default;
};

}  // namespace credence

#endif  // CREDENCE_LIMITS_H_
