// Output formatting for `credence verify`: JSON Lines (one object per input) and a readable
// text form (one line per input, one line per signature).
#ifndef CREDENCE_PLUGIN_CLI_OUTPUT_H_
#define CREDENCE_PLUGIN_CLI_OUTPUT_H_

#include <optional>
#include <string>
#include <vector>

#include "credence/dkim.h"

namespace credence::cli {

enum class OutputFormat { kText, kJson };

// What `verify` found for one input.
struct MessageReport {
  std::string file;                  // the path as given ("-" for stdin)
  std::optional<std::string> error;  // set when the input could not be read or parsed
  std::vector<DkimResult> dkim;      // in header order, top first; empty when error is set
};

// One JSON object and a trailing newline:
//   {"file":..., "dkim":[{...}, ...]}   or   {"file":..., "error":"..."}
// Invalid UTF-8 in any value is replaced (U+FFFD), never thrown on.
std::string FormatJsonLine(const MessageReport& report);

// Text: "FILE: N DKIM signature(s)" then one indented line per signature; for an error
// "FILE: error: ..." (a single line). Control characters from the message are shown as '?'.
std::string FormatText(const MessageReport& report);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_OUTPUT_H_
