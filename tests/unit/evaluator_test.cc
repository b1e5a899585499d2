// Evaluator::Create: what it refuses in the options a host hands it.
#include <boost/test/unit_test.hpp>

#include "credence/clock.h"
#include "credence/policy/evaluate.h"

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

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
