// FormatConfig (credence/policy/config_format.h): the shipped /etc/credence/credence.toml is
// the kTemplate text; uncommenting every key in it must give exactly the built-in defaults,
// and `credence config check`'s kEffective text must read back to the same configuration.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "credence/policy/config.h"
#include "credence/policy/config_format.h"

namespace credence {
namespace {

const std::string kDefaults = FormatConfig(Config(), ConfigStyle::kEffective);

// Every "#key = value" and "#[section]" line of the template without its '#'; description
// lines ("# ...") and indented examples ("#   ...") stay comments.
std::string Uncomment(const std::string& text) {
  static const std::regex kKeyLine("^#([A-Za-z_\\[])");
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += std::regex_replace(line, kKeyLine, "$1") + "\n";
  return out;
}

BOOST_AUTO_TEST_SUITE(config_format)

BOOST_AUTO_TEST_CASE(template_as_shipped_gives_the_defaults) {
  Result<Config> c = ParseConfig(FormatConfig(Config(), ConfigStyle::kTemplate), "template");
  BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
  BOOST_TEST(FormatConfig(*c, ConfigStyle::kEffective) == kDefaults);
}

BOOST_AUTO_TEST_CASE(template_with_every_key_uncommented_gives_the_defaults) {
  std::string text = Uncomment(FormatConfig(Config(), ConfigStyle::kTemplate));
  // Every key of the effective form is in the template, so none can be left out.
  std::istringstream keys(kDefaults);
  std::string line;
  size_t keys_seen = 0;
  while (std::getline(keys, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++keys_seen;
    BOOST_TEST(text.find("\n" + line + "\n") != std::string::npos, "template lacks: " << line);
  }
  BOOST_TEST(keys_seen > 50u);  // 30+ score symbols, the limits, the sections
  Result<Config> c = ParseConfig(text, "template-uncommented");
  BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
  BOOST_TEST(FormatConfig(*c, ConfigStyle::kEffective) == kDefaults);
}

BOOST_AUTO_TEST_CASE(template_examples_stay_comments) {
  std::string text = Uncomment(FormatConfig(Config(), ConfigStyle::kTemplate));
  BOOST_TEST(text.find("\n[[") == std::string::npos);  // no site rule by default
  BOOST_TEST(text.find("#   [[trusted_forwarder]]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(effective_form_reads_back_the_same) {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/config/credence.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Config> c = ParseConfig(ss.str(), "credence.toml");
  BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
  std::string once = FormatConfig(*c, ConfigStyle::kEffective);
  BOOST_TEST(once != kDefaults);
  Result<Config> again = ParseConfig(once, "effective");
  BOOST_TEST_REQUIRE(again.ok(), again.status().ToString() << "\n" << once);
  BOOST_TEST(FormatConfig(*again, ConfigStyle::kEffective) == once);
  BOOST_TEST(once.find("[[trusted_forwarder]]") != std::string::npos);
  BOOST_TEST(once.find("[[domain]]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(strings_are_escaped) {
  Config c;
  c.dmarc.psl_file = "a\"b\\c\td";
  std::string text = FormatConfig(c, ConfigStyle::kEffective);
  BOOST_TEST(text.find("psl_file = \"a\\\"b\\\\c\\u0009d\"") != std::string::npos, text);
  Result<Config> back = ParseConfig(text, "escaped");
  BOOST_TEST_REQUIRE(back.ok(), back.status().ToString());
  BOOST_TEST(back->dmarc.psl_file == c.dmarc.psl_file);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
