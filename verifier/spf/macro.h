// RFC 7208 §7 macro expansion, done by credence for every macro-string: domain-specs of the
// terms (a mx ptr exists include redirect exp) and explanation texts. libspf2 never expands a
// macro (the record rewrite hands it marker names instead, see spf/session.h). One left-to-right
// pass, each macro letter's value computed once per expansion, bounded work.
#ifndef CREDENCE_VERIFIER_SPF_MACRO_H_
#define CREDENCE_VERIFIER_SPF_MACRO_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "credence/status.h"
#include "spf/session.h"

namespace credence::spf {

// RFC 7208 §6.2 sets no length for an explanation; the sender's zone chooses the text and
// each macro in it, so credence cuts the expanded explanation at this many bytes (at a UTF-8
// character boundary: macro values such as the local-part may hold UTF-8).
inline constexpr size_t kMaxExplanationBytes = 1024;
// Bytes of macro values one expansion may split and join (a macro that expands to nothing,
// "%{l1.}" with a local-part ending in ".", still reads its whole value). Past it an
// explanation stops where it is and a domain-spec is a permerror. 64 KiB: ~200 macros over a
// 300-byte address.
inline constexpr size_t kMaxMacroValueBytes = 64u << 10;
// RFC 7208 §7.3: an expanded domain name longer than this loses labels from the left.
inline constexpr size_t kMaxDomainBytes = 253;

// Expands an explain-string (RFC 7208 §6.2, §7: an exp= text or the default explanation,
// already checked with CheckMacroString(text, true)) for the current domain `domain`: at most
// kMaxExplanationBytes bytes, built no further than that (and no further than
// kMaxMacroValueBytes of macro values). %{p} asks the session's Resolver (within the query
// budget, not counted against the §4.6.4 term limit: the verdict is already known) at most
// once.
std::string ExpandExplanation(std::string_view text, std::string_view domain, Session& s);

// Expands a domain-spec (RFC 7208 §7.1, already checked by CheckSpfRecordSyntax) for a DNS
// question of the term that carries it, with `domain` as %{d}: the trailing dot is dropped
// and a name over kMaxDomainBytes loses labels from the left until it fits (§7.3). %{p}
// counts as one DNS-querying term (§4.6.4) and its PTR query as a void lookup when void.
// OK with `*name` set; kInvalidInput when the expansion passed kMaxMacroValueBytes; an error
// with s.abort set when %{p} passed a limit.
Status ExpandDomainSpec(std::string_view spec, std::string_view domain, Session& s,
                        std::string* name);

// RFC 7208 §5.5: the validated names of the client (PTR names, at most max_ptr_names of them,
// whose A/AAAA records include the client address), lower-cased, in answer order. For the
// "ptr" mechanism and %{p} of a term (`term` true): a void PTR answer counts as a void lookup
// and a spent query budget aborts the check (s.abort); a DNS error on the PTR question gives
// no names, on an address question skips that name. For an explanation's %{p}: nothing is
// counted and nothing aborts.
std::vector<std::string> ValidatedNames(Session& s, bool term);

// True when `name` is `domain` or a name under it (RFC 7208 §5.5; both lower-case, no
// trailing dot).
bool IsSameOrSubdomain(std::string_view name, std::string_view domain);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_MACRO_H_
