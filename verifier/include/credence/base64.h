// RFC 4648 §4 base64, the one decoder (verifier/dkim/tag_list.cc) for the layers above the
// verifier too (RFC 2047 "B" encoded-words in a From display name).
#ifndef CREDENCE_BASE64_H_
#define CREDENCE_BASE64_H_

#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence {

// The bytes `text` encodes; white space is skipped. kInvalidInput for a character outside
// the alphabet, misplaced or excess "=" padding, or a length that is not a multiple of 4.
Result<std::string> DecodeBase64(std::string_view text);

}  // namespace credence

#endif  // CREDENCE_BASE64_H_
