// `credence serve`: the companion service for rspamd, SpamAssassin and other hosts that
// cannot load the library. Long-running: one shared DNS cache stays warm across messages,
// a pool of workers (one Evaluator each) evaluates concurrently. Protocol, options and a
// systemd unit: docs/serve.md. The engine is plugin/serve/.
//
// Signals: SIGTERM and SIGINT stop it cleanly (the socket file removed); SIGHUP reads
// --config again and gives every worker an Evaluator with the new configuration (a bad file
// is logged and the running configuration kept). Logs go to stderr: start, reload and stop
// lines, and one line per request (docs/serve.md, "The request log").
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"
#include "options.h"
#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/policy/authres.h"
#include "credence/policy/config.h"
#include "credence/policy/history.h"
#include "credence/policy/evaluate.h"
#include "serve/evaluate_handler.h"
#include "serve/resolver_pool.h"
#include "serve/server.h"

namespace credence::cli {
namespace {

struct ServeFlags {
  std::string socket_path;
  std::string socket_mode = "0660";
  std::string socket_group;
  std::string listen;
  std::string dns;  // "" = the system's resolvers (/etc/resolv.conf)
  std::vector<std::string> zones;
  int64_t dns_timeout_ms = kDefaultDnsTimeout.count();
  size_t workers = 2;
  size_t reserve_workers = 1;
  size_t max_request_bytes = kDefaultMaxMessageBytes;
  size_t max_inflight_bytes = 0;           // 0: the larger of 256 MiB and 4 x max_request_bytes
  size_t max_inflight_bytes_per_peer = 0;  // 0: half of max_inflight_bytes
  size_t max_connections = 256;
  size_t max_connections_per_peer = 64;
  int64_t request_timeout_ms = 10000;
  int64_t header_timeout_ms = 3000;
  std::string authserv_id;
  std::string config;
  bool no_request_log = false;
};

Result<mode_t> ParseMode(const std::string& s) {
  if (s.empty() || s.size() > 4) return Status::Invalid("--socket-mode must be octal, e.g. 0660");
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return Status::Invalid("--socket-mode must be octal, e.g. 0660");
    v = v * 8 + static_cast<unsigned>(c - '0');
  }
  if (v > 0777) return Status::Invalid("--socket-mode must be at most 0777");
  return static_cast<mode_t>(v);
}

// One resolver for every worker: a ZoneResolver (thread-safe) or one c-ares resolver per
// worker behind a pool (c-ares channels are not shared between threads), with one TTL cache
// in front either way, so answers one worker fetched serve the others.
Result<std::unique_ptr<Resolver>> MakeSharedResolver(const ServeFlags& f, const Clock& clock) {
  std::unique_ptr<Resolver> inner;
  if (!f.zones.empty()) {
    Result<std::unique_ptr<Resolver>> zone = LoadZoneFiles(f.zones);
    if (!zone.ok()) return zone.status();
    inner = std::move(zone).value();
  } else {
    Result<AresOptions> ares = AresOptionsFor(f.dns, f.dns_timeout_ms);
    if (!ares.ok()) return ares.status();
    std::vector<std::unique_ptr<Resolver>> members;
    for (size_t i = 0; i < f.workers + f.reserve_workers; ++i) {
      Result<std::unique_ptr<Resolver>> r = MakeAresResolver(*ares);
      if (!r.ok()) return Status(r.status().code(), "--dns " + f.dns + ": " + r.status().message());
      members.push_back(std::move(r).value());
    }
    inner = serve::MakeResolverPool(std::move(members));
  }
  return MakeCachingResolver(std::move(inner), clock);
}

class ServeCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "serve", "Run the companion service: evaluate messages sent over a Unix socket or TCP");
    app->footer(
        "Protocol (one request per connection): a header line\n"
        "  CREDENCE/1 VERIFY <length> ip=<client-ip> helo=<name> from=<mail-from> [id=<tag>]\n"
        "then <length> message bytes; the answer is <length>\\n<json>\\n. Values are "
        "%-encoded. See docs/serve.md.\n"
        "Stops cleanly on SIGTERM or SIGINT: no new connections, requests already received "
        "are answered, the socket file is removed.");
    app->add_option("--socket", f_.socket_path, "Unix socket to listen on")->type_name("PATH");
    app->add_option("--socket-mode", f_.socket_mode, "Permissions of the socket file (octal)")
        ->default_val("0660")
        ->type_name("OCTAL");
    app->add_option("--socket-group", f_.socket_group, "Group of the socket file")
        ->type_name("GROUP");
    app->add_option("--listen", f_.listen,
                        "Also (or instead) listen on TCP HOST:PORT, a numeric address; keep it "
                        "on loopback, the protocol has no authentication")
            ->type_name("HOST:PORT");
    CLI::Option* dns =
        app->add_option("--dns", f_.dns,
                        "DNS server HOST[:PORT] or [V6]:PORT (an address; default: the "
                        "system's resolvers, the nameserver lines of /etc/resolv.conf)")
            ->type_name("HOST[:PORT]")
            ->check(CheckDnsServerGiven);
    app->add_option("--zone", f_.zones,
                    "Answer DNS from this zone file, no network (repeatable; excludes --dns)")
        ->type_name("FILE")
        ->allow_extra_args(false)
        ->excludes(dns);
    AddDnsTimeoutOption(app, &f_.dns_timeout_ms);
    app->add_option("--workers", f_.workers, "Concurrent evaluations (worker threads)")
        ->default_val(2)
        ->check(CLI::Range(size_t{1}, size_t{256}))
        ->type_name("N");
    app->add_option("--reserve-workers", f_.reserve_workers,
                    "Extra workers used only while every worker is busy, and only for a peer "
                    "(uid) with nothing being evaluated: one peer's slow requests cannot keep "
                    "another peer waiting (0: none)")
        ->default_val(1)
        ->check(CLI::Range(size_t{0}, size_t{256}))
        ->type_name("N");
    app->add_option("--max-request-bytes", f_.max_request_bytes,
                    "Message bytes kept per request: a longer message is evaluated on its first "
                    "N bytes (the rest is read and dropped)")
        ->default_val(kDefaultMaxMessageBytes)
        ->check(CLI::Range(size_t{1}, size_t{1} << 30))
        ->type_name("N");
    app->add_option("--max-inflight-bytes", f_.max_inflight_bytes,
                    "Request bytes held at once over all connections (received, queued, being "
                    "evaluated); a request waits, unread, for its share. Default: the larger of "
                    "256 MiB and 4 x --max-request-bytes")
        ->check(CLI::Range(size_t{1}, size_t{1} << 40))
        ->type_name("N");
    app->add_option("--max-inflight-bytes-per-peer", f_.max_inflight_bytes_per_peer,
                    "Share of --max-inflight-bytes one peer (uid; all TCP clients together) may "
                    "hold. Default: half of it, at least --max-request-bytes")
        ->check(CLI::Range(size_t{1}, size_t{1} << 40))
        ->type_name("N");
    app->add_option("--max-connections", f_.max_connections,
                    "Open connections; more are answered busy")
        ->default_val(256)
        ->check(CLI::Range(size_t{1}, size_t{65536}))
        ->type_name("N");
    app->add_option("--max-connections-per-peer", f_.max_connections_per_peer,
                    "Open connections of one peer (uid; all TCP clients together); the rest are "
                    "kept for other peers")
        ->default_val(64)
        ->check(CLI::Range(size_t{1}, size_t{65536}))
        ->type_name("N");
    app->add_option("--request-timeout", f_.request_timeout_ms,
                    "Time a client has to send its request, and again to read the answer")
        ->default_val(10000)
        ->check(CLI::Range(int64_t{1}, kMaxSettingMilliseconds))
        ->type_name("MS");
    app->add_option("--header-timeout", f_.header_timeout_ms,
                    "Time a client has to send its header line once connected")
        ->default_val(3000)
        ->check(CLI::Range(int64_t{1}, kMaxSettingMilliseconds))
        ->type_name("MS");
    app->add_option("--authserv-id", f_.authserv_id,
                    "authserv-id of the Authentication-Results header (overrides --config)")
        ->type_name("ID");
    app->add_option("--config", f_.config,
                    "TOML configuration file (docs/configuration.md); SIGHUP reads it again. "
                    "Default: " + DefaultConfigPath() + " when it exists; 'none': the "
                    "built-in defaults")
        ->type_name("FILE");
    app->add_flag("--no-request-log", f_.no_request_log,
                  "Do not log a line per request (start, reload and stop are still logged)");
    return app;
  }

  // The evaluator options from --config and --authserv-id: at start and on SIGHUP.
  Result<EvaluatorOptions> LoadOptions() const {
    EvaluatorOptions eo;
    if (std::string path = ConfigPathOf(f_.config); !path.empty()) {
      Result<Config> cfg = LoadConfigFile(path);
      if (!cfg.ok()) return cfg.status();
      eo.limits = cfg->limits;
      eo.authres = cfg->authres;
      eo.dmarc = cfg->dmarc;
      eo.score = cfg->score;
    }
    if (!f_.authserv_id.empty()) {
      Status s = ValidateAuthServId(f_.authserv_id);
      if (!s.ok()) return Status(s.code(), "--authserv-id: " + s.message());
      eo.authres.authserv_id = f_.authserv_id;
    }
    // The per-message deadline must leave room for c-ares' two tries of --dns-timeout each.
    // A client that says how long it waits ("timeout=" in the request) gets its answer
    // sooner than this when it waits less (docs/serve.md, "Deadlines").
    auto dns_budget = std::chrono::milliseconds(2 * f_.dns_timeout_ms + 1000);
    if (eo.limits.deadline < dns_budget) eo.limits.deadline = dns_budget;
    return eo;
  }

  int Run() override {
    if (f_.socket_path.empty() && f_.listen.empty()) {
      std::fprintf(stderr, "credence serve: give --socket PATH and/or --listen HOST:PORT\n");
      return kExitUsage;
    }
    Result<serve::ServerOptions> so = ServerOptionsOfFlags();
    if (!so.ok()) return Fail(so.status());

    // Before any thread exists, so that every thread inherits the mask and only sigwait below
    // sees these signals (SIGHUP's default action would kill the process and leave the
    // socket file behind).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    Result<EvaluatorOptions> loaded = LoadOptions();
    if (!loaded.ok()) return Fail(loaded.status());
    const EvaluatorOptions eo = std::move(loaded).value();

    SystemClock clock;
    Result<std::unique_ptr<Resolver>> resolver = MakeSharedResolver(f_, clock);
    if (!resolver.ok()) return Fail(resolver.status());
    Resolver& shared = **resolver;
    OpenHistory();
    HistoryWriter* hw = history_.get();
    Result<std::unique_ptr<serve::Server>> server = serve::Server::Start(
        *so, [&]() { return serve::MakeEvaluateHandler(eo, clock, shared, hw); });
    if (!server.ok()) {
      std::fprintf(stderr, "credence serve: %s\n", server.status().message().c_str());
      return server.status().code() == StatusCode::kIoError ? kExitInputError : kExitUsage;
    }
    LogStart(**server, *so, eo);

    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGHUP) {
        Reload(**server, clock, shared);
        continue;
      }
      std::fprintf(stderr, "credence serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    (*server)->Stop();
    (*server)->Wait();
    LogStop((*server)->stats());
    return kExitOk;
  }

  // The engine's options from the command line, resolved (defaults derived, ranges checked).
  Result<serve::ServerOptions> ServerOptionsOfFlags() const {
    Result<mode_t> mode = ParseMode(f_.socket_mode);
    if (!mode.ok()) return mode.status();
    serve::ServerOptions so;
    so.socket_path = f_.socket_path;
    so.socket_mode = *mode;
    so.socket_group = f_.socket_group;
    so.listen = f_.listen;
    so.workers = f_.workers;
    so.reserve_workers = f_.reserve_workers;
    so.max_request_bytes = f_.max_request_bytes;
    so.max_inflight_bytes = f_.max_inflight_bytes;
    so.max_inflight_bytes_per_peer = f_.max_inflight_bytes_per_peer;
    so.max_connections = f_.max_connections;
    so.max_connections_per_peer = f_.max_connections_per_peer;
    so.request_timeout = std::chrono::milliseconds(f_.request_timeout_ms);
    so.header_timeout = std::chrono::milliseconds(f_.header_timeout_ms);
    if (!f_.no_request_log) so.log = LogRequest;
    return serve::Server::Resolve(so);
  }

  // [history] enabled: every worker appends through one writer (docs/reports.md). Read at
  // start only; a SIGHUP does not change it.
  void OpenHistory() {
    if (f_.config.empty()) return;
    Result<Config> cfg = LoadConfigFile(f_.config);
    if (cfg.ok() && cfg->history.enabled) {
      history_ = std::make_unique<HistoryWriter>(cfg->history, [](const std::string& m) {
        std::fprintf(stderr, "credence serve: %s\n", m.c_str());
      });
    }
  }

  // What an administrator checks first: where it listens, its budgets, where DNS questions go
  // and which configuration file is in force.
  void LogStart(const serve::Server& server, const serve::ServerOptions& so,
                const EvaluatorOptions& eo) const {
    std::string where = f_.socket_path;
    if (!f_.listen.empty()) {
      if (!where.empty()) where += " and ";
      where += "tcp port " + std::to_string(server.tcp_port());
    }
    std::fprintf(stderr,
                 "credence serve: listening on %s (%zu workers + %zu in reserve, authserv-id %s, deadline %lld "
                 "ms, in-flight budget %zu MiB, %zu MiB per peer, %zu connections, %zu per "
                 "peer)\n",
                 where.c_str(), f_.workers, f_.reserve_workers, eo.authres.authserv_id.c_str(),
                 static_cast<long long>(eo.limits.deadline.count()), so.max_inflight_bytes >> 20,
                 so.max_inflight_bytes_per_peer >> 20, so.max_connections,
                 so.max_connections_per_peer);
    std::string dns = !f_.zones.empty() ? "zone files" : f_.dns;
    if (f_.zones.empty() && f_.dns.empty()) {
      Result<std::string> servers = DnsServersOf(AresOptions());
      dns = "the system's resolvers " + (servers.ok() ? *servers : servers.status().message()) +
            " (/etc/resolv.conf)";
    }
    std::string config = ConfigPathOf(f_.config);
    std::fprintf(stderr, "credence serve: DNS %s; configuration %s\n", dns.c_str(),
                 config.empty() ? "built-in defaults (no file)" : config.c_str());
    std::fflush(stderr);
  }

  void LogStop(const serve::ServerStats& st) const {
    std::fprintf(stderr,
                 "credence serve: stopped (%llu connections, %llu answered, %llu errors, %llu "
                 "timeouts, %llu gave up, %llu refused busy, %llu failures, %llu truncated, "
                 "%llu reloads; in-flight peak %zu bytes)\n",
                 static_cast<unsigned long long>(st.accepted),
                 static_cast<unsigned long long>(st.completed),
                 static_cast<unsigned long long>(st.errors),
                 static_cast<unsigned long long>(st.timeouts),
                 static_cast<unsigned long long>(st.gave_up),
                 static_cast<unsigned long long>(st.refused),
                 static_cast<unsigned long long>(st.failures),
                 static_cast<unsigned long long>(st.truncated),
                 static_cast<unsigned long long>(st.reloads), st.peak_inflight_bytes);
    if (history_ != nullptr) {
      std::fprintf(stderr, "credence serve: history: %llu record(s) written, %llu dropped\n",
                   static_cast<unsigned long long>(history_->written()),
                   static_cast<unsigned long long>(history_->dropped()));
    }
  }


 private:
  // SIGHUP: the configuration file again, into new Evaluators; the old ones stay on error.
  void Reload(serve::Server& server, const Clock& clock, Resolver& shared) {
    Result<EvaluatorOptions> loaded = LoadOptions();
    Status s = loaded.status();
    if (loaded.ok()) {
      EvaluatorOptions eo = std::move(loaded).value();
      s = server.Reload(
          [&]() { return serve::MakeEvaluateHandler(eo, clock, shared, history_.get()); });
      if (s.ok()) {
        std::fprintf(stderr,
                     "credence serve: SIGHUP, reloaded %s (authserv-id %s, deadline %lld ms)\n",
                     ConfigPathOf(f_.config).empty()
                         ? "(no configuration file: built-in defaults)"
                         : ConfigPathOf(f_.config).c_str(),
                     eo.authres.authserv_id.c_str(),
                     static_cast<long long>(eo.limits.deadline.count()));
        std::fflush(stderr);
        return;
      }
    }
    std::fprintf(stderr, "credence serve: SIGHUP, reload failed, configuration unchanged: %s\n",
                 s.message().c_str());
    std::fflush(stderr);
  }

  // One line per request (the server's key=value fields), written with one call.
  static void LogRequest(std::string_view line) {
    std::string out = "credence serve: ";
    out += line;
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stderr);
  }

  static int Fail(const Status& s) {
    std::fprintf(stderr, "credence serve: %s\n", s.message().c_str());
    return kExitUsage;
  }

  ServeFlags f_;
  std::unique_ptr<HistoryWriter> history_;  // [history] enabled: shared by the workers
};

}  // namespace

std::unique_ptr<Command> MakeServeCommand() { return std::make_unique<ServeCommand>(); }

}  // namespace credence::cli
