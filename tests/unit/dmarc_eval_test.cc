// DMARC evaluation against an in-memory DNS: tree walk (RFC 9989 §4.10), policy discovery,
// alignment, sp/np, t=/pct=, temperror propagation. Cases: tests/data/dmarc/evaluate.tsv.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "common/psl.h"
#include "credence/policy/dmarc.h"
#include "dmarc/discover.h"
#include "fake_resolver.h"

namespace credence {

// Printable enums for BOOST_TEST messages.
static std::ostream& operator<<(std::ostream& os, DmarcVerdict v) {
  return os << DmarcVerdictName(v);
}
static std::ostream& operator<<(std::ostream& os, DmarcDisposition d) {
  return os << DmarcDispositionName(d);
}

namespace {

using testing::FakeResolver;

// Zone spec of evaluate.tsv (see its header).
void LoadZone(const std::string& spec, FakeResolver* dns) {
  size_t start = 0;
  while (start < spec.size()) {
    size_t bar = spec.find(" | ", start);
    if (bar == std::string::npos) bar = spec.size();
    std::string e = spec.substr(start, bar - start);
    start = bar + 3;
    if (e.empty() || e == "-") continue;
    if (e[0] == '@') {
      if (e.back() == '!') {
        dns->Fail(e.substr(1, e.size() - 2));
      } else {
        size_t colon = e.find(':');
        std::string type = e.substr(colon + 1);
        dns->Add(e.substr(1, colon - 1), type == "MX" ? RRType::kMX : RRType::kA,
                 type == "MX" ? "mx.example.net" : "192.0.2.1");
      }
    } else if (e.back() == '!') {
      dns->Fail("_dmarc." + e.substr(0, e.size() - 1));
    } else {
      size_t eq = e.find('=');
      dns->AddTxt("_dmarc." + e.substr(0, eq), e.substr(eq + 1));
    }
  }
}

struct EvalCase {
  std::vector<std::string> f;  // the manifest columns
  const std::string& name() const { return f[0]; }
};
std::ostream& operator<<(std::ostream& os, const EvalCase& c) { return os << c.name(); }

std::vector<EvalCase> LoadEvalCases() {
  std::vector<EvalCase> cases;
  std::ifstream in(CREDENCE_TEST_DATA "/dmarc/evaluate.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    EvalCase c;
    std::istringstream s(line);
    std::string col;
    while (std::getline(s, col, '\t')) c.f.push_back(col);
    c.f.resize(14, "-");
    cases.push_back(c);
  }
  return cases;
}

std::vector<DkimResult> DkimFrom(const std::string& spec) {
  std::vector<DkimResult> out;
  if (spec == "-") return out;
  std::istringstream s(spec);
  std::string d;
  while (std::getline(s, d, ',')) {
    DkimResult r;
    r.result = DkimVerdict::kPass;
    if (d.rfind("fail:", 0) == 0) {
      r.result = DkimVerdict::kFail;
      d = d.substr(5);
    }
    r.domain = d;
    out.push_back(r);
  }
  return out;
}

SpfResult SpfFrom(const std::string& spec) {
  SpfResult s;
  if (spec == "-") return s;
  s.result = SpfVerdict::kPass;
  s.identity = "mailfrom";
  s.domain = spec;
  if (spec.rfind("helo:", 0) == 0) {
    s.identity = "helo";
    s.domain = spec.substr(5);
  }
  return s;
}

Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

DmarcResult Run(const EvalCase& c, bool batch, FakeResolver* dns) {
  LoadZone(c.f[1], dns);
  DmarcOptions o;
  o.batch_tree_walk = batch;
  auto ev = DmarcEvaluator::Create(o);
  BOOST_REQUIRE(ev.ok());
  std::vector<DkimResult> dkim = DkimFrom(c.f[3]);
  return (*ev)->EvaluateDomain(c.f[2], dkim, SpfFrom(c.f[4]), *dns, Soon(),
                               std::stoull(c.f[5]));
}

void Check(const std::string& want, const std::string& got, const char* what) {
  if (want == "-" && std::string(what) != "disposition") {
    if (std::string(what) == "tag" || std::string(what) == "record_domain") {
      // "-" means empty for these.
      BOOST_TEST(got.empty(), what << " = " << got);
    }
    return;
  }
  BOOST_TEST(got == want, what);
}

BOOST_AUTO_TEST_SUITE(dmarc_eval)

BOOST_DATA_TEST_CASE(manifest_batch, boost::unit_test::data::make(LoadEvalCases()), c) {
  FakeResolver dns;
  DmarcResult r = Run(c, true, &dns);
  BOOST_TEST_MESSAGE(c.name() << ": " << DmarcVerdictName(r.verdict) << " (" << r.reason << ")");
  BOOST_TEST(std::string(DmarcVerdictName(r.verdict)) == c.f[6], r.reason);
  if (c.f[7] != "-") BOOST_TEST(r.org_domain == c.f[7]);
  Check(c.f[8], r.record_domain, "record_domain");
  Check(c.f[9], std::string(DmarcPolicyTagName(r.policy_tag)), "tag");
  if (c.f[10] != "-") BOOST_TEST(std::string(DmarcPolicyName(r.requested)) == c.f[10]);
  BOOST_TEST(std::string(DmarcDispositionName(r.disposition)) == c.f[11]);
  BOOST_TEST(dns.queries == std::stoul(c.f[12]), "queries");
  BOOST_TEST(r.dns_queries == dns.queries);
  BOOST_TEST(dns.queries <= 64u);
  // RFC 9989 §4.10: never more than 8 _dmarc questions for one walk.
  std::set<std::string> dmarc_names;
  for (const DnsQuestion& q : dns.asked) {
    if (q.name.rfind("_dmarc.", 0) == 0) dmarc_names.insert(q.name);
  }
  BOOST_TEST(dmarc_names.size() <= 16u);
}

BOOST_DATA_TEST_CASE(manifest_sequential, boost::unit_test::data::make(LoadEvalCases()), c) {
  FakeResolver dns;
  DmarcResult r = Run(c, false, &dns);
  BOOST_TEST(std::string(DmarcVerdictName(r.verdict)) == c.f[6], r.reason);
  BOOST_TEST(std::string(DmarcDispositionName(r.disposition)) == c.f[11]);
  BOOST_TEST(dns.queries == std::stoul(c.f[13]), "queries");
}

// The same results through a memo, empty or holding every name of the walk already (as after
// the Evaluator's first batch): DMARC's budget counts its questions whether or not held.
BOOST_DATA_TEST_CASE(manifest_through_a_memo, boost::unit_test::data::make(LoadEvalCases()), c) {
  for (bool batch : {true, false}) {
    for (bool prefetched : {false, true}) {
      FakeResolver plain;
      const DmarcResult want = Run(c, batch, &plain);
      FakeResolver dns;
      LoadZone(c.f[1], &dns);
      testing::Memo memo(dns);
      DmarcOptions o;
      o.batch_tree_walk = batch;
      auto ev = DmarcEvaluator::Create(o);
      BOOST_REQUIRE(ev.ok());
      if (prefetched) memo.Resolve((*ev)->Questions(c.f[2]), Soon());
      const DmarcResult r = (*ev)->EvaluateDomain(c.f[2], DkimFrom(c.f[3]), SpfFrom(c.f[4]),
                                                  memo, Soon(), std::stoull(c.f[5]));
      BOOST_TEST_CONTEXT("batch " << batch << ", prefetched " << prefetched) {
        BOOST_TEST(r.verdict == want.verdict);
        BOOST_TEST(r.reason == want.reason);
        BOOST_TEST(r.disposition == want.disposition);
        BOOST_TEST(r.org_domain == want.org_domain);
        BOOST_TEST(r.record_domain == want.record_domain);
        BOOST_TEST(r.dns_queries == want.dns_queries);
        BOOST_TEST(r.limit_reached == want.limit_reached);
      }
    }
  }
}

// np= needs the existence check only when the policy comes from another domain's record:
// the same questions with or without a memo, and an own record held by the memo is read
// there (nothing asked after the first batch).
BOOST_AUTO_TEST_CASE(follow_up_questions) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject; np=none");
  dns.AddTxt("_dmarc.own.example.com", "v=DMARC1; p=none");
  auto ev = DmarcEvaluator::Create();
  BOOST_TEST_REQUIRE(ev.ok());
  const std::vector<DnsQuestion> existence = {{"nx.example.com", RRType::kA},
                                              {"nx.example.com", RRType::kAAAA},
                                              {"nx.example.com", RRType::kMX}};
  BOOST_TEST((*ev)->FollowUpQuestions("nx.example.com", dns, Soon()) == existence);
  BOOST_TEST((*ev)->FollowUpQuestions("own.example.com", dns, Soon()).empty());
  for (const char* author : {"nx.example.com", "own.example.com"}) {
    testing::Memo memo(dns);
    memo.Resolve((*ev)->Questions(author), Soon());
    const bool own = std::string(author) == "own.example.com";
    BOOST_TEST((*ev)->FollowUpQuestions(author, memo, Soon()) ==
               (own ? std::vector<DnsQuestion>() : existence));
    BOOST_TEST(memo.resolves == 1u);  // the walk's answers were all held
  }
}

BOOST_AUTO_TEST_CASE(manifest_size) { BOOST_TEST(LoadEvalCases().size() >= 50u); }

BOOST_AUTO_TEST_CASE(tree_walk_names) {
  BOOST_TEST(TreeWalkNames("a.b.c.d.e.f.g.h.i.j.mail.example.com") ==
                 (std::vector<std::string>{"a.b.c.d.e.f.g.h.i.j.mail.example.com",
                                           "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
                                           "i.j.mail.example.com", "j.mail.example.com",
                                           "mail.example.com", "example.com", "com"}),
             boost::test_tools::per_element());
  BOOST_TEST(TreeWalkNames("com") == std::vector<std::string>{"com"},
             boost::test_tools::per_element());
  BOOST_TEST(TreeWalkNames("").empty());
  for (int n = 1; n < 40; ++n) {
    std::string d = "tld";
    for (int i = 1; i < n; ++i) d = "l" + std::to_string(i) + "." + d;
    BOOST_TEST(TreeWalkNames(d).size() == static_cast<size_t>(std::min(n, 8)));
  }
}

// The _dmarc name built on the stack is DmarcName's, up to a 253-octet domain; longer is empty.
BOOST_AUTO_TEST_CASE(dmarc_name_on_the_stack) {
  dmarc_internal::DmarcNameBuffer buf;
  for (size_t len : {1, 11, 252, 253}) {
    const std::string domain(len, 'a');
    BOOST_TEST(dmarc_internal::DmarcNameIn(domain, buf) == dmarc_internal::DmarcName(domain));
  }
  BOOST_TEST(dmarc_internal::DmarcNameIn(std::string(254, 'a'), buf).empty());
}

BOOST_AUTO_TEST_CASE(tree_walk_is_one_batch) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  auto ev = DmarcEvaluator::Create();
  BOOST_TEST_REQUIRE(ev.ok());
  std::vector<DnsQuestion> qs = (*ev)->Questions("A.B.Example.COM");
  BOOST_TEST(qs.size() == 4u);
  BOOST_TEST(qs[0].name == "_dmarc.a.b.example.com");
  BOOST_TEST(qs[3].name == "_dmarc.com");
  DmarcResult r = (*ev)->EvaluateDomain("a.b.example.com", {}, SpfResult(), dns, Soon());
  BOOST_TEST(dns.batches == 1u);
  BOOST_TEST(r.verdict == DmarcVerdict::kFail);
}

