// RFC 6376 §3.2 tag-lists and FWS-tolerant base64. Single pass, no recursion, no regex.
#include "dkim/tag_list.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "credence/ascii.h"
#include "credence/base64.h"

namespace credence::dkim {
namespace {

// RFC 6376 §3.2: VALCHAR = %x21-3A / %x3C-7E.
constexpr std::array<bool, 256> kValChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = c != ';';
  return t;
}();
bool IsValChar(char c) { return kValChar[static_cast<unsigned char>(c)]; }

Status Error(size_t pos, std::string_view what) {
  return Status::Invalid("tag-list at offset " + std::to_string(pos) + ": " + std::string(what));
}

// Base64 alphabet value (0-63) per byte; kB64Fws for FWS, kB64Pad for "=", kB64Bad otherwise.
constexpr uint8_t kB64Fws = 64;
constexpr uint8_t kB64Pad = 65;
constexpr uint8_t kB64Bad = 255;
constexpr std::array<uint8_t, 256> MakeB64Table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kB64Bad;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<uint8_t>(c - 'A');
  for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 26);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0' + 52);
  t['+'] = 62;
  t['/'] = 63;
  t['='] = kB64Pad;
  for (char c : {' ', '\t', '\r', '\n'}) t[static_cast<unsigned char>(c)] = kB64Fws;
  return t;
}
constexpr std::array<uint8_t, 256> kB64 = MakeB64Table();

// The offset of the first byte below 0x21 at or after `from`, or text.size(). Eight bytes a
// step: a word has such a byte exactly when (w - 0x21..21) & ~w & 0x80..80 is not zero (a
// borrow only ever comes from a lower byte that is itself below 0x21; bytes of 0x80 and up
// are masked out by ~w).
size_t FindByteBelow0x21(std::string_view text, size_t from) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  size_t i = from;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, text.data() + i, 8);
    if (((w - kOnes * 0x21) & ~w & (kOnes * 0x80)) != 0) break;
  }
  for (; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) < 0x21) return i;
  }
  return text.size();
}

// The offset of the first byte at or after `from` that is not a VALCHAR (%x21-3A / %x3C-7E),
// or text.size(). Eight bytes a step, as FindByteBelow0x21: a word is all VALCHAR when it has
// no byte below 0x21, none of 0x7F and up (adding 1 to each byte sets the high bit of 0x7F;
// a carry out of 0xFF only ever adds to a byte already found), and no ";" (a zero byte of
// w ^ ";;;;;;;;").
size_t SkipValChars(std::string_view text, size_t from) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = kOnes * 0x80;
  size_t i = from;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, text.data() + i, 8);
    const uint64_t semi = w ^ (kOnes * ';');
    const uint64_t bad = ((w - kOnes * 0x21) & ~w) | w | (w + kOnes) | ((semi - kOnes) & ~semi);
    if ((bad & kHigh) != 0) break;
  }
  while (i < text.size() && IsValChar(text[i])) ++i;
  return i;
}

}  // namespace

// RFC 6376 §3.2:
//   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//   tag-name  =  ALPHA *ALNUMPUNC
//   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
Result<std::vector<Tag>> ParseTagList(std::string_view text) {
  std::vector<Tag> tags;
  tags.reserve(16);  // a DKIM-Signature has 14 defined tags: one allocation for most lists
  size_t i = 0;
  const size_t n = text.size();
  while (true) {
    while (i < n && IsFws(text[i])) ++i;
    if (i == n) {
      // Only after a ";" (the optional trailing one) or for empty input.
      if (tags.empty()) return Error(i, "no tag");
      return tags;
    }
    if (text[i] == ';') return Error(i, "empty tag-spec");
    if (!IsAsciiAlpha(text[i])) return Error(i, "tag name must start with a letter");
    size_t name_begin = i;
    while (i < n && (IsAsciiAlpha(text[i]) || IsAsciiDigit(text[i]) || text[i] == '_')) ++i;
    std::string_view name = text.substr(name_begin, i - name_begin);
    while (i < n && IsFws(text[i])) ++i;
    if (i == n || text[i] != '=') return Error(i, "expected '=' after tag name");
    ++i;
    Tag tag;
    tag.name = name;
    tag.raw_value_begin = i;
    while (i < n && IsFws(text[i])) ++i;
    size_t value_begin = i;
    size_t value_end = i;  // end of the last tval seen
    while (i < n && text[i] != ';') {
      if (IsValChar(text[i])) {
        i = SkipValChars(text, i + 1);  // the rest of this tval
        value_end = i;
      } else if (IsFws(text[i])) {
        ++i;
      } else {
        return Error(i, "character not allowed in a tag value");
      }
    }
    tag.raw_value_end = i;
    tag.value = text.substr(value_begin, value_end - value_begin);
    for (const Tag& t : tags) {
      if (t.name == name) return Error(name_begin, "duplicate tag '" + std::string(name) + "'");
    }
    if (tags.size() >= kMaxTags) return Error(name_begin, "too many tags");
    tags.push_back(tag);
    if (i == n) return tags;
    ++i;  // the ';'
  }
}

