// Private: the BIND-style zone file parser behind ZoneResolver::AddZoneText.
#ifndef CREDENCE_DNS_ZONE_PARSER_H_
#define CREDENCE_DNS_ZONE_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "credence/dns.h"

namespace credence::dns_internal {

// Bounds on zone text (hostile input: zone files are also fuzzed).
inline constexpr size_t kMaxZoneTextBytes = 64u << 20;   // one AddZoneText call
inline constexpr size_t kMaxZoneRecords = 1u << 20;      // records in one call
inline constexpr size_t kMaxTokenBytes = 65535;          // one field, before unescaping
inline constexpr size_t kMaxFieldsPerRecord = 1024;      // fields in one record
inline constexpr uint32_t kDefaultZoneTtl = 3600;        // no $TTL and no TTL seen yet

struct ZoneRecord {
  std::string owner;  // normalised, no trailing dot
  ResourceRecord rr;
  size_t line = 0;    // where the record starts, for later errors
};

struct ParsedZone {
  std::vector<ZoneRecord> records;
  // Origins this text declared: the initial one, every $ORIGIN and every SOA owner.
  std::vector<std::string> origins;
};

// Parses RFC 1035 §5.1 master file text (the BIND dialect): $ORIGIN, $TTL, "@", relative
// and absolute names, omitted owner (the previous one), omitted TTL ($TTL, else the last TTL
// given, else 3600), class IN in either order with the TTL, "( ... )" across lines, ";"
// comments, quoted strings with \" \\ \DDD, types A AAAA MX PTR CNAME NS SOA TXT, RFC 3597
// "TYPEn \# len hex" for other types; obsolete SPF records are skipped. Iterative, bounded by
// the constants above. On error returns kInvalidInput "SOURCE:LINE: what" (for example
// "zone.txt:7: unknown record type 'FOO'") and leaves `out` unspecified.
Status ParseZoneText(std::string_view text, std::string_view origin, std::string_view source,
                     ParsedZone* out);

// TTL with optional BIND units: "300", "1h30m", "2W" (w d h m s). False when malformed or
// above 2^31-1 (RFC 2181 §8).
bool ParseTtl(std::string_view text, uint32_t* ttl);

}  // namespace credence::dns_internal

#endif  // CREDENCE_DNS_ZONE_PARSER_H_