BOOST_AUTO_TEST_CASE(dkim_testing_key_option) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  DkimResult d;
  d.result = DkimVerdict::kPass;
  d.domain = "example.com";
  d.testing = true;
  std::vector<DkimResult> dkim = {d};
  auto counts = DmarcEvaluator::Create();
  DmarcResult via_testing = (*counts)->EvaluateDomain("example.com", dkim, SpfResult(), dns, Soon());
  BOOST_TEST(via_testing.verdict == DmarcVerdict::kPass);
  BOOST_TEST(via_testing.aligned_dkim_testing);  // the A-R says "via test-mode key"
  // A non-testing aligned signature after it is the one reported.
  DkimResult real = d;
  real.testing = false;
  real.domain = "mail.example.com";
  std::vector<DkimResult> both = {d, real};
  DmarcResult r2 = (*counts)->EvaluateDomain("example.com", both, SpfResult(), dns, Soon());
  BOOST_TEST(r2.verdict == DmarcVerdict::kPass);
  BOOST_TEST(!r2.aligned_dkim_testing);
  BOOST_TEST(r2.aligned_dkim_domain == "mail.example.com");
  DmarcOptions o;
  o.dkim_testing_counts_for_alignment = false;
  auto strict = DmarcEvaluator::Create(o);
  DmarcResult r = (*strict)->EvaluateDomain("example.com", dkim, SpfResult(), dns, Soon());
  BOOST_TEST(r.verdict == DmarcVerdict::kFail);
  BOOST_TEST(!r.dkim_aligned);
}

