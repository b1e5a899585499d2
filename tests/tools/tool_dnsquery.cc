// tool_dnsquery --dns 127.0.0.1:PORT [--timeout MS] [--tries N] [--deadline MS] NAME TYPE [NAME TYPE...]
//               [-- NAME TYPE...]...
// Asks every question in one batch through the c-ares resolver and prints one JSON line per
// question: {"name","type","outcome","ttl","detail","records":[{"data","ttl"[,"preference"]}]}.
// A lone "--" starts another batch, asked after the previous one through the same resolver
// (each batch gets its own --deadline).
// Binary TXT data is printed with invalid UTF-8 bytes replaced. Exit 0 when every question got
// an answer line, 2 on bad usage.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "credence/dns.h"

namespace {

int Usage(const std::string& why) {
  std::cerr << "tool_dnsquery: " << why << "\n"
            << "usage: tool_dnsquery --dns HOST[:PORT] [--timeout MS] [--tries N] [--deadline MS]"
               " NAME TYPE [NAME TYPE...] [-- NAME TYPE...]...\n";
  return 2;
}

bool ParseInt(const std::string& s, long max, long* out) {
  try {
    size_t used = 0;
    long v = std::stol(s, &used);
    if (used != s.size() || v < 0 || v > max) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

void PrintAnswer(const credence::DnsQuestion& q, const credence::DnsAnswer& a) {
  using namespace credence;
  nlohmann::json j;
  j["name"] = q.name;
  j["type"] = RRTypeName(q.type);
  j["outcome"] = std::string(DnsOutcomeName(a.outcome));
  j["ttl"] = a.ttl;
  j["detail"] = a.detail;
  j["records"] = nlohmann::json::array();
  for (const ResourceRecord& rr : a.records) {
    nlohmann::json r;
    r["data"] = rr.data;
    r["ttl"] = rr.ttl;
    if (rr.type == RRType::kMX) r["preference"] = rr.preference;
    j["records"].push_back(r);
  }
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace credence;
  AresOptions options;
  bool have_dns = false;
  long deadline_ms = 10000;
  std::vector<std::vector<std::string>> batches(1);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    long n = 0;
    if (a == "--dns") {
      if (!value(&v)) return Usage("--dns needs a value");
      Status s = ParseDnsServer(v, &options);
      if (!s.ok()) return Usage(s.message());
      have_dns = true;
    } else if (a == "--timeout") {
      if (!value(&v) || !ParseInt(v, 60000, &n)) return Usage("bad --timeout");
      options.timeout = std::chrono::milliseconds(n);
    } else if (a == "--tries") {
      if (!value(&v) || !ParseInt(v, 10, &n)) return Usage("bad --tries");
      options.tries = static_cast<int>(n);
    } else if (a == "--deadline") {
      if (!value(&v) || !ParseInt(v, 600000, &n)) return Usage("bad --deadline");
      deadline_ms = n;
    } else if (a == "--") {
      batches.emplace_back();
    } else if (a.size() > 1 && a[0] == '-' && a[1] == '-') {
      return Usage("unknown option " + a);
    } else {
      batches.back().push_back(a);
    }
  }
  // Never fall back to the system resolver: the server must be given.
  if (!have_dns) return Usage("--dns is required");
  std::vector<std::vector<DnsQuestion>> questions;
  for (const std::vector<std::string>& positional : batches) {
    if (positional.empty() || positional.size() % 2 != 0) return Usage("need NAME TYPE pairs");
    questions.emplace_back();
    for (size_t i = 0; i < positional.size(); i += 2) {
      RRType t;
      if (!ParseRRType(positional[i + 1], &t)) return Usage("unknown type " + positional[i + 1]);
      questions.back().push_back({positional[i], t});
    }
  }
  auto resolver = MakeAresResolver(options);
  if (!resolver.ok()) return Usage(resolver.status().ToString());
  for (const std::vector<DnsQuestion>& batch : questions) {
    auto start = std::chrono::steady_clock::now();
    std::vector<DnsAnswer> answers =
        (*resolver)->Resolve(batch, start + std::chrono::milliseconds(deadline_ms));
    for (size_t i = 0; i < batch.size(); ++i) PrintAnswer(batch[i], answers[i]);
  }
  return 0;
}