const Tag* FindTag(const std::vector<Tag>& tags, std::string_view name) {
  // Names are a byte or two: compared here, where a call to memcmp cost more than the compare.
  for (const Tag& t : tags) {
    if (t.name.size() != name.size()) continue;
    size_t i = 0;
    while (i < name.size() && t.name[i] == name[i]) ++i;
    if (i == name.size()) return &t;
  }
  return nullptr;
}

std::string EncodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (n > 1) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (n > 2) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += n > 1 ? kAlphabet[v >> 6 & 63] : '=';
    out += n > 2 ? kAlphabet[v & 63] : '=';
  }
  return out;
}

Result<std::string> DecodeBase64(std::string_view text) {
  // Table-driven, written into a buffer sized up front (b= is decoded for every signature).
  std::string out(text.size() / 4 * 3 + 3, '\0');
  char* o = out.data();
  size_t len = 0;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;  // base64 characters, padding included
  int padding = 0;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    // Fast path: four alphabet characters starting a quantum (no bits pending) are three
    // bytes; FWS, padding and bad characters take the byte-at-a-time path below.
    while (bits == 0 && padding == 0 && i + 4 <= n) {
      const uint32_t a = kB64[static_cast<unsigned char>(text[i])];
      const uint32_t b = kB64[static_cast<unsigned char>(text[i + 1])];
      const uint32_t c = kB64[static_cast<unsigned char>(text[i + 2])];
      const uint32_t d = kB64[static_cast<unsigned char>(text[i + 3])];
      if ((a | b | c | d) >= 64) break;
      const uint32_t v = a << 18 | b << 12 | c << 6 | d;
      o[len] = static_cast<char>(v >> 16);
      o[len + 1] = static_cast<char>(v >> 8 & 0xff);
      o[len + 2] = static_cast<char>(v & 0xff);
      len += 3;
      chars += 4;
      i += 4;
    }
    if (i == n) break;
    const uint8_t v = kB64[static_cast<unsigned char>(text[i])];
    if (v < 64) {
      if (padding > 0) return Status::Invalid("base64: data after '=' padding");
      ++chars;
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        o[len++] = static_cast<char>((acc >> bits) & 0xff);
      }
      continue;
    }
    if (v == kB64Fws) continue;
    if (v == kB64Pad) {
      ++padding;
      ++chars;
      if (padding > 2) return Status::Invalid("base64: more than two '=' pad characters");
      continue;
    }
    return Status::Invalid("base64: character not in the alphabet at offset " +
                           std::to_string(i));
  }
  out.resize(len);
  if (chars % 4 != 0) return Status::Invalid("base64: length is not a multiple of 4");
  // "x===" style: padding may only replace the last one or two characters of a quantum.
  if (padding > 0 && (chars / 4) * 3 - static_cast<size_t>(padding) != out.size()) {
    return Status::Invalid("base64: misplaced '=' padding");
  }
  return out;
}

bool IsBase64Text(std::string_view text) {
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes a step (b= is ~350 bytes for RSA-2048): each byte in A-Z, a-z, 0-9 or one of
  // "+/=". Signed compares: bytes over 0x7f are negative and fall outside every range.
  auto in = [](__m128i v, char lo, char hi) {
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                         _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
  };
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i ok = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(in(v, 'A', 'Z'), in(v, 'a', 'z')), in(v, '0', '9')),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('='))));
    if (_mm_movemask_epi8(ok) != 0xffff) return false;
  }
#endif
  bool ok = true;
  for (; i < text.size(); ++i) {
    const uint8_t v = kB64[static_cast<unsigned char>(text[i])];
    ok &= v < 64 || v == kB64Pad;
  }
  return ok;
}

std::string StripFws(std::string_view text) {
  // FWS bytes (SP, HTAB, CR, LF) are all below 0x21: runs without such a byte are copied
  // whole, found eight bytes at a time.
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t j = FindByteBelow0x21(text, i);
    out.append(text.data() + i, j - i);
    if (j == text.size()) break;
    if (!IsFws(text[j])) out.push_back(text[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace credence::dkim

namespace credence {

Result<std::string> DecodeBase64(std::string_view text) { return dkim::DecodeBase64(text); }

}  // namespace credence
