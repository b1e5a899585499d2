// RFC 7208 §6.2 explanations are bounded (verifier/spf/macro.h): a hostile exp= text of
// macros repeated over a 62 KB TXT record is cut at kMaxExplanationBytes and not built any
// further, and %{p} asks DNS once per expansion however often the text repeats it.
#include <boost/test/unit_test.hpp>
#include <chrono>

#include "credence/dns.h"
#include "credence/spf.h"
#include "spf/explain.h"
#include "spf/record.h"
#include "spf/session.h"

namespace credence {
namespace {

const Deadline kFar = std::chrono::steady_clock::now() + std::chrono::hours(1);

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Counts what it is asked, answers from a ZoneResolver.
class CountingZone final : public Resolver {
 public:
  ZoneResolver zone;
  int questions = 0;
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> qs, Deadline d) override {
    questions += static_cast<int>(qs.size());
    return zone.Resolve(qs, d);
  }
};

struct Fixture {
  CountingZone resolver;
  SpfOptions options;
  spf::Session session;
  explicit Fixture(std::string sender) {
    session.resolver = &resolver;
    session.deadline = kFar;
    session.options = &options;
    session.client_ip = "192.0.2.7";
    session.sender = std::move(sender);
    session.helo = "mx.evil.test";
  }
  std::string Expand(const std::string& text) {
    return spf::ExpandExplanation(text, "evil.test", session);
  }
};

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

BOOST_AUTO_TEST_SUITE(spf_explain)

BOOST_AUTO_TEST_CASE(short_explanations_are_unchanged) {
  Fixture f("alice@evil.test");
  BOOST_TEST(f.Expand("%{i} may not send for %{d} (%{l})") ==
             "192.0.2.7 may not send for evil.test (alice)");
  BOOST_TEST(f.Expand("%{S}") == "alice%40evil.test");
  BOOST_TEST(f.Expand("%{d2r}%%%_%-") == "test.evil% %20");  // RFC 7208 §7.4 "%{d2r}"
}

BOOST_AUTO_TEST_CASE(issue_case_is_cut_at_the_cap_and_not_built_further) {
  // The issue's record: "%{S}" over 62 KB, a 1,000-byte local-part that URL-escapes to 3 KB.
  // Unbounded this expands to 46.7 MB.
  Fixture f(std::string(1000, '!') + "@evil.test");
  const std::string text = Repeat("%{S}", 62000 / 4);
  BOOST_TEST_REQUIRE(spf::CheckMacroString(text, /*in_exp=*/true).ok());
  const auto start = std::chrono::steady_clock::now();
  std::string out = f.Expand(text);
  const double seconds = SecondsSince(start);
  BOOST_TEST_MESSAGE("62 KB of %{S}: " << out.size() << " bytes in " << seconds * 1000 << " ms");
  BOOST_TEST(out.size() == spf::kMaxExplanationBytes);
  BOOST_TEST(out.substr(0, 6) == "%21%21");
  BOOST_TEST(seconds < 0.5);  // generous: one macro's work, not 15,500
}

BOOST_AUTO_TEST_CASE(macros_that_expand_to_nothing_stop_at_the_work_bound) {
  // "%{l1.}" keeps the last dot-separated part of a local-part that ends in ".": nothing. Each
  // still reads the whole 10 KB local-part; the expansion stops after ~64 KiB of such reads.
  Fixture f(std::string(10000, 'x') + ".@evil.test");
  const std::string text = Repeat("%{l1.}", 60000 / 6) + "tail";
  const auto start = std::chrono::steady_clock::now();
  std::string out = f.Expand(text);
  const double seconds = SecondsSince(start);
  BOOST_TEST_MESSAGE("10,000 empty macros over a 10 KB local-part: " << seconds * 1000 << " ms");
  BOOST_TEST(out.empty());  // stopped before "tail"
  BOOST_TEST(seconds < 0.5);
}

BOOST_AUTO_TEST_CASE(validated_name_asked_once_per_expansion) {
  Fixture f("alice@evil.test");
  BOOST_TEST_REQUIRE(f.resolver.zone.AddZoneText(
      "$ORIGIN evil.test.\n@ SOA ns hm 1 2 3 4 5\nmx A 192.0.2.7\n"
      "7.2.0.192.in-addr.arpa. PTR mx.evil.test.\n").ok());
  std::string out = f.Expand(Repeat("%{p} ", 1000));
  BOOST_TEST(out.size() <= spf::kMaxExplanationBytes);
  BOOST_TEST(out.substr(0, 13) == "mx.evil.test ");
  BOOST_TEST(f.resolver.questions == 2);  // one PTR, one A: not 2,000
}

BOOST_AUTO_TEST_CASE(cut_never_splits_a_utf8_character) {
  // A local-part of 3-byte characters ("€"); the cut lands inside one and backs off.
  std::string euro = "\xE2\x82\xAC";
  Fixture f(Repeat(euro, 400) + "@evil.test");
  std::string out = f.Expand("x%{l}");  // 1 + 1200 bytes: the cut at 1024 is mid-character
  BOOST_TEST(out.size() == 1 + 341 * 3);
  BOOST_TEST(out.substr(out.size() - 3) == euro);
}

BOOST_AUTO_TEST_CASE(check_host_explanation_is_bounded) {
  // Through the whole check: libspf2, the DNS layer, credence's own exp= fetch.
  ZoneResolver zone;
  BOOST_TEST_REQUIRE(zone.AddZoneText(
      "$ORIGIN evil.test.\n@ SOA ns hm 1 2 3 4 5\n@ TXT \"v=spf1 -all exp=why.evil.test\"\n").ok());
  std::string exp = Repeat("%{S}", 62000 / 4);
  zone.AddRecord("why.evil.test", {RRType::kTXT, 300, exp, 0});
  SpfRequest req;
  req.client_ip = "192.0.2.99";
  req.mail_from = std::string(1000, '!') + "@evil.test";
  const auto start = std::chrono::steady_clock::now();
  SpfResult r = CheckSpfMailFrom(req, zone, kFar);
  const double seconds = SecondsSince(start);
  BOOST_TEST((r.result == SpfVerdict::kFail), r.detail);
  BOOST_TEST(r.explanation.size() == spf::kMaxExplanationBytes);
  BOOST_TEST_MESSAGE("check_host with the 62 KB exp=: " << seconds * 1000 << " ms");
  BOOST_TEST(seconds < 2.0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
