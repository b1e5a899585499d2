// Evaluator::Create: what it refuses in the options a host hands it.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "credence/clock.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/evaluate.h"
#include "fake_resolver.h"

namespace credence {
namespace {

BOOST_AUTO_TEST_SUITE(evaluator_create)

BOOST_AUTO_TEST_CASE(limits_have_one_owner) {
  FixedClock clock(1700000000);
  EvaluatorOptions o;
  o.limits.max_dkim_signatures = 4;
  BOOST_TEST(Evaluator::Create(o, clock).ok());  // set where it belongs

  // A bound set in a protocol's copy alone would be overwritten by o.limits: refused, named.
  for (Limits* sub : {&o.dkim.limits, &o.spf.limits, &o.dmarc.limits}) {
    EvaluatorOptions bad;
    Limits* mine = sub == &o.dkim.limits ? &bad.dkim.limits
                   : sub == &o.spf.limits ? &bad.spf.limits
                                          : &bad.dmarc.limits;
    mine->max_spf_dns_queries = 7;
    Result<std::unique_ptr<Evaluator>> e = Evaluator::Create(bad, clock);
    BOOST_TEST_REQUIRE(!e.ok());
    BOOST_TEST(e.status().message().find(".limits differs from EvaluatorOptions::limits") !=
               std::string::npos);
  }

  // A copy equal to o.limits (as config.cc fills dmarc.limits) is fine.
  o.dmarc.limits = o.limits;
  o.spf.limits = o.limits;
  BOOST_TEST(Evaluator::Create(o, clock).ok());
  BOOST_TEST((*Evaluator::Create(o, clock))->options().limits.max_dkim_signatures == 4u);
}

BOOST_AUTO_TEST_CASE(bad_authserv_id_is_refused) {
  FixedClock clock(1700000000);
  EvaluatorOptions o;
  o.authres.authserv_id = "bad id;";
  Result<std::unique_ptr<Evaluator>> e = Evaluator::Create(o, clock);
  BOOST_TEST_REQUIRE(!e.ok());
  BOOST_TEST(e.status().message().find("authserv-id") == 0u);
}

// Evaluate reads the From field once (Prepare): its DMARC result is DmarcEvaluator's own for
// every shape of From (one Author Domain, several, none, unreadable) and pct= sampling.
BOOST_AUTO_TEST_CASE(dmarc_result_is_the_dmarc_evaluators) {
  FixedClock clock(1700000000);
  auto e = Evaluator::Create(EvaluatorOptions(), clock);
  BOOST_TEST_REQUIRE(e.ok());
  auto dmarc = DmarcEvaluator::Create();
  BOOST_TEST_REQUIRE(dmarc.ok());
  const std::vector<std::string> froms = {
      "From: a@example.com\r\n",
      "From: a@Example.COM, b@example.com\r\n",
      "From: a@example.net, b@example.com\r\n",
      "From: friends: a@sub.example.com, b@sub.example.com;\r\n",
      "From: a@example.com\r\nFrom: b@example.com\r\n",
      "From: <a@>\r\n",
      "Subject: no From\r\n",
  };
  for (const std::string& from : froms) {
    for (const char* id : {"<1@example.com>", "<2@example.com>", "<3@example.com>"}) {
      testing::FakeResolver dns;
      dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject; pct=50");
      dns.AddTxt("_dmarc.example.net", "v=DMARC1; p=quarantine");
      Result<Message> m =
          Message::Parse(from + "Message-ID: " + id + "\r\nSubject: x\r\n\r\nbody\r\n");
      BOOST_TEST_REQUIRE(m.ok());
      const Evaluation ev = (*e)->Evaluate(*m, Envelope(), dns);
      const DmarcResult want = (*dmarc)->Evaluate(*m, ev.dkim, ev.spf_mailfrom, dns,
                                                  std::chrono::steady_clock::now() +
                                                      std::chrono::seconds(5));
      BOOST_TEST_CONTEXT(from << id) {
        BOOST_TEST(DmarcVerdictName(ev.dmarc.verdict) == DmarcVerdictName(want.verdict));
        BOOST_TEST(ev.dmarc.reason == want.reason);
        BOOST_TEST(ev.dmarc.from_domain == want.from_domain);
        BOOST_TEST(DmarcFromProblemName(ev.dmarc.from_problem) ==
                   DmarcFromProblemName(want.from_problem));
        BOOST_TEST(DmarcDispositionName(ev.dmarc.disposition) ==
                   DmarcDispositionName(want.disposition));
        BOOST_TEST(ev.dmarc.sampled_out == want.sampled_out);
        BOOST_TEST(ev.dmarc.dns_queries == want.dns_queries);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
