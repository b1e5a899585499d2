// The evaluation history (policy/history): the record built from an evaluation, loop
// detection, the SQLite and memory stores (one process; concurrent processes and PostgreSQL are
// in tests/integration/test_report_aggregate.py), claims, and the writer that drops and counts.
#include "credence/policy/history.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "credence/message.h"
#include "temp_dir.h"

namespace credence {
namespace {

HistoryRecord Sample(int64_t time, const std::string& ip = "192.0.2.1") {
  HistoryRecord r;
  r.time = time;
  r.source_ip = ip;
  r.envelope_from = "bounce.example.com";
  r.envelope_to = "example.net";
  r.header_from = "example.com";
  r.org_domain = "example.com";
  r.policy_domain = "example.com";
  r.p = "reject";
  r.np = "quarantine";
  r.adkim = "s";
  r.testing = true;
  r.fo = "1";
  r.discovery = "treewalk";
  r.rua = {"mailto:dmarc@example.com", "mailto:agg@reports.example.org!10m"};
  r.dkim = {{"example.com", "s1", "pass"}, {"esp.example", "k2", "fail"}};
  r.spf_domain = "bounce.example.com";
  r.spf_scope = "mfrom";
  r.spf_result = "softfail";
  r.dmarc = "pass";
  r.dkim_aligned = true;
  r.disposition = "none";
  r.override_type = "local_policy";
  r.override_comment = "arc=pass";
  return r;
}

Message Parse(const std::string& text) { return Message::Parse(text).value(); }

BOOST_AUTO_TEST_SUITE(history)

BOOST_AUTO_TEST_CASE(record_from_evaluation) {
  Evaluation ev;
  ev.dmarc.has_record = true;
  ev.dmarc.verdict = DmarcVerdict::kFail;
  ev.dmarc.from_domain = "news.example.com";
  ev.dmarc.org_domain = "example.com";
  ev.dmarc.record_domain = "example.com";
  ev.dmarc.record.p = DmarcPolicy::kReject;
  ev.dmarc.record.sp = DmarcPolicy::kQuarantine;
  ev.dmarc.record.t = true;
  ev.dmarc.record.rua = {"mailto:d@example.com"};
  ev.dmarc.requested = DmarcPolicy::kQuarantine;
  ev.dmarc.disposition = DmarcDisposition::kNone;
  DkimResult good;
  good.result = DkimVerdict::kPass;
  good.domain = "example.com";
  good.selector = "s1";
  DkimResult unreadable;  // no d=/s=: nothing a report could name
  ev.dkim = {good, unreadable};
  ev.spf_evaluated = true;
  ev.spf_mailfrom.result = SpfVerdict::kFail;
  ev.spf_mailfrom.domain = "bounce.example.com";
  BOOST_TEST(HasReportableDmarc(ev));
  Envelope env{"2001:db8::1", "mx.example.com", "Bounce@Bounce.Example.COM"};
  HistoryRecord r =
      MakeHistoryRecord(ev, env, "user@Example.NET", 1700000000, OrgDomainMethod::kPsl, false);
  BOOST_TEST(r.time == 1700000000);
  BOOST_TEST(r.source_ip == "2001:db8::1");
  BOOST_TEST(r.envelope_from == "bounce.example.com");
  BOOST_TEST(r.envelope_to == "example.net");
  BOOST_TEST(r.header_from == "news.example.com");
  BOOST_TEST(r.policy_domain == "example.com");
  BOOST_TEST(r.p == "reject");
  BOOST_TEST(r.sp == "quarantine");
  BOOST_TEST(r.np == "");
  BOOST_TEST(r.testing);
  BOOST_TEST(r.discovery == "psl");
  BOOST_TEST(r.dkim.size() == 1u);
  BOOST_TEST(r.dkim[0].selector == "s1");
  BOOST_TEST(r.spf_scope == "mfrom");
  BOOST_TEST(r.spf_result == "fail");
  BOOST_TEST(r.dmarc == "fail");
  // t=y and the policy not applied: RFC 9990's policy_test_mode.
  BOOST_TEST(r.override_type == "policy_test_mode");

  // A null sender is checked as postmaster@HELO: scope helo, envelope_from empty.
  Envelope null_sender{"192.0.2.9", "mx.example.com", ""};
  ev.spf_mailfrom.domain = "mx.example.com";
  HistoryRecord n = MakeHistoryRecord(ev, null_sender, "", 1, OrgDomainMethod::kTreeWalk, false);
  BOOST_TEST(n.envelope_from == "");
  BOOST_TEST(n.spf_scope == "helo");
  BOOST_TEST(n.spf_domain == "mx.example.com");
  BOOST_TEST(n.discovery == "treewalk");

  // A record taken above a failed name for the score only: its rua gets no row.
  ev.dmarc.record_assumed = true;
  BOOST_TEST(!HasReportableDmarc(ev));
  ev.dmarc.record_assumed = false;
  ev.dmarc.has_record = false;
  BOOST_TEST(!HasReportableDmarc(ev));
}

BOOST_AUTO_TEST_CASE(arc_override_is_local_policy) {
  Evaluation ev;
  ev.dmarc.has_record = true;
  ev.dmarc.from_domain = ev.dmarc.record_domain = "example.com";
  ev.dmarc.verdict = DmarcVerdict::kFail;
  ev.dmarc.arc_override = true;
  ev.dmarc.arc_override_sealer = "lists.example.org";
  HistoryRecord r = MakeHistoryRecord(ev, {}, "", 0, OrgDomainMethod::kTreeWalk, false);
  BOOST_TEST(r.override_type == "local_policy");
  BOOST_TEST(r.override_comment.find("lists.example.org") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(loop_detection) {
  // RFC 9990 Subject.
  BOOST_TEST(LooksLikeDmarcReport(
      Parse("From: a@b.example\r\nSubject: Report Domain: example.com Submitter: google.com "
            "Report-ID: <123>\r\n\r\nx\r\n")));
  // RFC 7489-era reports with only the attachment name.
  BOOST_TEST(LooksLikeDmarcReport(Parse(
      "From: a@b.example\r\nSubject: DMARC\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: application/gzip;\r\n name=\"google.com!example.com!1700000000!"
      "1700086399.xml.gz\"\r\n\r\nAAAA\r\n--b--\r\n")));
  BOOST_TEST(LooksLikeDmarcReport(Parse(
      "From: a@b.example\r\nContent-Type: application/zip; name=\"x.example!example.com!1!2.zip\""
      "\r\n\r\nAAAA\r\n")));
  // Ordinary mail, and near misses.
  BOOST_TEST(!LooksLikeDmarcReport(Parse("From: a@b.example\r\nSubject: hello\r\n\r\nhi\r\n")));
  BOOST_TEST(!LooksLikeDmarcReport(
      Parse("From: a@b.example\r\nSubject: Report Domain: example.com\r\n\r\nno id\r\n")));
  BOOST_TEST(!LooksLikeDmarcReport(
      Parse("From: a@b.example\r\nContent-Type: text/plain; name=\"a!b!c!d.xml\"\r\n\r\nx\r\n")));
}

void RoundTrip(HistoryStore& store) {
  HistoryRecord a = Sample(1000), b = Sample(2000, "198.51.100.7"), c = Sample(3000);
  b.dkim.clear();
  b.rua.clear();
  b.is_report = true;
  for (const HistoryRecord& r : {a, b, c}) BOOST_REQUIRE(store.Append(r).ok());
  Result<std::vector<HistoryRecord>> got = store.Read(1000, 2000, 100);
  BOOST_REQUIRE(got.ok());
  BOOST_REQUIRE(got->size() == 2u);
  BOOST_TEST((got->at(0) == a));
  BOOST_TEST((got->at(1) == b));
  BOOST_TEST(store.Read(0, 5000, 2).status().code() == StatusCode::kTooLarge);
  BOOST_TEST(store.EarliestTime().value().value() == 1000);
  // Claims: the first wins, the second finds it taken; a released one can be claimed again.
  BOOST_TEST(store.Claim({"example.com", 0, 86399, "id1", ""}).value());
  BOOST_TEST(!store.Claim({"example.com", 0, 86399, "id2", ""}).value());
  BOOST_TEST(store.Claim({"example.org", 0, 86399, "id3", ""}).value());
  BOOST_TEST(store.Finish("example.com", 0, "sent").ok());
  BOOST_TEST(store.Release("example.org", 0).ok());
  BOOST_TEST(store.Claim({"example.org", 0, 86399, "id4", ""}).value());
  std::vector<ReportClaim> claims = store.Claims().value();
  BOOST_REQUIRE(claims.size() == 2u);
  BOOST_TEST(claims[0].policy_domain == "example.com");
  BOOST_TEST(claims[0].state == "sent");
  BOOST_TEST(claims[0].report_id == "id1");
  BOOST_TEST(claims[1].report_id == "id4");
  BOOST_TEST(store.Prune(2500).value() == 2u);
  BOOST_TEST(store.Read(0, 5000, 100).value().size() == 1u);
}

BOOST_AUTO_TEST_CASE(memory_store) {
  auto store = OpenHistoryStore("memory:", {});
  BOOST_REQUIRE(store.ok());
  RoundTrip(**store);
  BOOST_TEST(!(*OpenHistoryStore("memory:", {}))->EarliestTime().value().has_value());
}

BOOST_AUTO_TEST_CASE(sqlite_store) {
  testing::TempDir dir;
  std::string uri = "sqlite:" + (dir.path / "h.sqlite").string();
  {
    auto store = OpenHistoryStore(uri, {});
    BOOST_REQUIRE(store.ok());
    RoundTrip(**store);
  }
  // Reopened: the rows and claims are there; the file is in WAL mode.
  auto again = OpenHistoryStore(uri, {});
  BOOST_REQUIRE(again.ok());
  BOOST_TEST((*again)->Read(0, 5000, 100).value().size() == 1u);
  BOOST_TEST((*again)->Claims().value().size() == 2u);
  BOOST_TEST(std::filesystem::exists(dir.path / "h.sqlite-wal"));
}

BOOST_AUTO_TEST_CASE(store_uris) {
  BOOST_TEST(ValidateHistoryStoreUri("sqlite:/var/lib/credence/h.db").ok());
  BOOST_TEST(ValidateHistoryStoreUri("postgresql://credence@/history?host=/run/pg").ok());
  BOOST_TEST(ValidateHistoryStoreUri("postgres://h/db").ok());
  BOOST_TEST(!ValidateHistoryStoreUri("sqlite:").ok());
  BOOST_TEST(!ValidateHistoryStoreUri("mysql://x").ok());
  BOOST_TEST(!ValidateHistoryStoreUri("/var/lib/h.db").ok());
  testing::TempDir dir;
  auto bad = OpenHistoryStore("sqlite:" + (dir.path / "no/such/dir/h.db").string(), {});
  BOOST_TEST(bad.status().code() == StatusCode::kIoError);
}

// A store that cannot be written costs the row, counted, a log line, and a pause; never an
// exception or a wait.
BOOST_AUTO_TEST_CASE(writer_drops_and_counts) {
  testing::TempDir dir;
  HistoryOptions o;
  o.store = "sqlite:" + (dir.path / "missing-dir/h.db").string();
  o.retry_after_s = 3600;
  std::vector<std::string> logs;
  HistoryWriter w(o, [&](const std::string& m) { logs.push_back(m); });
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) BOOST_TEST(!w.Append(Sample(i)));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(w.dropped() == 100u);
  BOOST_TEST(w.written() == 0u);
  BOOST_REQUIRE(logs.size() == 1u);  // rate-limited: once per retry_after_s
  BOOST_TEST(logs[0].find("record not written") != std::string::npos);
  BOOST_TEST_MESSAGE("100 appends to a store that cannot be opened: " << secs << " s");
  BOOST_TEST(secs < 1.0);

  HistoryOptions ok;
  ok.store = "sqlite:" + (dir.path / "h.db").string();
  HistoryWriter good(ok, nullptr);
  for (int i = 0; i < 10; ++i) BOOST_TEST(good.Append(Sample(i)));
  BOOST_TEST(good.written() == 10u);
}

// A PostgreSQL server that is not there: the connect gives up within connect_timeout_ms.
BOOST_AUTO_TEST_CASE(postgres_down_is_bounded) {
  testing::TempDir dir;
  HistoryOptions o;
  o.connect_timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto store =
      OpenHistoryStore("postgresql:///history?host=" + dir.path.string() + "&user=nobody", o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(!store.ok());
  BOOST_TEST(secs < 2.0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
