#include "options.h"

#include <chrono>
#include <utility>

#include <CLI/CLI.hpp>

namespace credence::cli {

void AddVerifyOptions(CLI::App* app, VerifyOptions* o) {
  app->add_option("FILE", o->files,
                  "Message files to verify (RFC 5322, CRLF or LF line ends); '-' reads stdin")
      ->required();
  CLI::Option* dns =
      app->add_option("--dns", o->dns,
                      "DNS server to ask for keys, HOST[:PORT] or [V6]:PORT (an address, not a "
                      "name)")
          ->default_val("127.0.0.1:53")
          ->type_name("HOST[:PORT]");
  app->add_option("--dns-timeout", o->dns_timeout_ms, "DNS timeout per try, in milliseconds")
      ->default_val(2000)
      ->check(CLI::Range(int64_t{1}, int64_t{600000}))
      ->type_name("MS");
  app->add_option("--zone", o->zones,
                  "Answer every DNS question from this BIND-style zone file, no network "
                  "(repeatable; excludes --dns)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->excludes(dns);
  app->add_option("--format", o->format, "Output: 'text' (readable) or 'json' (JSON Lines)")
      ->default_val("text")
      ->check(CLI::IsMember({"text", "json"}));
  o->at_option = app->add_option("--at", o->at,
                                 "Judge signature t= and x= as if now were UNIXTIME "
                                 "(seconds since the epoch)")
                     ->check(CLI::NonNegativeNumber)
                     ->type_name("UNIXTIME");
  o->max_signatures_option =
      app->add_option("--max-signatures", o->max_signatures,
                      "DKIM-Signature fields evaluated per message, top first; later ones are "
                      "permerror/not_evaluated (default 16)")
          ->check(CLI::Range(size_t{1}, size_t{1000}))
          ->type_name("N");
}

void FinishVerifyOptions(VerifyOptions* o) {
  o->at_set = o->at_option != nullptr && o->at_option->count() > 0;
  o->max_signatures_set = o->max_signatures_option != nullptr &&
                          o->max_signatures_option->count() > 0;
}

OutputFormat FormatOf(const VerifyOptions& o) {
  return o.format == "json" ? OutputFormat::kJson : OutputFormat::kText;
}

DkimOptions DkimOptionsOf(const VerifyOptions& o) {
  DkimOptions d;
  if (o.max_signatures_set) d.limits.max_dkim_signatures = o.max_signatures;
  // The per-message deadline must leave room for c-ares' two tries of --dns-timeout each.
  auto dns_budget = std::chrono::milliseconds(2 * o.dns_timeout_ms + 1000);
  if (d.limits.deadline < dns_budget) d.limits.deadline = dns_budget;
  return d;
}

std::unique_ptr<Clock> ClockOf(const VerifyOptions& o) {
  if (o.at_set) return std::make_unique<FixedClock>(o.at);
  return std::make_unique<SystemClock>();
}

Result<std::unique_ptr<Resolver>> MakeResolver(const VerifyOptions& o, const Clock& cache_clock) {
  std::unique_ptr<Resolver> inner;
  if (!o.zones.empty()) {
    auto zone = std::make_unique<ZoneResolver>();
    for (const std::string& path : o.zones) {
      Status s = zone->AddZoneFile(path);
      if (!s.ok()) return Status(s.code(), "--zone " + path + ": " + s.message());
    }
    inner = std::move(zone);
  } else {
    AresOptions ares;
    ares.timeout = std::chrono::milliseconds(o.dns_timeout_ms);
    Status s = ParseDnsServer(o.dns, &ares);
    if (!s.ok()) return Status(s.code(), "--dns " + o.dns + ": " + s.message());
    Result<std::unique_ptr<Resolver>> r = MakeAresResolver(ares);
    if (!r.ok()) return Status(r.status().code(), "--dns " + o.dns + ": " + r.status().message());
    inner = std::move(r).value();
  }
  return MakeCachingResolver(std::move(inner), cache_clock);
}

}  // namespace credence::cli
