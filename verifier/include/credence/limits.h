// Every bound credence applies to untrusted input, in one place, with its default.
// Hosts may change any field; docs/limits.md lists them.
#ifndef CREDENCE_LIMITS_H_
#define CREDENCE_LIMITS_H_

#include <chrono>
#include <cstddef>

namespace credence {

struct Limits {
  // Whole message, headers and body, after LF -> CRLF normalisation. Default 64 MiB.
  size_t max_message_bytes = 64u << 20;
  // Header section (everything before the blank line). Default 1 MiB.
  size_t max_header_bytes = 1u << 20;
  // Header fields in the header section. Default 1000.
  size_t max_header_fields = 1000;
  // One physical line anywhere in the message, without its CRLF. RFC 5322 says 998; real mail
  // breaks that, so the default is generous: 64 KiB.
  size_t max_line_bytes = 64u << 10;
  // DKIM-Signature fields evaluated per message, top first; later ones get
  // permerror/not_evaluated. Default 16.
  size_t max_dkim_signatures = 16;
  // RSA key sizes accepted. RFC 8301 §3.2: below 1024 is invalid. Above the max a key is
  // refused (verification cost grows with the cube of the size). Defaults 1024 and 8192.
  unsigned min_rsa_bits = 1024;
  unsigned max_rsa_bits = 8192;
  // DNS questions one message may cause (DKIM keys, SPF terms, DMARC records). Default 64.
  size_t max_dns_queries = 64;
  // Overall deadline for verifying one message, DNS included. Default 10 s.
  std::chrono::milliseconds deadline{10000};
};

}  // namespace credence

#endif  // CREDENCE_LIMITS_H_
