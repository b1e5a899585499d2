// ArcVerifier (RFC 8617) with an in-memory Resolver: every validation case of the ValiMail ARC
// test suite (tests/data/arc/arc-validation.json, converted by convert.py), whose cv result
// must match, and the rules the suite does not cover (instance bounds, key budget, order of
// fields, oldest-pass, what leaves the verifier).
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "arc/sets.h"
#include "credence/arc.h"
#include "fake_resolver.h"

namespace credence {

static std::ostream& operator<<(std::ostream& os, ArcVerdict v) { return os << ArcVerdictName(v); }
static std::ostream& operator<<(std::ostream& os, ArcReason r) { return os << ArcReasonName(r); }

namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

const std::string kSuite = std::string(CREDENCE_TEST_DATA) + "/arc/arc-validation.json";

const json& Suite() {
  static const json suite = [] {
    std::ifstream in(kSuite);
    return in ? json::parse(in, nullptr, false) : json();
  }();
  return suite;
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  if (Suite().is_array())
    for (const json& c : Suite()) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<" + kSuite + " missing>");
  return names;
}

json Case(const std::string& name) {
  for (const json& c : Suite())
    if (c["name"] == name) return c;
  return json();
}

using testing::FakeResolver;

// The keys of a suite case (name -> [TXT]); `temp_fail`: every one of them SERVFAIL instead.
FakeResolver Keys(const json& keys, bool temp_fail = false) {
  FakeResolver r;
  for (auto& [name, v] : keys.items()) {
    for (const std::string& t : v.get<std::vector<std::string>>()) r.AddTxt(name, t);
    if (temp_fail) r.Fail(name);
  }
  return r;
}

// The suite signs with t=12345 and no x=; any later time will do.
constexpr int64_t kNow = 1700000000;

ArcResult VerifyText(const std::string& text, FakeResolver& resolver, Limits limits = Limits()) {
  FixedClock clock(kNow);
  DkimOptions options;
  options.limits = limits;
  ArcVerifier verifier(clock, options);
  Result<Message> m = Message::Parse(text.empty() ? std::string("\n") : text);
  BOOST_TEST_REQUIRE(m.ok());
  return verifier.Verify(*m, resolver, std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

json SuiteKeys() {
  for (const json& c : Suite())
    if (c["keys"].size() > 1 && c["keys"].contains("dummy2._domainkey.example.org"))
      return c["keys"];
  return json::object();
}

std::string SuiteMessage(const std::string& name) { return Case(name)["message"]; }

BOOST_AUTO_TEST_SUITE(arc_verify)

BOOST_DATA_TEST_CASE(validation_suite, bdata::make(Names()), name) {
  json c = Case(name);
  BOOST_TEST_REQUIRE(!c.is_null());
  FakeResolver resolver = Keys(c["keys"]);
  ArcResult r = VerifyText(c["message"], resolver);
  BOOST_TEST_CONTEXT(c["description"].get<std::string>() << " [" << ArcReasonName(r.reason)
                                                         << ": " << r.detail << "]") {
    BOOST_TEST(std::string(ArcVerdictName(r.result)) == c["cv"].get<std::string>());
    if (r.result == ArcVerdict::kPass) {
      BOOST_TEST(r.detail.empty());
      BOOST_TEST(!r.sets.empty());
      BOOST_TEST(r.Sealers().size() == r.sets.size());
      for (const ArcSet& s : r.sets) BOOST_TEST((s.seal.result == DkimVerdict::kPass), s.seal.detail);
      BOOST_TEST((r.sets.back().message_signature.result == DkimVerdict::kPass));
    } else if (r.result == ArcVerdict::kFail) {
      BOOST_TEST(r.reason != ArcReason::kNone);
      BOOST_TEST(!r.detail.empty());
    }
  }
}

// The suite's cases with every case name present: the conversion did not lose any.
BOOST_AUTO_TEST_CASE(suite_is_complete) {
  BOOST_TEST(Suite().size() == 171u);
  size_t pass = 0;
  for (const json& c : Suite()) pass += c["cv"] == "pass";
  BOOST_TEST(pass == 54u);
}

// A two-hop passing chain from the suite, used below to build broken variants.
const char* kTwoHops = "cv_pass_i2_1";

BOOST_AUTO_TEST_CASE(two_hops_pass_with_sealers_and_oldest_pass) {
  FakeResolver resolver = Keys(Case(kTwoHops)["keys"]);
  ArcResult r = VerifyText(SuiteMessage(kTwoHops), resolver);
  BOOST_TEST_REQUIRE(r.result == ArcVerdict::kPass);
  BOOST_TEST(r.sets.size() == 2u);
  BOOST_TEST(r.oldest_pass == 0);
  BOOST_TEST(r.sets[0].cv == "none");
  BOOST_TEST(r.sets[1].cv == "pass");
  BOOST_TEST(r.sets[0].authserv_id == "lists.example.org");
  BOOST_TEST(r.Sealers() == std::vector<std::string>({"example.org", "example.org"}));
  BOOST_TEST(resolver.batches == 1u);  // every key in one batch
  BOOST_TEST(resolver.queries == 1u);  // one distinct key
}

// RFC 8617 §5.2 step 5: an older AMS that no longer verifies sets oldest-pass, not the verdict.
BOOST_AUTO_TEST_CASE(older_ams_invalid_sets_oldest_pass) {
  FakeResolver resolver = Keys(Case("cv_pass_i2_1_ams1_invalid")["keys"]);
  ArcResult r = VerifyText(SuiteMessage("cv_pass_i2_1_ams1_invalid"), resolver);
  BOOST_TEST(r.result == ArcVerdict::kPass);
  BOOST_TEST(r.oldest_pass == 2);
  BOOST_TEST((r.sets[0].message_signature.result != DkimVerdict::kPass));
}

// Fields in any order: the seals sign the sets in instance order, not in field order. The
// ARC-Seal fields reversed and moved below every other field, every AMS above every AAR (each
// name's own order kept, so the AMS header selection, bottom-up per name, is unchanged): the
// chain still passes.
BOOST_AUTO_TEST_CASE(field_order_does_not_matter) {
  std::string text = SuiteMessage(kTwoHops);
  Result<Message> m = Message::Parse(text);
  BOOST_TEST_REQUIRE(m.ok());
  std::vector<std::string> seals, signatures, results, others;
  for (const HeaderField& f : m->headers()) {
    std::string line = std::string(f.raw) + "\r\n";
    if (EqualsIgnoreCase(f.name, "ARC-Seal")) seals.insert(seals.begin(), line);
    else if (EqualsIgnoreCase(f.name, "ARC-Message-Signature")) signatures.push_back(line);
    else if (EqualsIgnoreCase(f.name, "ARC-Authentication-Results")) results.push_back(line);
    else others.push_back(line);
  }
  BOOST_TEST_REQUIRE(seals.size() == 2u);
  std::string shuffled;
  for (auto* part : {&signatures, &results, &others, &seals})
    for (const std::string& line : *part) shuffled += line;
  shuffled += "\r\n" + std::string(m->body());
  FakeResolver resolver = Keys(Case(kTwoHops)["keys"]);
  ArcResult r = VerifyText(shuffled, resolver);
  BOOST_TEST(r.result == ArcVerdict::kPass, r.detail);
  BOOST_TEST(r.Sealers().size() == 2u);
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

BOOST_AUTO_TEST_CASE(instance_bounds) {
  FakeResolver resolver = Keys(Case(kTwoHops)["keys"]);
  std::string text = SuiteMessage(kTwoHops);
  // i=51 on the newest AAR: more than 50 sets.
  ArcResult r = VerifyText(Replace(text, "ARC-Authentication-Results: i=2;",
                                   "ARC-Authentication-Results: i=51;"), resolver);
  BOOST_TEST(r.result == ArcVerdict::kFail);
  BOOST_TEST(r.reason == ArcReason::kTooManySets);
  // i=0 and an unreadable i=.
  r = VerifyText(Replace(text, "ARC-Authentication-Results: i=2;",
                         "ARC-Authentication-Results: i=0;"), resolver);
  BOOST_TEST(r.reason == ArcReason::kStructure);
  r = VerifyText(Replace(text, "ARC-Authentication-Results: i=2;",
                         "ARC-Authentication-Results: i=x;"), resolver);
  BOOST_TEST(r.reason == ArcReason::kStructure);
  // A gap: instance 2 renumbered 3 in all three fields -> instance 2 missing.
  std::string gap = Replace(text, "ARC-Authentication-Results: i=2;",
                            "ARC-Authentication-Results: i=3;");
  r = VerifyText(gap, resolver);
  BOOST_TEST(r.result == ArcVerdict::kFail);
  BOOST_TEST(r.reason == ArcReason::kStructure);
  BOOST_TEST(r.detail.find("instance 2 has no ARC-Authentication-Results") != std::string::npos,
             r.detail);
}

BOOST_AUTO_TEST_CASE(no_arc_fields_is_none) {
  FakeResolver resolver = Keys(json::object());
  ArcResult r = VerifyText("From: a@example.org\r\n\r\nbody\r\n", resolver);
  BOOST_TEST(r.result == ArcVerdict::kNone);
  BOOST_TEST(r.sets.empty());
  BOOST_TEST(resolver.queries == 0u);
}

// A temporary DNS failure is fail (ARC has no temperror), reason key_dns_error.
BOOST_AUTO_TEST_CASE(dns_trouble_fails_closed_with_its_reason) {
  FakeResolver resolver = Keys(Case(kTwoHops)["keys"], /*temp_fail=*/true);
  ArcResult r = VerifyText(SuiteMessage(kTwoHops), resolver);
  BOOST_TEST(r.result == ArcVerdict::kFail);
  BOOST_TEST(r.reason == ArcReason::kKeyDnsError);
}

// Limits::max_arc_key_queries: a chain needing more keys is not evaluated (fail), no DNS.
BOOST_AUTO_TEST_CASE(key_budget) {
  FakeResolver resolver = Keys(SuiteKeys());
  Limits limits;
  limits.max_arc_key_queries = 0;
  ArcResult r = VerifyText(SuiteMessage(kTwoHops), resolver, limits);
  BOOST_TEST(r.result == ArcVerdict::kFail);
  BOOST_TEST(r.reason == ArcReason::kNotEvaluated);
  BOOST_TEST(resolver.queries == 0u);
}

// Only well-formed identifiers leave the verifier.
BOOST_AUTO_TEST_CASE(hostile_domain_not_copied) {
  FakeResolver resolver = Keys(Case(kTwoHops)["keys"]);
  std::string text = Replace(SuiteMessage(kTwoHops), "ARC-Authentication-Results: i=2; lists.example.org;",
                             "ARC-Authentication-Results: i=2; $(reboot);");
  ArcResult r = VerifyText(text, resolver);
  BOOST_TEST(r.result == ArcVerdict::kFail);  // the AAR is sealed: changing it breaks the seal
  BOOST_TEST_REQUIRE(r.sets.size() == 2u);
  BOOST_TEST(r.sets[1].authserv_id.empty());
}

BOOST_AUTO_TEST_CASE(aar_instance_syntax) {
  long i = 0;
  std::string_view rest;
  BOOST_TEST(arc::ParseAarInstance(" i=1; lists.example.org; dmarc=pass", &i, &rest));
  BOOST_TEST(i == 1);
  BOOST_TEST(rest == " lists.example.org; dmarc=pass");
  BOOST_TEST(arc::ParseAarInstance(" i = 12 ;x", &i, &rest));
  BOOST_TEST(i == 12);
  BOOST_TEST(!arc::ParseAarInstance(" lists.example.org; i=1;", &i, &rest));
  BOOST_TEST(!arc::ParseAarInstance(" i=1 lists.example.org;", &i, &rest));
  BOOST_TEST(!arc::ParseAarInstance(" i=;", &i, &rest));
  BOOST_TEST(!arc::ParseAarInstance(" i=1234567890;", &i, &rest));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
