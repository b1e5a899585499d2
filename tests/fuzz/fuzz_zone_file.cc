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
      {"x.example.test", static_cast<RRType>(99)},  // SPF type, kept as RFC 3597 rdata
  };
  std::vector<DnsAnswer> answers = zone.Resolve(questions, far);
  if (answers.size() != std::size(questions)) std::abort();
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].outcome == DnsOutcome::kOk && answers[i].records.empty()) std::abort();
    for (const ResourceRecord& rr : answers[i].records) {
      if (rr.type != questions[i].type) std::abort();
      // txt_breaks: TXT only, where each string after the first starts, never decreasing.
      if (rr.type != RRType::kTXT && !rr.txt_breaks.empty()) std::abort();
      for (size_t b = 0; b < rr.txt_breaks.size(); ++b) {
        if (rr.txt_breaks[b] > rr.data.size()) std::abort();
        if (b > 0 && rr.txt_breaks[b] < rr.txt_breaks[b - 1]) std::abort();
      }
      // SPF type: character-strings, each a length octet and that many octets.
      if (rr.type == static_cast<RRType>(99)) {
        size_t pos = 0;
        while (pos < rr.data.size()) pos += 1 + static_cast<unsigned char>(rr.data[pos]);
        if (pos != rr.data.size()) std::abort();
      }
    }
  }
  return 0;
}
