// `credence report aggregate`: RFC 9990 aggregate reports from the evaluation history.
//
// For each reporting period (by default every complete UTC day not yet reported, at most
// [history] max_catchup_days of them, ending yesterday), one report per policy domain whose
// record asks for them (rua=): the XML, gzip-compressed under the RFC's file name, sent to
// each mailto: destination through the local MTA's sendmail interface (or written to --out
// DIR). A destination outside the policy's organizational domain is used only after External
// Destination Verification; a destination whose "!size" the message exceeds is not used.
// Each (policy domain, period) is claimed in the store before it is sent, so two runs never
// send the same report and a later run does not send it again. docs/reports.md.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "credence/policy/config.h"
#include "credence/policy/history.h"
#include "credence/policy/report.h"
#include "options.h"
#include "report_delivery.h"

#ifndef CREDENCE_VERSION
#define CREDENCE_VERSION "unknown"
#endif

namespace credence::cli {
namespace {

constexpr auto kSendmailTimeout = std::chrono::seconds(60);
constexpr auto kEdvTimeout = std::chrono::seconds(10);

struct AggregateOptions {
  std::string config;
  std::string store;  // overrides [history] store
  std::string day, from, to;
  std::string out;
  std::string sendmail;  // overrides [history] sendmail
  std::string now;       // "now" for the default period (tests, replays)
  bool no_state = false;
  size_t max_records = 1000000;
  DnsFlags dns;
};

Result<int64_t> ParseNow(const std::string& text) {
  if (text.empty()) return static_cast<int64_t>(std::time(nullptr));
  TimeMode mode;
  int64_t when = 0;
  Status s = ParseAt(text, &mode, &when);
  if (!s.ok() || mode != TimeMode::kFixed) {
    return Status::Invalid("--now " + text + ": expected UNIXTIME or YYYY-MM-DD[THH:MM:SS[Z]]");
  }
  return when;
}

// What one run did, for the summary and the exit code.
struct RunTotals {
  int reports = 0, sent = 0, written = 0, already = 0, failed = 0, not_sent = 0;
};

class ReportAggregateCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "aggregate",
        "Send RFC 9990 aggregate reports for the evaluations in the history store (one per "
        "policy domain with rua= and period), or write them to --out DIR");
    app->add_option("--config", o_.config,
                    "TOML configuration file with the [history] section (store, org_name, "
                    "email, ...); see docs/reports.md. Default: " + DefaultConfigPath() +
                    " when it exists; 'none': no file")
        ->type_name("FILE");
    app->add_option("--store", o_.store,
                    "History store, overriding [history] store: sqlite:PATH or "
                    "postgresql://...")
        ->type_name("URI");
    CLI::Option* day =
        app->add_option("--day", o_.day, "Report this UTC day only")->type_name("YYYY-MM-DD");
    CLI::Option* from =
        app->add_option("--from", o_.from, "First UTC day of a range of daily reports (with --to)")
            ->type_name("YYYY-MM-DD")
            ->excludes(day);
    app->add_option("--to", o_.to, "Last UTC day of the range (inclusive)")
        ->type_name("YYYY-MM-DD")
        ->needs(from)
        ->excludes(day);
    app->add_option("--out", o_.out,
                    "Write each report as its RFC 9990 file (.xml.gz) into DIR instead of "
                    "mailing it")
        ->type_name("DIR");
    app->add_option("--sendmail", o_.sendmail,
                    "The local MTA's sendmail program (default: [history] sendmail, else "
                    "/usr/sbin/sendmail)")
        ->type_name("PATH");
    app->add_option("--now", o_.now,
                    "Take this as the current time for the default period (replays, tests)")
        ->type_name("TIME");
    app->add_flag("--no-state", o_.no_state,
                  "Neither read nor record which periods were reported (a preview with --out; "
                  "a later run still reports them)");
    app->add_option("--max-records", o_.max_records,
                    "Records read per period at most (default 1000000); a larger period is "
                    "an error, not a partial report")
        ->check(CLI::Range(size_t{1}, size_t{100000000}))
        ->type_name("N");
    AddDnsOptions(app, &o_.dns);
    app->footer(
        "Exit codes: 0 every report due was sent or written (or had no usable destination), "
        "1 a report could not be sent (it stays unsent: the next run tries again), 2 usage "
        "or configuration error.");
    return app;
  }

  int Run() override {
    Status s = Setup();
    if (!s.ok()) {
      std::fprintf(stderr, "credence report aggregate: %s\n", s.message().c_str());
      return kExitUsage;
    }
    RunTotals totals;
    for (const ReportPeriod& period : periods_) {
      if (Status ps = ReportPeriodOf(period, &totals); !ps.ok()) {
        std::fprintf(stderr, "credence report aggregate: %s: %s\n", FormatDay(period.begin).c_str(),
                     ps.message().c_str());
        ++totals.failed;
      }
    }
    Prune();
    std::fprintf(stderr,
                 "credence report aggregate: %zu period(s), %d report(s): %d sent, %d written, "
                 "%d already reported, %d without a usable destination, %d failed\n",
                 periods_.size(), totals.reports, totals.sent, totals.written, totals.already,
                 totals.not_sent, totals.failed);
    return totals.failed > 0 ? kExitInputError : kExitOk;
  }

 private:
  Status Setup() {
    if (const std::string path = ConfigPathOf(o_.config); !path.empty()) {
      Result<Config> c = LoadConfigFile(path);
      if (!c.ok()) return c.status();
      h_ = c->history;
    }
    if (!o_.store.empty()) {
      if (Status s = ValidateHistoryStoreUri(o_.store); !s.ok())
        return Status::Invalid("--store " + s.message());
      h_.store = o_.store;
    }
    if (!o_.sendmail.empty()) h_.sendmail = o_.sendmail;
    if (h_.store.empty())
      return Status::Invalid("no history store: give --config (or " + DefaultConfigPath() +
                             ") with [history] store, or --store");
    if (h_.org_name.empty() || h_.email.empty()) {
      return Status::Invalid(
          "reports need [history] org_name and email (the Reporting "
          "Organization, RFC 9990 report_metadata)");
    }
    if (!o_.out.empty()) {
      struct stat st;
      if (::stat(o_.out.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return Status::Invalid("--out " + o_.out + ": not a directory");
      }
    }
    identity_.org_name = h_.org_name;
    identity_.email = h_.email;
    identity_.extra_contact_info = h_.extra_contact_info;
    identity_.receiver_domain = h_.receiver_domain;
    identity_.report_from = h_.report_from.empty() ? h_.email : h_.report_from;
    identity_.generator = "credence " CREDENCE_VERSION;
    // The report run may wait longer than a mail host: it runs from cron, not in SMTP time.
    HistoryOptions open = h_;
    open.busy_timeout_ms = std::max(open.busy_timeout_ms, 10000);
    open.connect_timeout_ms = std::max(open.connect_timeout_ms, 10000);
    Result<std::unique_ptr<HistoryStore>> store = OpenHistoryStore(h_.store, open);
    if (!store.ok()) return store.status();
    store_ = std::move(store).value();
    Result<std::unique_ptr<Resolver>> resolver = MakeResolver(o_.dns, false, clock_, nullptr);
    if (!resolver.ok()) return resolver.status();
    resolver_ = std::move(resolver).value();
    return Periods();
  }

  Status Periods() {
    if (!o_.day.empty()) {
      Result<ReportPeriod> d = ParseReportDay(o_.day);
      if (!d.ok()) return Status::Invalid("--day " + d.status().message());
      periods_.push_back(*d);
      return Status::Ok();
    }
    if (!o_.from.empty()) {
      Result<ReportPeriod> a = ParseReportDay(o_.from);
      Result<ReportPeriod> b = ParseReportDay(o_.to.empty() ? o_.from : o_.to);
      if (!a.ok()) return Status::Invalid("--from " + a.status().message());
      if (!b.ok()) return Status::Invalid("--to " + b.status().message());
      if (b->begin < a->begin) return Status::Invalid("--to is before --from");
      if ((b->begin - a->begin) / 86400 >= 366)
        return Status::Invalid("--from/--to: more than 366 days");
      for (int64_t t = a->begin; t <= b->begin; t += 86400) periods_.push_back(DayOf(t));
      return Status::Ok();
    }
    Result<int64_t> now = ParseNow(o_.now);
    if (!now.ok()) return now.status();
    Result<std::optional<int64_t>> earliest = store_->EarliestTime();
    if (!earliest.ok()) return earliest.status();
    if (!earliest->has_value()) return Status::Ok();  // nothing recorded yet
    periods_ = CatchUpDays(*now, **earliest, h_.max_catchup_days);
    return Status::Ok();
  }

  Status ReportPeriodOf(const ReportPeriod& period, RunTotals* totals) {
    Result<std::vector<HistoryRecord>> records =
        store_->Read(period.begin, period.end, o_.max_records);
    if (!records.ok()) return records.status();
    AggregateSkips skips;
    std::vector<AggregateReport> reports = BuildAggregateReports(*records, period, &skips);
    if (skips.reports_to_us > 0) {
      std::fprintf(stderr,
                   "credence report aggregate: %s: %llu evaluation(s) of DMARC reports sent "
                   "to us left out (no reports about reports)\n",
                   FormatDay(period.begin).c_str(),
                   static_cast<unsigned long long>(skips.reports_to_us));
    }
    if (skips.no_source_ip > 0) {
      std::fprintf(stderr,
                   "credence report aggregate: %s: %llu evaluation(s) without a client IP "
                   "left out (a report row needs one)\n",
                   FormatDay(period.begin).c_str(),
                   static_cast<unsigned long long>(skips.no_source_ip));
    }
    for (const AggregateReport& rep : reports) {
      ++totals->reports;
      std::string id = NewReportId();
      if (!o_.no_state) {
        Result<bool> claimed = store_->Claim({rep.policy_domain, period.begin, period.end, id, ""});
        if (!claimed.ok()) return claimed.status();
        if (!*claimed) {
          ++totals->already;
          continue;
        }
      }
      std::string state;
      Status s = Deliver(rep, id, &state);
      if (!s.ok()) {
        std::fprintf(stderr, "credence report aggregate: %s %s: %s\n",
                     FormatDay(period.begin).c_str(), rep.policy_domain.c_str(),
                     s.message().c_str());
        ++totals->failed;
        if (!o_.no_state) (void)store_->Release(rep.policy_domain, period.begin);
        continue;
      }
      if (state == "sent") ++totals->sent;
      if (state == "written") ++totals->written;
      if (state == "skipped") ++totals->not_sent;
      if (!o_.no_state) {
        if (Status f = store_->Finish(rep.policy_domain, period.begin, state); !f.ok()) return f;
      }
    }
    return Status::Ok();
  }

  // Sends or writes one report. *state: "sent", "written" or "skipped" (no destination could
  // be used). An error leaves the report unsent (the claim is released).
  Status Deliver(const AggregateReport& rep, const std::string& id, std::string* state) {
    std::string xml = AggregateReportXml(rep, identity_, id);
    Result<std::string> gz = Gzip(xml);
    if (!gz.ok()) return gz.status();
    std::string name = ReportFileName(identity_.receiver_domain, rep.policy_domain, rep.period, id);
    std::string day = FormatDay(rep.period.begin);
    if (!o_.out.empty()) {
      if (Status s = WriteFileAtomically(o_.out, name, *gz); !s.ok()) return s;
      std::printf("%s %s: %zu record(s), %llu message(s) -> %s/%s\n", day.c_str(),
                  rep.policy_domain.c_str(), rep.rows.size(),
                  static_cast<unsigned long long>(rep.messages), o_.out.c_str(), name.c_str());
      *state = "written";
      return Status::Ok();
    }
    int sent = 0;
    Status last_error;
    for (const std::string& uri : rep.rua) {
      Result<RuaDestination> dest = ParseRuaUri(uri);
      if (!dest.ok()) {
        Note(day, rep, uri, "not used: " + dest.status().message());
        continue;
      }
      // RFC 9990 §4: External Destination Verification.
      if (NeedsExternalVerification(rep.org_domain, dest->domain)) {
        Result<bool> ok = VerifyExternalDestination(*resolver_, rep.policy_domain, dest->domain,
                                                    std::chrono::steady_clock::now() + kEdvTimeout);
        if (!ok.ok()) {
          Note(day, rep, uri,
               "not used this time: external destination check: " + ok.status().message());
          last_error = ok.status();
          continue;
        }
        if (!*ok) {
          Note(day, rep, uri,
               "not used: " + dest->domain + " does not accept reports for " + rep.policy_domain +
                   " (no v=DMARC1 TXT at " +
                   ExternalVerificationName(rep.policy_domain, dest->domain) + ")");
          continue;
        }
      }
      std::string message =
          ReportMessage(rep, identity_, dest->address, id, name, *gz, std::time(nullptr));
      // RFC 9990 §3: a URI whose size limit the report exceeds (after encoding) is not used.
      if (dest->max_bytes != 0 && message.size() > dest->max_bytes) {
        Note(day, rep, uri,
             "not used: the report message is " + std::to_string(message.size()) +
                 " bytes, over the URI's limit of " + std::to_string(dest->max_bytes));
        continue;
      }
      Status s = SendWithSendmail(h_.sendmail, identity_.report_from, dest->address, message,
                                  kSendmailTimeout);
      if (!s.ok()) {
        Note(day, rep, uri, "not sent: " + s.message());
        last_error = s;
        continue;
      }
      ++sent;
      std::printf("%s %s: %zu record(s), %llu message(s) -> %s sent (%zu bytes)\n", day.c_str(),
                  rep.policy_domain.c_str(), rep.rows.size(),
                  static_cast<unsigned long long>(rep.messages), dest->address.c_str(),
                  message.size());
    }
    if (sent > 0) {
      *state = "sent";
      return Status::Ok();
    }
    // Nothing sent: a temporary reason leaves the period unsent for the next run.
    if (!last_error.ok()) return Status(last_error.code(), "no destination took the report");
    *state = "skipped";
    return Status::Ok();
  }

  void Note(const std::string& day, const AggregateReport& rep, const std::string& uri,
            const std::string& what) {
    std::fprintf(stderr, "credence report aggregate: %s %s: %s %s\n", day.c_str(),
                 rep.policy_domain.c_str(), uri.c_str(), what.c_str());
  }

  // [history] retention_days: records older than that many days before the last reported
  // period go.
  void Prune() {
    if (h_.retention_days <= 0 || periods_.empty() || o_.no_state) return;
    int64_t before = periods_.back().begin - int64_t{h_.retention_days} * 86400;
    Result<uint64_t> n = store_->Prune(before);
    if (!n.ok()) {
      std::fprintf(stderr, "credence report aggregate: retention: %s\n",
                   n.status().message().c_str());
    }
  }

  AggregateOptions o_;
  HistoryOptions h_;
  ReportIdentity identity_;
  std::unique_ptr<HistoryStore> store_;
  SystemClock clock_;  // the DNS cache's clock: lives as long as the resolver
  std::unique_ptr<Resolver> resolver_;
  std::vector<ReportPeriod> periods_;
};

}  // namespace

std::unique_ptr<Command> MakeReportAggregateCommand() {
  return std::make_unique<ReportAggregateCommand>();
}

}  // namespace credence::cli
