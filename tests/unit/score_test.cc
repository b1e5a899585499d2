// The score policy: manifest tests/data/score/cases.json (config snippet + verdicts -> score and
// the symbols that fired, in order), plus properties of the default table.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "credence/policy/config.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/score.h"
#include "results_json.h"

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json Load() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/score/cases.json");
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (const json& c : Load()) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<cases.json missing>");
  return names;
}

using testing::ToDkim;
using testing::ToDmarc;
using testing::ToSpf;

BOOST_AUTO_TEST_SUITE(score)

BOOST_DATA_TEST_CASE(manifest, bdata::make(Names()), name) {
  json c;
  for (const json& x : Load()) {
    if (x["name"] == name) c = x;
  }
  BOOST_TEST_REQUIRE(!c.is_null());
  std::string toml;
  for (const json& line : c.value("config", json::array())) toml += line.get<std::string>() + "\n";
  Result<Config> config = ParseConfig(toml, name);
  BOOST_TEST_REQUIRE(config.ok(), config.status().ToString());

  std::vector<DkimResult> dkim;
  for (const json& d : c.value("dkim", json::array())) dkim.push_back(ToDkim(d));
  std::optional<SpfResult> spf;
  std::optional<SpfResult> spf_helo;
  std::optional<DmarcResult> dmarc;
  if (c.contains("spf")) spf = ToSpf(c["spf"]);
  if (c.contains("spf_helo")) spf_helo = ToSpf(c["spf_helo"]);
  if (c.contains("dmarc")) dmarc = ToDmarc(c["dmarc"]);
  ScoreInput in;
  in.dkim = dkim;
  in.spf = spf ? &*spf : nullptr;
  in.spf_helo = spf_helo ? &*spf_helo : nullptr;
  std::vector<std::string> limits = c.value("limits", std::vector<std::string>());
  in.limits = limits;
  in.dmarc = dmarc ? &*dmarc : nullptr;
  in.client_ip = c.value("client_ip", "");
  in.helo = c.value("helo", "");
  in.list_id = c.value("list_id", "");
  in.from_domain = c.value("from_domain", "");
  for (const std::string& d : c.value("from_shown_domains", std::vector<std::string>())) {
    in.from_shown_domains.push_back({d, ""});
  }

  ScoreResult r = config->score_policy.Score(in);
  std::vector<std::string> names;
  double sum = 0;
  std::string all_descriptions;
  for (const ScoreSymbol& s : r.symbols) {
    names.emplace_back(s.name);
    // A view of a literal of the table: the C API hands it out as a C string.
    BOOST_TEST(FindSymbol(s.name) != nullptr);
    BOOST_TEST(s.name.data()[s.name.size()] == '\0');
    sum += s.weight;
    all_descriptions += s.description + "\n";
    BOOST_TEST_MESSAGE(s.name << " " << s.weight << " " << s.description);
  }
  std::vector<std::string> want = c["expect_symbols"].get<std::vector<std::string>>();
  BOOST_TEST(names == want, boost::test_tools::per_element());
  // Exactly the decimal written (the sum is rounded to millionths: JSON prints 0.3, not
  // 0.30000000000000004).
  BOOST_TEST(r.score == c["expect_score"].get<double>(),
             "score " << r.score << " want " << c["expect_score"]);
  BOOST_TEST(std::fabs(r.score - sum) < 1e-9);
  if (c.contains("expect_description")) {
    BOOST_TEST(all_descriptions.find(c["expect_description"].get<std::string>()) !=
               std::string::npos, all_descriptions);
  }
}

BOOST_AUTO_TEST_CASE(default_table_shape) {
  // Temperrors score 0; a failing signature scores above an unsigned message; DMARC reject is
  // the largest default; an aligned DMARC pass lowers the score.
  auto w = [](std::string_view n) {
    const SymbolInfo* s = FindSymbol(n);
    BOOST_TEST_REQUIRE(s != nullptr, n);
    return s->weight;
  };
  BOOST_TEST(w("CREDENCE_DKIM_TEMPERROR") == 0.0);
  BOOST_TEST(w("CREDENCE_SPF_TEMPERROR") == 0.0);
  BOOST_TEST(w("CREDENCE_DMARC_TEMPERROR") == 0.0);
  BOOST_TEST(w("CREDENCE_DKIM_FAIL") > w("CREDENCE_DKIM_NONE"));
  BOOST_TEST(w("CREDENCE_DMARC_PASS") < 0.0);
  BOOST_TEST(w("CREDENCE_DKIM_TESTING") == 0.0);
  BOOST_TEST(w("CREDENCE_SPF_FORWARDED") == 0.0);
  double max = 0;
  for (const SymbolInfo& s : DefaultSymbols()) {
    BOOST_TEST(s.name.starts_with("CREDENCE_"));
    max = std::max(max, s.weight);
    BOOST_TEST(FindSymbol(s.name) == &s);  // names are unique
  }
  BOOST_TEST(w("CREDENCE_DMARC_REJECT") == max);
  BOOST_TEST(FindSymbol("R_DKIM_ALLOW") == nullptr);
}

