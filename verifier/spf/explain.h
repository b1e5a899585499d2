// RFC 7208 §6.2 explanations and §7 macro expansion, done by credence: libspf2 1.2.10 does
// not expand macros in exp= texts, accepts multi-record and non-ASCII texts, and so on.
#ifndef CREDENCE_VERIFIER_SPF_EXPLAIN_H_
#define CREDENCE_VERIFIER_SPF_EXPLAIN_H_

#include <string>
#include <string_view>

#include "spf/session.h"

namespace credence::spf {

// Expands the macro-string `text` (already checked with CheckMacroString(text, in_exp)) for
// the current domain `domain`. %{p} asks the session's Resolver (not counted against the
// §4.6.4 limits; RFC 7208 §5.5 validation, "unknown" when nothing validates).
std::string ExpandMacros(std::string_view text, std::string_view domain, Session& s,
                         bool in_exp);

// Fetches and expands the exp= text at `name` for current domain `domain`. Returns "" when
// the default explanation applies (no single TXT record, DNS trouble, not 7-bit ASCII, or a
// macro syntax error: RFC 7208 §6.2).
std::string FetchExplanation(const std::string& name, std::string_view domain, Session& s);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_EXPLAIN_H_
