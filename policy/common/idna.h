// IDNA2008 (libidn2): the ONLY file pair that includes <idn2.h>. RFC 8616 §6 / RFC 9989: a
// From domain written with U-labels (EAI mail, RFC 6532) is looked up and aligned as A-labels.
#ifndef CREDENCE_POLICY_COMMON_IDNA_H_
#define CREDENCE_POLICY_COMMON_IDNA_H_

#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence {

// The A-label form of `domain` (UTF-8), lower-cased: ASCII names are only lower-cased; names
// with UTF-8 are converted per IDNA2008 with UTS #46 non-transitional mapping (what browsers
// and libidn2's idn2 tool do: "Bücher.example" -> "xn--bcher-kva.example"). kInvalidInput,
// with libidn2's reason, for bytes that are not UTF-8 or labels IDNA2008 refuses.
Result<std::string> ToALabels(std::string_view domain);

}  // namespace credence

#endif  // CREDENCE_POLICY_COMMON_IDNA_H_
