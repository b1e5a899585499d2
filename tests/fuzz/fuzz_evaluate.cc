// Whole messages through the Evaluator against a zone (DKIM, SPF with macros and exp=, DMARC
// with the tree walk and np=, the score, the A-R writer, the JSON writer): what comes off the
// network, together. Besides "no crash, no hang", it checks what docs/security.md promises:
//  - every line of the folded Authentication-Results value is within RFC 5322's 998 bytes;
//  - only well-formed d= / s= / i= leave the verifier;
//  - CREDENCE_LIMIT fires exactly when a limit left something out, and the score is finite;
//  - forged A-R positions point at Authentication-Results fields.
// The zone is tests/data/example/example.zone (real keys) plus the records below.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/evaluation_json.h"
#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/message.h"
#include "credence/policy/evaluate.h"
#include "dkim/signature.h"

namespace {

using namespace credence;

constexpr const char* kExtraZone = R"zone(
$ORIGIN example.com.
@ IN TXT "v=spf1 ip4:192.0.2.0/24 mx include:_spf.example.com exp=exp.example.com -all"
@ IN MX 10 mx.example.com.
mx IN A 192.0.2.25
_spf IN TXT "v=spf1 a:%{h} exists:%{l1r-}.%{d2}.x.example.com ptr:example.com ~all"
exp IN TXT "%{s} from %{i} is not allowed (%{c} %{r} %{t})"
_dmarc IN TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=r; aspf=s; pct=50"
news IN A 192.0.2.26
_dmarc.lists IN TXT "v=DMARC1; p=none; psd=n"
$ORIGIN evil.test.
@ IN TXT "v=spf1 redirect=_spf.evil.test"
_spf IN TXT "v=spf1 include:loop.evil.test -all"
loop IN TXT "v=spf1 include:evil.test ?all"
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:r@evil.test"
)zone";

struct World {
  World() : clock(1700000100) {
    if (!zone.AddZoneFile(CREDENCE_TEST_DATA "/example/example.zone").ok()) __builtin_trap();
    if (!zone.AddZoneText(kExtraZone).ok()) __builtin_trap();
    zone.AddFailure("broken.example.com");
    zone.AddFailure("s._domainkey.evil.test");
    zone.AddFailure("fail._domainkey.example.com");  // an aligned key that SERVFAILs
    EvaluatorOptions o;
    o.authres.authserv_id = "mx.credence.test";
    o.limits.max_header_fields = 64;    // small bounds, so inputs of fuzzing size reach them
    o.limits.max_header_bytes = 4096;
    o.limits.max_message_bytes = 16384;
    o.limits.max_dkim_signatures = 4;
    Result<std::unique_ptr<Evaluator>> e = Evaluator::Create(o, clock);
    if (!e.ok()) __builtin_trap();
    evaluator = std::move(e).value();
  }
  FixedClock clock;
  ZoneResolver zone;
  std::unique_ptr<Evaluator> evaluator;
};

constexpr const char* kIps[] = {"192.0.2.7", "192.0.2.25", "203.0.113.9", "2001:db8::1",
                                "::ffff:192.0.2.7", "", "not an ip"};
constexpr const char* kHelos[] = {"mx.example.com", "mail.evil.test", "", "broken.example.com",
                                  "[192.0.2.7]"};
constexpr const char* kFroms[] = {"alice@example.com", "x@evil.test", "", "bounce@news.example.com",
                                  "a@broken.example.com"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World;
  FuzzedDataProvider in(data, size);
  Envelope env;
  env.client_ip = kIps[in.ConsumeIntegralInRange<size_t>(0, std::size(kIps) - 1)];
  env.helo = in.ConsumeBool() ? kHelos[in.ConsumeIntegralInRange<size_t>(0, std::size(kHelos) - 1)]
                              : in.ConsumeRandomLengthString(64);
  env.mail_from = in.ConsumeBool()
                      ? kFroms[in.ConsumeIntegralInRange<size_t>(0, std::size(kFroms) - 1)]
                      : in.ConsumeRandomLengthString(64);
  const bool prefix = in.ConsumeBool();
  std::string bytes = in.ConsumeRemainingBytesAsString();
  const Limits& limits = world->evaluator->options().limits;
  Result<Message> m = Message::Parse(bytes, limits, prefix ? bytes.size() + 100 : 0);
  if (!m.ok()) {
    if (!bytes.empty() || prefix) __builtin_trap();  // the one error is an empty input
    return 0;
  }
  Evaluation ev = world->evaluator->Evaluate(
      *m, env, world->zone, std::chrono::steady_clock::now() + std::chrono::seconds(5));

  // A-R: folded lines within 998 bytes.
  const std::string& folded = ev.authres.folded;
  size_t line = 0;
  for (size_t i = 0; i < folded.size(); ++i) {
    if (folded[i] == '\n') {
      line = 0;
    } else if (++line > 998) {
      __builtin_trap();
    }
  }
  // Only well-formed identifiers leave the verifier.
  for (const DkimResult& d : ev.dkim) {
    if (!d.domain.empty() && !dkim::IsDomainLike(d.domain)) __builtin_trap();
    if (!d.selector.empty() && !dkim::IsDomainLike(d.selector)) __builtin_trap();
    if (!d.identity.empty() && !dkim::IsIdentityLike(d.identity)) __builtin_trap();
  }
  // CREDENCE_LIMIT exactly when a limit left something out; a finite score.
  bool limit_symbol = false;
  for (const ScoreSymbol& s : ev.score.symbols) limit_symbol |= s.name == "CREDENCE_LIMIT";
  if (limit_symbol != !ev.limits.empty()) __builtin_trap();
  if (!std::isfinite(ev.score.score)) __builtin_trap();
  // Forged A-R positions name A-R fields (positions equal indexes when nothing was skipped).
  if (m->skipped_fields() == 0) {
    for (size_t p : ev.forged_authres) {
      if (p >= m->headers().size() ||
          !EqualsIgnoreCase(m->headers()[p].name, "Authentication-Results")) {
        __builtin_trap();
      }
    }
  }
  std::string json;
  AppendEvaluationJson(ev, &json);
  if (json.empty() || json.front() != '{') __builtin_trap();
  return 0;
}
