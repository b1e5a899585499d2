// libFuzzer target: the RFC5322.From parser and the Author Domain extraction on a whole
// message must never crash or hang; every domain returned is a valid lower-case name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "credence/policy/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);
  credence::Result<std::vector<std::string>> d = credence::ParseFromDomains(value);
  if (d.ok()) {
    if (d->empty() || d->size() > 101) abort();
    for (const std::string& dom : *d) {
      if (dom.empty() || dom.size() > 253) abort();
      for (char c : dom) {
        if (c >= 'A' && c <= 'Z') abort();
      }
    }
  }
  std::string msg = "From: ";
  msg.append(value);
  msg += "\r\nSubject: x\r\n\r\nbody\r\n";
  credence::Result<credence::Message> m = credence::Message::Parse(msg);
  if (m.ok()) (void)credence::ExtractAuthorDomain(*m);
  return 0;
}
