#include "options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <utility>

#include <CLI/CLI.hpp>

#include "credence/policy/config.h"

#ifndef CREDENCE_DEFAULT_CONFIG
#define CREDENCE_DEFAULT_CONFIG "/etc/credence/credence.toml"
#endif

namespace credence::cli {

std::string DefaultConfigPath() { return CREDENCE_DEFAULT_CONFIG; }

std::string ConfigPathOf(const std::string& given) {
  if (given == "none") return "";
  if (!given.empty()) return given;
  std::error_code ec;
  return std::filesystem::exists(DefaultConfigPath(), ec) ? DefaultConfigPath() : "";
}

void AddDnsTimeoutOption(CLI::App* app, int64_t* ms, int64_t max_ms) {
  app->add_option("--dns-timeout", *ms, "DNS timeout per try, in milliseconds")
      ->default_val(kDefaultDnsTimeout.count())
      ->check(CLI::Range(int64_t{1}, max_ms))
      ->type_name("MS");
}

std::string CheckIpAddress(const std::string& value) {
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(AF_INET, value.c_str(), addr) == 1 || inet_pton(AF_INET6, value.c_str(), addr) == 1) {
    return "";
  }
  return "'" + value + "' is not an IPv4 or IPv6 address";
}

std::string CheckDnsServerGiven(const std::string& value) {
  return value.empty() ? "an empty value names no server (leave --dns out for the system's "
                         "resolvers)"
                       : "";
}

