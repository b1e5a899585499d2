// Authentication-Results writer (RFC 8601 §2.2): manifest tests/data/authres/writer.json.
// Every case is also checked for the invariants that keep the header safe whatever the input:
// no bare CR/LF, folds only as CRLF+TAB, lines under 998 bytes, folded == unfolded.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"
#include "results_json.h"

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json Load(const std::string& file) {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/authres/" + file);
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names(const std::string& file) {
  std::vector<std::string> names;
  for (const json& c : Load(file)) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<" + file + " missing>");
  return names;
}

json Find(const std::string& file, const std::string& name) {
  for (const json& c : Load(file)) {
    if (c["name"] == name) return c;
  }
  return json();
}

using testing::ToDkim;
using testing::ToDmarc;
using testing::ToSpf;
std::string Str(const json& j, const char* key) { return testing::JsonStr(j, key); }

AuthResOptions ToOptions(const json& c) {
  AuthResOptions o;
  o.authserv_id = "mx.example.net";
  if (c.contains("options")) {
    const json& j = c["options"];
    if (j.contains("authserv_id")) o.authserv_id = Str(j, "authserv_id");
    o.fold_width = j.value("fold_width", o.fold_width);
    o.comments = j.value("comments", o.comments);
    o.reasons = j.value("reasons", o.reasons);
    o.dmarc_polrec = j.value("dmarc_polrec", o.dmarc_polrec);
  }
  return o;
}

// The invariants every written header keeps.
void CheckSafe(const AuthResHeader& h) {
  BOOST_TEST(h.value.find('\r') == std::string::npos);
  BOOST_TEST(h.value.find('\n') == std::string::npos);
  std::string unfolded;
  size_t line = 0, longest = 0;
  for (size_t i = 0; i < h.folded.size(); ++i) {
    char c = h.folded[i];
    if (c == '\r') {
      BOOST_TEST_REQUIRE(h.folded.compare(i, 3, "\r\n\t") == 0);
      unfolded += ' ';
      longest = std::max(longest, line);
      line = 0;
      i += 2;
      continue;
    }
    BOOST_TEST_REQUIRE(c != '\n');
    unfolded += c;
    ++line;
  }
  longest = std::max(longest, line);
  BOOST_TEST(unfolded == h.value);
  BOOST_TEST(longest + std::string("Authentication-Results:").size() < 998u);
  for (unsigned char c : h.value) {
    BOOST_TEST_REQUIRE((c >= 0x20 && c < 0x7f));
  }
}

BOOST_AUTO_TEST_SUITE(authres_writer)

BOOST_DATA_TEST_CASE(manifest, bdata::make(Names("writer.json")), name) {
  json c = Find("writer.json", name);
  BOOST_TEST_REQUIRE(!c.is_null());
  std::vector<DkimResult> dkim;
  for (const json& d : c.value("dkim", json::array())) dkim.push_back(ToDkim(d));
  std::optional<SpfResult> mailfrom, helo;
  std::optional<DmarcResult> dmarc;
  if (c.contains("spf_mailfrom")) mailfrom = ToSpf(c["spf_mailfrom"], "mailfrom");
  if (c.contains("spf_helo")) helo = ToSpf(c["spf_helo"], "helo");
  if (c.contains("dmarc")) dmarc = ToDmarc(c["dmarc"]);
  AuthResInput in;
  in.dkim = dkim;
  in.spf_mailfrom = mailfrom ? &*mailfrom : nullptr;
  in.spf_helo = helo ? &*helo : nullptr;
  in.dmarc = dmarc ? &*dmarc : nullptr;
  Result<AuthResHeader> h = WriteAuthResults(in, ToOptions(c));
  if (c.contains("expect_error")) {
    BOOST_TEST_REQUIRE(!h.ok());
    BOOST_TEST(h.status().message().find(c["expect_error"].get<std::string>()) !=
               std::string::npos, h.status().message());
    return;
  }
  BOOST_TEST_REQUIRE(h.ok(), h.status().ToString());
  CheckSafe(*h);
  BOOST_TEST_MESSAGE(h->Field());
  if (c.contains("expect_value")) BOOST_TEST(h->value == Str(c, "expect_value"));
  for (const json& s : c.value("expect_contains", json::array())) {
    BOOST_TEST(h->value.find(s.get<std::string>()) != std::string::npos,
               "missing " << s << " in" << h->value);
  }
  for (const json& s : c.value("expect_not_contains", json::array())) {
    BOOST_TEST(h->value.find(s.get<std::string>()) == std::string::npos,
               "unexpected " << s << " in" << h->value);
  }
  if (c.contains("expect_max_line")) {
    size_t longest = 0, start = 0;
    std::string f = h->Field();
    for (size_t p = f.find("\r\n"); ; p = f.find("\r\n", start)) {
      size_t end = p == std::string::npos ? f.size() : p;
      longest = std::max(longest, end - start);
      if (p == std::string::npos) break;
      start = p + 2;
    }
    BOOST_TEST(longest <= c["expect_max_line"].get<size_t>());
  }
}

BOOST_AUTO_TEST_CASE(header_b_is_unique_prefix) {
  // RFC 6008 §4: enough of b= to tell the message's signatures apart, at least 8 characters.
  std::vector<DkimResult> dkim(3);
  dkim[0].result = dkim[1].result = dkim[2].result = DkimVerdict::kPass;
  dkim[0].domain = dkim[1].domain = dkim[2].domain = "example.com";
  dkim[0].signature_b = "AAAAAAAAAAAA1xyz";
  dkim[1].signature_b = "AAAAAAAAAAAA2xyz";
  dkim[2].signature_b = "BBBBBBBBBBBBBBBB";
  AuthResInput in;
  in.dkim = dkim;
  AuthResOptions o;
  Result<AuthResHeader> h = WriteAuthResults(in, o);
  BOOST_TEST_REQUIRE(h.ok());
  BOOST_TEST(h->value.find("header.b=AAAAAAAAAAAA1;") != std::string::npos, h->value);
  bool second = h->value.find("header.b=AAAAAAAAAAAA2 ") != std::string::npos ||
                h->value.find("header.b=AAAAAAAAAAAA2;") != std::string::npos;
  BOOST_TEST(second, h->value);
  BOOST_TEST(h->value.find("header.b=BBBBBBBB") != std::string::npos);
  BOOST_TEST(h->value.find("header.b=BBBBBBBBB") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(value_quoting) {
  BOOST_TEST(AuthResValue("example.com") == "example.com");
  BOOST_TEST(AuthResValue("a b") == "\"a b\"");
  BOOST_TEST(AuthResValue("a\"b\\c") == "\"a\\\"b\\\\c\"");
  BOOST_TEST(AuthResValue("x;y=z") == "\"x;y=z\"");
  BOOST_TEST(AuthResValue("") == "\"\"");
  BOOST_TEST(AuthResValue("a\r\nb") == "\"a b\"");
  BOOST_TEST(AuthResValue("caf\xc3\xa9") == "\"caf?\"");  // "?" is a tspecial
  BOOST_TEST(SanitizeAuthResText(std::string(10240, 'x')).size() == kMaxAuthResValue);
}

// Text that is clean already comes back as it is (the writer's fast path); anything else is
// cleaned byte by byte, and cleaning twice changes nothing.
// RFC 2045 token characters (a table in the writer): every printable byte alone, and with
// a letter before and after it.
BOOST_AUTO_TEST_CASE(token_characters) {
  const std::string_view kTspecials = "()<>@,;:\\\"/[]?=";
  for (int c = 0x21; c < 0x7f; ++c) {
    const std::string s(1, static_cast<char>(c));
    const bool token = kTspecials.find(static_cast<char>(c)) == std::string_view::npos;
    const std::string escaped = std::string(c == '"' || c == '\\' ? "\\" : "") + s;
    BOOST_TEST(AuthResValue(s) == (token ? s : "\"" + escaped + "\""), "byte " << c);
    const std::string inner = "a" + s + "b";
    BOOST_TEST(AuthResValue(inner) == (token ? inner : "\"a" + escaped + "b\""), "byte " << c);
  }
}

// Comments escape "(", ")" and "\\"; reasons (quoted strings) '"' and "\\": at the ends, side by
// side and between runs of plain text.
BOOST_AUTO_TEST_CASE(comment_and_reason_escapes) {
  DmarcResult d;
  d.verdict = DmarcVerdict::kFail;
  d.from_domain = "example.com";
  d.arc_override = true;
  d.arc_override_sealer = "(a)b\\\\c)(";
  d.reason = "\"x\"\\y \"";
  AuthResInput in;
  in.dmarc = &d;
  Result<AuthResHeader> h = WriteAuthResults(in, AuthResOptions{});
  BOOST_TEST_REQUIRE(h.ok());
  BOOST_TEST(h->value.find(" (local_policy arc=pass \\(a\\)b\\\\\\\\c\\)\\() ") != std::string::npos,
             h->value);
  BOOST_TEST(h->value.find(" reason=\"\\\"x\\\"\\\\y \\\"\" ") != std::string::npos, h->value);
}

BOOST_AUTO_TEST_CASE(sanitize_edges) {
  BOOST_TEST(SanitizeAuthResText("2048-bit rsa key") == "2048-bit rsa key");
  BOOST_TEST(SanitizeAuthResText(" a") == "a");
  BOOST_TEST(SanitizeAuthResText("a ") == "a");
  BOOST_TEST(SanitizeAuthResText("a  b") == "a b");
  BOOST_TEST(SanitizeAuthResText("a\tb") == "a b");
  BOOST_TEST(SanitizeAuthResText("a\x7f" "b") == "ab");
  BOOST_TEST(SanitizeAuthResText("! ~") == "! ~");  // the ends of the printable range
  BOOST_TEST(SanitizeAuthResText("a b  c d") == "a b c d");
  BOOST_TEST(SanitizeAuthResText("a \x1f" "b") == "a b");
  BOOST_TEST(SanitizeAuthResText(std::string(1, '\0')) == "");
  BOOST_TEST(SanitizeAuthResText("caf\xc3\xa9") == "caf?");
  BOOST_TEST(SanitizeAuthResText(std::string(kMaxAuthResValue, 'x')).size() == kMaxAuthResValue);
  BOOST_TEST(SanitizeAuthResText(std::string(kMaxAuthResValue + 1, 'x')).size() ==
             kMaxAuthResValue);
  for (const std::string text : {" a  b\r\n", "\x01x\x7f", "caf\xc3\xa9 (\"q\")", "a\\b"}) {
    const std::string once = SanitizeAuthResText(text);
    BOOST_TEST(SanitizeAuthResText(once) == once);
  }
}

BOOST_AUTO_TEST_CASE(authserv_id_validation) {
  BOOST_TEST(ValidateAuthServId("mx.example.net").ok());
  BOOST_TEST(ValidateAuthServId("mx-1_a.example").ok());
  BOOST_TEST(!ValidateAuthServId("").ok());
  BOOST_TEST(!ValidateAuthServId("mx example").ok());
  BOOST_TEST(!ValidateAuthServId("mx;dkim=pass").ok());
  BOOST_TEST(!ValidateAuthServId(".mx").ok());
  BOOST_TEST(!ValidateAuthServId("mx..example").ok());
  BOOST_TEST(!ValidateAuthServId(std::string(256, 'a')).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
