// `credence spf --ip IP --helo NAME --mail-from ADDR`: one SPF check (RFC 7208) of the MAIL
// FROM identity (postmaster@HELO for a null sender), printed as text or one JSON object.
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include <CLI/CLI.hpp>

#include "command.h"
#include "common/evaluation_json.h"
#include "credence/policy/evaluate.h"
#include "credence/spf.h"
#include "options.h"

namespace credence::cli {
namespace {

class SpfCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "spf", "Check SPF (RFC 7208) for a client IP, HELO name and MAIL FROM address");
    app->add_option("--ip", ip_, "SMTP client IP address (IPv4 or IPv6)")
        ->required()
        ->type_name("IP")
        ->check(CheckIpAddress);
    CLI::Option* helo = app->add_option("--helo", helo_, "HELO/EHLO name")->type_name("NAME");
    app->add_option("--mail-from", mail_from_,
                    "MAIL FROM address without <> (empty or absent: null sender, checks "
                    "postmaster@HELO)")
        ->type_name("ADDR");
    app->add_flag("--check-helo", check_helo_, "Also check the HELO identity (RFC 7208 §2.3)")
        ->needs(helo);
    AddDnsOptions(app, &dns_);
    app->add_option("--format", format_, "Output: 'text' or 'json' (one object)")
        ->default_val("text")
        ->check(CLI::IsMember({"text", "json"}));
    app->footer(
        "JSON: {\"result\", \"identity\", \"domain\", \"sender\", \"explanation\", \"detail\", "
        "\"dns_queries\", \"limit_reached\"} (and \"helo\": {...} with --check-helo). Results: "
        "none, neutral, pass, fail, softfail, temperror, permerror.\n"
        "Exit codes: 0 a result was computed (whatever it is), 2 usage or configuration error.");
    return app;
  }

  int Run() override {
    if (helo_.empty() && mail_from_.empty()) {
      std::fputs("credence spf: give --mail-from, --helo or both\n", stderr);
      return kExitUsage;
    }
    SystemClock clock;
    Result<std::unique_ptr<Resolver>> resolver = MakeResolver(dns_, false, clock, nullptr);
    if (!resolver.ok()) {
      std::fprintf(stderr, "credence spf: %s\n", resolver.status().message().c_str());
      return kExitUsage;
    }
    SpfOptions options;
    options.limits.deadline = DeadlineFor(dns_, options.limits.deadline);
    SpfRequest request = SpfRequestOf(ip_, helo_, mail_from_);
    auto deadline = std::chrono::steady_clock::now() + options.limits.deadline;
    SpfResult r = CheckSpfMailFrom(request, **resolver, deadline, options);
    SpfResult h;
    if (check_helo_ && !helo_.empty()) h = CheckSpfHelo(request, **resolver, deadline, options);
    if (format_ == "json") {
      std::string helo;
      if (check_helo_ && !helo_.empty()) AppendSpfResultJson(h, {}, &helo);
      const JsonMember extra[] = {JsonMember::Raw("helo", helo)};
      std::string out;
      AppendSpfResultJson(r, std::span(extra, helo.empty() ? 0 : 1), &out);
      std::puts(out.c_str());
    } else {
      Print(r);
      if (check_helo_ && !helo_.empty()) Print(h);
    }
    return kExitOk;
  }

 private:
  static void Print(const SpfResult& r) {
    std::string line = std::string(SpfVerdictName(r.result)) + " " + r.identity + "=" + r.sender;
    if (!r.explanation.empty()) line += "\n  explanation: " + r.explanation;
    if (!r.detail.empty()) line += "\n  detail: " + r.detail;
    for (char& c : line)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) c = '?';
    std::puts(line.c_str());
  }

  std::string ip_, helo_, mail_from_, format_ = "text";
  bool check_helo_ = false;
  DnsFlags dns_;
};

}  // namespace

std::unique_ptr<Command> MakeSpfCommand() { return std::make_unique<SpfCommand>(); }

}  // namespace credence::cli
