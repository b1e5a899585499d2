// RFC 7208 §6.2 explanations and §7 macro expansion, done by credence: libspf2 1.2.10 does
// not expand macros in exp= texts, accepts multi-record and non-ASCII texts, and so on.
#ifndef CREDENCE_VERIFIER_SPF_EXPLAIN_H_
#define CREDENCE_VERIFIER_SPF_EXPLAIN_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "spf/session.h"

namespace credence::spf {

// RFC 7208 §6.2 sets no length for an explanation; the sender's zone chooses the text and
// each macro in it, so credence cuts the expanded explanation at this many bytes (at a UTF-8
// character boundary: macro values such as the local-part may hold UTF-8).
inline constexpr size_t kMaxExplanationBytes = 1024;
// Bytes of macro values one expansion may split and join (a macro that expands to nothing,
// "%{l1.}" with a local-part ending in ".", still reads its whole value). Past it the
// expansion stops where it is. 64 KiB: ~200 macros over a 300-byte address.
inline constexpr size_t kMaxMacroValueBytes = 64u << 10;

// Expands the macro-string `text` (already checked with CheckMacroString(text, in_exp)) for
// the current domain `domain`: at most kMaxExplanationBytes bytes, built no further than that
// (and no further than kMaxMacroValueBytes of macro values). Each macro letter's value is
// computed once per call; %{p} asks the session's Resolver (not counted against the §4.6.4
// limits; RFC 7208 §5.5 validation, "unknown" when nothing validates), so at most once.
std::string ExpandMacros(std::string_view text, std::string_view domain, Session& s,
                         bool in_exp);

// Fetches and expands the exp= text at `name` for current domain `domain`. Returns "" when
// the default explanation applies (no single TXT record, DNS trouble, not 7-bit ASCII, or a
// macro syntax error: RFC 7208 §6.2).
std::string FetchExplanation(const std::string& name, std::string_view domain, Session& s);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_EXPLAIN_H_
