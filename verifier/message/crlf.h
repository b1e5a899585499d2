// The copy behind AppendWithCrlf (credence/message.h) in its three forms, so that the tests and
// the fuzz target can hold each one to the rule, whichever this CPU would pick.
#ifndef CREDENCE_MESSAGE_CRLF_H_
#define CREDENCE_MESSAGE_CRLF_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace credence::message_internal {

enum class CrlfCopy {
  kByLine,      // memchr for each LF: any limit
  kBy16,        // SSE2, 16 bytes a step: only when the limit cannot be reached
  kBy32Expand,  // AVX-512 VBMI2, 32 bytes in and up to 64 out a step: the same bound
};

// Whether this build and this CPU can run `copy` (kByLine always can).
bool CrlfCopyAvailable(CrlfCopy copy);
// The form AppendWithCrlf uses when the limit cannot be reached: the widest one available.
CrlfCopy FastestCrlfCopy();
// AppendWithCrlf through `copy`, which must be available. The block forms fall back to
// kByLine when `max_out` could be reached (as AppendWithCrlf does).
bool AppendWithCrlfBy(CrlfCopy copy, std::string_view in, size_t max_out, std::string* out);

}  // namespace credence::message_internal

#endif  // CREDENCE_MESSAGE_CRLF_H_
