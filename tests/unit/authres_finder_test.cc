// Authentication-Results finder (RFC 8601 §5 forgery removal): manifest
// tests/data/authres/finder.json.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "credence/message.h"
#include "credence/policy/authres.h"

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
using nlohmann::json;

json Load() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/authres/finder.json");
  if (!in) return json::array();
  return json::parse(in, nullptr, false);
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (const json& c : Load()) names.push_back(c["name"]);
  if (names.empty()) names.push_back("<finder.json missing>");
  return names;
}

BOOST_AUTO_TEST_SUITE(authres_finder)

BOOST_DATA_TEST_CASE(manifest, bdata::make(Names()), name) {
  json c;
  for (const json& x : Load()) {
    if (x["name"] == name) c = x;
  }
  BOOST_TEST_REQUIRE(!c.is_null());
  Result<Message> m = Message::Parse(c["message"].get<std::string>());
  BOOST_TEST_REQUIRE(m.ok(), m.status().ToString());
  std::vector<size_t> got = FindAuthResults(*m, c.value("authserv_id", "mx.example.net"));
  std::vector<size_t> want = c["expect"].get<std::vector<size_t>>();
  BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(parse_authserv_id_forms) {
  BOOST_TEST(ParseAuthServId(" mx.example.net; dkim=pass") == "mx.example.net");
  BOOST_TEST(ParseAuthServId(" mx.example.net 1; none") == "mx.example.net");
  BOOST_TEST(ParseAuthServId(" \"mx \\\"q\\\"\"; none") == "mx \"q\"");
  BOOST_TEST(ParseAuthServId(" (a(b)c)x; none") == "x");
  BOOST_TEST(ParseAuthServId(" \"unterminated") == "");
  BOOST_TEST(ParseAuthServId("") == "");
  BOOST_TEST(ParseAuthServId("(\\") == "");
}

BOOST_AUTO_TEST_CASE(empty_authserv_id_matches_nothing) {
  Result<Message> m = Message::Parse("Authentication-Results: ; dkim=pass\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(FindAuthResults(*m, "").empty());
}

BOOST_AUTO_TEST_CASE(writer_output_is_found) {
  // What we write, we find again (the host removes our own stale fields on re-delivery).
  AuthResOptions o;
  o.authserv_id = "Relay.Example.NET";
  Result<AuthResHeader> h = WriteAuthResults(AuthResInput{}, o);
  BOOST_TEST_REQUIRE(h.ok());
  Result<Message> m = Message::Parse(h->Field() + "\r\nFrom: a@b.example\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(FindAuthResults(*m, "relay.example.net") == std::vector<size_t>{0},
             boost::test_tools::per_element());
}

// A forged field cannot hide past the header limits: after 1000 other fields the next 1000
// verdict fields are kept, but one past those is skipped; the positions still name it.
BOOST_AUTO_TEST_CASE(forged_field_past_the_limits_is_found) {
  std::string text = "From: a@example.com\r\n";
  for (int i = 0; i < 1000; ++i) text += "X-F: y\r\n";
  for (int i = 0; i < 1000; ++i) text += "Authentication-Results: other.example; none\r\n";
  text += "Authentication-Results: mx.example.net; dkim=pass header.d=example.com\r\n";
  text += "Subject: s\r\n\r\nbody\r\n";
  Result<Message> m = Message::Parse(text);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->verdict_fields_skipped() == 1u);
  BOOST_TEST(FindAuthResults(*m, "mx.example.net").empty());  // not among headers()
  BOOST_TEST(FindAuthResultsPositions(*m, "mx.example.net") == std::vector<size_t>{2001},
             boost::test_tools::per_element());
  // Without skipped verdict fields the positions are FieldPosition's.
  Result<Message> small = Message::Parse(
      "From: a@example.com\r\nAuthentication-Results: MX.example.net; spf=pass\r\n\r\n");
  BOOST_TEST_REQUIRE(small.ok());
  BOOST_TEST(FindAuthResultsPositions(*small, "mx.example.net") == std::vector<size_t>{1},
             boost::test_tools::per_element());
  // Every field is visited once, in order, the skipped ones included.
  size_t visited = 0;
  bool in_order = true;
  m->ForEachField([&](size_t position, std::string_view, std::string_view) {
    in_order = in_order && position == visited;
    ++visited;
  });
  BOOST_TEST(visited == 2003u);
  BOOST_TEST(in_order);
}

// An A-R of ours behind a bare CR inside another field: a reader splitting at the CR shows
// it, so it is forged at the position of the field it hides in; a real one is found as ever.
BOOST_AUTO_TEST_CASE(forged_field_behind_a_bare_cr_is_found) {
  Result<Message> m = Message::Parse(
      "From: a@example.com\r\nX-A: a\rAuthentication-Results: mx.example.net; dkim=pass\r\n"
      "Authentication-Results: mx.example.net; spf=pass\r\n"
      "X-B: b\rAuthentication-Results: other.example; dkim=pass\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(FindAuthResultsPositions(*m, "mx.example.net") == (std::vector<size_t>{1, 2}),
             boost::test_tools::per_element());
  std::vector<std::string> hidden;
  m->ForEachHiddenField([&](size_t position, std::string_view name, std::string_view value) {
    hidden.push_back(std::to_string(position) + " " + std::string(name) + ":" + std::string(value));
  });
  BOOST_TEST(hidden == (std::vector<std::string>{
                           "1 Authentication-Results: mx.example.net; dkim=pass",
                           "3 Authentication-Results: other.example; dkim=pass"}),
             boost::test_tools::per_element());
  // More hidden fields than max_header_fields: the rest are not kept, and a limit note says
  // so (CREDENCE_LIMIT: judged without them, never better for it).
  std::string many = "From: a@example.com\r\n";
  for (int i = 0; i < 1001; ++i) many += "X-" + std::to_string(i) + ": a\rX-Hidden: b\r\n";
  Result<Message> bulk = Message::Parse(many + "\r\nbody\r\n");
  BOOST_TEST_REQUIRE(bulk.ok());
  size_t kept = 0;
  bulk->ForEachHiddenField([&](size_t, std::string_view, std::string_view) { ++kept; });
  BOOST_TEST(kept == Limits().max_header_fields);
  const std::vector<std::string>& notes = bulk->limit_notes();
  BOOST_TEST(std::any_of(notes.begin(), notes.end(), [](const std::string& n) {
    return n.find("1 fields behind bare CRs past the first 1000 not kept") != std::string::npos;
  }));
  BOOST_TEST(bulk->hidden_fields_cut());
  // Past what is kept, nothing hides: an A-R of ours is still found (read again), and a From
  // or a Subject is still counted.
  std::string past = "From: x@evil.example\r\nX-J: ";
  for (int i = 0; i < 1000; ++i) past += "\ra:";
  past += "\rFrom: ceo@bank.example\rSubject: new\rAuthentication-Results: mx.example.net; "
          "dkim=pass\r\nSubject: original\r\n\r\nbody\r\n";
  Result<Message> far = Message::Parse(past);
  BOOST_TEST_REQUIRE(far.ok());
  BOOST_TEST(far->hidden_fields_cut());
  BOOST_TEST(FindAuthResultsPositions(*far, "mx.example.net") == std::vector<size_t>{1},
             boost::test_tools::per_element());
  BOOST_TEST(far->unkept_single_instance_count(SingleInstanceFieldIndex("from")) == 1u);
  BOOST_TEST(far->unkept_single_instance_count(SingleInstanceFieldIndex("Subject")) == 1u);
  // No bare CR: nothing hidden, nothing visited.
  Result<Message> plain = Message::Parse("From: a@example.com\r\nX-A: a\r\n\r\nb\rc\r\n");
  BOOST_TEST_REQUIRE(plain.ok());
  BOOST_TEST(!plain->header_has_bare_cr());
  size_t n = 0;
  plain->ForEachHiddenField([&](size_t, std::string_view, std::string_view) { ++n; });
  BOOST_TEST(n == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