BOOST_AUTO_TEST_CASE(query_budget) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  DmarcOptions o;
  o.limits.max_dmarc_dns_queries = 3;
  auto ev = DmarcEvaluator::Create(o);
  // Author walk takes 3; the sibling's walk would need a 4th: not aligned, never a crash.
  DkimResult d;
  d.result = DkimVerdict::kPass;
  d.domain = "b.example.com";
  std::vector<DkimResult> dkim = {d};
  DmarcResult r = (*ev)->EvaluateDomain("a.example.com", dkim, SpfResult(), dns, Soon());
  BOOST_TEST(dns.queries <= 3u);
  BOOST_TEST(r.verdict == DmarcVerdict::kFail);
  o.limits.max_dmarc_dns_queries = 1;
  auto tiny = DmarcEvaluator::Create(o);
  FakeResolver dns2;
  BOOST_TEST((*tiny)->EvaluateDomain("a.example.com", {}, SpfResult(), dns2, Soon()).verdict ==
             DmarcVerdict::kPermError);
  BOOST_TEST(dns2.queries == 0u);
}

// A resolver that answers only the first question of each batch (a misbehaving one): the
// questions it left out are temporary failures ("no answer"), never a missing record.
class FirstAnswerOnly final : public Resolver {
 public:
  explicit FirstAnswerOnly(Resolver& inner) : inner_(inner) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers = inner_.Resolve(questions, deadline);
    answers.resize(std::min<size_t>(answers.size(), 1));
    return answers;
  }

 private:
  Resolver& inner_;
};

