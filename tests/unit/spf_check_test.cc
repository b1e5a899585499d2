// CheckSpfMailFrom / CheckSpfHelo against a tiny in-memory Resolver: identities, the RFC 7208
// §4.6.4 limits counted in the DNS layer, DNS trouble, explanations, no SPF-type questions.
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

#include "credence/dns.h"
#include "credence/spf.h"
#include "fake_resolver.h"

namespace credence {
namespace {

using testing::FakeResolver;

Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

SpfRequest Req(std::string ip, std::string helo, std::string from) {
  SpfRequest r;
  r.client_ip = std::move(ip);
  r.helo = std::move(helo);
  r.mail_from = std::move(from);
  return r;
}

BOOST_AUTO_TEST_SUITE(spf_check)

BOOST_AUTO_TEST_CASE(verdict_names) {
  BOOST_TEST(SpfVerdictName(SpfVerdict::kNone) == "none");
  BOOST_TEST(SpfVerdictName(SpfVerdict::kSoftFail) == "softfail");
  BOOST_TEST(SpfVerdictName(SpfVerdict::kTempError) == "temperror");
  BOOST_TEST(SpfVerdictName(SpfVerdict::kPermError) == "permerror");
}

BOOST_AUTO_TEST_CASE(pass_and_fail_with_default_explanation) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 ip4:192.0.2.0/24 -all");
  SpfResult ok = CheckSpfMailFrom(Req("192.0.2.7", "mx.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(ok.result) == "pass");
  BOOST_TEST(ok.identity == "mailfrom");
  BOOST_TEST(ok.domain == "example.com");
  BOOST_TEST(ok.explanation.empty());
  SpfResult bad = CheckSpfMailFrom(Req("198.51.100.1", "mx.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(bad.result) == "fail");
  BOOST_TEST(bad.explanation == "See https://www.openspf.net/Why?s=example.com");
}

BOOST_AUTO_TEST_CASE(null_sender_checks_postmaster_at_helo) {
  FakeResolver dns;
  dns.Add("mx.example.net", RRType::kTXT, "v=spf1 exists:%{l}.%{d} -all");
  dns.Add("postmaster.mx.example.net", RRType::kA, "127.0.0.2");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "mx.example.net", ""), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "pass", r.detail);
  BOOST_TEST(r.sender == "postmaster@mx.example.net");
  BOOST_TEST(r.domain == "mx.example.net");
  BOOST_TEST(r.identity == "mailfrom");
}

BOOST_AUTO_TEST_CASE(helo_identity) {
  FakeResolver dns;
  dns.Add("mx.example.net", RRType::kTXT, "v=spf1 a -all");
  dns.Add("mx.example.net", RRType::kA, "192.0.2.7");
  dns.Add("example.com", RRType::kTXT, "v=spf1 -all");
  SpfRequest req = Req("192.0.2.7", "mx.example.net", "a@example.com");
  SpfResult helo = CheckSpfHelo(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(helo.result) == "pass", helo.detail);
  BOOST_TEST(helo.identity == "helo");
  BOOST_TEST(helo.sender == "postmaster@mx.example.net");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "fail");
  // RFC 7208 §4.3: a HELO that is not an FQDN gives none without DNS.
  FakeResolver empty;
  SpfResult bare = CheckSpfHelo(Req("192.0.2.7", "OEMCOMPUTER", ""), empty, Soon());
  BOOST_TEST(SpfVerdictName(bare.result) == "none");
  BOOST_TEST(empty.asked.empty());
}

BOOST_AUTO_TEST_CASE(dns_tempfail_is_temperror) {
  FakeResolver dns;
  dns.Fail("example.com");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "temperror");
  FakeResolver dns2;
  dns2.Add("example.com", RRType::kTXT, "v=spf1 a:broken.example.com -all");
  dns2.Fail("broken.example.com");
  SpfResult r2 = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns2, Soon());
  BOOST_TEST(SpfVerdictName(r2.result) == "temperror", r2.detail);
}

BOOST_AUTO_TEST_CASE(no_record_is_none_and_never_asks_type_spf) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "some other text");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "none");
  for (const auto& q : dns.asked) BOOST_TEST(static_cast<int>(q.type) != 99);
}

