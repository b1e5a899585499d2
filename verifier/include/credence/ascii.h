// ASCII character classes and case folding, the one copy every layer uses. Mail header names,
// DKIM and DMARC tags, SPF terms and DNS names compare case-insensitively in ASCII only
// (RFC 5322 §1.2.2, RFC 6376 §3.2, RFC 7208 §4.6.1, RFC 4343): never the C locale's
// <cctype>, whose answers depend on the process's locale and on the sign of `char`.
#ifndef CREDENCE_ASCII_H_
#define CREDENCE_ASCII_H_

#include <string>
#include <string_view>

namespace credence {

constexpr bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool IsAsciiAlpha(char c) { return IsAsciiUpper(c) || (c >= 'a' && c <= 'z'); }
constexpr bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }

constexpr char AsciiLower(char c) { return IsAsciiUpper(c) ? static_cast<char>(c + ('a' - 'A')) : c; }

// ASCII case-insensitive equality (header names, tag names, domains).
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// ASCII lower-case copy.
inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

}  // namespace credence

#endif  // CREDENCE_ASCII_H_
