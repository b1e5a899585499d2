// libFuzzer target: zone text into ZoneResolver::AddZoneText. The parser must never crash,
// hang or grow without bound; a zone that loads must answer questions. Errors must name a line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "credence/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ZoneResolver zone;
  Status s = zone.AddZoneText(text, "example.test", "fuzz");
  if (!s.ok()) {
    if (s.message().rfind("fuzz:", 0) != 0) std::abort();  // errors are "SOURCE:LINE: what"
    if (zone.record_count() != 0) std::abort();          // nothing added on error
    return 0;
  }
  const Deadline far = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const DnsQuestion questions[] = {
      {"example.test", RRType::kSOA}, {"www.example.test", RRType::kA},
      {"x.example.test", RRType::kTXT}, {"a.b.example.test", RRType::kCNAME},
      {"example.test", RRType::kMX},   {"v6.example.test", RRType::kAAAA},
  };
  std::vector<DnsAnswer> answers = zone.Resolve(questions, far);
  if (answers.size() != std::size(questions)) std::abort();
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].outcome == DnsOutcome::kOk && answers[i].records.empty()) std::abort();
    for (const ResourceRecord& rr : answers[i].records) {
      if (rr.type != questions[i].type) std::abort();
    }
  }
  return 0;
}
