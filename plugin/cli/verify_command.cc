// `credence verify [options] FILE...`: reads each message, verifies every DKIM-Signature
// against one resolver shared by the whole run, and prints one report per input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "command.h"
#include "credence/dkim.h"
#include "credence/message.h"
#include "options.h"
#include "output.h"

namespace credence::cli {
namespace {

// Reads all of `fd`, at most `max_bytes` (more is an error: the message is over the limit).
Result<std::string> ReadAll(int fd, size_t max_bytes) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(std::strerror(errno));
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes)
      return Status::TooLarge("larger than " + std::to_string(max_bytes) + " bytes");
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

Result<std::string> ReadInput(const std::string& path, size_t max_bytes, bool* stdin_used) {
  if (path == "-") {
    if (*stdin_used) return Status::Invalid("standard input was already read");
    *stdin_used = true;
    return ReadAll(STDIN_FILENO, max_bytes);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::IoError("is a directory");
  }
  Result<std::string> r = ReadAll(fd, max_bytes);
  ::close(fd);
  return r;
}

class VerifyCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "verify",
        "Verify every DKIM-Signature of each message file and print one report per file");
    app->footer(
        "JSON output (--format json) is one object per input per line: {\"file\", \"dkim\": "
        "[{result, reason, detail, domain, selector, algorithm, canonicalization, identity, "
        "testing, key_bits, body_length, unsigned_body_bytes, timestamp, expiration, "
        "signed_headers, header_b, header_index}, ...]} in header order, top first; or "
        "{\"file\", \"error\"} for an input that could not be read or parsed.\n"
        "Exit codes: 0 every input was verified (whatever the verdicts), 1 at least one input "
        "could not be read or parsed, 2 usage or configuration error.");
    AddVerifyOptions(app, &options_);
    return app;
  }

  int Run() override {
    FinishVerifyOptions(&options_);
    SystemClock system_clock;
    Result<std::unique_ptr<Resolver>> resolver = MakeResolver(options_, system_clock);
    if (!resolver.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", resolver.status().message().c_str());
      return kExitUsage;
    }
    std::unique_ptr<Clock> clock = ClockOf(options_);
    DkimOptions dkim_options = DkimOptionsOf(options_);
    DkimVerifier verifier(*clock, dkim_options);
    OutputFormat format = FormatOf(options_);

    int exit_code = kExitOk;
    bool stdin_used = false;
    for (const std::string& path : options_.files) {
      MessageReport report;
      report.file = path;
      Result<std::string> bytes =
          ReadInput(path, dkim_options.limits.max_message_bytes, &stdin_used);
      if (!bytes.ok()) {
        report.error = "cannot read: " + bytes.status().message();
      } else {
        Result<Message> message = Message::Parse(*bytes, dkim_options.limits);
        if (!message.ok()) {
          report.error = "not a message: " + message.status().message();
        } else {
          report.dkim = verifier.Verify(*message, **resolver);
        }
      }
      if (report.error) exit_code = kExitInputError;
      if (format == OutputFormat::kJson) {
        std::fputs(FormatJsonLine(report).c_str(), stdout);
      } else if (report.error) {
        std::fflush(stdout);
        std::fputs(FormatText(report).c_str(), stderr);
      } else {
        std::fputs(FormatText(report).c_str(), stdout);
      }
      std::fflush(stdout);
    }
    return exit_code;
  }

 private:
  VerifyOptions options_;
};

}  // namespace

std::unique_ptr<Command> MakeVerifyCommand() { return std::make_unique<VerifyCommand>(); }

}  // namespace credence::cli
