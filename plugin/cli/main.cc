// `credence`: the command-line host. main() only dispatches to subcommands (command.h);
// each subcommand owns its options and its run function in its own file.
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"

#ifndef CREDENCE_VERSION
#define CREDENCE_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using credence::cli::Command;
#ifdef __GLIBC__
  // Verifying a stream of messages frees and allocates the same few megabytes over and over.
  // glibc's defaults hand the top of the heap back to the kernel and map large blocks afresh
  // each time, which costs page faults per message: on 20,000 10 KB messages, --jobs 1, 21,600
  // faults and 1.94 s CPU with the defaults, 1,520 faults and 1.12 s with these. The process
  // keeps up to 64 MiB of freed heap (the archive runner's peak stays far below; a 1 GB mbox
  // still peaks under 64 MB RSS, docs/performance.md). Only this program: the library, the
  // Exim module and libcredence never change their host's allocator settings.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
  CLI::App app{"credence: inbound mail authentication verifier (DKIM, SPF, DMARC, Authentication-Results)",
               "credence"};
  app.set_version_flag("--version", "credence " CREDENCE_VERSION);
  app.require_subcommand(1);
  app.footer("Exit codes: 0 every input was evaluated (whatever the verdicts), 1 at least one "
             "input could not be read or parsed, 2 usage or configuration error.\n"
             "Run `credence SUBCOMMAND --help` for a subcommand's options. See docs/cli.md.");

  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(credence::cli::MakeVerifyCommand());
  commands.push_back(credence::cli::MakeSpfCommand());
  commands.push_back(credence::cli::MakeServeCommand());
  commands.push_back(credence::cli::MakeCheckCommand());
  commands.push_back(credence::cli::MakeReportCommand());
  std::vector<CLI::App*> subs;
  for (auto& c : commands) subs.push_back(c->Register(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return credence::cli::kExitUsage;
  }

  for (size_t i = 0; i < commands.size(); ++i) {
    if (subs[i]->parsed()) {
      try {
        return commands[i]->Run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "credence: internal error: %s\n", e.what());
        return credence::cli::kExitInputError;
      }
    }
  }
  std::fputs(app.help().c_str(), stderr);
  return credence::cli::kExitUsage;
}
