// RFC 7208 record grammar (§4.5, §4.6, §12), checked by credence before libspf2 compiles a
// record: libspf2 alone accepts many records the RFC calls a permerror, and rejects a few
// valid ones. Pure functions, no DNS, bounded (single left-to-right pass, no recursion).
#ifndef CREDENCE_VERIFIER_SPF_RECORD_H_
#define CREDENCE_VERIFIER_SPF_RECORD_H_

#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence::spf {

// Records longer than this are refused (a TXT answer cannot be longer than 64 KiB anyway).
inline constexpr size_t kMaxRecordBytes = 16384;

// RFC 7208 §4.5: a TXT record is an SPF record when it is exactly "v=spf1" or starts with
// "v=spf1 " (version tag compared case-insensitively).
bool IsSpfRecord(std::string_view txt);

// Checks `record` (which IsSpfRecord accepted) against the RFC 7208 §12 ABNF plus the §6
// rule that redirect= and exp= appear at most once. OK, or kInvalidInput with a message that
// names the offending term. Never throws; linear in the record length.
Status CheckSpfRecordSyntax(std::string_view record);

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

// Rewrites a record that CheckSpfRecordSyntax accepted into an equivalent one libspf2 reads
// right: libspf2 treats a zero prefix length as "no prefix" (/32 or /128). "ip4:X/0" becomes
// "ip4:0.0.0.0/1 ip4:128.0.0.0/1" (likewise ip6), and an "a"/"mx" term whose prefix for the
// client's family is 0 gets kAnyAddressSuffix (spf/session.h) appended to its target, which
// the DNS layer answers with the client address. Other terms are copied unchanged.
std::string RewriteForLibspf2(std::string_view record, bool client_v6);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_RECORD_H_
