// RFC 7208 §6.2 explanations: the exp= TXT record is fetched and expanded by credence
// (spf/macro.h), and libspf2 is handed a marker (spf/session.h).
#ifndef CREDENCE_VERIFIER_SPF_EXPLAIN_H_
#define CREDENCE_VERIFIER_SPF_EXPLAIN_H_

#include <string>
#include <string_view>

#include "spf/macro.h"
#include "spf/session.h"

namespace credence::spf {

// Fetches and expands the exp= text at `name` for current domain `domain`. Returns "" when
// the default explanation applies (no single TXT record, DNS trouble, not 7-bit ASCII, or a
// macro syntax error: RFC 7208 §6.2). At most kMaxExplanationBytes bytes.
std::string FetchExplanation(const std::string& name, std::string_view domain, Session& s);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_EXPLAIN_H_