BOOST_AUTO_TEST_CASE(ten_dns_terms_allowed_eleventh_is_permerror) {
  FakeResolver dns;
  std::string ten = "v=spf1";
  for (int i = 0; i < 10; ++i) {
    std::string n = "h" + std::to_string(i) + ".example.com";
    ten += " a:" + n;
    dns.Add(n, RRType::kA, "198.51.100.1");
  }
  dns.Add("ten.example.com", RRType::kTXT, ten + " -all");
  dns.Add("eleven.example.com", RRType::kTXT, ten + " a:h9.example.com -all");
  SpfRequest req = Req("192.0.2.7", "h.example.net", "a@ten.example.com");
  SpfResult r10 = CheckSpfMailFrom(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(r10.result) == "fail", r10.detail);
  BOOST_TEST(r10.dns_queries == 10u);
  req.mail_from = "a@eleven.example.com";
  SpfResult r11 = CheckSpfMailFrom(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(r11.result) == "permerror");
  BOOST_TEST(r11.detail.find("DNS-querying terms") != std::string::npos, r11.detail);
}

BOOST_AUTO_TEST_CASE(terms_in_includes_count_too) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT,
          "v=spf1 include:i1.example.com include:i2.example.com -all");
  std::string five = "v=spf1";
  for (int i = 0; i < 5; ++i) five += " a:n" + std::to_string(i) + ".example.com";
  for (int i = 0; i < 5; ++i) dns.Add("n" + std::to_string(i) + ".example.com", RRType::kA, "198.51.100.9");
  dns.Add("i1.example.com", RRType::kTXT, five + " ?all");
  dns.Add("i2.example.com", RRType::kTXT, five + " ?all");
  // 2 includes + 10 a = 12 terms: permerror (libspf2 alone resets its count per include).
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "permerror", r.detail);
}

BOOST_AUTO_TEST_CASE(third_void_lookup_is_permerror) {
  FakeResolver dns;
  dns.Add("two.example.com", RRType::kTXT,
          "v=spf1 a:v1.example.com a:v2.example.com -all");
  dns.Add("three.example.com", RRType::kTXT,
          "v=spf1 a:v1.example.com a:v2.example.com a:v3.example.com -all");
  SpfRequest req = Req("192.0.2.7", "h.example.net", "a@two.example.com");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "fail");
  req.mail_from = "a@three.example.com";
  SpfResult r = CheckSpfMailFrom(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "permerror");
  BOOST_TEST(r.detail.find("void") != std::string::npos, r.detail);
}

BOOST_AUTO_TEST_CASE(mx_names_limit) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 mx -all");
  for (int i = 0; i < 11; ++i) {
    std::string n = "mx" + std::to_string(i) + ".example.com";
    dns.Add("example.com", RRType::kMX, n, static_cast<uint16_t>(i));
    dns.Add(n, RRType::kA, "198.51.100." + std::to_string(i + 1));
  }
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "permerror", r.detail);
}

BOOST_AUTO_TEST_CASE(ptr_names_beyond_ten_are_ignored) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 ptr -all");
  for (int i = 0; i < 12; ++i) {
    std::string n = "p" + std::to_string(i) + ".example.com";
    dns.Add("7.2.0.192.in-addr.arpa", RRType::kPTR, n);
    dns.Add(n, RRType::kA, i == 11 ? "192.0.2.7" : "198.51.100.1");
  }
  // Only the twelfth name validates; RFC 7208 §5.5 looks at the first 10 only: fail.
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "fail", r.detail);
}

BOOST_AUTO_TEST_CASE(exp_text_is_expanded) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 -all exp=why.example.com");
  dns.Add("why.example.com", RRType::kTXT, "%{i} may not send for %{d} (%{L})");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a b@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "fail");
  BOOST_TEST(r.explanation == "192.0.2.7 may not send for example.com (a%20b)");
}

BOOST_AUTO_TEST_CASE(past_deadline_is_temperror) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 -all");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.7", "h.example.net", "a@example.com"), dns,
                                 std::chrono::steady_clock::now() - std::chrono::seconds(1));
  BOOST_TEST(SpfVerdictName(r.result) == "temperror");
  BOOST_TEST(dns.asked.empty());
}

