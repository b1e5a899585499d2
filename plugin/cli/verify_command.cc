// `credence verify [options] INPUT...`: verifies every message of every input (message files,
// mbox, gzip mbox, maildir, stdin) in parallel with one DNS cache for the run, and prints one
// report per message in input order (text or JSON Lines), a progress line on a terminal and a
// closing summary on stderr.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "archive/runner.h"
#include "command.h"
#include "options.h"
#include "output.h"
#include "report.h"

namespace credence::cli {
namespace {

// Bytes the inputs hold, for the progress ETA; 0 when unknown (stdin, gzip).
uint64_t InputBytes(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (p == "-" || p.ends_with(".gz")) return 0;
    if (fs::is_directory(p, ec)) {
      for (const char* sub : {"/cur", "/new"}) {
        for (const auto& e : fs::directory_iterator(p + sub, ec)) {
          if (e.is_regular_file(ec)) total += e.file_size(ec);
        }
      }
    } else if (fs::is_regular_file(p, ec)) {
      total += fs::file_size(p, ec);
    }
  }
  return total;
}

class VerifyCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "verify",
        "Verify DKIM, SPF and DMARC of each message (files, mbox, maildir, stdin) and print "
        "one report per message");
    app->footer(
        "JSON output (--format json) is one object per message per line: {\"file\", "
        "\"evaluated_at\", \"dkim\": [{result, reason, detail, domain, selector, algorithm, "
        "canonicalization, identity, testing, key_bits, body_length, unsigned_body_bytes, "
        "timestamp, expiration, signed_headers, header_b, header_index}, ...] (header order, "
        "top first), \"spf\": {result, identity, domain, sender, explanation, detail, "
        "dns_queries, limit_reached}, \"spf_helo\", \"dmarc\": {result, domain, org_domain, "
        "record_domain, policy, policy_tag, disposition, testing, from_problem, "
        "temporary_identifier, ...}, \"authentication_results\", \"limits\", \"score\", "
        "\"symbols\": [{name, weight, description}], \"forged_authentication_results\"}, "
        "with --envelope an \"envelope\" and with --compare-authres a \"compare_authres\" "
        "member; or "
        "{\"file\", \"error\"} for an input that could not be read or is empty. Any other "
        "bytes are judged (limits fail closed). docs/cli.md has every field.\n"
        "Exit codes: 0 every input was verified (whatever the verdicts), 1 at least one input "
        "could not be read or was empty, 2 usage or configuration error.");
    AddVerifyOptions(app, &options_);
    return app;
  }

  int Run() override {
    RunnerOptions ro;
    if (Status s = ParseAt(options_.at, &ro.time_mode, &ro.at); !s.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", s.message().c_str());
      return kExitUsage;
    }
    Result<EvaluatorOptions> eo = EvaluatorOptionsOf(options_);
    if (!eo.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", eo.status().message().c_str());
      return kExitUsage;
    }
    SystemClock system_clock;
    const Resolver* recording = nullptr;
    Result<std::unique_ptr<Resolver>> resolver =
        MakeResolver(options_.dns, !options_.record.empty(), system_clock, &recording);
    if (!resolver.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", resolver.status().message().c_str());
      return kExitUsage;
    }
    ro.jobs = options_.jobs;
    ro.source.mbox_format = options_.mbox_format == "mboxo" ? MboxFormat::kMboxo : MboxFormat::kMboxrd;
    ro.source.max_message_bytes = eo->limits.max_message_bytes;
    ro.envelope = Envelope{options_.client_ip, options_.helo, options_.mail_from};
    if (Status s = ParseEnvelope(options_.envelope, &ro); !s.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", s.message().c_str());
      return kExitUsage;
    }
    ro.compare_authres = options_.compare_authres;

    OutputFormat format = FormatOf(options_);
    bool tty = isatty(STDERR_FILENO) == 1;
    // Results written to a terminal would land on the progress line: erase it first.
    bool stdout_tty = isatty(STDOUT_FILENO) == 1;
    Progress progress(tty && !options_.quiet, tty ? InputBytes(options_.files) : 0);
    Summary summary;
    int exit_code = kExitOk;
    auto start = std::chrono::steady_clock::now();

    Runner runner(*eo, ro, **resolver);
    // Formatting runs in the workers; this thread only writes, in input order.
    auto formatter = [format](const ItemResult& r) {
      return format == OutputFormat::kJson ? FormatJsonLine(r) : FormatText(r);
    };
    Status s = runner.Run(
        options_.files,
        [&](ItemResult&& r) {
          if (!r.error.ok()) exit_code = kExitInputError;
          if (stdout_tty || (format == OutputFormat::kText && !r.error.ok())) progress.Hide();
          if (format == OutputFormat::kText && !r.error.ok()) {
            std::fflush(stdout);
            std::fputs(r.output.c_str(), stderr);
          } else {
            std::fwrite(r.output.data(), 1, r.output.size(), stdout);
            if (stdout_tty) std::fflush(stdout);
          }
          summary.Add(r);
          progress.Add(r);
        },
        formatter);
    std::fflush(stdout);
    progress.Finish();
    if (!s.ok()) {
      std::fprintf(stderr, "credence verify: %s\n", s.message().c_str());
      return kExitUsage;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options_.quiet && (options_.summary || summary.messages() > 1)) {
      std::fputs(summary.Format(secs).c_str(), stderr);
    }
    if (recording != nullptr) {
      Result<std::string> zone = RecordedZoneText(*recording);
      std::ofstream out(options_.record, std::ios::binary | std::ios::trunc);
      if (!zone.ok() || !(out << *zone) || !out.flush()) {
        std::fprintf(stderr, "credence verify: --record %s: cannot write the zone file\n",
                     options_.record.c_str());
        return kExitInputError;
      }
    }
    return exit_code;
  }

 private:
  VerifyOptions options_;
};

}  // namespace

std::unique_ptr<Command> MakeVerifyCommand() { return std::make_unique<VerifyCommand>(); }

}  // namespace credence::cli