BOOST_AUTO_TEST_CASE(create_rejects_bad_rules) {
  ScoreConfig c;
  c.weights["CREDENCE_NOPE"] = 1;
  BOOST_TEST(!ScorePolicy::Create(c).ok());
  c = ScoreConfig();
  c.site_rules.push_back({"r", SiteRuleKind::kTrustedForwarder, {"192.0.2.1/16"}, "", ""});
  Result<ScorePolicy> p = ScorePolicy::Create(c);
  BOOST_TEST_REQUIRE(!p.ok());
  BOOST_TEST(p.status().message().find("host bits") != std::string::npos, p.status().message());
  c.site_rules[0] = {"r", SiteRuleKind::kMailingList, {}, "(", ""};
  p = ScorePolicy::Create(c);
  BOOST_TEST_REQUIRE(!p.ok());
  BOOST_TEST(p.status().message().find("missing )") != std::string::npos, p.status().message());
  c.site_rules[0] = {"r", SiteRuleKind::kMailingList, {}, "", ""};
  BOOST_TEST(!ScorePolicy::Create(c).ok());
}

BOOST_AUTO_TEST_CASE(networks) {
  BOOST_TEST(ValidateNetwork("192.0.2.0/24").ok());
  BOOST_TEST(ValidateNetwork("0.0.0.0/0").ok());
  BOOST_TEST(ValidateNetwork("2001:db8::/32").ok());
  BOOST_TEST(ValidateNetwork("::/0").ok());
  BOOST_TEST(ValidateNetwork("192.0.2.1").ok());
  BOOST_TEST(!ValidateNetwork("192.0.2.0/33").ok());
  BOOST_TEST(!ValidateNetwork("2001:db8::/129").ok());
  BOOST_TEST(!ValidateNetwork("192.0.2.0/").ok());
  BOOST_TEST(!ValidateNetwork("192.0.2/24").ok());
  BOOST_TEST(!ValidateNetwork("example.com").ok());
  BOOST_TEST(!ValidateNetwork("").ok());
}

BOOST_AUTO_TEST_CASE(bad_client_ip_matches_no_network) {
  ScoreConfig c;
  c.allow_networks = {"0.0.0.0/0", "::/0"};
  Result<ScorePolicy> p = ScorePolicy::Create(c);
  BOOST_TEST_REQUIRE(p.ok());
  ScoreInput in;
  in.client_ip = "not-an-ip";
  ScoreResult r = p->Score(in);
  BOOST_TEST(r.score == 0.0);
  in.client_ip = "203.0.113.1";
  BOOST_TEST(p->Score(in).score == -5.0);
}

// Each domain is named once in a symbol's description, and a domain whose name begins
// another's is its own item (the list was checked by substring, so d=a.example.net hid a
// later d=a.example).
BOOST_AUTO_TEST_CASE(description_lists_each_failing_domain_once) {
  ScorePolicy p;
  ScoreInput in;
  std::vector<DkimResult> dkim(4);
  const char* domains[] = {"a.example.net", "a.example", "a.example.net", "example"};
  for (size_t i = 0; i < dkim.size(); ++i) {
    dkim[i].result = DkimVerdict::kFail;
    dkim[i].domain = domains[i];
  }
  in.dkim = dkim;
  ScoreResult r = p.Score(in);
  const ScoreSymbol* fail = nullptr;
  for (const ScoreSymbol& s : r.symbols) {
    if (s.name == "CREDENCE_DKIM_FAIL") fail = &s;
  }
  BOOST_TEST_REQUIRE(fail != nullptr);
  BOOST_TEST(fail->description == "d=a.example.net, d=a.example, d=example");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
