// libFuzzer target for the RFC 7208 record grammar checker and the libspf2 rewrite.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "spf/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  credence::spf::IsSpfRecord(text);
  credence::spf::CheckMacroString(text, true);
  credence::spf::IsValidCheckDomain(text);
  credence::spf::HasValidTopLabel(text);
  if (credence::spf::CheckSpfRecordSyntax(text).ok()) {
    size_t targets = 0;
    auto add = [&targets](std::string_view, bool) {
      return std::to_string(targets++) + ".target.credence.invalid";
    };
    std::string out = credence::spf::RewriteForLibspf2(text, false, add);
    credence::spf::RewriteForLibspf2(text, true, add);
    // The rewrite of a valid record must still start with the version tag, and must leave
    // libspf2 no macro to expand (every domain-spec became a marker name).
    if (!credence::spf::IsSpfRecord(out)) __builtin_trap();
    if (out.find('%') != std::string::npos) __builtin_trap();
  }
  return 0;
}
