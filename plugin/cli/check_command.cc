// `credence check DOMAIN [--selector S ...] [--zone FILE ... | --dns ADDR] [--message FILE]
// [--format text|json]`: a domain owner's pre-flight of SPF, DKIM, DMARC and MX, on live DNS
// or on zone files before they are published. The checks are policy/check (CheckDomain); this
// file builds the DNS stack and formats the report: a checklist (✓ ! ✗, a "fix:" line under
// each problem) or one JSON object. Exit status 0 clean, 1 warnings, 2 errors (and usage).
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"
#include "common/json_tree.h"  // the JSON door: nlohmann::json and DumpJson
#include "credence/file.h"
#include "credence/limits.h"
#include "credence/policy/check.h"
#include "options.h"

namespace credence::cli {
namespace {

// Exit status of `credence check` (docs/cli.md): 0 clean, 1 warnings, 2 errors. Usage and
// configuration errors are 2 as well (kExitUsage): cron and CI treat both as "look at it".

// Control characters from DNS data or a message are shown as '?'.
std::string Clean(std::string s) {
  for (char& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return s;
}

std::string_view Mark(CheckSeverity s) {
  switch (s) {
    case CheckSeverity::kOk: return "\u2713";        // ✓
    case CheckSeverity::kWarning: return "!";
    case CheckSeverity::kError: return "\u2717";     // ✗
  }
  return "?";
}

std::string_view Heading(CheckArea a) {
  switch (a) {
    case CheckArea::kSpf: return "SPF";
    case CheckArea::kDkim: return "DKIM";
    case CheckArea::kDmarc: return "DMARC";
    case CheckArea::kMx: return "MX";
    case CheckArea::kMessage: return "Message";
    case CheckArea::kDns: return "Check";
  }
  return "Check";
}

std::string Counted(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string FormatText(const CheckReport& r, const std::string& source) {
  std::string out = "credence check " + Clean(r.domain) + " (" + source + ")\n";
  bool first = true;
  CheckArea section = CheckArea::kDns;
  for (const CheckFinding& f : r.findings) {
    if (first || f.section != section) {
      out += "\n" + std::string(Heading(f.section)) + "\n";
      section = f.section;
      first = false;
    }
    out += "  " + std::string(Mark(f.severity())) + " " + Clean(f.message) + "\n";
    for (const std::string& d : f.details) out += "      " + Clean(d) + "\n";
    if (f.severity() != CheckSeverity::kOk && !f.fix.empty()) {
      out += "    fix: " + Clean(f.fix) + "\n";
    }
  }
  size_t errors = r.Count(CheckSeverity::kError), warnings = r.Count(CheckSeverity::kWarning);
  out += "\n";
  if (errors == 0 && warnings == 0) {
    out += "All " + Counted(r.findings.size(), "check passes", "checks pass");
  } else {
    out += Counted(errors, "error", "errors") + ", " + Counted(warnings, "warning", "warnings") +
           ", " + Counted(r.Count(CheckSeverity::kOk), "check passes", "checks pass");
  }
  out += " (exit status " + std::to_string(r.ExitStatus()) + ")\n";
  return out;
}

nlohmann::json ToJson(const CheckReport& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const CheckFinding& f : r.findings) {
    findings.push_back({{"section", CheckAreaName(f.section)},
                        {"code", InfoOf(f.code).name},
                        {"severity", CheckSeverityName(f.severity())},
                        {"subject", f.subject},
                        {"message", f.message},
                        {"fix", f.fix},
                        {"details", f.details}});
  }
  nlohmann::json terms = nlohmann::json::array();
  for (const SpfLookupTerm& t : r.spf_terms) {
    terms.push_back({{"term", t.term}, {"domain", t.domain}, {"depth", t.depth},
                     {"lookups", t.lookups}});
  }
  return {{"domain", r.domain},
          {"status", CheckSeverityName(r.Worst())},
          {"exit_status", r.ExitStatus()},
          {"counts", {{"ok", r.Count(CheckSeverity::kOk)},
                      {"warning", r.Count(CheckSeverity::kWarning)},
                      {"error", r.Count(CheckSeverity::kError)}}},
          {"findings", findings},
          {"spf", {{"record", r.spf_record}, {"lookups", r.spf_lookups},
                   {"void_lookups", r.spf_void_lookups}, {"terms", terms}}},
          {"dkim", {{"selectors", r.selectors}}},
          {"dmarc", {{"record", r.dmarc_record}, {"record_domain", r.dmarc_record_domain}}},
          {"dns_queries", r.dns_queries}};
}

class CheckCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "check",
        "Check a domain's own SPF, DKIM, DMARC and MX records (live DNS or zone files) and "
        "print a checklist with a fix for each problem");
    app->add_option("DOMAIN", request_.domain, "The domain to check")->required();
    app->add_option("--selector,-s", request_.selectors,
                    "DKIM selector to check at SELECTOR._domainkey.DOMAIN (repeatable)")
        ->type_name("S")
        ->allow_extra_args(false);
    CLI::Option* dns =
        app->add_option("--dns", dns_.dns,
                        "DNS server to ask, HOST[:PORT] or [V6]:PORT (an address); with --zone, "
                        "only for names outside the zone files (default: the system's "
                        "resolvers, /etc/resolv.conf)")
            ->type_name("HOST[:PORT]")
            ->check(CheckDnsServerGiven);
    AddDnsTimeoutOption(app, &dns_.dns_timeout_ms);
    app->add_option("--zone", dns_.zones,
                    "Check against this BIND zone file before it is published (repeatable: one "
                    "per domain, e.g. for includes). Names outside them: --dns if given, else "
                    "not checked")
        ->type_name("FILE")
        ->allow_extra_args(false);
    app->add_option("--message", message_file_,
                    "A message you sent through your own server: verify and explain it, and "
                    "check the selectors it uses")
        ->type_name("FILE");
    app->add_option("--client-ip", request_.client_ip,
                    "With --message: the address your server sent it from (for SPF)")
        ->type_name("IP")
        ->check(CheckIpAddress);
    app->add_option("--mail-from", request_.mail_from,
                    "With --message: its MAIL FROM (default: its Return-Path field)")
        ->type_name("ADDR");
    app->add_option("--format", format_, "Output: 'text' (a checklist) or 'json' (one object)")
        ->default_val("text")
        ->check(CLI::IsMember({"text", "json"}));
    dns_option_ = dns;
    app->footer(
        "Text: one line per check, ✓ ok, ! warning, ✗ error, each problem followed by a "
        "'fix:' line. JSON: {\"domain\", \"status\", \"exit_status\", \"counts\", \"findings\": "
        "[{section, code, severity, subject, message, fix, details}], \"spf\", \"dkim\", "
        "\"dmarc\", \"dns_queries\"}; the codes are stable (docs/check.md).\n"
        "Exit codes: 0 every check passed, 1 warnings only, 2 errors (or a usage error).");
    return app;
  }

