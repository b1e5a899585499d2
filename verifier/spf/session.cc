// The per-check counters and the query budget (RFC 7208 §4.6.4, Limits::max_spf_dns_queries).
#include "spf/session.h"

#include <chrono>
#include <string>

namespace credence::spf {

DnsAnswer Session::Ask(const std::string& name, RRType type) {
  if (std::chrono::steady_clock::now() >= deadline) return DnsAnswer::DeadlinePassed();
  if (++queries > options->limits.max_spf_dns_queries) {
    return DnsAnswer::NotAsked("the SPF check's budget of " +
                               std::to_string(options->limits.max_spf_dns_queries) +
                               " DNS queries is spent");
  }
  return resolver->ResolveOne(DnsQuestion{name, type}, deadline);
}

bool Session::CountTerm() {
  if (++dns_terms > options->max_dns_mechanisms) {
    Fail(Abort::kPermError, "more than " + std::to_string(options->max_dns_mechanisms) +
                                " DNS-querying terms (RFC 7208 §4.6.4)");
    return false;
  }
  return true;
}

bool Session::CountVoid() {
  if (++void_lookups > options->max_void_lookups) {
    Fail(Abort::kPermError, "more than " + std::to_string(options->max_void_lookups) +
                                " void lookups (RFC 7208 §4.6.4)");
    return false;
  }
  return true;
}

std::string Session::TargetName(size_t index) {
  return std::to_string(index) + std::string(kTargetSuffix);
}

Target* Session::FindTarget(std::string_view name) {
  if (name.size() <= kTargetSuffix.size() ||
      name.substr(name.size() - kTargetSuffix.size()) != kTargetSuffix) {
    return nullptr;
  }
  std::string_view digits = name.substr(0, name.size() - kTargetSuffix.size());
  if (digits.size() > 9) return nullptr;
  size_t index = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return nullptr;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  return index < targets.size() ? &targets[index] : nullptr;
}

}  // namespace credence::spf
