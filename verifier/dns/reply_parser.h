// Private: turns a DNS reply in wire format (RFC 1035 §4.1) into a DnsAnswer. Used by the
// c-ares resolver; free of c-ares so unit tests can feed it hand-made and hostile packets.
#ifndef CREDENCE_DNS_REPLY_PARSER_H_
#define CREDENCE_DNS_REPLY_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "credence/dns.h"

namespace credence::dns_internal {

// The detail of a REFUSED answer (RCODE 5).
inline constexpr std::string_view kRefusedDetail =
    "REFUSED: the DNS server does not answer (recurse) for this name: credence needs a "
    "recursive resolver";

// Reads the reply to the question (`qname` normalised, `qtype`). Never reads outside
// [buf, buf+len), never loops on compression pointers. Outcomes:
//   RCODE 0 with records of qtype owned by qname (or reached from it through at most 8
//   CNAMEs in the answer section) -> kOk, ttl = smallest TTL on the way;
//   RCODE 0 otherwise -> kNoData; RCODE 3 -> kNxDomain (both with the negative TTL of
//   RFC 2308 §5: min(SOA TTL, SOA MINIMUM) from the authority section, else 0);
//   RCODE 2 -> kTempFail "SERVFAIL", 5 -> kRefusedDetail, other -> "RCODE n";
//   anything malformed -> kTempFail "malformed reply: what".
DnsAnswer ParseReply(const uint8_t* buf, size_t len, std::string_view qname, RRType qtype);

}  // namespace credence::dns_internal

#endif  // CREDENCE_DNS_REPLY_PARSER_H_
