// Fuzzes ARC chain validation (RFC 8617): the input is a whole message; every key question is
// answered with the ARC test suite's dummy RSA key, so seals and message signatures get as far
// as the signature check. Besides "no crash, no hang", it checks the verifier's promises:
//  - no ARC field: none, no DNS; otherwise at most Limits::max_arc_key_queries questions in at
//    most one batch;
//  - pass has a reason-less result, every seal passing and the newest AMS passing;
//  - fail always has a reason; only domain-like sealers and authserv-ids leave the verifier;
//  - oldest-pass is 0 or an instance of the chain.
// Seeds: tests/fuzz/corpus/arc (messages of tests/data/arc/arc-validation.json).
#include <cstddef>
#include <cstdint>
#include <string>

#include "credence/arc.h"
#include "dkim/signature.h"

namespace {

using namespace credence;

class DummyKeyResolver final : public Resolver {
 public:
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions, Deadline) override {
    ++batches;
    asked += questions.size();
    std::vector<DnsAnswer> out(questions.size());
    for (DnsAnswer& a : out) {
      a.outcome = DnsOutcome::kOk;
      a.records.push_back({RRType::kTXT, 300,
                           "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiG"
                           "s5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACD"
                           "fzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
                           "Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
                           0});
    }
    return out;
  }
  int batches = 0;
  size_t asked = 0;
};

bool HasArcField(const Message& m) {
  for (const HeaderField& f : m.headers()) {
    if (f.name.size() > 4 && EqualsIgnoreCase(f.name.substr(0, 4), "ARC-")) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Result<Message> m = Message::Parse(bytes);
  if (!m.ok()) return 0;
  static FixedClock clock(1700000000);
  static ArcVerifier verifier(clock);
  DummyKeyResolver resolver;
  ArcResult r = verifier.Verify(*m, resolver, std::chrono::steady_clock::now() +
                                                   std::chrono::seconds(5));
  const Limits limits;
  if (resolver.batches > 1 || resolver.asked > limits.max_arc_key_queries) __builtin_trap();
  if (r.result == ArcVerdict::kNone && (resolver.asked != 0 || HasArcField(*m))) {
    // None only without a (recognised) ARC field.
    if (resolver.asked != 0) __builtin_trap();
  }
  if (r.result == ArcVerdict::kPass) {
    if (r.reason != ArcReason::kNone || r.sets.empty()) __builtin_trap();
    for (const ArcSet& s : r.sets) {
      if (s.seal.result != DkimVerdict::kPass) __builtin_trap();
    }
    if (r.sets.back().message_signature.result != DkimVerdict::kPass) __builtin_trap();
  }
  if (r.result == ArcVerdict::kFail && r.reason == ArcReason::kNone) __builtin_trap();
  if (r.sets.size() > static_cast<size_t>(dkim::kMaxArcInstance)) __builtin_trap();
  for (const std::string& d : r.Sealers()) {
    if (!dkim::IsDomainLike(d)) __builtin_trap();
  }
  for (const ArcSet& s : r.sets) {
    if (!s.authserv_id.empty() && !dkim::IsDomainLike(s.authserv_id)) __builtin_trap();
  }
  if (r.oldest_pass < 0 || r.oldest_pass > static_cast<int>(r.sets.size())) __builtin_trap();
  // The question plan agrees with the verification: no chain questions, no DNS.
  if (verifier.KeyQuestions(*m).size() != resolver.asked) __builtin_trap();
  return 0;
}
