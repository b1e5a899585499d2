// The configuration loader: manifest tests/data/config/cases.json. Good files check the values
// loaded; bad files check the exact "SOURCE:LINE:COL: key: message" text.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "credence/policy/config.h"

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

const std::string kDir = std::string(CREDENCE_TEST_DATA) + "/config/";

json Load() {
  std::ifstream in(kDir + "cases.json");
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (const json& c : Load()) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<cases.json missing>");
  return names;
}

void CheckExpect(const Config& c, const json& expect) {
  for (const auto& [key, want] : expect.items()) {
    BOOST_TEST_CONTEXT("key " << key) {
      if (key == "authserv_id") BOOST_TEST(c.authres.authserv_id == want.get<std::string>());
      else if (key == "max_dkim_signatures") BOOST_TEST(c.limits.max_dkim_signatures == want.get<size_t>());
      else if (key == "min_rsa_bits") BOOST_TEST(c.limits.min_rsa_bits == want.get<unsigned>());
      else if (key == "deadline_ms") BOOST_TEST(c.limits.deadline.count() == want.get<int64_t>());
      else if (key == "org_domain")
        BOOST_TEST((c.dmarc.org_domain_method == OrgDomainMethod::kPsl ? "psl" : "treewalk") ==
                   want.get<std::string>());
      else if (key == "trusted_sealers")
        BOOST_TEST(c.dmarc.arc_trusted_sealers == want.get<std::vector<std::string>>(),
                   boost::test_tools::per_element());
      else if (key == "max_arc_key_queries")
        BOOST_TEST(c.limits.max_arc_key_queries == want.get<size_t>());
      else if (key == "rules") BOOST_TEST(c.score.site_rules.size() == want.get<size_t>());
      else if (key == "allow_from") BOOST_TEST(c.score.allow_from_domains.size() == want.get<size_t>());
      else if (key == "domains") BOOST_TEST(c.score.domain_overrides.size() == want.get<size_t>());
      else if (key.starts_with("weight.")) BOOST_TEST(c.score.weights.at(key.substr(7)) == want.get<double>());
      else if (key == "history_enabled") BOOST_TEST(c.history.enabled == want.get<bool>());
      else if (key == "history_store") BOOST_TEST(c.history.store == want.get<std::string>());
      else if (key == "history_receiver_domain")
        BOOST_TEST(c.history.receiver_domain == want.get<std::string>());
      else if (key == "history_report_from")
        BOOST_TEST(c.history.report_from == want.get<std::string>());
      else if (key == "history_busy_timeout_ms")
        BOOST_TEST(c.history.busy_timeout_ms == want.get<int>());
      else BOOST_FAIL("unknown expectation " + key);
    }
  }
}

BOOST_AUTO_TEST_SUITE(config)

BOOST_DATA_TEST_CASE(manifest, bdata::make(Names()), name) {
  json c;
  for (const json& x : Load()) {
    if (x["name"] == name) c = x;
  }
  BOOST_TEST_REQUIRE(!c.is_null());
  if (c.contains("needs_file") && !std::filesystem::exists(c["needs_file"].get<std::string>())) {
    BOOST_TEST_MESSAGE("skipped: " << c["needs_file"] << " missing");
    return;
  }
  Result<Config> r = Status::Internal("not loaded");
  if (c.contains("file")) {
    r = LoadConfigFile(kDir + c["file"].get<std::string>());
  } else {
    std::string text;
    for (const json& line : c["toml"]) text += line.get<std::string>() + "\n";
    r = ParseConfig(text, name);
  }
  if (c.contains("error")) {
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.status().code() == StatusCode::kInvalidInput);
    BOOST_TEST(r.status().message().find(c["error"].get<std::string>()) != std::string::npos,
               "got: " << r.status().message());
    return;
  }
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  CheckExpect(*r, c["expect"]);
}

BOOST_AUTO_TEST_CASE(missing_file_is_io_error) {
  Result<Config> r = LoadConfigFile("/nonexistent/credence.toml");
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == StatusCode::kIoError);
  BOOST_TEST(r.status().message().find("/nonexistent/credence.toml") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(example_file_values_reach_the_policy) {
  Result<Config> r = LoadConfigFile(kDir + "credence.toml");
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  // dmarc.limits mirrors [limits].
  BOOST_TEST(r->dmarc.limits.max_dmarc_dns_queries == r->limits.max_dmarc_dns_queries);
  // The compiled policy uses the [[domain]] override.
  DmarcResult d;
  d.verdict = DmarcVerdict::kFail;
  d.disposition = DmarcDisposition::kReject;
  d.from_domain = "bank.example";
  ScoreInput in;
  in.dmarc = &d;
  BOOST_TEST(r->score_policy.Score(in).score == 8.0);
  // The forwarder rule needs both its network and its HELO pattern.
  SpfResult spf;
  spf.result = SpfVerdict::kFail;
  in.dmarc = nullptr;
  in.spf = &spf;
  in.client_ip = "192.0.2.10";
  in.helo = "relay7.example.edu";
  BOOST_TEST(r->score_policy.Score(in).score == 0.0);
  in.helo = "relay7.example.edu.evil";
  BOOST_TEST(r->score_policy.Score(in).score == 1.0);
}

BOOST_AUTO_TEST_CASE(hostile_config_text_never_crashes) {
  const std::string inputs[] = {std::string(100000, '['), std::string("a=\"\\u0000\"\n"),
                                std::string("\xff\xfe\x00", 3), "[[domain]]\n" + std::string(5000, 'x'),
                                "x = " + std::string(10000, '{')};
  for (const std::string& in : inputs) {
    Result<Config> r = ParseConfig(in, "hostile");
    BOOST_TEST(!r.ok());
  }
}

// toml++ 3.3 reaches an internal assertion on "[[[" and "[[ [" (UB when built with NDEBUG);
// the loader refuses them first with a precise position.
BOOST_AUTO_TEST_CASE(array_table_header_without_key_is_a_clear_error) {
  for (const char* in : {"[[[domain]]]\n", "a = 1\n  [[ [x]]\n"}) {
    Result<Config> r = ParseConfig(in, "cfg.toml");
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.status().message().find("invalid table header") != std::string::npos,
               r.status().message());
  }
  Result<Config> r = ParseConfig("a = 1\n  [[ [x]]\n", "cfg.toml");
  BOOST_TEST(r.status().message().rfind("cfg.toml:2:6:", 0) == 0, r.status().message());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
