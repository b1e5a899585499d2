// libFuzzer target: zone text for example.test checked by `credence check` (CheckDomain on the
// zone alone, as `--zone` without `--dns`), with selector s1. The records are hostile: SPF
// trees, glued strings, key records, DMARC records, MX hosts. The check must never crash or
// hang, must stay within its DNS budget, and every finding must be well formed. The glued-split
// finder is also run on the input as a record with breaks taken from its first bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "check/spf_walk.h"
#include "credence/dns.h"
#include "credence/policy/check.h"

namespace {

void CheckGluedSplits(std::string_view text) {
  // Up to 4 break offsets from the first 4 bytes, the rest is the record.
  if (text.size() < 4) return;
  std::vector<uint16_t> breaks;
  for (size_t i = 0; i < 4; ++i) breaks.push_back(static_cast<uint8_t>(text[i]));
  std::string_view record = text.substr(4);
  std::string fixed;
  std::vector<credence::check_internal::GluedSplit> glued =
      credence::check_internal::FindGluedSplits(record, breaks, &fixed);
  // Each glued split adds one space; nothing else changes.
  if (fixed.size() != record.size() + glued.size()) std::abort();
  for (const auto& g : glued) {
    if (g.left.empty() || g.right.empty() || g.joined.size() < g.left.size() + g.right.size()) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence;
  if (size > 16384) return 0;  // zone files of the check's size; larger inputs add nothing
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckGluedSplits(text);
  auto zone = std::make_unique<ZoneResolver>();
  if (!zone->AddZoneText(text, "example.test", "fuzz").ok()) return 0;
  std::unique_ptr<Resolver> resolver = MakeZoneOverlayResolver(std::move(zone), nullptr);
  static const FixedClock clock(1700000100);
  CheckRequest request;
  request.domain = "example.test";
  request.selectors = {"s1"};
  CheckOptions options;
  options.max_dns_queries = 200;
  Result<CheckReport> report = CheckDomain(request, *resolver, clock, options);
  if (!report.ok()) std::abort();  // a valid domain and selector: always a report
  if (report->dns_queries > options.max_dns_queries) std::abort();
  if (report->findings.empty()) std::abort();
  for (const CheckFinding& f : report->findings) {
    if (f.message.empty()) std::abort();
    if (f.severity() != CheckSeverity::kOk && f.fix.empty()) std::abort();
  }
  int exit_status = report->ExitStatus();
  if (exit_status < 0 || exit_status > 2) std::abort();
  return 0;
}
