// libFuzzer target for the RFC 5322 date-time parser of `credence verify --time received`
// (ParseRfc5322DateTime, plugin/archive/runner.h): any text must parse without crashing or
// hanging, and when it gives a value, parsing the same text again (from a fresh copy) gives
// the same value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "archive/runner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<int64_t> t = credence::ParseRfc5322DateTime(text);
  if (t) {
    std::string copy(text);
    std::optional<int64_t> again = credence::ParseRfc5322DateTime(copy);
    if (!again || *again != *t) __builtin_trap();
  }
  return 0;
}
