// ASCII character classes and case folding, the one copy every layer uses. Mail header names,
// DKIM and DMARC tags, SPF terms and DNS names compare case-insensitively in ASCII only
// (RFC 5322 §1.2.2, RFC 6376 §3.2, RFC 7208 §4.6.1, RFC 4343): never the C locale's
// <cctype>, whose answers depend on the process's locale and on the sign of `char`.
#ifndef CREDENCE_ASCII_H_
#define CREDENCE_ASCII_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace credence {

constexpr bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool IsAsciiAlpha(char c) { return IsAsciiUpper(c) || (c >= 'a' && c <= 'z'); }
constexpr bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }

constexpr char AsciiLower(char c) { return IsAsciiUpper(c) ? static_cast<char>(c + ('a' - 'A')) : c; }

// Eight bytes at once, as a little- or big-endian word alike: each of 'A'..'Z' lower-cased,
// every other byte (non-ASCII included) as it is.
constexpr uint64_t AsciiLower8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t low7 = x & (0x7f * kOnes);
  const uint64_t from_a = low7 + (0x80 - 'A') * kOnes;    // a byte's top bit: >= 'A'
  const uint64_t past_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // a byte's top bit: > 'Z'
  const uint64_t upper = from_a & ~past_z & ~x & (0x80 * kOnes);  // ~x: ASCII bytes only
  return x | (upper >> 2);  // 0x80 >> 2 == 0x20, the case bit
}

// The word of up to 8 bytes at `p` (n <= 8), zero-filled.
inline uint64_t LoadWord(const char* p, size_t n) {
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

// ASCII case-insensitive equality (header names, tag names, domains).
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  size_t i = 0;
  if (!std::is_constant_evaluated()) {  // a word at a time (DNS names are 20 to 60 bytes)
    for (; i + 8 <= a.size(); i += 8) {
      if (AsciiLower8(LoadWord(a.data() + i, 8)) != AsciiLower8(LoadWord(b.data() + i, 8))) {
        return false;
      }
    }
  }
  for (; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// A hash of `s` that ignores ASCII case: EqualsIgnoreCase strings hash alike. For the in-memory
// tables of one run (unseeded: what a table holds is bounded where the table is made).
inline uint64_t AsciiCaseHash(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ seed ^ (s.size() * 0xff51afd7ed558ccdull);
  auto mix = [&h](uint64_t w) {
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
  };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) mix(AsciiLower8(LoadWord(s.data() + i, 8)));
  if (i < s.size()) mix(AsciiLower8(LoadWord(s.data() + i, s.size() - i)));
  return h ^ (h >> 32);
}

// ASCII lower-case copy.
inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

}  // namespace credence

#endif  // CREDENCE_ASCII_H_
