// The `credence` command is a dispatcher over subcommands. Each subcommand lives in its own
// file and implements Command: it declares its options on a CLI11 subcommand and runs after a
// successful parse. Adding `spf` or `serve` means one new file and one line in main.cc.
#ifndef CREDENCE_PLUGIN_CLI_COMMAND_H_
#define CREDENCE_PLUGIN_CLI_COMMAND_H_

#include <memory>

namespace CLI {
class App;
}

namespace credence::cli {

// Exit codes shared by every subcommand (documented in docs/cli.md).
inline constexpr int kExitOk = 0;          // every input was evaluated, whatever the verdicts
inline constexpr int kExitInputError = 1;  // at least one input could not be read or parsed
inline constexpr int kExitUsage = 2;       // bad option, bad configuration (zone file, --dns)

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand and its options to `parent`; returns the subcommand.
  virtual CLI::App* Register(CLI::App& parent) = 0;
  // Runs after a successful parse when this subcommand was chosen. Returns an exit code.
  // Never throws.
  virtual int Run() = 0;
};

// `credence verify`: DKIM verification of message files (verify_command.cc).
std::unique_ptr<Command> MakeVerifyCommand();

// `credence spf`: one SPF check (spf_command.cc).
std::unique_ptr<Command> MakeSpfCommand();
// `credence serve`: the companion service (serve_command.cc, docs/serve.md).
std::unique_ptr<Command> MakeServeCommand();
// `credence check`: a domain owner's pre-flight of SPF, DKIM and DMARC (check_command.cc,
// docs/check.md).
std::unique_ptr<Command> MakeCheckCommand();
// `credence report`: the parent of the DMARC report subcommands (report_command.cc).
std::unique_ptr<Command> MakeReportCommand();
// `credence report aggregate`: RFC 9990 aggregate reports from the evaluation history
// (report_aggregate_command.cc, docs/reports.md).
std::unique_ptr<Command> MakeReportAggregateCommand();
// `credence config check|template`: the configuration file (config_command.cc).
std::unique_ptr<Command> MakeConfigCommand();
// `credence report read`: summarise the aggregate reports a domain owner receives
// (report_read_command.cc, docs/reports.md).
std::unique_ptr<Command> MakeReportReadCommand();

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_COMMAND_H_
