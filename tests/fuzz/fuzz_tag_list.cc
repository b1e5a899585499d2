// Fuzzes the RFC 6376 §3.2 tag-list parser and the FWS-tolerant base64 decoder; the decoder's
// four-characters-at-a-time path must give what one character at a time gives (the same bytes
// or the same error).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/tag_list.h"

namespace {

credence::Result<std::string> DecodeOneAtATime(std::string_view text) {
  using credence::Status;
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence::dkim;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tags = ParseTagList(text);
  if (tags.ok()) {
    if (tags->empty() || tags->size() > kMaxTags) __builtin_trap();
    for (const Tag& t : *tags) {
      if (t.raw_value_begin > t.raw_value_end || t.raw_value_end > size) __builtin_trap();
      (void)DecodeBase64(t.value);
    }
  }
  auto decoded = DecodeBase64(text);
  if (decoded.ok() && decoded->size() > size) __builtin_trap();
  auto reference = DecodeOneAtATime(text);
  if (decoded.ok() != reference.ok()) __builtin_trap();
  if (decoded.ok() ? *decoded != *reference
                   : decoded.status().message() != reference.status().message()) {
    __builtin_trap();
  }
  return 0;
}
