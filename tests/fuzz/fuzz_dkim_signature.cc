// Fuzzes DKIM-Signature parsing and a whole verification of a message carrying the input as
// its DKIM-Signature value (an in-memory resolver answers every key with a fixed RSA key).
#include <cstddef>
#include <cstdint>
#include <string>

#include "credence/dkim.h"
#include "dkim/signature.h"

namespace {

class OneKeyResolver final : public credence::Resolver {
 public:
  std::vector<credence::DnsAnswer> Resolve(std::span<const credence::DnsQuestion> questions,
                                           credence::Deadline) override {
    std::vector<credence::DnsAnswer> out(questions.size());
    for (auto& a : out) {
      a.outcome = credence::DnsOutcome::kOk;
      a.records.push_back({credence::RRType::kTXT, 300,
                           "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3"
                           "idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/"
                           "8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIK"
                           "T+l/K4w3QIDAQAB",
                           0});
    }
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence;
  std::string_view value(reinterpret_cast<const char*>(data), size);
  dkim::Signature sig;
  (void)dkim::ParseSignature(value, &sig);
  static FixedClock clock(1700000000);
  static DkimVerifier verifier(clock);
  OneKeyResolver resolver;
  std::string msg = "DKIM-Signature:" + std::string(value) +
                    "\r\nFrom: a@example.com\r\nSubject: s\r\n\r\nbody \r\n\r\n";
  Result<Message> m = Message::Parse(msg);
  if (!m.ok()) return 0;
  std::vector<DkimResult> r = verifier.Verify(*m, resolver);
  if (r.size() != m->FindAll("DKIM-Signature").size()) __builtin_trap();
  for (const DkimResult& x : r)
    if (x.result == DkimVerdict::kPass) __builtin_trap();  // nothing here is really signed
  return 0;
}
