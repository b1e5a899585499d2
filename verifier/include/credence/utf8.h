// Well-formed UTF-8 (RFC 3629 §4): the one reading of it every part of credence shares (DKIM
// identifiers, the XML of aggregate reports). No overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF.
#ifndef CREDENCE_UTF8_H_
#define CREDENCE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace credence {

// The code point of the well-formed sequence at s[i] in *cp and its length (1..4); 0 when the
// bytes at s[i] are not one (a lone tail byte, a cut or overlong sequence, a surrogate, a
// value past U+10FFFF).
inline size_t Utf8Sequence(std::string_view s, size_t i, uint32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3Fu);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

inline bool IsUtf8(std::string_view s) {
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Sequence(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace credence

#endif  // CREDENCE_UTF8_H_
