// MakeRecordingResolver + RecordedZoneText: answers recorded from one resolver load back into
// a ZoneResolver that gives the same answers.
#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "credence/dns.h"

namespace credence {
namespace {

const Deadline kFar = std::chrono::steady_clock::now() + std::chrono::hours(1);

std::string Describe(const DnsAnswer& a) {
  std::string s(DnsOutcomeName(a.outcome));
  std::vector<std::string> rs;
  for (const auto& r : a.records) {
    rs.push_back(RRTypeName(r.type) + "/" + std::to_string(r.ttl) + "/" +
                 std::to_string(r.preference) + "/" + r.data);
  }
  std::sort(rs.begin(), rs.end());
  for (const auto& r : rs) s += " | " + r;
  return s;
}

BOOST_AUTO_TEST_SUITE(dns_recording)

BOOST_AUTO_TEST_CASE(round_trip_through_zone_text) {
  auto source = std::make_unique<ZoneResolver>();
  static const char kBinary[] = "v=DKIM1; p=\0\x01\xff\"\\;()$@ end";
  std::string binary(kBinary, sizeof kBinary - 1);  // the NUL inside counts, the final one not
  std::string long_txt(700, 'k');
  long_txt += "tail";
  BOOST_TEST_REQUIRE(source->AddZoneText(
      "$TTL 300\n@ SOA ns hm 1 2 3 4 60\n"
      "www 120 A 192.0.2.1\nwww AAAA 2001:db8::2\n@ MX 10 mail\n@ MX 20 mx2.other.test.\n"
      "alias CNAME target\ntarget 40 TXT \"via cname\"\n"
      "1.2.0.192.in-addr.arpa. PTR www\n",
      "example.test").ok());
  source->AddRecord("sel._domainkey.example.test", {RRType::kTXT, 90, binary, 0});
  source->AddRecord("long.example.test", {RRType::kTXT, 50, long_txt, 0});
  source->AddFailure("broken.example.test");
  auto recording = MakeRecordingResolver(std::move(source));
  std::vector<DnsQuestion> qs = {
      {"www.example.test", RRType::kA},       {"WWW.example.test.", RRType::kAAAA},
      {"example.test", RRType::kMX},          {"alias.example.test", RRType::kTXT},
      {"1.2.0.192.in-addr.arpa", RRType::kPTR}, {"sel._domainkey.example.test", RRType::kTXT},
      {"long.example.test", RRType::kTXT},    {"www.example.test", RRType::kTXT},
      {"nx.example.test", RRType::kA},        {"broken.example.test", RRType::kTXT},
      {"example.test", RRType::kSOA},         {"www.example.test", RRType::kMX},
  };
  std::vector<DnsAnswer> live = recording->Resolve(qs, kFar);
  auto text = RecordedZoneText(*recording);
  BOOST_TEST_REQUIRE(text.ok());
  ZoneResolver replay;
  Status s = replay.AddZoneText(*text, "", "recording");
  BOOST_TEST_REQUIRE(s.ok(), s.ToString() << "\n" << *text);
  std::vector<DnsAnswer> again = replay.Resolve(qs, kFar);
  for (size_t i = 0; i < qs.size(); ++i) {
    BOOST_TEST_CONTEXT(qs[i].name << " " << RRTypeName(qs[i].type)) {
      // Issue 17 item 2: a temporary failure replays as one (not NXDOMAIN).
      BOOST_TEST((again[i].outcome == live[i].outcome));
      if (live[i].outcome == DnsOutcome::kTempFail) continue;
      BOOST_TEST(Describe(again[i]) == Describe(live[i]));
    }
  }
  BOOST_TEST(text->find("; tempfail broken.example.test TXT") != std::string::npos);
  BOOST_TEST(text->find("broken.example.test. 0 IN TYPE65281 \\# 2 0010\n") != std::string::npos,
             *text);
  BOOST_TEST(RecordedTempFailures(*recording)->size() == 1u);
  BOOST_TEST(RecordedTempFailures(*recording)->at(0) ==
             "broken.example.test TXT (injected failure)");
  // Only the type that failed fails: another type at that name is not a temporary failure.
  BOOST_TEST((replay.ResolveOne({"broken.example.test", RRType::kA}, kFar).outcome !=
              DnsOutcome::kTempFail));
  // The binary key was really recorded with its special bytes.
  BOOST_TEST(again[5].records.at(0).data == binary);
}

// RFC 1035 §5.1: names with the characters a zone file gives a meaning to (";" "(" ")" '"'
// "\\" "$" "@"), white space and non-printing octets are written escaped and read back to the
// same name, owners and RDATA targets alike (SPF macros build such names from a local-part).
BOOST_AUTO_TEST_CASE(hostile_names_round_trip) {
  const std::string kHostile[] = {
      "a;b(c)\"d.evil.test", "sp ace.evil.test", "tab\tx.evil.test", "back\\\\slash.evil.test",
      "dot\\.inside.evil.test", "$dollar.evil.test", "@.evil.test", "at@sign.evil.test",
      "nl\nx.evil.test", std::string("ctl\x01\x7f\xff.evil.test"), "UPPER;Case.evil.test",
      "quote\"only.evil.test", std::string("nul\0x.evil.test", 15), "(.evil.test", ";.evil.test",
  };
  auto source = std::make_unique<ZoneResolver>();
  BOOST_TEST_REQUIRE(source->AddZoneText("$TTL 300\n@ SOA ns hm 1 2 3 4 60\n", "evil.test").ok());
  int n = 0;
  for (const std::string& name : kHostile) {
    source->AddRecord(name, {RRType::kTXT, 77, "txt of " + name, 0});
    source->AddRecord(name, {RRType::kA, 60, "192.0.2." + std::to_string(++n), 0});
  }
  source->AddRecord("mx.evil.test", {RRType::kMX, 40, "mx;1(x).evil.test", 10});
  source->AddRecord("mx.evil.test", {RRType::kMX, 40, "", 0});  // RFC 7505 null MX
  source->AddRecord("alias;x.evil.test", {RRType::kCNAME, 30, "target(y) z.evil.test", 0});
  source->AddRecord("target(y) z.evil.test", {RRType::kTXT, 30, "behind the alias", 0});
  source->AddRecord("9.2.0.192.in-addr.arpa", {RRType::kPTR, 50, "host \"9\";.evil.test", 0});
  auto recording = MakeRecordingResolver(std::move(source));

  std::vector<DnsQuestion> qs;
  for (const std::string& name : kHostile) {
    qs.push_back({name, RRType::kTXT});
    qs.push_back({name, RRType::kA});
    qs.push_back({name, RRType::kMX});  // nodata: the marker record under the escaped owner
  }
  qs.push_back({"nx;(\").evil.test", RRType::kTXT});
  qs.push_back({"mx.evil.test", RRType::kMX});
  qs.push_back({"alias;x.evil.test", RRType::kTXT});
  qs.push_back({"9.2.0.192.in-addr.arpa", RRType::kPTR});
  std::vector<DnsAnswer> live = recording->Resolve(qs, kFar);
  auto text = RecordedZoneText(*recording);
  BOOST_TEST_REQUIRE(text.ok());
  BOOST_TEST(text->find("not representable") == std::string::npos, *text);
  BOOST_TEST(text->find("a\\;b\\(c\\)\\\"d.evil.test. ") != std::string::npos, *text);

  ZoneResolver replay;
  Status s = replay.AddZoneText(*text, "", "recording");
  BOOST_TEST_REQUIRE(s.ok(), s.ToString() << "\n" << *text);
  std::vector<DnsAnswer> again = replay.Resolve(qs, kFar);
  for (size_t i = 0; i < qs.size(); ++i) {
    BOOST_TEST_CONTEXT(qs[i].name << " " << RRTypeName(qs[i].type)) {
      BOOST_TEST((live[i].outcome != DnsOutcome::kTempFail));
      BOOST_TEST(Describe(again[i]) == Describe(live[i]));
    }
  }
  BOOST_TEST((again[0].outcome == DnsOutcome::kOk));
  BOOST_TEST(again[0].records.at(0).data == "txt of a;b(c)\"d.evil.test");
  // The same names asked in their other spellings (RFC 1035 §5.1 escapes) get the same answers.
  std::vector<DnsQuestion> spelled = {{"a\\059b\\040c\\041\\034d.evil.test", RRType::kTXT},
                                      {"sp\\032ace.EVIL.test.", RRType::kA},
                                      {"a\\;b\\(c\\)\\\"d.evil.test", RRType::kTXT}};
  std::vector<DnsAnswer> by_escape = replay.Resolve(spelled, kFar);
  BOOST_TEST(Describe(by_escape[0]) == Describe(live[0]));
  BOOST_TEST(Describe(by_escape[1]) == Describe(live[4]));
  BOOST_TEST(Describe(by_escape[2]) == Describe(live[0]));
}

BOOST_AUTO_TEST_CASE(not_a_recording_resolver) {
  ZoneResolver z;
  BOOST_TEST(!RecordedZoneText(z).ok());
  BOOST_TEST(!RecordedTempFailures(z).ok());
}

// Issue 17 item 3: the file is sorted by name then type, whatever order the questions came in.
BOOST_AUTO_TEST_CASE(recording_is_sorted_whatever_the_order_asked) {
  std::vector<DnsQuestion> qs;
  for (int i = 0; i < 40; ++i) {
    qs.push_back({"n" + std::to_string(i * 37 % 40) + ".example.test", RRType::kTXT});
    qs.push_back({"n" + std::to_string(i * 37 % 40) + ".example.test", RRType::kA});
  }
  std::string first;
  for (int round = 0; round < 3; ++round) {
    auto source = std::make_unique<ZoneResolver>();
    for (int i = 0; i < 40; i += 2) {
      source->AddRecord("n" + std::to_string(i) + ".example.test", {RRType::kTXT, 60, "t", 0});
    }
    source->AddFailure("n7.example.test");
    auto recording = MakeRecordingResolver(std::move(source));
    std::vector<DnsQuestion> order = qs;
    std::rotate(order.begin(), order.begin() + round * 13, order.end());
    for (const DnsQuestion& q : order) recording->ResolveOne(q, kFar);
    std::string text = *RecordedZoneText(*recording);
    if (round == 0) first = text;
    BOOST_TEST(text == first);
  }
  BOOST_TEST(first.find("n0.example.test.") < first.find("n1.example.test"));
  BOOST_TEST(first.find("n10.example.test") < first.find("n2.example.test"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
