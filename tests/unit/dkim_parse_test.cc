// RFC 6376 §3.2 tag-lists, base64, §3.5 DKIM-Signature fields and §3.6.1 key records, driven
// by the manifests tests/data/dkim/{tag_list,signature,key_record}.json.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dkim/key_record.h"
#include "dkim/signature.h"
#include "dkim/tag_list.h"

namespace credence::dkim {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json Load(const std::string& file) {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/" + file);
  if (!in) return json::array();
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// Case names of `array` (or of json[key]); a missing manifest gives one failing name.
std::vector<std::string> Names(const std::string& file, const std::string& key = "") {
  json j = Load(file);
  if (!key.empty()) j = j.is_object() ? j[key] : json::array();
  std::vector<std::string> names;
  for (const json& c : j) names.push_back(c.value("name", "<unnamed>"));
  if (names.empty()) names.push_back("<manifest " + file + " missing or empty>");
  return names;
}

json Case(const std::string& file, const std::string& key, const std::string& name) {
  json j = Load(file);
  if (!key.empty()) j = j[key];
  for (const json& c : j)
    if (c.value("name", "") == name) return c;
  BOOST_FAIL("no case " << name << " in " << file);
  return {};
}

BOOST_AUTO_TEST_SUITE(dkim_parse)

BOOST_DATA_TEST_CASE(tag_list, bdata::make(Names("tag_list.json", "tag_list")), name) {
  json c = Case("tag_list.json", "tag_list", name);
  std::string input = c["input"];
  Result<std::vector<Tag>> r = ParseTagList(input);
  if (c.value("error", false)) {
    BOOST_TEST(!r.ok());
    return;
  }
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  BOOST_TEST(r->size() == c["tags"].size());
  for (auto& [k, v] : c["tags"].items()) {
    const Tag* t = FindTag(*r, k);
    BOOST_TEST_REQUIRE(t != nullptr, "tag " << k);
    const std::string expected = v;
    BOOST_TEST(std::string(t->value) == expected);
  }
}

BOOST_DATA_TEST_CASE(base64, bdata::make(Names("tag_list.json", "base64")), name) {
  json c = Case("tag_list.json", "base64", name);
  Result<std::string> r = DecodeBase64(c["input"].get<std::string>());
  if (c.value("error", false)) {
    BOOST_TEST(!r.ok());
  } else {
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    BOOST_TEST(*r == c["decoded"].get<std::string>());
  }
}

BOOST_AUTO_TEST_CASE(tag_list_too_many_tags) {
  std::string many;
  for (size_t i = 0; i <= kMaxTags; ++i) many += "t" + std::to_string(i) + "=x;";
  BOOST_TEST(!ParseTagList(many).ok());
  BOOST_TEST(ParseTagList(many.substr(0, many.find("t64="))).ok());
}

// Every byte value at every offset of a value longer than the eight-byte scan step: only
// VALCHAR (%x21-3A / %x3C-7E) is taken into the value.
BOOST_AUTO_TEST_CASE(tag_list_value_bytes_at_every_offset) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    if (IsFws(ch) || ch == ';') continue;  // separators: covered by the JSON cases
    const bool valchar = c >= 0x21 && c <= 0x7e;
    for (size_t at = 0; at < 20; ++at) {
      std::string value(20, 'Q');
      value[at] = ch;
      const std::string text = "a=1; b=" + value + "; c=2";  // the tags view into it
      Result<std::vector<Tag>> r = ParseTagList(text);
      BOOST_TEST(r.ok() == valchar, "byte " << c << " at " << at);
      if (r.ok() && valchar) {
        const Tag* b = FindTag(*r, "b");
        BOOST_TEST_REQUIRE(b != nullptr);
        BOOST_TEST(b->value == value);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(tag_list_raw_value_span_covers_fws) {
  std::string text = "a=1; b = \r\n QUJD \r\n ; c=2";
  Result<std::vector<Tag>> r = ParseTagList(text);
  BOOST_TEST_REQUIRE(r.ok());
  const Tag* b = FindTag(*r, "b");
  BOOST_TEST_REQUIRE(b != nullptr);
  BOOST_TEST(text.substr(b->raw_value_begin, b->raw_value_end - b->raw_value_begin) ==
             " \r\n QUJD \r\n ");
}

BOOST_DATA_TEST_CASE(signature, bdata::make(Names("signature.json")), name) {
  json c = Case("signature.json", "", name);
  Signature sig;
  SignatureError e = ParseSignature(c["value"].get<std::string>(), &sig);
  BOOST_TEST(std::string(DkimReasonName(e.reason)) == c["reason"].get<std::string>(), e.detail);
  if (c.contains("domain")) BOOST_TEST(sig.domain == c["domain"].get<std::string>());
  if (c.contains("selector")) BOOST_TEST(sig.selector == c["selector"].get<std::string>());
  if (c.contains("canon")) BOOST_TEST(sig.CanonName() == c["canon"].get<std::string>());
  if (c.contains("identity")) BOOST_TEST(sig.identity == c["identity"].get<std::string>());
  if (c.contains("b")) BOOST_TEST(sig.b_text == c["b"].get<std::string>());
  if (c.contains("signed_headers")) {
    BOOST_TEST(sig.signed_headers == c["signed_headers"].get<std::vector<std::string>>(),
               boost::test_tools::per_element());
  }
  if (c.contains("l")) {
    BOOST_TEST_REQUIRE(sig.l.has_value());
    BOOST_TEST(*sig.l == c["l"].get<uint64_t>());
  }
  if (c.contains("t")) BOOST_TEST(sig.t.value_or(-1) == c["t"].get<int64_t>());
  if (c.contains("x")) BOOST_TEST(sig.x.value_or(-1) == c["x"].get<int64_t>());
}

BOOST_AUTO_TEST_CASE(signature_times) {
  Signature sig;
  sig.t = 1000;
  sig.x = 2000;
  BOOST_TEST((CheckSignatureTimes(sig, 1500, 300).reason == DkimReason::kNone));
  BOOST_TEST((CheckSignatureTimes(sig, 2000, 300).reason == DkimReason::kNone));
  BOOST_TEST((CheckSignatureTimes(sig, 2001, 300).reason == DkimReason::kExpired));
  BOOST_TEST((CheckSignatureTimes(sig, 700, 300).reason == DkimReason::kNone));
  BOOST_TEST((CheckSignatureTimes(sig, 699, 300).reason == DkimReason::kFutureTimestamp));
  Signature none;
  BOOST_TEST((CheckSignatureTimes(none, 0, 0).reason == DkimReason::kNone));
}

BOOST_AUTO_TEST_CASE(key_name_lowers_the_selector_only) {
  Signature sig;
  sig.selector = "Sel.2024";
  sig.domain = "example.org";  // lower-cased by the parser already
  BOOST_TEST(sig.KeyName() == "sel.2024._domainkey.example.org");
  sig.selector = "s";
  sig.domain = "x";
  BOOST_TEST(sig.KeyName() == "s._domainkey.x");
}

BOOST_AUTO_TEST_CASE(signed_headers_split_on_every_colon) {
  Signature sig;
  ParseSignature("v=1; a=rsa-sha256; d=x.org; s=s; bh=QUJD; b=QUJD; h=From : to::Subject",
                 &sig);
  BOOST_TEST(sig.signed_headers == (std::vector<std::string>{"From", "to", "", "Subject"}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(key_record, bdata::make(Names("key_record.json")), name) {
  json c = Case("key_record.json", "", name);
  KeyRecord key;
  KeyError e = ParseKeyRecord(c["record"].get<std::string>(), &key);
  BOOST_TEST(std::string(DkimReasonName(e.reason)) == c["reason"].get<std::string>(), e.detail);
  if (c.contains("type")) {
    BOOST_TEST((key.type == (c["type"] == "rsa" ? crypto::KeyType::kRsa
                                                : crypto::KeyType::kEd25519)));
  }
  if (c.contains("bits")) {
    BOOST_TEST_REQUIRE(key.key != nullptr);
    BOOST_TEST(key.key->bits() == c["bits"].get<unsigned>());
  }
  if (c.contains("testing")) BOOST_TEST(key.testing == c["testing"].get<bool>());
  if (c.contains("strict")) BOOST_TEST(key.strict == c["strict"].get<bool>());
  if (c.contains("sha256_allowed")) {
    BOOST_TEST(key.sha256_allowed == c["sha256_allowed"].get<bool>());
  }
  BOOST_TEST(key.revoked == (e.reason == DkimReason::kKeyRevoked));
  if (e.reason == DkimReason::kNone) BOOST_TEST(key.key != nullptr);
  if (e.reason == DkimReason::kNone) {  // what was read past, for `credence check`
    BOOST_TEST(key.lenient == (c.contains("lenient") ? c["lenient"].get<std::string>() : ""));
  }
}

BOOST_AUTO_TEST_CASE(names_are_rfc8601_spellings) {
  BOOST_TEST(DkimVerdictName(DkimVerdict::kPass) == "pass");
  BOOST_TEST(DkimVerdictName(DkimVerdict::kTempError) == "temperror");
  BOOST_TEST(DkimVerdictName(DkimVerdict::kPermError) == "permerror");
  BOOST_TEST(DkimReasonName(DkimReason::kNone) == "");
  BOOST_TEST(DkimReasonName(DkimReason::kBodyHashMismatch) == "body_hash_mismatch");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::dkim