BOOST_AUTO_TEST_CASE(short_answer_list_is_a_temporary_failure) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  FirstAnswerOnly short_dns(dns);
  auto ev = DmarcEvaluator::Create();
  BOOST_TEST_REQUIRE(ev.ok());
  // The walk asks _dmarc.a.example.com (answered: NXDOMAIN), _dmarc.example.com and
  // _dmarc.com in one batch; the record's name got no answer.
  DmarcResult r = (*ev)->EvaluateDomain("a.example.com", {}, SpfResult(), short_dns, Soon());
  BOOST_TEST(r.verdict == DmarcVerdict::kTempError);
  BOOST_TEST(r.reason == "_dmarc.example.com: no answer");
  BOOST_TEST(r.dns_queries == 3u);
}

BOOST_AUTO_TEST_CASE(message_entry_points) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  dns.AddTxt("_dmarc.example.net", "v=DMARC1; p=quarantine");
  auto ev = DmarcEvaluator::Create();
  auto eval = [&](const std::string& headers) {
    Result<Message> m = Message::Parse(headers + "\r\nbody\r\n");
    BOOST_REQUIRE(m.ok());
    return (*ev)->Evaluate(*m, {}, SpfResult(), dns, Soon());
  };
  DmarcResult two = eval("From: a@example.com\r\nFrom: b@example.net\r\n");
  BOOST_TEST(two.verdict == DmarcVerdict::kPermError);
  BOOST_TEST(two.reason == "multiple From fields");
  DmarcResult none = eval("Subject: x\r\n");
  BOOST_TEST(none.verdict == DmarcVerdict::kPermError);
  // Two author domains: both evaluated, the strictest failing result kept (reject).
  DmarcResult multi = eval("From: a@example.net, b@example.com\r\n");
  BOOST_TEST(multi.verdict == DmarcVerdict::kFail);
  BOOST_TEST(multi.from_domain == "example.com");
  BOOST_TEST(multi.disposition == DmarcDisposition::kReject);
  // A domain named twice (in any case) is evaluated once: two distinct domains, not three.
  DmarcResult repeated = eval("From: a@example.net, b@example.com, c@Example.NET\r\n");
  BOOST_TEST(repeated.disposition == DmarcDisposition::kReject);
  BOOST_TEST(repeated.reason ==
             "no aligned DKIM or SPF pass (2 From domains, strictest result)");
  DmarcResult one = eval("From: Joe <joe@Example.COM>\r\nMessage-ID: <1@x>\r\n");
  BOOST_TEST(one.from_domain == "example.com");
  BOOST_TEST(one.disposition == DmarcDisposition::kReject);
}

