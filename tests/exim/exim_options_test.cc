// The Exim shim's pure parts (plugin/exim/exim_options.{h,cc}): the OPTIONS grammar, the
// options it builds through the C ABI, and the strings handed to the ACL. Prints one line per
// failed check; exits 1 on any failure.
#include <algorithm>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "credence/credence.h"
#include "exim_options.h"

namespace {

int g_checks = 0;
int g_failures = 0;

void Check(bool cond, const char* what, int line) {
  ++g_checks;
  if (!cond) {
    ++g_failures;
    std::printf("FAIL line %d: %s\n", line, what);
  }
}
#define CHECK(c) Check((c), #c, __LINE__)

using credence::exim::ParseShimOptions;
using credence::exim::ShimOptions;

bool Parses(const std::string& text, ShimOptions* o = nullptr) {
  ShimOptions scratch;
  std::string why;
  return ParseShimOptions(text, o != nullptr ? o : &scratch, &why);
}

// A temporary file holding `text` (mkstemp on `prefix`XXXXXX); its path.
std::string TempFile(const char* prefix, const std::string& text) {
  std::string path = std::string(prefix) + "XXXXXX";
  int fd = mkstemp(path.data());
  CHECK(fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  if (fd >= 0) close(fd);
  return path;
}

// A handle answering DNS from `zone`, with the configuration file `config` when not empty.
credence_t* OpenWith(const std::string& zone, const std::string& config = "") {
  credence_options_t* opts = credence_options_create();
  char* why = nullptr;
  CHECK(credence_options_add_zone_file(opts, zone.c_str(), &why) == 0);
  if (!config.empty()) CHECK(credence_options_set_config_file(opts, config.c_str(), &why) == 0);
  credence_t* h = credence_open(opts, &why);
  credence_options_destroy(opts);
  credence_free(why);
  CHECK(h != nullptr);
  return h;
}

std::string WhyNot(const std::string& text) {
  ShimOptions o;
  std::string why;
  return ParseShimOptions(text, &o, &why) ? "" : why;
}

}  // namespace

int main() {
  ShimOptions o;
  CHECK(Parses("", &o));
  CHECK(o.authserv_id.empty() && o.dns.empty() && o.deadline_ms == 0 && o.log);
  CHECK(Parses("authserv_id=mx.example.org dns=127.0.0.1:5353;deadline_ms=8000\t"
               "dns_timeout_ms=500 zone=/a.zone zone=/b.zone config=/c.toml time=1700000000 log=no",
               &o));
  CHECK(o.authserv_id == "mx.example.org");
  CHECK(o.dns == "127.0.0.1:5353");
  CHECK(o.deadline_ms == 8000 && o.dns_timeout_ms == 500);
  CHECK(o.zones.size() == 2 && o.zones[1] == "/b.zone");
  CHECK(o.config == "/c.toml");
  CHECK(o.time && *o.time == 1700000000);
  CHECK(!o.log);
  CHECK(Parses("  ;; log=yes ; ", &o) && o.log);

  CHECK(WhyNot("deadlin_ms=5") == "unknown option 'deadlin_ms'");
  CHECK(WhyNot("dns") == "'dns' is not key=value");
  CHECK(!WhyNot("deadline_ms=ten").empty());
  CHECK(!WhyNot("deadline_ms=-1").empty());
  CHECK(!WhyNot("deadline_ms=").empty());
  CHECK(!WhyNot("dns_timeout_ms=99999999999999999999").empty());
  CHECK(!WhyNot("log=maybe").empty());
  CHECK(!WhyNot("time=12x").empty());
  std::string many;
  for (int i = 0; i < 100; ++i) many += "log=yes ";
  CHECK(WhyNot(many) == "too many options");

  // BuildOptions goes through the C ABI's checks.
  char* err = nullptr;
  ShimOptions good;
  good.authserv_id = "mx.example.org";
  good.dns = "127.0.0.1:5353";
  credence_options_t* built = credence::exim::BuildOptions(good, &err);
  CHECK(built != nullptr && err == nullptr);
  credence_options_destroy(built);
  ShimOptions bad = good;
  bad.dns = "resolver.example.org";  // a name, not an address
  CHECK(credence::exim::BuildOptions(bad, &err) == nullptr);
  CHECK(err != nullptr && std::string(err).find("resolver.example.org") != std::string::npos);
  bad = good;
  bad.authserv_id = "not valid;";
  CHECK(credence::exim::BuildOptions(bad, &err) == nullptr);
  bad = good;
  bad.deadline_ms = 700000;
  CHECK(credence::exim::BuildOptions(bad, &err) == nullptr);
  credence_free(err);

  // Integer tenths for Exim's integer arithmetic, and the decimal form for headers.
  CHECK(credence::exim::TenthsToDecimal(0) == "0.0");
  CHECK(credence::exim::TenthsToDecimal(35) == "3.5");
  CHECK(credence::exim::TenthsToDecimal(-7) == "-0.7");
  CHECK(credence::exim::TenthsToDecimal(-123) == "-12.3");
  CHECK(credence::exim::TenthsToDecimal(100) == "10.0");
  // No result (unverifiable message): the summaries degrade, never crash.
  CHECK(credence::exim::DkimSummary(nullptr) == "none");
  CHECK(credence::exim::DkimDomains(nullptr).empty());
  CHECK(credence::exim::SymbolSummary(nullptr).empty());
  CHECK(credence::exim::DmarcAction(nullptr, "") == "none");

  // The log line's DMARC reason: only when DMARC could not be evaluated, quoted, one line.
  CHECK(credence::exim::DmarcReasonForLog(nullptr).empty());
  {
    const std::string zone = TempFile("/tmp/credence-exim-options-",
                                      "$ORIGIN example.com.\n@ 300 IN SOA ns hm 1 1 1 1 1\n"
                                      "_dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n");
    char* why = nullptr;
    credence_t* h = OpenWith(zone);
    if (h != nullptr) {
      const std::string two_from = "From: a@example.com\nFrom: b@example.com\n\nx\n";
      credence_result_t* r =
          credence_verify(h, two_from.data(), two_from.size(), nullptr, nullptr, nullptr, &why);
      CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "permerror");
      CHECK(credence::exim::DmarcReasonForLog(r) == " dmarc_reason=\"multiple From fields\"");
      // Several From fields: disposition none (no policy applies), but refused like a reject.
      CHECK(std::string(credence_result_dmarc_disposition(r)) == "none");
      CHECK(credence::exim::DmarcAction(r, "") == "reject");
      credence_result_destroy(r);
      const std::string one_from = "From: a@example.com\n\nx\n";
      r = credence_verify(h, one_from.data(), one_from.size(), nullptr, nullptr, nullptr, &why);
      CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "fail");
      CHECK(credence::exim::DmarcReasonForLog(r).empty());  // a verdict, not an error
      CHECK(credence::exim::DmarcAction(r, "") == "reject");    // p=reject, disposition reject
      credence_result_destroy(r);
      // A From no one can read (an unquoted '@' in the display name): refused too.
      const std::string unreadable = "From: a@example.com <b@example.org>\n\nx\n";
      r = credence_verify(h, unreadable.data(), unreadable.size(), nullptr, nullptr, nullptr, &why);
      CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "permerror");
      CHECK(credence::exim::DmarcAction(r, "") == "reject");
      credence_result_destroy(r);
      // 20 signatures: the log line shows 8 results and "+12", and the limit note stays short
      // and printable (900 signatures overflowed Exim's log buffer and lost the line).
      std::string signed20;
      for (int i = 0; i < 20; ++i) {
        signed20 += "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s" + std::to_string(i) +
                "; h=from; bh=AAAA; b=AAAA\n";
      }
      signed20 += "From: a@example.com\n\nx\n";
      r = credence_verify(h, signed20.data(), signed20.size(), nullptr, nullptr, nullptr, &why);
      CHECK(r != nullptr);
      if (r != nullptr) {
        const std::string shown = credence::exim::DkimSummaryForLog(r);
        CHECK(shown.size() > 4 && shown.substr(shown.size() - 4) == " +12");
        CHECK(std::count(shown.begin(), shown.end(), ' ') == 8);
        const std::string limits = credence::exim::LimitsForLog(r);
        CHECK(limits.rfind(" limits=\"", 0) == 0 && limits.back() == '"' && limits.size() < 600);
        credence_result_destroy(r);
      }
      // A domain with no DMARC record: nothing to enforce.
      const std::string other = "From: a@example.org\n\nx\n";
      r = credence_verify(h, other.data(), other.size(), nullptr, nullptr, nullptr, &why);
      CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "none");
      CHECK(credence::exim::DmarcAction(r, "") == "none");
      credence_result_destroy(r);
      credence_close(h);
    }
    // A client in [allowlist] networks (local submission over loopback): its mail is signed
    // on the way out, so a p=reject fail at DATA is not enforced; with the allowlist weighed 0
    // the site does not want that, and it is.
    for (const char* weight : {"", "\n[score.weights]\nCREDENCE_ALLOWLIST_IP = 0.0\n"}) {
      const std::string conf = TempFile(
          "/tmp/credence-exim-allowlist-",
          std::string("[allowlist]\nnetworks = [\"127.0.0.0/8\", \"::1/128\", \"10.0.0.0/8\"]\n") +
              weight);
      credence_t* a = OpenWith(zone, conf);
      if (a != nullptr) {
        const std::string local = "From: app@example.com\n\nx\n";
        credence_result_t* r = credence_verify(a, local.data(), local.size(), "127.0.0.1",
                                               "localhost", "app@example.com", &why);
        CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "fail");
        CHECK(credence::exim::DmarcAction(r, "127.0.0.1") == (*weight == '\0' ? "none" : "reject"));
        credence_result_destroy(r);
        // An inbound relay in the allowlist still passes on spoofs from outside: enforced.
        r = credence_verify(a, local.data(), local.size(), "10.0.0.5", "relay.example",
                            "app@example.com", &why);
        CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "fail");
        CHECK(credence::exim::DmarcAction(r, "10.0.0.5") == "reject");
        credence_result_destroy(r);
        credence_close(a);
      }
      unlink(conf.c_str());
    }
    credence_free(why);
    unlink(zone.c_str());
  }

  // A DMARC record only assumed above a name whose lookup failed (for the score) is no policy
  // found: dmarc_policy says "" as the A-R names none, and the score still counts it.
  {
    const std::string zone =
        TempFile("/tmp/credence-exim-assumed-",
                 "$ORIGIN bank.test.\n@ 300 IN SOA ns hm 1 1 1 1 1\n"
                 "_dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n"
                 "_dmarc.x.lame 0 IN TYPE65281 \\# 2 0010\n");  // a temporary failure, recorded
    char* why = nullptr;
    credence_t* h = OpenWith(zone);
    if (h != nullptr) {
      const std::string lame = "From: ceo@x.lame.bank.test\n\nx\n";
      credence_result_t* r = credence_verify(h, lame.data(), lame.size(), "203.0.113.5",
                                             "evil.example", "x@evil.example", &why);
      CHECK(r != nullptr && std::string(credence_result_dmarc(r)) == "temperror");
      CHECK(r != nullptr && std::string(credence_result_dmarc_policy(r)).empty());
      CHECK(credence::exim::DmarcAction(r, "203.0.113.5") == "defer");
      credence_result_destroy(r);
      credence_close(h);
    }
    credence_free(why);
    unlink(zone.c_str());
  }

  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
