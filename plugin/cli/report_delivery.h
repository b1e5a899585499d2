// How `credence report aggregate` hands a report on: to the local MTA's sendmail interface,
// or to a file in a directory.
#ifndef CREDENCE_PLUGIN_CLI_REPORT_DELIVERY_H_
#define CREDENCE_PLUGIN_CLI_REPORT_DELIVERY_H_

#include <chrono>
#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence::cli {

// Runs `sendmail -oi -f FROM -- TO` (no shell) with `message` on its standard input (CRLF
// line ends turned into LF, as the sendmail interface expects). kIoError when it cannot be
// started, exits non-zero (its exit code and stderr's first line in the message) or does not
// finish within `timeout` (it is then killed).
Status SendWithSendmail(const std::string& sendmail, const std::string& from, const std::string& to,
                        std::string_view message, std::chrono::milliseconds timeout);

// Writes `data` to DIR/NAME through a temporary file renamed into place (a reader never sees
// half a report). kIoError with the reason otherwise.
Status WriteFileAtomically(const std::string& dir, const std::string& name, std::string_view data);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_REPORT_DELIVERY_H_