BOOST_AUTO_TEST_CASE(bad_client_ip_is_permerror) {
  FakeResolver dns;
  SpfResult r = CheckSpfMailFrom(Req("not-an-ip", "h.example.net", "a@example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "permerror");
}

// Issue 10's table: with MAIL FROM someuser@example.com, which name each macro term asks
// (RFC 7208 §7.3: the digit keeps that many right-hand parts, all of them when there are
// fewer). Only the RFC's name has an A record, so pass means the right name was asked.
struct MacroRow {
  const char* term;
  const char* ip;
  const char* asks;
};
const MacroRow kMacroTable[] = {
    {"%{d2}", "192.0.2.1", "example.com"},
    {"%{l1}", "192.0.2.1", "someuser"},
    {"%{l1r}", "192.0.2.1", "someuser"},
    {"%{l2}", "192.0.2.1", "someuser"},
    {"%{d1}", "192.0.2.1", "com"},
    {"%{lr}", "192.0.2.1", "someuser"},
    {"%{ir}", "192.0.2.1", "1.2.0.192"},
    {"%{i1}", "192.0.2.1", "1"},
    {"%{l-}", "192.0.2.1", "someuser"},
    {"%{d3}", "192.0.2.1", "example.com"},
    {"%{d9r}", "192.0.2.1", "com.example"},
    {"%{o2}", "192.0.2.1", "example.com"},
    {"%{dR}", "192.0.2.1", "com.example"},
    {"%{d-}", "192.0.2.1", "example.com"},
    {"%{ir}.%{v}", "2001:db8::cb01",
     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6"},
    {"%{i8}", "2001:db8::cb01", "0.0.0.0.c.b.0.1"},
    {"%{L}%%%_%-", "192.0.2.1", "someuser% %20"},
};

BOOST_AUTO_TEST_CASE(issue10_macro_table) {
  for (const MacroRow& row : kMacroTable) {
    FakeResolver dns;
    dns.Add("example.com", RRType::kTXT,
            std::string("v=spf1 exists:") + row.term + ".x.example.com -all");
    dns.Add(std::string(row.asks) + ".x.example.com", RRType::kA, "127.0.0.2");
    SpfResult r = CheckSpfMailFrom(Req(row.ip, "mx.example.net", "someuser@example.com"), dns,
                                   Soon());
    BOOST_TEST(SpfVerdictName(r.result) == "pass", row.term << " from " << row.ip << ": "
                                                             << r.detail);
  }
}

BOOST_AUTO_TEST_CASE(expanded_names_over_253_octets_lose_labels_from_the_left) {
  // RFC 7208 §7.3: 30 x "trunc.test" (329 octets) -> the rightmost labels within 253.
  std::string spec;
  for (int i = 0; i < 30; ++i) spec += "%{o}.";
  std::string name;
  for (int i = 0; i < 31; ++i) name += (i ? "." : "") + std::string("trunc.test");
  while (name.size() > 253) name = name.substr(name.find('.') + 1);
  FakeResolver dns;
  dns.Add("trunc.test", RRType::kTXT, "v=spf1 exists:" + spec + "trunc.test -all");
  dns.Add(name, RRType::kA, "127.0.0.2");
  SpfResult r = CheckSpfMailFrom(Req("192.0.2.1", "h.example.net", "u@trunc.test"), dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "pass", r.detail);
}

BOOST_AUTO_TEST_CASE(loopback_clients_get_what_the_record_says) {
  // Issue 11 item 6: libspf2 alone answers pass for 127/8 and ::1 whatever the record says.
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 -all");
  dns.Add("ok.example.com", RRType::kTXT, "v=spf1 ip4:127.0.0.1 ip6:::1 -all");
  for (const char* ip : {"127.0.0.1", "::1", "127.1.2.3", "::ffff:127.0.0.1"}) {
    SpfResult r = CheckSpfMailFrom(Req(ip, "localhost.example.com", "a@example.com"), dns, Soon());
    BOOST_TEST(SpfVerdictName(r.result) == "fail", ip << ": " << r.detail);
  }
  for (const char* ip : {"127.0.0.1", "::1", "::ffff:127.0.0.1"}) {
    SpfResult r =
        CheckSpfMailFrom(Req(ip, "localhost.example.com", "a@ok.example.com"), dns, Soon());
    BOOST_TEST(SpfVerdictName(r.result) == "pass", ip << ": " << r.detail);
  }
  SpfResult other =
      CheckSpfMailFrom(Req("127.0.0.2", "localhost.example.com", "a@ok.example.com"), dns, Soon());
  BOOST_TEST(SpfVerdictName(other.result) == "fail", other.detail);
}

BOOST_AUTO_TEST_CASE(ptr_and_p_are_evaluated_by_credence) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 ptr -all");
  dns.Add("p.example.com", RRType::kTXT, "v=spf1 exists:%{p}.ok.example.com -all");
  dns.Add("7.2.0.192.in-addr.arpa", RRType::kPTR, "other.example.net");
  dns.Add("7.2.0.192.in-addr.arpa", RRType::kPTR, "mail.example.com");
  dns.Add("other.example.net", RRType::kA, "192.0.2.7");
  dns.Add("mail.example.com", RRType::kA, "192.0.2.7");
  dns.Add("mail.example.com.ok.example.com", RRType::kA, "127.0.0.2");
  SpfRequest req = Req("192.0.2.7", "h.example.net", "a@example.com");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "pass");
  // %{p} prefers a validated name under the current domain (RFC 7208 §7.3).
  req.mail_from = "a@p.example.com";
  SpfResult p = CheckSpfMailFrom(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(p.result) == "fail", p.detail);  // p.example.com: no name under it
  dns.Add("other.example.net.ok.example.com", RRType::kA, "127.0.0.2");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "pass");
  // A client whose PTR name does not validate: ptr does not match.
  SpfResult bad = CheckSpfMailFrom(Req("192.0.2.8", "h.example.net", "a@example.com"), dns,
                                   Soon());
  BOOST_TEST(SpfVerdictName(bad.result) == "fail", bad.detail);
}