BOOST_AUTO_TEST_CASE(u_label_from_domain_uses_the_a_label_policy) {
  // RFC 8616 §6: an EAI message's From domain in U-labels finds the policy published at the
  // A-label name, and a DKIM signature with the A-label d= aligns with it.
  FakeResolver dns;
  dns.AddTxt("_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject");
  auto ev = DmarcEvaluator::Create();
  Result<Message> m =
      Message::Parse("From: J\xc3\xb6rg <j\xc3\xb6rg@B\xc3\x9c" "CHER.example>\r\n\r\nbody\r\n");
  BOOST_REQUIRE(m.ok());
  DmarcResult spoof = (*ev)->Evaluate(*m, {}, SpfResult(), dns, Soon());
  BOOST_TEST(spoof.from_domain == "xn--bcher-kva.example");
  BOOST_TEST(spoof.record_domain == "xn--bcher-kva.example");
  BOOST_TEST(spoof.verdict == DmarcVerdict::kFail);
  BOOST_TEST(spoof.disposition == DmarcDisposition::kReject);
  DkimResult sig;
  sig.result = DkimVerdict::kPass;
  sig.domain = "xn--bcher-kva.example";
  std::vector<DkimResult> dkim{sig};
  DmarcResult signed_ok = (*ev)->Evaluate(*m, dkim, SpfResult(), dns, Soon());
  BOOST_TEST(signed_ok.verdict == DmarcVerdict::kPass);
  BOOST_TEST(signed_ok.dkim_aligned);
}

BOOST_AUTO_TEST_CASE(sampling_key_is_deterministic) {
  BOOST_TEST(DmarcSamplingKey("<a@b>") == DmarcSamplingKey("  <a@b>\r\n"));
  BOOST_TEST(DmarcSamplingKey("<a@b>") != DmarcSamplingKey("<a@c>"));
  BOOST_TEST(DmarcSamplingKey("") == 0u);
  // Over many ids, pct=30 keeps roughly 30 % in the sample.
  int in = 0;
  for (int i = 0; i < 10000; ++i) {
    in += DmarcSamplingKey("<" + std::to_string(i) + "@example.com>") % 100 < 30;
  }
  BOOST_TEST(in > 2700);
  BOOST_TEST(in < 3300);
}

BOOST_AUTO_TEST_CASE(names_use_rfc8601_spellings) {
  BOOST_TEST(DmarcVerdictName(DmarcVerdict::kTempError) == "temperror");
  BOOST_TEST(DmarcVerdictName(DmarcVerdict::kPermError) == "permerror");
  BOOST_TEST(DmarcPolicyName(DmarcPolicy::kQuarantine) == "quarantine");
  BOOST_TEST(DmarcDispositionName(DmarcDisposition::kNone) == "none");
  BOOST_TEST(DmarcPolicyTagName(DmarcPolicyTag::kNp) == "np");
}

// Regression (tests/integration/test_policy_named.py, aligned-pass-reject): a pass under
// p=reject reported policy "none" and tag "" although a record applied, so the JSON `policy`
// and the A-R comment "(p=none dis=none)" contradicted polrec.p=reject. The requested policy
// and its tag are now reported for every verdict once a record applies; np= only on fail
// (its existence check is not asked otherwise).
BOOST_AUTO_TEST_CASE(requested_policy_reported_on_pass_and_temperror) {
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; np=none; t=y");
  dns.Add("mail.example.com", RRType::kA, "192.0.2.1");
  auto ev = DmarcEvaluator::Create();
  BOOST_REQUIRE(ev.ok());
  std::vector<DkimResult> dkim = DkimFrom("example.com");
  DmarcResult exact = (*ev)->EvaluateDomain("example.com", dkim, SpfResult(), dns, Soon(), 0);
  BOOST_TEST(exact.verdict == DmarcVerdict::kPass);
  BOOST_TEST(DmarcPolicyTagName(exact.policy_tag) == "p");
  BOOST_TEST(DmarcPolicyName(exact.requested) == "reject");
  BOOST_TEST(exact.disposition == DmarcDisposition::kNone);
  BOOST_TEST(exact.testing);  // t=y is reported whatever the verdict
  DmarcResult sub = (*ev)->EvaluateDomain("mail.example.com", dkim, SpfResult(), dns, Soon(), 0);
  BOOST_TEST(sub.verdict == DmarcVerdict::kPass);
  BOOST_TEST(DmarcPolicyTagName(sub.policy_tag) == "sp");
  BOOST_TEST(DmarcPolicyName(sub.requested) == "quarantine");
  BOOST_TEST(sub.disposition == DmarcDisposition::kNone);
  // A pass from a non-existent subdomain: no existence check, so sp (not np) is reported.
  size_t before = dns.queries;
  DmarcResult nx = (*ev)->EvaluateDomain("nx.example.com", dkim, SpfResult(), dns, Soon(), 0);
  BOOST_TEST(nx.verdict == DmarcVerdict::kPass);
  BOOST_TEST(DmarcPolicyTagName(nx.policy_tag) == "sp");
  BOOST_TEST(!nx.non_existent);
  for (size_t i = before; i < dns.asked.size(); ++i) {
    BOOST_TEST((dns.asked[i].type == RRType::kTXT));
  }
  // The same subdomain failing: np applies after the existence check.
  DmarcResult nx_fail = (*ev)->EvaluateDomain("nx.example.com", {}, SpfResult(), dns, Soon(), 0);
  BOOST_TEST(nx_fail.verdict == DmarcVerdict::kFail);
  BOOST_TEST(DmarcPolicyTagName(nx_fail.policy_tag) == "np");
  BOOST_TEST(DmarcPolicyName(nx_fail.requested) == "none");
  // No record: no policy, no tag.
  DmarcResult none = (*ev)->EvaluateDomain("example.org", dkim, SpfResult(), dns, Soon(), 0);
  BOOST_TEST(none.verdict == DmarcVerdict::kNone);
  BOOST_TEST(DmarcPolicyTagName(none.policy_tag) == "");
}