void AddDnsOptions(CLI::App* app, DnsFlags* f) {
  CLI::Option* dns =
      app->add_option("--dns", f->dns,
                      "DNS server to ask, HOST[:PORT] or [V6]:PORT (an address, not a name; "
                      "default: the system's resolvers, the nameserver lines of "
                      "/etc/resolv.conf)")
          ->type_name("HOST[:PORT]")
          ->check(CheckDnsServerGiven);
  AddDnsTimeoutOption(app, &f->dns_timeout_ms);
  app->add_option("--zone", f->zones,
                  "Answer every DNS question from this BIND-style zone file, no network "
                  "(repeatable; excludes --dns)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->excludes(dns);
}

namespace {

// `credence verify --help` lists its options in these groups, in this order.
void AddInputOptions(CLI::App* app, VerifyOptions* o) {
  app->add_option("FILE", o->files,
                  "Inputs: message files (CRLF or LF), mbox files (mboxrd/mboxo, gzip too), "
                  "maildir folders (cur/ and new/, or a maildir's cur/ or new/ alone); '-' "
                  "reads stdin (once)")
      ->required();
  app->add_option("--mbox-format", o->mbox_format,
                  "How mbox files are split and '>From ' lines unquoted: mboxrd (default), "
                  "mboxo, or cl (each message's Content-Length, no unquoting: mutt's mbox; "
                  "docs/archive.md)")
      ->check(CLI::IsMember({"mboxrd", "mboxo", "cl"}))
      ->group("Input");
  app->add_flag("--maildir-subfolders", o->maildir_subfolders,
                "Read a maildir's Maildir++ subfolders (.Archive/, .Sent/, ...) after its own "
                "messages (default: each is named on stderr as not read)")
      ->group("Input");
  app->add_option("--jobs,-j", o->jobs, "Parallel workers (default: the number of cores)")
      ->check(CLI::Range(size_t{1}, size_t{256}))
      ->type_name("N")
      ->group("Input");
  app->add_option("--resume", o->resume,
                  "Record the run's progress in STATE; when STATE exists, go on where the run "
                  "that wrote it stopped (same inputs and options; output to --output FILE or "
                  "stdout appended to a file with >>), so the output equals one uninterrupted "
                  "run (docs/archive.md)")
      ->type_name("STATE")
      ->group("Input");
}

void AddVerifyDnsOptions(CLI::App* app, VerifyOptions* o) {
  AddDnsOptions(app, &o->dns);
  app->add_option("--record", o->record,
                  "Write every DNS answer used to FILE as a zone file; replay it with --zone")
      ->type_name("FILE");
  for (const char* name : {"--dns", "--dns-timeout", "--zone", "--record"}) {
    app->get_option(name)->group("DNS");
  }
}

void AddEnvelopeOptions(CLI::App* app, VerifyOptions* o) {
  CLI::Option* client_ip =
      app->add_option("--client-ip", o->client_ip,
                      "SMTP client IP address; without it SPF is not evaluated (result none)")
          ->type_name("IP")
          ->check(CheckIpAddress)
          ->group("Envelope");
  CLI::Option* helo = app->add_option("--helo", o->helo, "HELO/EHLO name given by the client")
                          ->type_name("NAME")
                          ->group("Envelope");
  CLI::Option* mail_from =
      app->add_option("--mail-from", o->mail_from,
                      "SMTP MAIL FROM address without <> (empty: null sender, SPF checks "
                      "postmaster@HELO)")
          ->type_name("ADDR")
          ->group("Envelope");
  app->add_option("--envelope", o->envelope,
                  "Each message's own envelope, as received: client IP and HELO from its "
                  "topmost Received field (which must be written by HOST when given), MAIL "
                  "FROM from that field's envelope-from or a Return-Path above it. Only that "
                  "one field is trusted (docs/archive.md)")
      ->type_name("received[=HOST]")
      ->check([](const std::string& v) -> std::string {
        RunnerOptions r;
        Status s = ParseEnvelope(v, &r);
        return s.ok() ? "" : s.message();
      })
      ->excludes(client_ip)
      ->excludes(helo)
      ->excludes(mail_from)
      ->group("Envelope");
}

void AddJudgementOptions(CLI::App* app, VerifyOptions* o) {
  app->add_option("--at", o->at,
                  "Judge signature t= and x= at this time: UNIXTIME, YYYY-MM-DD[THH:MM:SS[Z]] "
                  "(UTC), or 'received' (the date of each message's top Received field)")
      ->type_name("TIME")
      ->group("Judgement");
  o->max_signatures_option =
      app->add_option("--max-signatures", o->max_signatures,
                      "DKIM-Signature fields evaluated per message, the From domain's first, "
                      "then top first; the rest are permerror/not_evaluated and add "
                      "CREDENCE_LIMIT (default 16)")
          ->check(CLI::Range(size_t{1}, size_t{1000}))
          ->type_name("N")
          ->group("Judgement");
  app->add_option("--config", o->config,
                  "TOML configuration file (weights, limits, DMARC method, site rules; "
                  "docs/configuration.md); default " CREDENCE_DEFAULT_CONFIG " when it "
                  "exists; 'none': the built-in defaults")
      ->type_name("FILE")
      ->group("Judgement");
  app->add_option("--authserv-id", o->authserv_id,
                  "authserv-id of the Authentication-Results header (default: the config "
                  "file's, else 'localhost')")
      ->type_name("ID")
      ->group("Judgement");
  app->add_flag("--compare-authres", o->compare_authres,
                "Take our own Authentication-Results field (the --authserv-id's) above the "
                "topmost Received field as the verdict recorded at delivery, show where "
                "today's verdict differs, and do not list it as forged")
      ->group("Judgement");
}

void AddOutputOptions(CLI::App* app, VerifyOptions* o) {
  app->add_option("--format", o->format,
                  "Output: 'text' (readable), 'json' (JSON Lines) or 'csv' (one row per "
                  "message, columns in docs/cli.md)")
      ->default_val("text")
      ->check(CLI::IsMember({"text", "json", "csv"}))
      ->group("Output");
  app->add_option("--only", o->only,
                  "Print only the messages that fail: an error, a DKIM signature that is not "
                  "pass, or DMARC fail/temperror/permerror (the summary still counts all)")
      ->type_name("failing")
      ->check(CLI::IsMember({"failing"}))
      ->group("Output");
  app->add_option("--domain", o->domains,
                  "Print only messages whose From domain or a DKIM d= is D or below it "
                  "(repeatable; errors are always printed; the summary still counts all)")
      ->type_name("D")
      ->allow_extra_args(false)
      ->group("Output");
  app->add_option("--output,-o", o->output,
                  "Write the reports to FILE (made or emptied first) instead of standard "
                  "output; with --resume, kept and cut back to where the run stopped")
      ->type_name("FILE")
      ->group("Output");
  app->add_flag("--quiet,-q", o->quiet,
                "No progress bar and no summary on stderr (notices about the inputs still are)")
      ->group("Output");
  app->add_flag("--summary", o->summary,
                "Print the closing summary on stderr (default: when more than one message)")
      ->group("Output");
  app->add_flag("--history", o->history,
                "Append a record of each evaluation with a DMARC policy to the history store "
                "of the --config file's [history] section (for `credence report aggregate`; "
                "docs/reports.md)")
      ->group("Output");
}

}  // namespace

void AddVerifyOptions(CLI::App* app, VerifyOptions* o) {
  AddInputOptions(app, o);
  AddVerifyDnsOptions(app, o);
  AddEnvelopeOptions(app, o);
  AddJudgementOptions(app, o);
  AddOutputOptions(app, o);
}

OutputFormat FormatOf(const VerifyOptions& o) {
  if (o.format == "csv") return OutputFormat::kCsv;
  return o.format == "json" ? OutputFormat::kJson : OutputFormat::kText;
}

Status ParseEnvelope(const std::string& envelope, RunnerOptions* runner) {
  runner->envelope_from_received = false;
  runner->received_host.clear();
  if (envelope.empty()) return Status();
  if (envelope == "received") {
    runner->envelope_from_received = true;
    return Status();
  }
  const std::string prefix = "received=";
  if (envelope.rfind(prefix, 0) == 0 && envelope.size() > prefix.size() &&
      envelope.find_first_of(" \t;()[]<>") == std::string::npos) {
    runner->envelope_from_received = true;
    runner->received_host = envelope.substr(prefix.size());
    return Status();
  }
  return Status::Invalid("--envelope " + envelope + ": expected 'received' or 'received=HOST'");
}

Status ParseAt(const std::string& at, TimeMode* mode, int64_t* when) {
  *mode = TimeMode::kNow;
  if (at.empty()) return Status();
  if (at == "received") {
    *mode = TimeMode::kReceived;
    return Status();
  }
  bool digits = at.find_first_not_of("0123456789") == std::string::npos;
  if (digits && at.size() <= 12) {
    *mode = TimeMode::kFixed;
    *when = std::stoll(at);
    return Status();
  }
  struct tm tmv = {};
  int y, mo, d, h = 0, mi = 0, s = 0;
  char tail[8] = {0};
  int n = std::sscanf(at.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%7s", &y, &mo, &d, &h, &mi, &s, tail);
  bool date_only = n == 3 && at.size() == 10;
  bool full = n >= 6 && (n == 6 || std::string(tail) == "Z");
  if (!(date_only || full) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      s > 60) {
    return Status::Invalid("--at " + at +
                           ": expected UNIXTIME, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[Z] or 'received'");
  }
  tmv.tm_year = y - 1900;
  tmv.tm_mon = mo - 1;
  tmv.tm_mday = d;
  tmv.tm_hour = h;
  tmv.tm_min = mi;
  tmv.tm_sec = s;
  time_t t = timegm(&tmv);
  // timegm normalises: 2023-02-30 would silently become 2023-03-02. Refuse dates that do not
  // exist (checked at :59 so that a leap second :60 may roll over).
  struct tm check = tmv, back = {};
  check.tm_sec = std::min(s, 59);
  time_t c = timegm(&check);
  if (gmtime_r(&c, &back) == nullptr || back.tm_mday != d || back.tm_mon != mo - 1) {
    return Status::Invalid("--at " + at + ": no such date");
  }
  *mode = TimeMode::kFixed;
  *when = static_cast<int64_t>(t);
  return Status();
}

std::chrono::milliseconds DeadlineFor(const DnsFlags& f, std::chrono::milliseconds base) {
  auto dns_budget = std::chrono::milliseconds(2 * f.dns_timeout_ms + 1000);
  return base < dns_budget ? dns_budget : base;
}

Result<EvaluatorOptions> EvaluatorOptionsOf(const VerifyOptions& o) {
  EvaluatorOptions eo;
  if (std::string path = ConfigPathOf(o.config); !path.empty()) {
    Result<Config> config = LoadConfigFile(path);
    if (!config.ok()) return config.status();
    eo.limits = config->limits;
    eo.authres = config->authres;
    eo.dmarc = config->dmarc;
    eo.score = config->score;
  }
  if (!o.authserv_id.empty()) {
    if (Status s = ValidateAuthServId(o.authserv_id); !s.ok()) {
      return Status::Invalid("--authserv-id " + o.authserv_id + ": " + s.message());
    }
    eo.authres.authserv_id = o.authserv_id;
  }
  if (o.max_signatures_option != nullptr && o.max_signatures_option->count() > 0) {
    eo.limits.max_dkim_signatures = o.max_signatures;
  }
  eo.limits.deadline = DeadlineFor(o.dns, eo.limits.deadline);
  return eo;
}

Result<std::unique_ptr<Resolver>> LoadZoneFiles(const std::vector<std::string>& paths) {
  auto zone = std::make_unique<ZoneResolver>();
  for (const std::string& path : paths) {
    Status s = zone->AddZoneFile(path);
    if (!s.ok()) return Status(s.code(), "--zone " + path + ": " + s.message());
  }
  return std::unique_ptr<Resolver>(std::move(zone));
}

Result<AresOptions> AresOptionsFor(const std::string& spec, int64_t timeout_ms) {
  AresOptions ares;
  ares.timeout = std::chrono::milliseconds(timeout_ms);
  if (spec.empty()) return ares;  // the system's resolvers
  Status s = ParseDnsServer(spec, &ares);
  if (!s.ok()) return Status(s.code(), "--dns " + spec + ": " + s.message());
  return ares;
}

Result<std::unique_ptr<Resolver>> MakeResolver(const DnsFlags& f, bool record,
                                               const Clock& cache_clock,
                                               const Resolver** recording) {
  std::unique_ptr<Resolver> inner;
  if (!f.zones.empty()) {
    Result<std::unique_ptr<Resolver>> zone = LoadZoneFiles(f.zones);
    if (!zone.ok()) return zone.status();
    inner = std::move(zone).value();
  } else {
    Result<AresOptions> ares = AresOptionsFor(f.dns, f.dns_timeout_ms);
    if (!ares.ok()) return ares.status();
    Result<std::unique_ptr<Resolver>> r = MakeAresResolver(*ares);
    if (!r.ok()) return Status(r.status().code(), "--dns " + f.dns + ": " + r.status().message());
    inner = std::move(r).value();
  }
  if (record) {
    inner = MakeRecordingResolver(std::move(inner));
    if (recording) *recording = inner.get();
  } else if (!f.zones.empty()) {
    // Zone files answer from memory and are safe to share between threads: a cache in front
    // would only copy what they hold, and a lock would queue the workers.
    return inner;
  }
  CacheOptions cache;
  cache.tempfail_ttl = 60;  // one run: a failing zone is asked again at most once a minute
  return MakeSerializedResolver(MakeCachingResolver(std::move(inner), cache_clock, cache));
}

}  // namespace credence::cli
