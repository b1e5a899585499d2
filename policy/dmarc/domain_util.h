// Small pure helpers on domain names shared by the DMARC files (private).
#ifndef CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_
#define CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "credence/message.h"

namespace credence::dmarc_internal {

// The From fields of a message (RFC 5322 §3.6: exactly one): how many, and the first.
struct FromFields {
  size_t count = 0;
  const HeaderField* first = nullptr;
};
FromFields FindFromFields(const Message& message);

// Lower-cases ASCII, strips one trailing dot. Returns "" when the result is not a usable
// domain name: empty, over 253 bytes, an empty label, a label over 63 bytes, or a byte that
// is not a letter, digit, '-', '_' or UTF-8 (>= 0x80; U-labels are kept as given).
std::string NormalizeDomain(std::string_view domain);

// The number of labels of a normalized domain (dots + 1).
size_t LabelCount(std::string_view domain);

// RFC 9989 §4.10 step 4: a tree walk asks at most 8 names.
inline constexpr size_t kMaxTreeWalkNames = 8;
// The names of the tree walk from `domain` (TreeWalkNames, credence/policy/dmarc.h), as views
// of `domain`: no copies.
struct TreeWalkViews {
  std::array<std::string_view, kMaxTreeWalkNames> names;
  size_t size = 0;
  const std::string_view* begin() const { return names.data(); }
  const std::string_view* end() const { return names.data() + size; }
};
TreeWalkViews TreeWalkNameViews(std::string_view domain);

// The right-most `n` labels of `domain` (the whole domain when it has fewer).
std::string_view LastLabels(std::string_view domain, size_t n);

// True when `sub` equals `parent` or ends with "." + parent.
bool IsSameOrSubdomain(std::string_view sub, std::string_view parent);

}  // namespace credence::dmarc_internal

#endif  // CREDENCE_POLICY_DMARC_DOMAIN_UTIL_H_
