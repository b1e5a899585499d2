// RFC 7208 record grammar (§4.5, §4.6, §12), checked by credence before libspf2 compiles a
// record: libspf2 alone accepts many records the RFC calls a permerror, and rejects a few
// valid ones. Pure functions, no DNS, bounded (single left-to-right pass, no recursion).
#ifndef CREDENCE_VERIFIER_SPF_RECORD_H_
#define CREDENCE_VERIFIER_SPF_RECORD_H_

#include <functional>
#include <string>
#include <string_view>

#include "credence/spf_record.h"
#include "credence/status.h"

namespace credence::spf {

// kMaxRecordBytes, IsSpfRecord, CheckSpfRecordSyntax and SplitSpfTerms: credence/spf_record.h.

// RFC 7208 §7.1 macro-string (also used for the exp= explanation text, where the c, r and t
// letters are allowed: `in_exp`). OK or kInvalidInput.
Status CheckMacroString(std::string_view text, bool in_exp);

// RFC 7208 §4.3: is `domain` usable as a check_host() domain (a fully qualified name with at
// least two labels, none empty, none over 63 octets, at most 253 octets in all, not an
// address literal)? A trailing dot is allowed.
bool IsValidCheckDomain(std::string_view domain);

// RFC 7208 §7.3 (and §4.8): the domain-end of an expanded target name must end in a valid
// toplabel (not all-numeric, no leading or trailing '-'). Used after macro expansion.
bool HasValidTopLabel(std::string_view domain);

// What the record rewrite does with one domain-spec: `add(spec, ptr)` keeps it (spec empty:
// the current domain; ptr: a "ptr" mechanism) and returns the marker name libspf2 gets in
// its place (see spf/session.h).
using AddTarget = std::function<std::string(std::string_view spec, bool ptr)>;

// Rewrites a record that CheckSpfRecordSyntax accepted into one libspf2 evaluates the RFC's
// way without expanding any macro or choosing any name itself:
// - every domain-spec (a, mx, exists, include, redirect, exp) becomes the marker `add`
//   returns, and so does the implicit current domain of "a" and "mx";
// - "ptr[:spec]" becomes "exists:" + a ptr marker (credence evaluates ptr, RFC 7208 §5.5);
// - redirect= goes last (§6.1: used only when no mechanism matched) and is dropped when the
//   record has an "all" mechanism (§5.1: then it MUST be ignored);
// - libspf2 reads a zero prefix length as "no prefix" (/32 or /128): "ip4:X/0" becomes
//   "ip4:0.0.0.0/1 ip4:128.0.0.0/1" (likewise ip6), and an "a"/"mx" term whose prefix for the
//   client's family is 0 gets kAnyAddressSuffix (spf/session.h) after its marker, which the
//   DNS layer answers with the client address; a zero prefix for the other family is dropped;
// - unknown modifiers are dropped (§6: ignored; libspf2 rejects some valid names).
std::string RewriteForLibspf2(std::string_view record, bool client_v6, const AddTarget& add);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_RECORD_H_
