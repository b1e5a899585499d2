// RFC 4648 §4 base64 with FWS skipped, read one character at a time: the DKIM decoder as it
// was before its four-character fast path (DecodeBase64 in verifier/dkim/tag_list.cc), kept
// as the reference the unit tests and fuzz_tag_list compare it with (the same bytes or the
// same error).
#ifndef CREDENCE_TESTS_UNIT_BASE64_REFERENCE_H_
#define CREDENCE_TESTS_UNIT_BASE64_REFERENCE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence::testing {

inline Result<std::string> DecodeBase64OneAtATime(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;
  int padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (const int v = value(c); v >= 0) {
      if (padding > 0) return Status::Invalid("base64: data after '=' padding");
      ++chars;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((acc >> bits) & 0xff));
      }
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    } else if (c == '=') {
      ++chars;
      if (++padding > 2) return Status::Invalid("base64: more than two '=' pad characters");
    } else {
      return Status::Invalid("base64: character not in the alphabet at offset " +
                             std::to_string(i));
    }
  }
  if (chars % 4 != 0) return Status::Invalid("base64: length is not a multiple of 4");
  if (padding > 0 && (chars / 4) * 3 - static_cast<size_t>(padding) != out.size()) {
    return Status::Invalid("base64: misplaced '=' padding");
  }
  return out;
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_BASE64_REFERENCE_H_
