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
  // The term splitter `credence check` walks records with: every part is a view into the
  // record, inside its term; a term is never empty and never holds a space.
  for (const credence::spf::SpfTerm& t : credence::spf::SplitSpfTerms(text)) {
    auto inside = [](std::string_view part, std::string_view whole) {
      return part.empty() ||
             (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
    };
    if (t.text.empty() || t.text.find(' ') != std::string_view::npos) __builtin_trap();
    if (!inside(t.text, text) || !inside(t.name, t.text) || !inside(t.value, t.text) ||
        !inside(t.cidr, t.text)) {
      __builtin_trap();
    }
  }
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
