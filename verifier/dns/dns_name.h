// Private helpers shared by the DNS layer: name normalisation and checks.
#ifndef CREDENCE_DNS_DNS_NAME_H_
#define CREDENCE_DNS_DNS_NAME_H_

#include <string>
#include <string_view>

namespace credence::dns_internal {

// RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255 on the wire, which is
// 253 characters in presentation form without the trailing dot.
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxNameLength = 253;
// CNAME links followed before an answer gives up (ZoneResolver and the reply walker).
inline constexpr int kMaxCnameLinks = 8;

// ASCII lower-case, one trailing dot removed. "Example.COM." -> "example.com". Escapes
// ("\." inside a label) are kept as they are. The root ("." or "") becomes "".
std::string NormalizeName(std::string_view name);

// Empty string when `name` (normalised, presentation form) is a valid query name: not
// empty, no empty label, labels <= 63 octets (an escape "\." or "\DDD" counts as one), whole
// name <= 253. Otherwise a short reason ("empty label", "label longer than 63 octets", ...).
std::string CheckName(std::string_view name);

// True when `name` equals `zone` or lies below it (both normalised).
bool IsAtOrBelow(std::string_view name, std::string_view zone);

// The name with its first label removed ("a.b.c" -> "b.c", "c" -> ""). Honours "\.".
std::string_view ParentName(std::string_view name);

}  // namespace credence::dns_internal

#endif  // CREDENCE_DNS_DNS_NAME_H_
