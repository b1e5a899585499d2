// DMARC aggregate reports (policy/report): periods, row merging, the XML, file name, Subject,
// report message, rua URIs and External Destination Verification. Schema validation of the
// XML is in tests/integration/test_report_aggregate.py (xmllint --schema).
#include "credence/policy/report.h"

#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "credence/reports/report.h"
#include "fake_resolver.h"

namespace credence {
namespace {

constexpr int64_t kDay0 = 1764892800;  // 2025-12-05T00:00:00Z

HistoryRecord Rec(int64_t t, const std::string& ip, const std::string& from = "example.com") {
  HistoryRecord r;
  r.time = t;
  r.source_ip = ip;
  r.envelope_from = from;
  r.header_from = from;
  r.org_domain = "example.com";
  r.policy_domain = "example.com";
  r.p = "none";
  r.rua = {"mailto:dmarc@example.com"};
  r.dkim = {{from, "s1", "pass"}};
  r.spf_domain = from;
  r.spf_scope = "mfrom";
  r.spf_result = "pass";
  r.dmarc = "pass";
  r.dkim_aligned = r.spf_aligned = true;
  r.disposition = "none";
  return r;
}

std::string Gunzip(const std::string& gz) {
  z_stream z = {};
  inflateInit2(&z, 15 + 16);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<bad gzip>";
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(periods) {
  BOOST_TEST((DayOf(kDay0 + 5) == ReportPeriod{kDay0, kDay0 + 86399}));
  BOOST_TEST((LastCompleteDay(kDay0 + 3600) == ReportPeriod{kDay0 - 86400, kDay0 - 1}));
  BOOST_TEST((LastCompleteDay(kDay0) == ReportPeriod{kDay0 - 86400, kDay0 - 1}));
  BOOST_TEST((ParseReportDay("2025-12-05").value() == ReportPeriod{kDay0, kDay0 + 86399}));
  BOOST_TEST(!ParseReportDay("2025-02-30").ok());
  BOOST_TEST(!ParseReportDay("2025-12-5").ok());
  BOOST_TEST(!ParseReportDay("yesterday").ok());
  BOOST_TEST(FormatDay(kDay0 + 100) == "2025-12-05");
  // Catch-up: at most N days ending yesterday, never before the oldest record.
  std::vector<ReportPeriod> d = CatchUpDays(kDay0 + 10, kDay0 - 30 * 86400, 7);
  BOOST_REQUIRE(d.size() == 7u);
  BOOST_TEST(d.front().begin == kDay0 - 7 * 86400);
  BOOST_TEST(d.back().begin == kDay0 - 86400);
  d = CatchUpDays(kDay0 + 10, kDay0 - 2 * 86400 + 500, 7);
  BOOST_REQUIRE(d.size() == 2u);
  BOOST_TEST(d.front().begin == kDay0 - 2 * 86400);
  BOOST_TEST(CatchUpDays(kDay0 + 10, kDay0 + 5, 7).empty());  // only today's records
}

BOOST_AUTO_TEST_CASE(rows_merge_per_policy_domain) {
  std::vector<HistoryRecord> recs;
  for (int i = 0; i < 5; ++i) recs.push_back(Rec(kDay0 + i, "192.0.2.1"));
  recs.push_back(Rec(kDay0 + 10, "192.0.2.2"));
  recs.push_back(Rec(kDay0 + 11, "192.0.2.1", "news.example.com"));  // same policy domain
  HistoryRecord fail = Rec(kDay0 + 12, "192.0.2.1");
  fail.dkim_aligned = false;
  fail.dkim[0].result = "fail";
  recs.push_back(fail);
  HistoryRecord other = Rec(kDay0 + 13, "203.0.113.5", "example.org");
  other.policy_domain = other.org_domain = "example.org";
  other.p = "reject";
  recs.push_back(other);
  HistoryRecord looped = Rec(kDay0 + 14, "192.0.2.1");
  looped.is_report = true;
  recs.push_back(looped);
  HistoryRecord no_rua = Rec(kDay0 + 15, "192.0.2.1");
  no_rua.rua.clear();
  recs.push_back(no_rua);
  HistoryRecord no_ip = Rec(kDay0 + 16, "");
  recs.push_back(no_ip);
  recs.push_back(Rec(kDay0 + 86400, "192.0.2.1"));  // the next day
  // The last configuration seen wins.
  HistoryRecord changed = Rec(kDay0 + 20, "192.0.2.1");
  changed.p = "quarantine";
  recs.push_back(changed);

  AggregateSkips skips;
  std::vector<AggregateReport> reps = BuildAggregateReports(recs, DayOf(kDay0), &skips);
  BOOST_REQUIRE(reps.size() == 2u);
  BOOST_TEST(skips.reports_to_us == 1u);
  BOOST_TEST(skips.no_rua == 1u);
  BOOST_TEST(skips.no_source_ip == 1u);
  const AggregateReport& com = reps[0];
  BOOST_TEST(com.policy_domain == "example.com");
  BOOST_TEST(com.messages == 9u);  // 5 + 1 + 1 + 1 + the changed one
  BOOST_TEST(com.policy.p == "quarantine");
  BOOST_REQUIRE(com.rows.size() == 4u);
  uint64_t merged = 0;
  for (const AggregateRow& r : com.rows) {
    if (r.source_ip == "192.0.2.1" && r.header_from == "example.com" && r.dkim_aligned) {
      merged = r.count;
    }
  }
  BOOST_TEST(merged == 6u);
  BOOST_TEST(reps[1].policy_domain == "example.org");
  BOOST_TEST(reps[1].messages == 1u);
}

BOOST_AUTO_TEST_CASE(dkim_order_in_rows) {
  HistoryRecord r = Rec(kDay0, "192.0.2.1", "mail.example.com");
  r.dkim = {{"esp.example", "a", "pass"},
            {"example.com", "b", "pass"},
            {"mail.example.com", "c", "fail"},
            {"mail.example.com", "d", "pass"}};
  std::vector<HistoryRecord> recs = {r};
  AggregateReport rep = BuildAggregateReports(recs, DayOf(kDay0))[0];
  // Strictly aligned pass, relaxed pass, other pass, then the rest (RFC 9990 §2.1.2).
  std::vector<std::string> order;
  for (const HistoryDkim& d : rep.rows[0].dkim) order.push_back(d.selector);
  BOOST_TEST((order == std::vector<std::string>{"d", "b", "a", "c"}));
}

BOOST_AUTO_TEST_CASE(xml) {
  std::vector<HistoryRecord> recs = {Rec(kDay0, "192.0.2.1"), Rec(kDay0 + 1, "192.0.2.1")};
  recs[0].np = "reject";
  recs[1].np = "reject";
  HistoryRecord odd = Rec(kDay0 + 2, "2001:db8::7");
  odd.np = "reject";  // the last record gives the policy shown
  odd.override_type = "local_policy";
  odd.override_comment = "arc=pass <sealer> & \x01 co";
  odd.envelope_from = "";
  odd.spf_scope = "helo";
  recs.push_back(odd);
  AggregateReport rep = BuildAggregateReports(recs, DayOf(kDay0))[0];
  ReportIdentity id{"Example & Co", "dmarc@rx.example", "https://rx.example/dmarc",
                    "rx.example",   "dmarc@rx.example", "credence 0.1.0"};
  std::string x = AggregateReportXml(rep, id, "abc123");
  BOOST_TEST(x.find("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">") != std::string::npos);
  BOOST_TEST(x.find("<version>1.0</version>") != std::string::npos);
  BOOST_TEST(x.find("<org_name>Example &amp; Co</org_name>") != std::string::npos);
  BOOST_TEST(x.find("<generator>credence 0.1.0</generator>") != std::string::npos);
  BOOST_TEST(x.find("<begin>1764892800</begin>") != std::string::npos);
  BOOST_TEST(x.find("<end>1764979199</end>") != std::string::npos);
  BOOST_TEST(x.find("<np>reject</np>") != std::string::npos);
  BOOST_TEST(x.find("<sp>none</sp>") != std::string::npos);  // sp absent: p applies
  BOOST_TEST(x.find("<discovery_method>treewalk</discovery_method>") != std::string::npos);
  BOOST_TEST(x.find("<testing>n</testing>") != std::string::npos);
  BOOST_TEST(x.find("<count>2</count>") != std::string::npos);
  BOOST_TEST(Count(x, "<record>") == 2u);
  BOOST_TEST(x.find("<comment>arc=pass &lt;sealer&gt; &amp; ? co</comment>") != std::string::npos);
  BOOST_TEST(x.find("<envelope_from></envelope_from>") != std::string::npos);
  BOOST_TEST(Count(x, "<scope>mfrom</scope>") == 1u);  // the helo-scoped row has none
}

// What a sender wrote in MAIL FROM reaches the report as written: bytes that are not
// well-formed UTF-8, or characters XML cannot carry, become '?' so that one sender cannot make
// a day's report about a domain unreadable; well-formed characters stay.
BOOST_AUTO_TEST_CASE(xml_carries_only_xml_characters) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"b@x\xef\xbf\xbf.example.org", "b@x?.example.org"},             // U+FFFF
      {"b@x\xef\xbf\xbe.example.org", "b@x?.example.org"},             // U+FFFE
      {"b@x\xc0\xbc.example.org", "b@x??.example.org"},                 // overlong '<'
      {"b@x\xed\xa0\x80.example.org", "b@x???.example.org"},           // a surrogate
      {"b@x\xf4\x90\x80\x80.example.org", "b@x????.example.org"},     // past U+10FFFF
      {"b@caf\xc3\xa9.example.org", "b@caf\xc3\xa9.example.org"},     // U+00E9 stays
      {"b@x\xf0\x9f\x93\xa7.example.org", "b@x\xf0\x9f\x93\xa7.example.org"},  // U+1F4E7
  };
  for (const auto& [from, want] : cases) {
    HistoryRecord r = Rec(kDay0, "192.0.2.1");
    r.envelope_from = from;
    const std::vector<HistoryRecord> one = {r};
    AggregateReport rep = BuildAggregateReports(one, DayOf(kDay0))[0];
    ReportIdentity id{"Example", "dmarc@rx.example", "", "rx.example", "dmarc@rx.example",
                      "credence"};
    const std::string x = AggregateReportXml(rep, id, "id1");
    BOOST_TEST(x.find("<envelope_from>" + want + "</envelope_from>") != std::string::npos, want);
    // Read back by the report reader (libxml2): well-formed, the record counted.
    Result<reports::AggregateReport> back = reports::ParseAggregateReport(x);
    BOOST_TEST_REQUIRE(back.ok(), back.status().ToString());
  }
}

BOOST_AUTO_TEST_CASE(names_message_and_gzip) {
  ReportPeriod p{kDay0, kDay0 + 86399};
  BOOST_TEST(ReportFileName("rx.example", "example.com", p, "abc") ==
             "rx.example!example.com!1764892800!1764979199!abc.xml.gz");
  BOOST_TEST(ReportSubject("example.com", "rx.example", "abc") ==
             "Report Domain: example.com Submitter: rx.example Report-ID: <abc>");
  std::string id1 = NewReportId(), id2 = NewReportId();
  BOOST_TEST(id1.size() == 32u);
  BOOST_TEST(id1 != id2);
  std::string xml = "<feedback>" + std::string(100000, 'x') + "</feedback>";
  Result<std::string> gz = Gzip(xml);
  BOOST_REQUIRE(gz.ok());
  BOOST_TEST(gz->size() < 2000u);
  BOOST_TEST(Gunzip(*gz) == xml);

  std::vector<HistoryRecord> recs = {Rec(kDay0, "192.0.2.1")};
  AggregateReport rep = BuildAggregateReports(recs, p)[0];
  ReportIdentity id{"Rx", "dmarc@rx.example", "", "rx.example", "reports@rx.example", ""};
  std::string m = ReportMessage(rep, id, "dmarc@example.com", "abc", "f.xml.gz", *gz, kDay0);
  BOOST_TEST(m.find("From: reports@rx.example\r\n") == 0u);
  BOOST_TEST(m.find("\r\nTo: dmarc@example.com\r\n") != std::string::npos);
  BOOST_TEST(m.find("\r\nSubject: Report Domain: example.com Submitter: rx.example "
                    "Report-ID: <abc>\r\n") != std::string::npos);
  BOOST_TEST(m.find("Content-Type: application/gzip; name=\"f.xml.gz\"") != std::string::npos);
  BOOST_TEST(m.find("Content-Disposition: attachment; filename=\"f.xml.gz\"") != std::string::npos);
  BOOST_TEST(m.find("Date: Fri, 05 Dec 2025 00:00:00 +0000") != std::string::npos);
  // Our own report is recognised as one if it ever comes back (no loops).
  BOOST_TEST(LooksLikeDmarcReport(Message::Parse(m).value()));
}

BOOST_AUTO_TEST_CASE(rua_uris) {
  RuaDestination d = ParseRuaUri("mailto:dmarc@example.com").value();
  BOOST_TEST(d.address == "dmarc@example.com");
  BOOST_TEST(d.domain == "example.com");
  BOOST_TEST(d.max_bytes == 0u);
  d = ParseRuaUri("mailto:Agg%2Breports@Reports.Example.ORG!10m").value();
  BOOST_TEST(d.address == "Agg+reports@Reports.Example.ORG");
  BOOST_TEST(d.domain == "reports.example.org");
  BOOST_TEST(d.max_bytes == 10u << 20);
  BOOST_TEST(ParseRuaUri("mailto:a@b.example!500").value().max_bytes == 500u);
  BOOST_TEST(ParseRuaUri("mailto:a@b.example!2k").value().max_bytes == 2048u);
  BOOST_TEST(ParseRuaUri("mailto:a@b.example?subject=x").value().address == "a@b.example");
  BOOST_TEST(ParseRuaUri("https://example.com/r").status().code() == StatusCode::kUnsupported);
  for (const char* bad :
       {"mailto:nobody", "mailto:@example.com", "mailto:a@b.example!", "mailto:a@b.example!10x",
        "mailto:a@b.example!0", "mailto:a@-..x", "mailto:a%0d%0aBcc:x@y.example@b.example",
        "nocolon", "mailto:a@b.example!99999999999999999t",
        // Addresses another reader could split at another '@' than the one consent was asked
        // for (red-team: reports to a domain that never consented).
        "mailto:a%40victim.example@evil.example", "mailto:v@victim.example(x)@evil.example",
        "mailto:a(c)@evil.example", "mailto:a@[192.0.2.1]", "mailto:@victim.example:a@evil.example"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!ParseRuaUri(bad).ok()); }
  }
  BOOST_TEST(!ParseRuaUri("mailto:" + std::string(2000, 'a') + "@b.example").ok());
}

BOOST_AUTO_TEST_CASE(external_destination_verification) {
  BOOST_TEST(!NeedsExternalVerification("example.com", "example.com"));
  BOOST_TEST(!NeedsExternalVerification("example.com", "reports.example.com"));
  BOOST_TEST(NeedsExternalVerification("example.com", "reports.example.org"));
  BOOST_TEST(NeedsExternalVerification("example.com", "badexample.com"));
  BOOST_TEST(ExternalVerificationName("example.com", "rua.example.org") ==
             "example.com._report._dmarc.rua.example.org");
  testing::FakeResolver dns;
  dns.AddTxt("example.com._report._dmarc.yes.example", "v=DMARC1");
  dns.AddTxt("example.com._report._dmarc.spaced.example", "v = DMARC1; rua=x");
  dns.AddTxt("example.com._report._dmarc.other.example", "v=spf1 -all");
  dns.AddTxt("example.com._report._dmarc.prefix.example", "v=DMARC10");
  dns.AddTxt("x.example.com._report._dmarc.broken.example", "v=DMARC1");
  dns.Fail("example.com._report._dmarc.broken.example");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  BOOST_TEST(VerifyExternalDestination(dns, "example.com", "yes.example", deadline).value());
  BOOST_TEST(VerifyExternalDestination(dns, "example.com", "spaced.example", deadline).value());
  BOOST_TEST(!VerifyExternalDestination(dns, "example.com", "other.example", deadline).value());
  BOOST_TEST(!VerifyExternalDestination(dns, "example.com", "prefix.example", deadline).value());
  BOOST_TEST(!VerifyExternalDestination(dns, "example.com", "none.example", deadline).value());
  BOOST_TEST(
      VerifyExternalDestination(dns, "example.com", "broken.example", deadline).status().code() ==
      StatusCode::kTempFail);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
