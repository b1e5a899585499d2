// Prints Authentication-Results headers for built-in and hostile cases, one JSON object per
// line: {"name", "field" (folded, CRLF+TAB), "value" (unfolded), "entries" (what a parser must
// give back: method, result, reason, properties)}. tests/integration/test_authres_roundtrip.py
// parses every field with python3-authres and compares.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"

namespace {

using credence::DkimResult;
using credence::DkimVerdict;
using credence::DmarcResult;
using credence::SpfResult;
using credence::SpfVerdict;

struct Case {
  std::string name;
  std::vector<DkimResult> dkim;
  std::optional<SpfResult> mailfrom, helo;
  std::optional<DmarcResult> dmarc;
  credence::AuthResOptions options;
};

DkimResult Dkim(DkimVerdict v, std::string d, std::string s, std::string b) {
  DkimResult r;
  r.result = v;
  r.domain = std::move(d);
  r.selector = std::move(s);
  r.algorithm = "rsa-sha256";
  r.signature_b = std::move(b);
  r.key_bits = 2048;
  if (v != DkimVerdict::kPass) r.reason = credence::DkimReason::kBodyHashMismatch;
  return r;
}

SpfResult Spf(SpfVerdict v, std::string domain, std::string sender, std::string detail = "") {
  SpfResult r;
  r.result = v;
  r.domain = std::move(domain);
  r.sender = std::move(sender);
  r.detail = std::move(detail);
  return r;
}

DmarcResult Dmarc(credence::DmarcVerdict v, std::string from, credence::DmarcPolicy p,
                  credence::DmarcDisposition dis, std::string record_domain) {
  DmarcResult r;
  r.verdict = v;
  r.from_domain = std::move(from);
  r.has_record = true;
  r.record.p = p;
  r.requested = p;
  r.disposition = dis;
  r.record_domain = std::move(record_domain);
  if (v == credence::DmarcVerdict::kFail) r.reason = "no aligned identifier";
  return r;
}

std::vector<Case> Cases() {
  using credence::DmarcDisposition;
  using credence::DmarcPolicy;
  using credence::DmarcVerdict;
  std::vector<Case> cases;
  const std::string k10(10240, 'x');
  {
    Case c{"typical_pass"};
    c.dkim.push_back(Dkim(DkimVerdict::kPass, "example.com", "sel1", "dGVzdHNpZ25hdHVyZTE="));
    c.mailfrom = Spf(SpfVerdict::kPass, "example.com", "bounce@example.com");
    c.dmarc = Dmarc(DmarcVerdict::kPass, "example.com", DmarcPolicy::kReject,
                    DmarcDisposition::kNone, "example.com");
    cases.push_back(c);
  }
  {
    Case c{"two_signatures_same_prefix"};
    c.dkim.push_back(Dkim(DkimVerdict::kPass, "example.com", "a", "AAAAAAAAAAAAAAAA1abc"));
    c.dkim.push_back(Dkim(DkimVerdict::kFail, "esp.example", "b", "AAAAAAAAAAAAAAAA2abc"));
    c.dkim.back().testing = true;
    c.dkim.back().body_length = 10;
    c.dkim.back().unsigned_body_bytes = 5;
    cases.push_back(c);
  }
  {
    Case c{"fail_reject_orgdomain"};
    c.dkim.push_back(Dkim(DkimVerdict::kFail, "mail.example.com", "s", "ab/cd+efGH=="));
    c.mailfrom = Spf(SpfVerdict::kFail, "example.com", "a@example.com", "matched -all");
    c.helo = Spf(SpfVerdict::kNone, "mx.example.org", "");
    c.dmarc = Dmarc(DmarcVerdict::kFail, "mail.example.com", DmarcPolicy::kReject,
                    DmarcDisposition::kReject, "example.com");
    cases.push_back(c);
  }
  {
    Case c{"unsigned"};
    c.mailfrom = Spf(SpfVerdict::kSoftFail, "example.org", "x@example.org", "~all");
    cases.push_back(c);
  }
  {
    Case c{"null_sender"};
    c.mailfrom = Spf(SpfVerdict::kPass, "mx.example.org", "postmaster@mx.example.org");
    cases.push_back(c);
  }
  {
    Case c{"hostile_crlf_injection"};
    c.dkim.push_back(Dkim(DkimVerdict::kFail, "evil.com\r\nX-Injected: yes", "s\r\n", "QUJD\r\nREVGR0g="));
    c.mailfrom = Spf(SpfVerdict::kFail, "e.com", "a@e.com\r\nBcc: victim@x", "x\ny");
    cases.push_back(c);
  }
  {
    Case c{"hostile_quotes_semicolons"};
    c.dkim.push_back(Dkim(DkimVerdict::kFail, "x.com; dkim=pass header.d=bank.com", "\"q\"",
                          "\"\\;=()"));
    c.dkim.back().detail = "he said \"hi\" \\o/ (nested (comment))";
    c.mailfrom = Spf(SpfVerdict::kFail, "e.com", "\"john doe\"@e.com", "a;b=c");
    cases.push_back(c);
  }
  {
    Case c{"hostile_non_ascii_controls"};
    c.dkim.push_back(Dkim(DkimVerdict::kPass, "ex\xc3\xa4mple.com", "s\x01\x7f\x1b[0m", "QUJDREVGR0g="));
    c.helo = Spf(SpfVerdict::kNeutral, std::string("mx\0.example", 11), "");
    cases.push_back(c);
  }
  {
    Case c{"hostile_10kb_values"};
    c.dkim.push_back(Dkim(DkimVerdict::kPermError, k10 + ".com", k10, k10));
    c.dkim.back().detail = std::string(10240, '"');
    c.mailfrom = Spf(SpfVerdict::kFail, "e.com", std::string(10240, '\\') + "@e.com", k10);
    c.dmarc = Dmarc(DmarcVerdict::kFail, k10, DmarcPolicy::kQuarantine,
                    DmarcDisposition::kQuarantine, k10);
    cases.push_back(c);
  }
  {
    Case c{"hostile_empty_and_space"};
    c.dkim.push_back(Dkim(DkimVerdict::kPermError, "", " ", "\t"));
    c.mailfrom = Spf(SpfVerdict::kPermError, "", "");
    cases.push_back(c);
  }
  {
    Case c{"narrow_fold"};
    c.options.fold_width = 40;
    c.dkim.push_back(Dkim(DkimVerdict::kPass, "example.com", "sel", "dGVzdHNpZ25hdHVyZTE="));
    c.mailfrom = Spf(SpfVerdict::kPass, "example.com", "user@example.com");
    cases.push_back(c);
  }
  {
    Case c{"no_polrec_no_comments"};
    c.options.dmarc_polrec = false;
    c.options.comments = false;
    c.dmarc = Dmarc(DmarcVerdict::kFail, "example.com", DmarcPolicy::kNone,
                    DmarcDisposition::kNone, "example.com");
    cases.push_back(c);
  }
  for (Case& c : cases) {
    if (c.options.authserv_id == "localhost") c.options.authserv_id = "mx.example.net";
  }
  return cases;
}

}  // namespace

int main() {
  for (const Case& c : Cases()) {
    credence::AuthResInput in;
    in.dkim = c.dkim;
    in.spf_mailfrom = c.mailfrom ? &*c.mailfrom : nullptr;
    in.spf_helo = c.helo ? &*c.helo : nullptr;
    in.dmarc = c.dmarc ? &*c.dmarc : nullptr;
    credence::Result<credence::AuthResHeader> h = credence::WriteAuthResults(in, c.options);
    if (!h.ok()) {
      std::cerr << c.name << ": " << h.status().ToString() << "\n";
      return 1;
    }
    nlohmann::json entries = nlohmann::json::array();
    for (const credence::AuthResEntry& e : h->entries) {
      nlohmann::json props = nlohmann::json::array();
      for (const credence::AuthResProperty& p : e.properties) {
        props.push_back({p.ptype, p.property, p.value});
      }
      entries.push_back({{"method", e.method}, {"result", e.result}, {"reason", e.reason},
                         {"comment", e.comment}, {"properties", props}});
    }
    nlohmann::json out = {{"name", c.name}, {"authserv_id", c.options.authserv_id},
                          {"field", h->Field()}, {"value", h->value}, {"entries", entries}};
    std::cout << out.dump() << "\n";
  }
  return 0;
}