// A temperror once the record is known keeps its policy unapplied (RFC 7489 §6.6.2) and says
// what the fail would have been, for the score (docs/security.md): an attacker who names an
// aligned domain whose DNS fails must score no better than the plain spoof.
// Discovery failing at a name below a record that was answered (a lame delegation under a
// domain with a policy, which a spoofer may pick as its From): the temperror is scored under
// that record when no passing identifier could align, and stays plain otherwise; the policy
// is never applied.
BOOST_AUTO_TEST_CASE(a_failed_name_below_a_record_is_scored_under_it) {
  DkimResult bank;
  bank.result = DkimVerdict::kPass;
  bank.domain = "bank.example";
  DkimResult evil = bank;
  evil.domain = "evil.test";
  SpfResult spf_evil;
  spf_evil.result = SpfVerdict::kPass;
  spf_evil.identity = "mailfrom";
  spf_evil.domain = "evil.test";
  SpfResult spf_sub = spf_evil;
  spf_sub.domain = "mail.x.lame.bank.example";
  struct Case {
    std::string record;               // at _dmarc.bank.example ("" none)
    std::string tld_record;           // at _dmarc.example ("" none)
    std::vector<DkimResult> dkim;
    SpfResult spf;
    bool scored;                      // has_record and disposition_if_fail set
    DmarcDisposition want;
  };
  const std::vector<Case> cases = {
      {"v=DMARC1; p=reject", "", {}, spf_evil, true, DmarcDisposition::kReject},
      {"v=DMARC1; p=reject", "", {evil}, SpfResult(), true, DmarcDisposition::kReject},
      {"v=DMARC1; p=reject; sp=quarantine", "", {}, spf_evil, true,
       DmarcDisposition::kQuarantine},
      {"v=DMARC1; p=none; sp=none; np=reject", "", {}, spf_evil, true, DmarcDisposition::kReject},
      {"v=DMARC1; p=reject; t=y", "", {}, spf_evil, true, DmarcDisposition::kQuarantine},
      {"", "v=DMARC1; p=reject; psd=y", {}, spf_evil, true, DmarcDisposition::kReject},
      // Real mail that could align whatever the failed names hold: plain temperror.
      {"v=DMARC1; p=reject", "", {bank}, spf_evil, false, DmarcDisposition::kNone},
      {"v=DMARC1; p=reject", "", {}, spf_sub, false, DmarcDisposition::kNone},
      {"", "v=DMARC1; p=reject; psd=y", {bank}, SpfResult(), false, DmarcDisposition::kNone},
      // No record above: nothing to score under.
      {"", "", {}, spf_evil, false, DmarcDisposition::kNone},
  };
  for (bool batch : {true, false}) {
    DmarcOptions o;
    o.batch_tree_walk = batch;
    auto ev = DmarcEvaluator::Create(o);
    BOOST_REQUIRE(ev.ok());
    for (const Case& c : cases) {
      FakeResolver dns;
      if (!c.record.empty()) dns.AddTxt("_dmarc.bank.example", c.record);
      if (!c.tld_record.empty()) dns.AddTxt("_dmarc.example", c.tld_record);
      dns.Fail("_dmarc.x.lame.bank.example");
      dns.Fail("_dmarc.lame.bank.example");
      DmarcResult r =
          (*ev)->EvaluateDomain("x.lame.bank.example", c.dkim, c.spf, dns, Soon(), 0);
      BOOST_TEST_CONTEXT("batch " << batch << ", " << c.record << c.tld_record << ", dkim "
                                  << c.dkim.size() << ", spf " << c.spf.domain) {
        BOOST_TEST((r.verdict == DmarcVerdict::kTempError), r.reason);
        BOOST_TEST((r.disposition == DmarcDisposition::kNone));
        BOOST_TEST(r.has_record == c.scored);
        BOOST_TEST((r.disposition_if_fail == c.want));
        BOOST_TEST((r.reason.find("applies if it holds none") != std::string::npos) == c.scored,
                   r.reason);
        if (c.scored) {
          BOOST_TEST(r.record_domain == (c.record.empty() ? "example" : "bank.example"));
        }
      }
    }
  }
  // The PSL method: the Author Domain's own name failing under its Organizational Domain's
  // record.
  DmarcOptions o;
  o.org_domain_method = OrgDomainMethod::kPsl;
  o.psl_file = "/usr/share/publicsuffix/public_suffix_list.dat";
  auto ev = DmarcEvaluator::Create(o);
  BOOST_REQUIRE(ev.ok());
  FakeResolver dns;
  dns.AddTxt("_dmarc.bank.com", "v=DMARC1; p=reject");
  dns.Fail("_dmarc.x.lame.bank.com");
  DmarcResult r = (*ev)->EvaluateDomain("x.lame.bank.com", {}, spf_evil, dns, Soon(), 0);
  BOOST_TEST((r.verdict == DmarcVerdict::kTempError));
  BOOST_TEST(r.has_record);
  BOOST_TEST((r.disposition_if_fail == DmarcDisposition::kReject));
  DkimResult bank_com = bank;
  bank_com.domain = "bank.com";
  const std::vector<DkimResult> real = {bank_com};
  r = (*ev)->EvaluateDomain("x.lame.bank.com", real, spf_evil, dns, Soon(), 0);
  BOOST_TEST((r.verdict == DmarcVerdict::kTempError));
  BOOST_TEST(!r.has_record);
  BOOST_TEST((r.disposition_if_fail == DmarcDisposition::kNone));
}

