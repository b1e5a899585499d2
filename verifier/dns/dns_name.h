// Private helpers shared by the DNS layer: name normalisation and checks.
#ifndef CREDENCE_DNS_DNS_NAME_H_
#define CREDENCE_DNS_DNS_NAME_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace credence::dns_internal {

// RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255 on the wire, which is
// 253 characters in presentation form without the trailing dot.
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxNameLength = 253;
// CNAME links followed before an answer gives up (ZoneResolver and the reply walker).
inline constexpr int kMaxCnameLinks = 8;
// Private RR type (RFC 6895 §3.1) with which a --record file marks a question that got a
// temporary failure; its RDATA is the asked type, 2 octets in network order. ZoneResolver
// answers that question kTempFail (recording_resolver.cc writes it).
inline constexpr uint16_t kTempFailMarkerType = 65281;

// True when `name` needs no more than lower-casing to be normalised: no escape, every octet
// printable.
bool PlainName(std::string_view name);

// The one spelling of a name that every part of the DNS layer uses as a key and compares:
// the form the reply walker writes names from the wire in (reply_parser.cc). A name is labels
// separated by "."; inside a label "\X" is the octet X and "\DDD" the octet of that decimal
// value (RFC 1035 §5.1), every other octet stands for itself (so "a;b" and "a\059b" are the
// same name). The result: ASCII lower-case; the octets "." and "\" written "\." and "\\";
// octets outside 0x21..0x7e written "\DDD"; every other octet as itself; one trailing
// (unescaped) dot removed. "Example.COM." -> "example.com", "A\;b" -> "a;b",
// "a b" -> "a\032b". An escape that is not valid (a dangling "\", "\DDD" over 255 or with
// fewer than three digits) and everything after it is kept as it is, for CheckName to refuse.
// The root ("." or "") becomes "".
std::string NormalizeName(std::string_view name);

// Appends one label octet in the normalised spelling above (the reply walker writes names
// from the wire with it).
void AppendNameOctet(unsigned char c, std::string* out);

// `name` (normalised) as an RFC 1035 §5.1 master file name, without the final dot: the
// characters a zone file gives a meaning to (";", "(", ")", "\"", "$", "@") escaped with
// "\"; "\.", "\\" and "\DDD" as they are. ZoneResolver reads it back (after a final ".")
// to the same name.
std::string ZoneFileName(std::string_view name);

// `name` (normalised) with every "\DDD" escape replaced by its octet ("\." and "\\"
// stay), for resolvers that read "\X" but not "\DDD" (c-ares 1.18). False when a label
// holds a NUL octet, which such a resolver cannot be given in a C string.
bool NameWithoutDecimalEscapes(std::string_view name, std::string* out);

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
