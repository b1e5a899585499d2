// Fuzzes the RFC 6376 §3.2 tag-list parser and the FWS-tolerant base64 decoder; the decoder's
// four-characters-at-a-time path must give what one character at a time gives (the same bytes
// or the same error).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/tag_list.h"
#include "../unit/base64_reference.h"

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
  auto reference = credence::testing::DecodeBase64OneAtATime(text);
  if (decoded.ok() != reference.ok()) __builtin_trap();
  if (decoded.ok() ? *decoded != *reference
                   : decoded.status().message() != reference.status().message()) {
    __builtin_trap();
  }
  return 0;
}
