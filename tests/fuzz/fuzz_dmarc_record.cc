// libFuzzer target: ParseDmarcRecord and the answer interpretation must never crash, hang or
// produce a record outside its documented ranges.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "credence/policy/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  credence::Result<credence::DmarcRecord> r = credence::ParseDmarcRecord(text);
  if (r.ok()) {
    if (r->pct > 100 || r->rua.size() > 32 || r->ruf.size() > 32) abort();
    if (r->p_defaulted && r->rua.empty()) abort();
  }
  // The same bytes as a domain: the walk names stay within 8 and shrink.
  std::vector<std::string> names = credence::TreeWalkNames(text.substr(0, 300));
  if (names.size() > 8) abort();
  return 0;
}