// A From domain that is a public suffix (its own record says psd=y, or the PSL lists it):
// the score gives its subdomains no credit (docs/scoring.md).
BOOST_AUTO_TEST_CASE(author_public_suffix_by_psd_or_psl) {
  SpfResult spf;
  spf.result = SpfVerdict::kPass;
  spf.domain = "evil.eu.org";
  auto walk = DmarcEvaluator::Create();
  BOOST_REQUIRE(walk.ok());
  FakeResolver dns;
  dns.AddTxt("_dmarc.eu.org", "v=DMARC1; p=reject; psd=y");
  dns.AddTxt("_dmarc.bank.example", "v=DMARC1; p=reject");
  DmarcResult r = (*walk)->EvaluateDomain("eu.org", {}, spf, dns, Soon(), 0);
  BOOST_TEST(r.author_public_suffix);
  BOOST_TEST((r.verdict == DmarcVerdict::kFail));
  r = (*walk)->EvaluateDomain("bank.example", {}, spf, dns, Soon(), 0);
  BOOST_TEST(!r.author_public_suffix);
  // The tree walk without psd=y (or without any record): libpsl's built-in list says eu.org
  // is a public suffix (its private section).
  if (PublicSuffixList::HasBuiltin()) {  // Debian's libpsl has one
    FakeResolver none;
    r = (*walk)->EvaluateDomain("eu.org", {}, spf, none, Soon(), 0);
    BOOST_TEST((r.verdict == DmarcVerdict::kNone));
    BOOST_TEST(r.author_public_suffix);
  }
  DmarcOptions o;
  o.org_domain_method = OrgDomainMethod::kPsl;
  o.psl_file = "/usr/share/publicsuffix/public_suffix_list.dat";
  auto psl = DmarcEvaluator::Create(o);
  BOOST_REQUIRE(psl.ok());
  FakeResolver plain;
  plain.AddTxt("_dmarc.eu.org", "v=DMARC1; p=reject");
  r = (*psl)->EvaluateDomain("eu.org", {}, spf, plain, Soon(), 0);
  BOOST_TEST(r.author_public_suffix);  // eu.org is in the PSL's private section
  r = (*psl)->EvaluateDomain("bank.example", {}, spf, dns, Soon(), 0);
  BOOST_TEST(!r.author_public_suffix);
}

