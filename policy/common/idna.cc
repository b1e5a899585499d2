#include "common/idna.h"

#include <idn2.h>

#include <cstdlib>

#include "credence/message.h"

namespace credence {

Result<std::string> ToALabels(std::string_view domain) {
  bool ascii = true;
  for (char c : domain) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return ToLower(domain);
  if (domain.find('\0') != std::string_view::npos) {
    return Status::Invalid("domain contains a NUL byte");
  }
  const std::string input(domain);
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(input.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK || out == nullptr) {
    std::free(out);
    return Status::Invalid(std::string("not an IDNA2008 domain name: ") + idn2_strerror(rc));
  }
  std::string result = ToLower(out);
  idn2_free(out);
  return result;
}

}  // namespace credence