BOOST_AUTO_TEST_CASE(p_macro_counts_as_a_dns_term) {
  // RFC 7208 §4.6.4: %{p} in a term counts against the limit of 10 besides its term.
  FakeResolver dns;
  std::string nine = "v=spf1";
  for (int i = 0; i < 9; ++i) {
    std::string n = "h" + std::to_string(i) + ".example.com";
    nine += " a:" + n;
    dns.Add(n, RRType::kA, "198.51.100.1");
  }
  dns.Add("7.2.0.192.in-addr.arpa", RRType::kPTR, "mail.example.com");
  dns.Add("mail.example.com", RRType::kA, "192.0.2.7");
  dns.Add("mail.example.com.ok.example.com", RRType::kA, "127.0.0.2");
  dns.Add("plain.example.com", RRType::kTXT, nine + " exists:mail.example.com.ok.example.com");
  dns.Add("macro.example.com", RRType::kTXT, nine + " exists:%{p}.ok.example.com");
  SpfRequest req = Req("192.0.2.7", "h.example.net", "a@plain.example.com");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "pass");
  req.mail_from = "a@macro.example.com";
  SpfResult r = CheckSpfMailFrom(req, dns, Soon());
  BOOST_TEST(SpfVerdictName(r.result) == "permerror", r.detail);
}

BOOST_AUTO_TEST_CASE(redirect_is_used_only_when_nothing_matched) {
  FakeResolver dns;
  dns.Add("example.com", RRType::kTXT, "v=spf1 redirect=other.example.com ip4:192.0.2.7");
  dns.Add("other.example.com", RRType::kTXT, "v=spf1 -all");
  dns.Add("self.example.com", RRType::kTXT, "v=spf1 redirect=self.example.com ~all");
  SpfRequest req = Req("192.0.2.7", "h.example.net", "a@example.com");
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "pass");
  req.client_ip = "192.0.2.8";
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "fail");
  req.mail_from = "a@self.example.com";  // RFC 7208 §5.1: "all" wins, redirect ignored
  BOOST_TEST(SpfVerdictName(CheckSpfMailFrom(req, dns, Soon()).result) == "softfail");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
