// `credence report read [OPTIONS] INPUT...`: summarise the DMARC aggregate reports a domain
// owner receives (plugin/reports): who sends as each domain, with what results, what a
// stricter policy would lose, which DKIM selectors fail. Text tables, JSON, CSV or one HTML
// page. Problems with inputs go to standard error, one line each; exit status 0 when every
// input was read, 1 when one was not (or lost records), 2 for usage.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <arpa/inet.h>

#include <CLI/CLI.hpp>

#include "command.h"
#include "common/json_tree.h"  // the JSON door: nlohmann::json and DumpJson
#include "credence/dns.h"
#include "credence/reports/format.h"
#include "credence/reports/read.h"
#include "credence/reports/summary.h"
#include "options.h"

namespace credence::cli {
namespace {

using namespace credence::reports;

constexpr size_t kMaxPtrLookups = 10000;  // distinct source IPs looked up per run
constexpr size_t kPtrBatch = 64;          // questions asked at once

// RFC 1035 §3.5 / RFC 3596 §2.5: the PTR name of an address; "" when it is none.
std::string ReverseName(const std::string& ip) {
  unsigned char b[16];
  static const char kHex[] = "0123456789abcdef";
  std::string name;
  if (inet_pton(AF_INET, ip.c_str(), b) == 1) {
    for (int i = 3; i >= 0; --i) name += std::to_string(b[i]) + ".";
    return name + "in-addr.arpa";
  }
  if (inet_pton(AF_INET6, ip.c_str(), b) == 1) {
    for (int i = 15; i >= 0; --i) {
      name += kHex[b[i] & 0xf];
      name += '.';
      name += kHex[b[i] >> 4];
      name += '.';
    }
    return name + "ip6.arpa";
  }
  return "";
}

std::string Clean(std::string s) {
  for (char& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return s;
}

nlohmann::json CountsJson(const Counts& c) {
  return {{"messages", c.messages},
          {"dmarc_pass", c.dmarc_pass},
          {"dmarc_fail", c.dmarc_fail},
          {"dkim_aligned_pass", c.dkim_aligned_pass},
          {"spf_aligned_pass", c.spf_aligned_pass},
          {"dkim_pass", c.dkim_pass},
          {"spf_pass", c.spf_pass},
          {"disposition", {{"none", c.none}, {"quarantine", c.quarantine}, {"reject", c.reject}}},
          {"lost_under_quarantine", c.lost_quarantine},
          {"lost_under_reject", c.lost_reject}};
}

nlohmann::json PolicyJson(const PublishedPolicy& p) {
  return {{"domain", p.domain}, {"p", p.p},       {"sp", p.sp},       {"np", p.np},
          {"pct", p.pct},       {"adkim", p.adkim}, {"aspf", p.aspf}, {"fo", p.fo},
          {"testing", p.testing}, {"discovery_method", p.discovery_method}};
}

// A JSON array appended to `out` one element at a time: a domain with 100,000 sources never
// holds a tree of all of them (the tree cost ~640 MB on 213,000 records, the text 57 MB),
// nor a copy of the text (the whole output is one string, written once).
template <typename T, typename F>
void AppendArray(const std::vector<T>& items, F to_json, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(DumpJson(to_json(items[i])));
  }
  out->push_back(']');
}

// `"key":` after a '{' or a ',' as `first` says. The objects below write their keys in byte
// order (as nlohmann's std::map-backed objects print them).
void Key(const char* key, bool first, std::string* out) {
  out->append(first ? "{\"" : ",\"").append(key).append("\":");
}

nlohmann::json SourceJson(const SourceSummary& s) {
  return {{"ip", s.ip},
          {"ptr", s.ptr},
          {"counts", CountsJson(s.counts)},
          {"header_from", s.header_from},
          {"dkim_domains", s.dkim_domains},
          {"spf_domains", s.spf_domains},
          {"override_reasons", s.reasons},
          {"reporters", s.reporters}};
}

nlohmann::json RowJson(const ResultRow& r) {
  return {{"source_ip", r.ip},
          {"messages", r.messages},
          {"header_from", r.header_from},
          {"envelope_from", r.envelope_from},
          {"disposition", r.disposition},
          {"dkim_aligned", r.dkim_aligned},
          {"spf_aligned", r.spf_aligned},
          {"dkim", r.dkim},
          {"spf", r.spf},
          {"reasons", r.reasons}};
}

nlohmann::json SelectorJson(const SelectorFailure& f) {
  return {{"domain", f.domain}, {"selector", f.selector}, {"result", f.result},
          {"messages", f.messages}, {"sources", f.ips}};
}

nlohmann::json ReporterJson(const ReporterSummary& r) {
  return {{"org_name", r.org_name}, {"email", r.email}, {"reports", r.reports},
          {"messages", r.messages}, {"begin", FormatTime(r.begin)}, {"end", FormatTime(r.end)}};
}

nlohmann::json DayJson(const DaySummary& x) {
  return {{"day", FormatDay(x.day)}, {"pass", x.pass}, {"fail", x.fail}};
}

void AppendDomainJson(const DomainSummary& d, std::string* out) {
  Key("begin", true, out);
  out->append(DumpJson(FormatTime(d.begin)));
  Key("counts", false, out);
  out->append(DumpJson(CountsJson(d.counts)));
  Key("days", false, out);
  AppendArray(d.days, DayJson, out);
  Key("domain", false, out);
  out->append(DumpJson(d.domain));
  Key("end", false, out);
  out->append(DumpJson(FormatTime(d.end)));
  Key("failing_selectors", false, out);
  AppendArray(d.failing_selectors, SelectorJson, out);
  Key("other_messages", false, out);
  out->append(std::to_string(d.other_messages));
  Key("other_records", false, out);
  out->append(std::to_string(d.other_records));
  Key("policy_published", false, out);
  out->append(DumpJson(PolicyJson(d.policy)));
  Key("reporters", false, out);
  AppendArray(d.reporters, ReporterJson, out);
  Key("reports", false, out);
  out->append(std::to_string(d.reports));
  Key("rows", false, out);
  AppendArray(d.rows, RowJson, out);
  Key("sources", false, out);
  AppendArray(d.sources, SourceJson, out);
  out->push_back('}');
}

nlohmann::json ReportJson(const SourcedReport* s) {
  const AggregateReport& r = s->report;
  return {{"source", s->source},
          {"org_name", r.org_name},
          {"report_id", r.report_id},
          {"domain", r.policy.domain},
          {"begin", FormatTime(r.begin)},
          {"end", FormatTime(r.end)},
          {"format", ReportEraName(r.era)},
          {"records", s->records},
          {"messages", s->messages},
          {"errors", r.errors}};
}

nlohmann::json ProblemJson(const InputProblem& p) {
  return {{"source", p.source},
          {"code", std::string(StatusCodeName(p.error.code()))},
          {"message", p.error.message()}};
}

nlohmann::json DuplicateJson(const Duplicate& d) {
  return {{"source", d.source}, {"copy_of", d.first_source}};
}

void AppendJson(const Summary& summary, const ReadResult& read,
                const std::vector<const SourcedReport*>& counted, std::string* out) {
  Key("detail_cut", true, out);
  out->append(summary.detail_cut ? "true" : "false");
  Key("domains", false, out);
  out->push_back('[');
  for (size_t i = 0; i < summary.domains.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendDomainJson(summary.domains[i], out);
  }
  out->push_back(']');
  Key("duplicates", false, out);
  AppendArray(read.duplicates, DuplicateJson, out);
  Key("problems", false, out);
  AppendArray(read.problems, ProblemJson, out);
  Key("reports", false, out);
  AppendArray(counted, ReportJson, out);
  Key("reports_counted", false, out);
  out->append(std::to_string(summary.reports));
  out->append("}\n");
}

class ReportReadCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "read",
        "Summarise the DMARC aggregate reports you receive: who sends as your domain, SPF "
        "and DKIM before and after alignment, what p=quarantine or p=reject would lose");
    app->add_option("INPUT", inputs_,
                    "Report files (.xml, .xml.gz, .zip), report messages (.eml), mbox files, "
                    "maildirs and directories of them, in any mix; '-' reads stdin")
        ->required();
    app->add_option("--format", format_,
                    "text (tables), json, csv (one row per distinct result) or html (one "
                    "self-contained page with charts)")
        ->default_val("text")
        ->check(CLI::IsMember({"text", "json", "csv", "html"}));
    app->add_option("--output,-o", output_, "Write to FILE instead of standard output")
        ->type_name("FILE");
    app->add_option("--domain", domains_,
                    "Only reports about this domain (policy_published; repeatable)")
        ->type_name("D")
        ->allow_extra_args(false);
    app->add_option("--since", since_, "Only reports whose day is on or after DATE (YYYY-MM-DD)")
        ->type_name("DATE");
    app->add_option("--until", until_, "Only reports whose day is on or before DATE (YYYY-MM-DD)")
        ->type_name("DATE");
    CLI::Option* dns = app->add_option("--dns", dns_.dns,
                                       "Look up each source IP's PTR name at this DNS server, "
                                       "HOST[:PORT] or [V6]:PORT (an address). Without --dns "
                                       "or --zone, no DNS is asked")
                           ->type_name("HOST[:PORT]")
                           ->check(CheckDnsServerGiven);
    AddDnsTimeoutOption(app, &dns_.dns_timeout_ms);
    app->add_option("--zone", dns_.zones,
                    "Answer the PTR questions from this BIND-style zone file (repeatable; "
                    "excludes --dns)")
        ->type_name("FILE")
        ->allow_extra_args(false)
        ->excludes(dns);
    app->add_option("--max-report-mib", max_report_mib_,
                    "Largest report, in MiB: a file as stored, a gzip stream or zip entry "
                    "decompressed, an XML document (1..4096)")
        ->default_val(64)
        ->check(CLI::Range(size_t{1}, size_t{4096}))
        ->type_name("N");
    app->add_option("--max-detail-mib", max_detail_mib_,
                    "Memory for the detail tables (sources, rows, failing selectors), in MiB, "
                    "all domains together; past it new entries are counted under (other), "
                    "totals stay exact (1..65536)")
        ->default_val(64)
        ->check(CLI::Range(size_t{1}, size_t{65536}))
        ->type_name("N");
    app->add_option("--title", title_, "The HTML page's title")
        ->default_val("DMARC aggregate reports");
    dns_option_ = dns;
    app->footer(
        "Exit codes: 0 every input was read, 1 at least one input (or a record in one) could "
        "not be read (each named on standard error), 2 usage. See docs/reports.md.");
    return app;
  }

  int Run() override {
    SummaryOptions options;
    options.max_detail_bytes = max_detail_mib_ << 20;
    for (std::string d : domains_) {
      std::transform(d.begin(), d.end(), d.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!d.empty() && d.back() == '.') d.pop_back();
      options.domains.push_back(d);
    }
    if (!DayOption("--since", since_, &options.since) ||
        !DayOption("--until", until_, &options.until)) {
      return kExitUsage;
    }
    std::unique_ptr<Resolver> resolver;
    if (dns_option_->count() > 0 || !dns_.zones.empty()) {
      Result<std::unique_ptr<Resolver>> r = MakeResolver(dns_, false, clock_, nullptr);
      if (!r.ok()) {
        std::fprintf(stderr, "credence report read: %s\n", r.status().message().c_str());
        return kExitUsage;
      }
      resolver = std::move(r).value();
    }

    ReadLimits limits;
    limits.max_file_bytes = limits.max_decompressed_bytes = limits.xml.max_bytes =
        max_report_mib_ << 20;
    limits.max_total_decompressed = std::max<uint64_t>(limits.max_total_decompressed,
                                                       uint64_t{4} * limits.max_file_bytes);
    ReportReader reader(limits);
    size_t stdin_count = 0;
    for (const std::string& in : inputs_) stdin_count += in == "-";
    if (stdin_count > 1) {
      std::fputs("credence report read: '-' (standard input) may be given once\n", stderr);
      return kExitUsage;
    }
    // Each report is summarised as it is read and its records dropped: memory holds the
    // summary and one report, not every record of the run.
    Summarizer summarizer(options);
    reader.OnReport([&](const SourcedReport& r) { summarizer.Add(r.report); }, false);
    for (const std::string& in : inputs_) reader.AddPath(in);
    ReadResult read = reader.Take();
    Summary summary = summarizer.Finish();
    if (resolver) LookUpPtr(resolver.get(), &summary);

    for (const InputProblem& p : read.problems) {
      std::fprintf(stderr, "credence report read: %s: %s\n", Clean(p.source).c_str(),
                   Clean(p.error.message()).c_str());
    }
    std::string out;
    if (format_ == "json") {
      std::vector<const SourcedReport*> counted;
      for (const SourcedReport& s : read.reports) counted.push_back(&s);
      counted.erase(std::remove_if(counted.begin(), counted.end(),
                                   [&](const SourcedReport* s) {
                                     return !summarizer.Wanted(s->report);
                                   }),
                    counted.end());
      AppendJson(summary, read, counted, &out);
    } else if (format_ == "csv") {
      out = FormatCsv(summary);
    } else if (format_ == "html") {
      out = FormatHtml(summary, read, title_);
    } else {
      out = FormatText(summary, read);
    }
    if (!Write(out)) return kExitInputError;
    return read.problems.empty() ? kExitOk : kExitInputError;
  }

 private:
  static bool DayOption(const char* name, const std::string& text, int64_t* day) {
    if (text.empty()) return true;
    TimeMode mode;
    int64_t when = 0;
    Status s = ParseAt(text, &mode, &when);
    if (!s.ok() || mode != TimeMode::kFixed) {
      std::fprintf(stderr, "credence report read: %s '%s': not a date (YYYY-MM-DD)\n", name,
                   Clean(text).c_str());
      return false;
    }
    *day = when - ((when % 86400) + 86400) % 86400;
    return true;
  }

  // Each distinct source IP's PTR name (the first one answered), in batches; DNS trouble
  // leaves the name empty.
  void LookUpPtr(Resolver* resolver, Summary* summary) {
    std::map<std::string, std::string> names;
    for (const DomainSummary& d : summary->domains) {
      for (const SourceSummary& s : d.sources) {
        if (names.size() >= kMaxPtrLookups) break;
        names.emplace(s.ip, "");
      }
    }
    std::vector<std::string> ips;
    for (const auto& [ip, name] : names) ips.push_back(ip);
    const auto per_batch = std::chrono::milliseconds(2 * dns_.dns_timeout_ms + 1000);
    for (size_t i = 0; i < ips.size(); i += kPtrBatch) {
      std::vector<DnsQuestion> qs;
      std::vector<std::string> which;
      for (size_t j = i; j < std::min(ips.size(), i + kPtrBatch); ++j) {
        std::string rev = ReverseName(ips[j]);
        if (rev.empty()) continue;
        qs.push_back({rev, RRType::kPTR});
        which.push_back(ips[j]);
      }
      std::vector<DnsAnswer> answers =
          resolver->Resolve(qs, std::chrono::steady_clock::now() + per_batch);
      for (size_t k = 0; k < answers.size() && k < which.size(); ++k) {
        if (answers[k].outcome == DnsOutcome::kOk && !answers[k].records.empty()) {
          names[which[k]] = Clean(answers[k].records.front().data);
        }
      }
    }
    for (DomainSummary& d : summary->domains) {
      for (SourceSummary& s : d.sources) s.ptr = names[s.ip];
    }
  }

  bool Write(const std::string& out) {
    if (output_.empty()) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout)) {
        std::fputs("credence report read: cannot write to standard output\n", stderr);
        return false;
      }
      return true;
    }
    FILE* f = std::fopen(output_.c_str(), "wb");
    if (f == nullptr) {
      std::fprintf(stderr, "credence report read: cannot write %s: %s\n", output_.c_str(),
                   std::strerror(errno));
      return false;
    }
    const bool written = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    const int saved_errno = errno;
    if (std::fclose(f) != 0 || !written) {
      std::fprintf(stderr, "credence report read: cannot write %s: %s\n", output_.c_str(),
                   std::strerror(written ? errno : saved_errno));
      return false;
    }
    return true;
  }

  std::vector<std::string> inputs_;
  std::string format_ = "text";
  std::string output_;
  std::vector<std::string> domains_;
  std::string since_, until_;
  DnsFlags dns_;
  CLI::Option* dns_option_ = nullptr;
  std::string title_ = "DMARC aggregate reports";
  size_t max_report_mib_ = 64;
  size_t max_detail_mib_ = 64;
  SystemClock clock_;
};

}  // namespace

std::unique_ptr<Command> MakeReportReadCommand() { return std::make_unique<ReportReadCommand>(); }

}  // namespace credence::cli
