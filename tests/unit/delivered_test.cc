// What our host recorded on delivered mail (plugin/archive/delivered.h): the envelope from the
// topmost Received field (manifest tests/data/archive/received.json, one named case each),
// the Authentication-Results reader, and the comparison with today's verdict.
#include "archive/delivered.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
using json = nlohmann::json;

struct ReceivedCase {
  json j;
};
std::ostream& operator<<(std::ostream& os, const ReceivedCase& c) {
  return os << c.j.value("name", "?");
}

std::vector<ReceivedCase> LoadReceivedCases() {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/archive/received.json");
  json all = json::parse(in);
  std::vector<ReceivedCase> out;
  for (const json& c : all) out.push_back({c});
  return out;
}

Message Parse(const std::vector<std::string>& headers, std::string_view body = "body\r\n") {
  std::string text;
  for (const std::string& h : headers) text += h + "\r\n";
  text += "\r\n";
  text += body;
  Result<Message> m = Message::Parse(text);
  BOOST_TEST_REQUIRE(m.ok());
  return std::move(m).value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(delivered)

BOOST_DATA_TEST_CASE(received_manifest, bdata::make(LoadReceivedCases()), c) {
  const std::vector<std::string> headers = c.j["headers"];
  const std::string host = c.j["host"];
  Message m = Parse(headers);
  DeliveredEnvelope d = EnvelopeFromReceived(m, host);
  const json& want = c.j["expect"];
  const bool found = want["found"];
  BOOST_TEST(d.found == found, d.note);
  if (found) {
    BOOST_TEST(d.envelope.client_ip == std::string(want["client_ip"]));
    BOOST_TEST(d.envelope.helo == std::string(want["helo"]));
    BOOST_TEST(d.envelope.mail_from == std::string(want["mail_from"]));
    BOOST_TEST(d.received_index.has_value());
  } else {
    BOOST_TEST(d.note == std::string(want["note"]));
  }
}

BOOST_AUTO_TEST_CASE(received_manifest_size) { BOOST_TEST(LoadReceivedCases().size() >= 12u); }

BOOST_AUTO_TEST_CASE(authres_entries) {
  std::vector<AuthResEntry> e = ParseAuthResEntries(
      " mx.example.org 1; dkim=pass (2048-bit rsa key) header.d=example.com\r\n\theader.s=sel "
      "header.b=abcdEFGH; spf = softfail reason=\"not; listed (really)\" smtp.mailfrom=a@b.example;"
      " dmarc=fail (p=reject dis=reject) header.from=example.com policy.dmarc=reject");
  BOOST_TEST_REQUIRE(e.size() == 3u);
  BOOST_TEST(e[0].method == "dkim");
  BOOST_TEST(e[0].result == "pass");
  BOOST_TEST_REQUIRE(e[0].properties.size() == 3u);
  BOOST_TEST(e[0].properties[1].property == "s");
  BOOST_TEST(e[0].properties[1].value == "sel");
  BOOST_TEST(e[1].method == "spf");
  BOOST_TEST(e[1].result == "softfail");
  BOOST_TEST(e[1].reason == "not; listed (really)");
  BOOST_TEST(e[1].properties[0].value == "a@b.example");
  BOOST_TEST(e[2].result == "fail");
  BOOST_TEST(ParseAuthResEntries(" mx.example.org; none").empty());
  BOOST_TEST(ParseAuthResEntries(std::string(100000, '(')).empty());  // unclosed comments
}

BOOST_AUTO_TEST_CASE(compare_with_recorded) {
  const std::string recorded =
      "Authentication-Results: mx.example.org; dkim=pass header.d=example.com header.s=sel;\r\n"
      "\tspf=pass smtp.mailfrom=a@example.com; dmarc=pass header.from=example.com";
  const std::string received =
      "Received: from [192.0.2.1] (helo=h.example.com) by mx.example.org; "
      "Tue, 14 Nov 2023 22:13:21 +0000";
  const std::string forged_below = "Authentication-Results: mx.example.org; dmarc=pass";
  Message m = Parse({recorded, received, forged_below, "From: a@example.com"});

  // Today: the signature fails, SPF was not evaluated, DMARC fails.
  Evaluation ev;
  ev.forged_authres = {0, 2};
  ev.authres.entries = ParseAuthResEntries(
      " mx.example.org; dkim=fail header.d=example.com header.s=sel; spf=none "
      "smtp.mailfrom=a@example.com; dmarc=fail header.from=example.com");
  DeliveredEnvelope d = EnvelopeFromReceived(m, "mx.example.org");
  BOOST_TEST_REQUIRE(d.found);
  AuthResComparison c = CompareWithRecorded(m, "mx.example.org", d.received_index, &ev);
  BOOST_TEST_REQUIRE(c.found, c.note);
  BOOST_TEST(c.recorded.find('\n') == std::string::npos);
  // The record is not a forgery; the A-R of ours below the Received field still is.
  BOOST_TEST(ev.forged_authres == std::vector<size_t>{2}, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(c.differences.size() == 3u);
  BOOST_TEST(c.differences[0].method == "dkim");
  BOOST_TEST(c.differences[0].identity == "header.d=example.com header.s=sel");
  BOOST_TEST(c.differences[0].then == "pass");
  BOOST_TEST(c.differences[0].now == "fail");
  BOOST_TEST(c.differences[1].method == "spf");
  BOOST_TEST(c.differences[1].now == "none");
  BOOST_TEST(c.differences[2].method == "dmarc");

  // The same verdicts today: no difference.
  Evaluation same;
  same.authres.entries = ParseAuthResEntries(recorded.substr(recorded.find(':') + 1));
  AuthResComparison s = CompareWithRecorded(m, "mx.example.org", d.received_index, &same);
  BOOST_TEST(s.found);
  BOOST_TEST(s.differences.empty());

  // Only an A-R above the trusted Received field is a record.
  Message below = Parse({received, forged_below});
  Evaluation ev2;
  AuthResComparison none =
      CompareWithRecorded(below, "mx.example.org", EnvelopeFromReceived(below, "").received_index,
                          &ev2);
  BOOST_TEST(!none.found);
  // Not ours: no record either.
  AuthResComparison other = CompareWithRecorded(m, "other.example", d.received_index, &ev2);
  BOOST_TEST(!other.found);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credence