BOOST_AUTO_TEST_CASE(temperror_says_the_disposition_a_fail_would_have) {
  auto ev = DmarcEvaluator::Create();
  BOOST_REQUIRE(ev.ok());
  DkimResult lame;
  lame.result = DkimVerdict::kTempError;
  lame.domain = "lame.example.com";
  lame.detail = "SERVFAIL";
  const std::vector<DkimResult> dkim = {lame};
  struct Case {
    std::string record;
    std::string author;
    DmarcDisposition want;
  };
  for (const Case& c : std::vector<Case>{
           {"v=DMARC1; p=reject", "example.com", DmarcDisposition::kReject},
           {"v=DMARC1; p=quarantine", "example.com", DmarcDisposition::kQuarantine},
           {"v=DMARC1; p=none", "example.com", DmarcDisposition::kNone},
           {"v=DMARC1; p=reject; t=y", "example.com", DmarcDisposition::kQuarantine},
           {"v=DMARC1; p=reject; pct=0", "example.com", DmarcDisposition::kQuarantine},
           // A subdomain: sp=, or the stricter of sp= and np= (no existence check is made).
           {"v=DMARC1; p=reject; sp=none", "mail.example.com", DmarcDisposition::kNone},
           {"v=DMARC1; p=none; sp=none; np=reject", "nx.example.com", DmarcDisposition::kReject},
       }) {
    FakeResolver dns;
    dns.AddTxt("_dmarc.example.com", c.record);
    DmarcResult r = (*ev)->EvaluateDomain(c.author, dkim, SpfResult(), dns, Soon(), 0);
    BOOST_TEST((r.verdict == DmarcVerdict::kTempError), c.record);
    BOOST_TEST((r.disposition == DmarcDisposition::kNone), c.record);
    BOOST_TEST(r.temporary_identifier == "dkim", c.record);
    BOOST_TEST((r.disposition_if_fail == c.want), c.record << " " << c.author);
  }
  // The From domain's own DMARC lookup failing: no policy known, nothing to score.
  FakeResolver broken;
  broken.Fail("_dmarc.example.com");
  DmarcResult r = (*ev)->EvaluateDomain("example.com", dkim, SpfResult(), broken, Soon(), 0);
  BOOST_TEST((r.verdict == DmarcVerdict::kTempError));
  BOOST_TEST(!r.has_record);
  BOOST_TEST((r.disposition_if_fail == DmarcDisposition::kNone));
  // A fail leaves it at none (its disposition is the real one).
  FakeResolver dns;
  dns.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
  r = (*ev)->EvaluateDomain("example.com", {}, SpfResult(), dns, Soon(), 0);
  BOOST_TEST((r.verdict == DmarcVerdict::kFail));
  BOOST_TEST((r.disposition_if_fail == DmarcDisposition::kNone));
  // A pass says what the fail would be without what passed (the score of a pass that rests
  // on a signature leaving a shown field unsigned, CREDENCE_DMARC_PARTIAL_*), after t=/pct=.
  DkimResult pass;
  pass.result = DkimVerdict::kPass;
  pass.domain = "example.com";
  const std::vector<DkimResult> passes = {pass};
  for (const auto& [record, want] : std::vector<std::pair<std::string, DmarcDisposition>>{
           {"v=DMARC1; p=reject", DmarcDisposition::kReject},
           {"v=DMARC1; p=quarantine", DmarcDisposition::kQuarantine},
           {"v=DMARC1; p=reject; t=y", DmarcDisposition::kQuarantine},
           {"v=DMARC1; p=none", DmarcDisposition::kNone}}) {
    FakeResolver d2;
    d2.AddTxt("_dmarc.example.com", record);
    DmarcResult p = (*ev)->EvaluateDomain("example.com", passes, SpfResult(), d2, Soon(), 0);
    BOOST_TEST((p.verdict == DmarcVerdict::kPass), record);
    BOOST_TEST((p.disposition == DmarcDisposition::kNone), record);
    BOOST_TEST((p.disposition_if_fail == want), record);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
