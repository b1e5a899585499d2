// Evaluator::Create: what it refuses in the options a host hands it.
#include <boost/test/unit_test.hpp>

#include <map>
#include <span>
#include <string>
#include <utility>
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


// SMTPUTF8 (RFC 6531): a MAIL FROM domain or HELO written with U-labels is checked by SPF at
// its A-labels (RFC 8616 §4), as the From domain is: "bänk.example" is xn--bnk-qla.example.
BOOST_AUTO_TEST_CASE(spf_checks_u_label_envelopes_at_their_a_labels) {
  FixedClock clock(1700000000);
  auto e = Evaluator::Create(EvaluatorOptions(), clock);
  BOOST_TEST_REQUIRE(e.ok());
  Result<Message> m = Message::Parse("From: a@xn--bnk-qla.example\r\nSubject: x\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  for (const char* from : {"ceo@b\xc3\xa4nk.example", "ceo@B\xc3\x84NK.example",
                           "ceo@xn--bnk-qla.example"}) {
    testing::FakeResolver dns;
    dns.AddTxt("xn--bnk-qla.example", "v=spf1 ip4:192.0.2.7 -all");
    dns.AddTxt("h.xn--bnk-qla.example", "v=spf1 ip4:198.51.100.9 -all");
    Envelope env;
    env.client_ip = "198.51.100.9";
    env.helo = "h.b\xc3\xa4nk.example";
    env.mail_from = from;
    const Evaluation ev = (*e)->Evaluate(*m, env, dns);
    BOOST_TEST_CONTEXT(from) {
      BOOST_TEST(SpfVerdictName(ev.spf_mailfrom.result) == "fail", ev.spf_mailfrom.detail);
      BOOST_TEST(SpfVerdictName(ev.spf_helo.result) == "pass", ev.spf_helo.detail);
    }
  }
}

// A resolver that keeps what it was asked first for its lifetime and pins it (the archive
// runner's per-batch resolver): the per-message memo reads those answers in place, asking
// nothing more, and the evaluation is the same as with every answer asked.
class PinningResolver final : public Resolver {
 public:
  explicit PinningResolver(Resolver& inner) : inner_(inner) {}
  void Keep(std::span<const DnsQuestion> questions) {
    std::vector<DnsAnswer> got = inner_.Resolve(questions, Deadline::max());
    for (size_t i = 0; i < questions.size(); ++i) {
      kept_.emplace(std::make_pair(ToLower(questions[i].name), questions[i].type),
                    std::move(got[i]));
    }
  }
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    resolved += questions.size();
    return inner_.Resolve(questions, deadline);
  }
  const DnsAnswer* Pinned(std::string_view name, RRType type) const override {
    auto it = kept_.find(std::make_pair(ToLower(name), type));
    return it != kept_.end() ? &it->second : nullptr;
  }
  size_t resolved = 0;  // questions asked through Resolve

 private:
  Resolver& inner_;
  std::map<std::pair<std::string, RRType>, DnsAnswer> kept_;
};

BOOST_AUTO_TEST_CASE(pinned_answers_are_read_in_place) {
  FixedClock clock(1700000000);
  auto e = Evaluator::Create(EvaluatorOptions(), clock);
  BOOST_TEST_REQUIRE(e.ok());
  // The Author Domain's own record; none, so the walk finds the Organizational Domain's; and
  // the Organizational Domain's np= with its existence questions (not pinned: asked).
  for (const char* from : {"a@Example.COM", "a@mail.sub.example.com", "a@gone.example.net"}) {
    testing::FakeResolver dns;
    dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
    dns.AddTxt("_dmarc.example.net", "v=DMARC1; p=none; np=reject");
    Result<Message> m = Message::Parse(std::string("From: ") + from +
                                       "\r\nMessage-ID: <1@x>\r\nSubject: x\r\n\r\nbody\r\n");
    BOOST_TEST_REQUIRE(m.ok());
    const Evaluation want = (*e)->Evaluate(*m, Envelope(), dns);

    PinningResolver pinning(dns);
    Evaluator::Prepared prepared = (*e)->Prepare(*m);
    pinning.Keep(prepared.questions);
    const Evaluation got = (*e)->Evaluate(*m, std::move(prepared), Envelope(), pinning,
                                          std::chrono::steady_clock::now() +
                                              std::chrono::seconds(5));
    BOOST_TEST_CONTEXT(from) {
      BOOST_TEST(got.authres.value == want.authres.value);
      BOOST_TEST(got.dmarc.dns_queries == want.dmarc.dns_queries);
      BOOST_TEST(got.dmarc.record_domain == want.dmarc.record_domain);
      BOOST_TEST(got.dmarc.non_existent == want.dmarc.non_existent);
      BOOST_TEST(got.score.score == want.score.score);
      // Only np='s existence check (A, AAAA, MX) is outside the first batch.
      BOOST_TEST(pinning.resolved == (std::string(from).ends_with("example.net") ? 3u : 0u));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
