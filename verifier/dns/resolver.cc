// The parts of credence/dns.h that belong to no implementation: names of types and outcomes,
// and Resolver::ResolveOne.
#include <charconv>

#include "credence/ascii.h"
#include "credence/dns.h"

namespace credence {

namespace {

struct TypeName {
  RRType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {RRType::kA, "A"},     {RRType::kNS, "NS"},   {RRType::kCNAME, "CNAME"},
    {RRType::kSOA, "SOA"}, {RRType::kPTR, "PTR"}, {RRType::kMX, "MX"},
    {RRType::kTXT, "TXT"}, {RRType::kAAAA, "AAAA"},
};


}  // namespace

std::string RRTypeName(RRType type) {
  for (const TypeName& t : kTypeNames) {
    if (t.type == type) return std::string(t.name);
  }
  // RFC 3597 §5: unknown types are written TYPE<decimal>.
  return "TYPE" + std::to_string(static_cast<uint16_t>(type));
}

bool ParseRRType(std::string_view name, RRType* type) {
  for (const TypeName& t : kTypeNames) {
    if (EqualsIgnoreCase(name, t.name)) {
      *type = t.type;
      return true;
    }
  }
  if (name.size() > 4 && EqualsIgnoreCase(name.substr(0, 4), "TYPE")) {
    std::string_view digits = name.substr(4);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && value <= 65535 &&
        digits[0] != '+') {
      *type = static_cast<RRType>(value);
      return true;
    }
  }
  return false;
}

std::string_view DnsOutcomeName(DnsOutcome outcome) {
  switch (outcome) {
    case DnsOutcome::kOk: return "ok";
    case DnsOutcome::kNxDomain: return "nxdomain";
    case DnsOutcome::kNoData: return "nodata";
    case DnsOutcome::kTempFail: return "tempfail";
    case DnsOutcome::kNotAsked: return "not_asked";
  }
  return "tempfail";
}

std::string_view DnsFailureName(DnsFailure failure) {
  switch (failure) {
    case DnsFailure::kServer: return "server";
    case DnsFailure::kTimeout: return "timeout";
    case DnsFailure::kDeadline: return "deadline";
  }
  return "server";
}

DnsAnswer DnsAnswer::DeadlinePassed() {
  DnsAnswer a;
  a.outcome = DnsOutcome::kTempFail;
  a.failure = DnsFailure::kDeadline;
  a.detail = "deadline";
  return a;
}

DnsAnswer DnsAnswer::NotAsked(std::string why) {
  DnsAnswer a;
  a.outcome = DnsOutcome::kNotAsked;
  a.detail = std::move(why);
  return a;
}

DnsAnswer Resolver::ResolveOne(const DnsQuestion& q, Deadline deadline) {
  std::vector<DnsAnswer> answers = Resolve(std::span<const DnsQuestion>(&q, 1), deadline);
  if (answers.empty()) {
    DnsAnswer a;
    a.detail = "no answer";
    return a;
  }
  return std::move(answers.front());
}

}  // namespace credence
