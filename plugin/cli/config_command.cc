// `credence config check [FILE]`: validates a configuration file and prints the configuration
// in force, as TOML that credence reads back (FormatConfig, kEffective).
// `credence config template`: the commented file shipped as /etc/credence/credence.toml
// (every key with its built-in default), so the packaged file is generated, not written.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "command.h"
#include "credence/dns.h"
#include "credence/policy/config.h"
#include "credence/policy/config_format.h"
#include "options.h"

namespace credence::cli {
namespace {

class ConfigCommand : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "config", "Check the configuration file, or print the commented default one");
    app->require_subcommand(1);
    app->footer("Exit codes: 0 the file is valid (or the template was printed), 2 it is not, or "
                "cannot be read, or usage.");
    check_ = app->add_subcommand(
        "check",
        "Validate FILE (default " + DefaultConfigPath() +
            ") and print the configuration in force as TOML; errors name FILE:LINE:COL and "
            "the key, exit 2");
    check_->add_option("FILE", file_, "The configuration file to check")->type_name("FILE");
    check_->add_flag("--quiet,-q", quiet_, "Print nothing when the file is valid");
    check_->footer("Exit codes: 0 the file is valid, 2 it is not (or cannot be read: missing, "
                   "a directory, a FIFO, over 16 MiB), 2 usage.");
    template_ = app->add_subcommand(
        "template",
        "Print the commented configuration file with every key at its built-in default (what "
        "the Debian package installs as /etc/credence/credence.toml; this build reads " +
            DefaultConfigPath() + ")");
    template_->footer("Exit codes: 0 printed, 2 usage.");
    return app;
  }

  int Run() override {
    if (template_->parsed()) {
      std::fputs(FormatConfig(Config(), ConfigStyle::kTemplate).c_str(), stdout);
      return kExitOk;
    }
    std::string path = file_.empty() ? DefaultConfigPath() : file_;
    Result<Config> config = LoadConfigFile(path);
    if (!config.ok()) {
      std::fprintf(stderr, "credence config check: %s\n", config.status().message().c_str());
      return kExitUsage;
    }
    if (quiet_) return kExitOk;
    std::printf("# %s: valid. The configuration in force:\n", path.c_str());
    // DNS is not a key of the file: say where questions go without the command-line
    // options (--dns, Exim's dns=), without asking anything.
    Result<std::string> servers = DnsServersOf(AresOptions());
    std::printf("# DNS without --dns: the system's resolvers, %s (/etc/resolv.conf)\n",
                servers.ok() ? servers->c_str() : servers.status().message().c_str());
    std::fputs(FormatConfig(*config, ConfigStyle::kEffective).c_str(), stdout);
    return kExitOk;
  }

 private:
  CLI::App* check_ = nullptr;
  CLI::App* template_ = nullptr;
  std::string file_;
  bool quiet_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeConfigCommand() { return std::make_unique<ConfigCommand>(); }

}  // namespace credence::cli
