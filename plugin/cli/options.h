// Option parsing and configuration shared by `credence verify` and `credence spf`: what the
// user typed, checked, and turned into the objects the engine needs (resolver, clock,
// evaluator options).
#ifndef CREDENCE_PLUGIN_CLI_OPTIONS_H_
#define CREDENCE_PLUGIN_CLI_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "archive/runner.h"
#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/policy/evaluate.h"
#include "credence/status.h"
#include "output.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace credence::cli {

// How DNS is answered: c-ares towards --dns, or zone files (--zone), optionally recorded.
struct DnsFlags {
  std::string dns;                   // --dns HOST[:PORT]; "" = the system's (/etc/resolv.conf)
  int64_t dns_timeout_ms = kDefaultDnsTimeout.count();  // --dns-timeout MS, per try
  std::vector<std::string> zones;    // --zone FILE (repeatable): no network at all
};

struct VerifyOptions {
  std::vector<std::string> files;  // FILE... ("-" is stdin); at least one
  DnsFlags dns;
  std::string format = "text";  // --format text|json
  std::string at;               // --at UNIXTIME | YYYY-MM-DD[THH:MM:SS[Z]] | received
  size_t max_signatures = 0;    // --max-signatures N (only when given)
  // Envelope (issue: SPF is evaluated only with a client IP).
  std::string client_ip, helo, mail_from;
  std::string envelope;     // --envelope received[=HOST]: each message's own, from Received
  bool compare_authres = false;  // --compare-authres: our recorded A-R vs today's verdict
  std::string authserv_id;  // --authserv-id (overrides the config file)
  std::string config;       // --config FILE (TOML)
  size_t jobs = 0;          // --jobs N (0 = number of cores)
  std::string record;       // --record FILE: write every DNS answer used as a zone file
  std::string mbox_format = "mboxrd";  // --mbox-format mboxrd|mboxo|cl
  bool maildir_subfolders = false;     // --maildir-subfolders: read Maildir++ .Folder/ too
  std::string only;                    // --only failing: print only failing messages
  std::vector<std::string> domains;    // --domain D (repeatable): print only D's messages
  bool quiet = false;       // --quiet: no progress bar, no summary
  bool summary = false;     // --summary: print the summary even for one message
  bool history = false;     // --history: append each DMARC evaluation to the [history] store
  std::string output;       // --output FILE: the reports go there instead of stdout
  std::string resume;       // --resume STATE: go on with an interrupted run (plugin/cli/resume.h)

  // Filled by AddVerifyOptions so the run can tell "given" from "default".
  CLI::Option* max_signatures_option = nullptr;
};

// The configuration file read when no --config is given: SYSCONFDIR/credence/credence.toml
// (/etc/credence/credence.toml from the Debian package, /usr/local/etc/... from a source
// install).
std::string DefaultConfigPath();
// The configuration file in force for a --config value: `given` when set ("none": no file,
// ""), else DefaultConfigPath() when that file exists, else "" (the built-in defaults).
std::string ConfigPathOf(const std::string& given);

// Declares --dns-timeout MS (per try; default 2000, 1..max_ms) on `app`, bound to `ms`.
void AddDnsTimeoutOption(CLI::App* app, int64_t* ms, int64_t max_ms = kMaxDnsTimeoutMilliseconds);
// Declares the DNS options (--dns, --dns-timeout, --zone) on `app`.
void AddDnsOptions(CLI::App* app, DnsFlags* flags);
// CLI11 checks (an empty string: good; else the error): an IPv4 or IPv6 address (a client IP),
// and a --dns value that is not empty (an unset shell variable would otherwise fall back to
// the system's resolvers without a word).
std::string CheckIpAddress(const std::string& value);
std::string CheckDnsServerGiven(const std::string& value);
// Declares every `verify` option on `app`, bound to `options` (which must outlive parsing).
void AddVerifyOptions(CLI::App* app, VerifyOptions* options);

OutputFormat FormatOf(const VerifyOptions& options);

// Reads --envelope into the runner options: "" (the fixed envelope of --client-ip, --helo,
// --mail-from), "received" or "received=HOST". kInvalidInput otherwise.
Status ParseEnvelope(const std::string& envelope, RunnerOptions* runner);

// Parses --at: seconds since the epoch, an ISO 8601 UTC date or date-time
// ("2025-03-01", "2025-03-01T12:00:00Z"), or "received".
Status ParseAt(const std::string& at, TimeMode* mode, int64_t* when);

// The evaluator options: the --config file (if any), then the flags on top. Errors are
// configuration errors (the config loader's "FILE:LINE:COL: message", a bad authserv-id).
Result<EvaluatorOptions> EvaluatorOptionsOf(const VerifyOptions& options);

// A ZoneResolver over every file in `paths`; errors name the file ("--zone FILE: FILE:LINE: what").
Result<std::unique_ptr<Resolver>> LoadZoneFiles(const std::vector<std::string>& paths);
// c-ares options for --dns SPEC and --dns-timeout MS; errors name the spec.
Result<AresOptions> AresOptionsFor(const std::string& spec, int64_t timeout_ms);

// The DNS stack for a whole run: [recording] → c-ares or zone files, a TTL cache in front,
// serialized so workers can share it. Zone files alone (no recording) are shared as they
// are: they answer from memory and are thread-safe. `recording` (optional) receives the
// recording layer so the caller can write it out. Errors: a zone file's "FILE:LINE: what", a bad --dns spec.
Result<std::unique_ptr<Resolver>> MakeResolver(const DnsFlags& flags, bool record,
                                               const Clock& cache_clock,
                                               const Resolver** recording);

// The per-message deadline leaves room for c-ares' tries of --dns-timeout each.
std::chrono::milliseconds DeadlineFor(const DnsFlags& flags, std::chrono::milliseconds base);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_OPTIONS_H_
