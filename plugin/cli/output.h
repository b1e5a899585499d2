// Output formatting for `credence verify`: JSON Lines (one object per message) and a readable
// text form.
#ifndef CREDENCE_PLUGIN_CLI_OUTPUT_H_
#define CREDENCE_PLUGIN_CLI_OUTPUT_H_

#include <string>

#include "archive/runner.h"

namespace credence::cli {

enum class OutputFormat { kText, kJson };

// One JSON object and a trailing newline:
//   {"file":..., "evaluated_at":..., "dkim":[...], "spf":{...}, "spf_helo":{...},
//    "dmarc":{...}, "authentication_results":"...", "score":..., "symbols":[...],
//    "forged_authentication_results":[...]}, plus "envelope" (--envelope received) and
//    "compare_authres" (--compare-authres) when the run asked for them
// or {"file":..., "error":"..."}. Invalid UTF-8 in any value is replaced (U+FFFD), never
// thrown on.
std::string FormatJsonLine(const ItemResult& result);

// Text: "FILE: N DKIM signature(s)" then one indented line per signature, then SPF, DMARC,
// score and the Authentication-Results line (with --envelope an "envelope" line after SPF,
// with --compare-authres a "recorded" line last); for an error "FILE: error: ..." (one line).
// Control characters from the message are shown as '?'.
std::string FormatText(const ItemResult& result);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_OUTPUT_H_
