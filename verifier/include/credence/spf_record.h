// The SPF record grammar (RFC 7208 §4.5, §4.6, §12) on its own, for tools that read a
// domain's published records without evaluating them (`credence check`). The same functions
// the SPF check uses before libspf2 sees a record (verifier/spf/record.cc). Pure, no DNS,
// linear in the record length.
#ifndef CREDENCE_SPF_RECORD_H_
#define CREDENCE_SPF_RECORD_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "credence/status.h"

namespace credence::spf {

// Records longer than this are refused (a TXT answer cannot be longer than 64 KiB anyway).
inline constexpr size_t kMaxRecordBytes = 16384;

// RFC 7208 §4.5: a TXT record is an SPF record when it is exactly "v=spf1" or starts with
// "v=spf1 " (version tag compared case-insensitively).
bool IsSpfRecord(std::string_view txt);

// Checks `record` (which IsSpfRecord accepted) against the RFC 7208 §12 ABNF plus the §6
// rule that redirect= and exp= appear at most once. OK, or kInvalidInput with a message that
// names the offending term ("unknown mechanism in term 'ip4:192.0.2.1include:x.example'").
// Never throws; linear in the record length.
Status CheckSpfRecordSyntax(std::string_view record);

// One term of a record as written (RFC 7208 §4.6.1: terms are separated by spaces), split
// into its parts. Views into the record text.
struct SpfTerm {
  std::string_view text;       // the whole term
  bool modifier = false;       // name=value (RFC 7208 §6); else a directive
  char qualifier = '\0';       // '+', '-', '~' or '?' when written; '\0' (means '+') if not
  std::string_view name;       // the mechanism or modifier name as written ("include", "mx")
  std::string_view value;      // after ':' (mechanisms) or '=' (modifiers); "" when none
  std::string_view cidr;       // a and mx only: the "/N", "//N" or "/N//M" suffix; "" if none
};

// The terms of `record` after "v=spf1", in order. A term that does not parse as a
// mechanism keeps its text and whatever name its leading letters and digits give; run
// CheckSpfRecordSyntax for errors. At most kMaxRecordBytes of the record are read.
std::vector<SpfTerm> SplitSpfTerms(std::string_view record);

}  // namespace credence::spf

#endif  // CREDENCE_SPF_RECORD_H_
