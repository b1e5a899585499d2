#include "check/context.h"

#include "credence/message.h"

namespace credence::check_internal {

CheckFinding& Context::Add(CheckCode code, std::string subject, std::string message,
                           std::string fix) {
  CheckFinding f;
  f.code = code;
  f.section = section;
  f.subject = std::move(subject);
  f.message = std::move(message);
  f.fix = std::move(fix);
  report->findings.push_back(std::move(f));
  return report->findings.back();
}

void Context::Prefetch(std::span<const DnsQuestion> questions) {
  if (!fetcher_.Fetch(questions)) {
    // Ask what still fits, one at a time, so the check gets as far as its budget allows.
    for (const DnsQuestion& q : questions) fetcher_.Fetch(std::span<const DnsQuestion>(&q, 1));
  }
}

Answer Context::Ask(const std::string& name, RRType type) {
  DnsQuestion q{name, type};
  fetcher_.Fetch(std::span<const DnsQuestion>(&q, 1));
  if (const DnsAnswer* a = fetcher_.Get(q)) return {*a, false};
  return {DnsAnswer::NotAsked("the check's DNS budget is spent"), true};
}

bool Context::Usable(const Answer& answer, const std::string& name, RRType type,
                     std::string_view what) {
  const DnsAnswer& a = answer.dns;
  if (a.outcome == DnsOutcome::kOk || a.outcome == DnsOutcome::kNxDomain ||
      a.outcome == DnsOutcome::kNoData) {
    return true;
  }
  if (answer.refused) {
    if (incomplete_.empty()) {
      incomplete_ = "its budget of " + std::to_string(options.max_dns_queries) +
                    " DNS questions was spent";
    }
    return false;
  }
  if (a.outcome == DnsOutcome::kTempFail && a.failure == DnsFailure::kDeadline) {
    if (incomplete_.empty()) {
      incomplete_ = "its deadline of " + std::to_string(options.deadline.count() / 1000) +
                    " s passed";
    }
    return false;
  }
  if (!reported_.insert({ToLower(name), static_cast<uint16_t>(type)}).second) return false;
  std::string question = name + " " + RRTypeName(type);
  if (a.outcome == DnsOutcome::kNotAsked) {
    Add(CheckCode::kDnsOutsideZones, name,
        question + " not asked (" + Shown(a.detail, 80) + "): " + std::string(what) +
            " not checked",
        "add a --zone file for the zone that holds " + name +
            ", or --dns ADDR to ask DNS for the names outside the zone files");
  } else {
    Add(CheckCode::kDnsTempFail, name,
        question + " failed (" + Shown(a.detail, 80) + "): " + std::string(what) +
            " not checked",
        TempFailFix(a.detail, name));
  }
  return false;
}

std::string TempFailFix(std::string_view detail, std::string_view name) {
  // A CNAME loop or a chain too long is the zone's own doing: asking again changes nothing.
  if (detail.find("CNAME") != std::string_view::npos) {
    return "fix the CNAME records at and under " + std::string(name) +
           ": they loop, chain more than 8 times, or are malformed (RFC 1034 §3.6.2)";
  }
  return "run the check again; if it persists, the name servers of " + std::string(name) +
         " are not answering as they should";
}

std::vector<const ResourceRecord*> TxtRecords(const DnsAnswer& answer) {
  std::vector<const ResourceRecord*> out;
  if (answer.outcome != DnsOutcome::kOk) return out;
  for (const ResourceRecord& rr : answer.records) {
    if (rr.type == RRType::kTXT) out.push_back(&rr);
  }
  return out;
}

bool IsNegative(const DnsAnswer& answer) {
  return answer.outcome == DnsOutcome::kNxDomain || answer.outcome == DnsOutcome::kNoData ||
         (answer.outcome == DnsOutcome::kOk && answer.records.empty());
}

std::string Shown(std::string_view text, size_t max) {
  bool cut = text.size() > max;
  if (cut) text = text.substr(0, max);
  std::string out(text);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (cut) out += "...";
  return out;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string Canonical(std::string_view name) {
  std::string out = ToLower(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace credence::check_internal