  int Run() override {
    if (!message_file_.empty()) {
      Status s = ReadMessage();
      if (!s.ok()) {
        std::fprintf(stderr, "credence check: --message: %s\n", s.message().c_str());
        return kExitUsage;
      }
    }
    SystemClock clock;
    std::string source;
    Result<std::unique_ptr<Resolver>> resolver = BuildResolver(clock, &source);
    if (!resolver.ok()) {
      std::fprintf(stderr, "credence check: %s\n", resolver.status().message().c_str());
      return kExitUsage;
    }
    CheckOptions options;
    Result<CheckReport> report = CheckDomain(request_, **resolver, clock, options);
    if (!report.ok()) {
      std::fprintf(stderr, "credence check: %s\n", report.status().message().c_str());
      return kExitUsage;
    }
    std::string out = format_ == "json" ? DumpJson(ToJson(*report)) + "\n"
                                        : FormatText(*report, source);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return report->ExitStatus();
  }

 private:
  // A regular file of at most max_message_bytes (a directory or a FIFO is a usage error, not an
  // empty message).
  Status ReadMessage() {
    std::string bytes;
    Status s = ReadRegularFile(message_file_, "message file", Limits().max_message_bytes, &bytes);
    if (!s.ok()) return s;
    request_.message = std::move(bytes);
    request_.message_name = message_file_;
    return Status();
  }

  // Zone files alone (no network), zone files in front of --dns, or --dns alone; a TTL cache
  // on top (the SPF evaluations of the MX hosts ask the same names again).
  Result<std::unique_ptr<Resolver>> BuildResolver(const Clock& clock, std::string* source) {
    bool dns_given = dns_option_ != nullptr && dns_option_->count() > 0;
    std::unique_ptr<Resolver> network;
    if (dns_.zones.empty() || dns_given) {
      Result<AresOptions> ares = AresOptionsFor(dns_.dns, dns_.dns_timeout_ms);
      if (!ares.ok()) return ares.status();
      Result<std::unique_ptr<Resolver>> r = MakeAresResolver(*ares);
      if (!r.ok()) return Status(r.status().code(), "--dns " + dns_.dns + ": " + r.status().message());
      network = std::move(r).value();
      *source = dns_.dns.empty() ? "the system's DNS resolvers (/etc/resolv.conf)"
                                 : "DNS server " + dns_.dns;
    }
    std::unique_ptr<Resolver> inner;
    if (dns_.zones.empty()) {
      inner = std::move(network);
    } else {
      auto zones = std::make_unique<ZoneResolver>();
      std::string names;
      for (const std::string& path : dns_.zones) {
        Status s = zones->AddZoneFile(path);
        if (!s.ok()) return Status(s.code(), "--zone " + path + ": " + s.message());
        names += (names.empty() ? "" : ", ") + path;
      }
      // A name that is no domain is said so, before asking which zone file holds it.
      if (Result<std::string> d = CheckedDomainName(request_.domain); !d.ok()) return d.status();
      // Without --dns, a domain in none of the zone files has nothing to be checked against
      // (U-labels are left to the check, which converts them and says what it could not ask).
      bool ascii = std::all_of(request_.domain.begin(), request_.domain.end(),
                               [](char c) { return static_cast<unsigned char>(c) < 0x80; });
      if (!network && ascii && !zones->Covers(request_.domain)) {
        return Status::Invalid(request_.domain + " is in none of the zone files (" + names +
                               "): give its zone file, or --dns ADDR");
      }
      *source = "zone files " + names +
                (network ? "; DNS server " + dns_.dns + " for other names"
                         : "; other names not asked");
      inner = MakeZoneOverlayResolver(std::move(zones), std::move(network));
    }
    return MakeCachingResolver(std::move(inner), clock);
  }

  CheckRequest request_;
  DnsFlags dns_;
  CLI::Option* dns_option_ = nullptr;
  std::string message_file_, format_ = "text";
};

}  // namespace

std::unique_ptr<Command> MakeCheckCommand() { return std::make_unique<CheckCommand>(); }

}  // namespace credence::cli
