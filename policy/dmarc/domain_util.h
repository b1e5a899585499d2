// Small pure helpers on domain names shared by the DMARC files (private).
#ifndef CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_
#define CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

namespace credence::dmarc_internal {

// Lower-cases ASCII, strips one trailing dot. Returns "" when the result is not a usable
// domain name: empty, over 253 bytes, an empty label, a label over 63 bytes, or a byte that
// is not a letter, digit, '-', '_' or UTF-8 (>= 0x80; U-labels are kept as given).
std::string NormalizeDomain(std::string_view domain);

// Labels of a normalized domain, left to right.
std::vector<std::string_view> SplitLabels(std::string_view domain);

// The right-most `n` labels of `domain` (the whole domain when it has fewer).
std::string_view LastLabels(std::string_view domain, size_t n);

// True when `sub` equals `parent` or ends with "." + parent.
bool IsSameOrSubdomain(std::string_view sub, std::string_view parent);

}  // namespace credence::dmarc_internal

#endif  // CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_
