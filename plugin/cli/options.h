// Option parsing and configuration for `credence verify`: what the user typed, checked, and
// turned into the objects the verifier needs (resolver, clock, DKIM options).
#ifndef CREDENCE_PLUGIN_CLI_OPTIONS_H_
#define CREDENCE_PLUGIN_CLI_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "credence/clock.h"
#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/status.h"
#include "output.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace credence::cli {

struct VerifyOptions {
  std::vector<std::string> files;    // FILE... ("-" is stdin); at least one
  std::string dns = "127.0.0.1:53";  // --dns HOST[:PORT]
  int64_t dns_timeout_ms = 2000;     // --dns-timeout MS, per try
  std::vector<std::string> zones;    // --zone FILE (repeatable): no network at all
  std::string format = "text";       // --format text|json
  int64_t at = 0;                    // --at UNIXTIME (only when at_set)
  bool at_set = false;
  size_t max_signatures = 0;  // --max-signatures N (only when max_signatures_set)
  bool max_signatures_set = false;

  // Filled by AddVerifyOptions so the run can tell "given" from "default".
  CLI::Option* at_option = nullptr;
  CLI::Option* max_signatures_option = nullptr;
};

// Declares every `verify` option on `app`, bound to `options` (which must outlive parsing).
void AddVerifyOptions(CLI::App* app, VerifyOptions* options);

// After parsing: copies the "was it given" flags out of the CLI11 options.
void FinishVerifyOptions(VerifyOptions* options);

OutputFormat FormatOf(const VerifyOptions& options);

// The DKIM options the flags ask for (Limits defaults otherwise).
DkimOptions DkimOptionsOf(const VerifyOptions& options);

// The clock x= and t= are judged against: FixedClock(--at) or the system clock.
std::unique_ptr<Clock> ClockOf(const VerifyOptions& options);

// One resolver for the whole run: a ZoneResolver over every --zone file, or c-ares towards
// --dns, wrapped in a TTL cache (which judges TTLs by `cache_clock`). Errors are
// configuration errors: a zone file's "FILE:LINE: what", a bad --dns spec.
Result<std::unique_ptr<Resolver>> MakeResolver(const VerifyOptions& options,
                                               const Clock& cache_clock);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_OPTIONS_H_
