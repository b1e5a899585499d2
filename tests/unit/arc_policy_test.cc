// The trusted-sealer override (ApplyArcOverride), the List-Id rule satisfied by a trusted
// sealer's chain, the ARC symbols and the arc= A-R entry: pure functions fed made-up ARC
// results (the chain verification itself is tests/unit/arc_verify_test.cc).
#include <boost/test/unit_test.hpp>
#include <tuple>

#include "credence/arc.h"
#include "credence/policy/authres.h"
#include "credence/policy/config.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/score.h"

namespace credence {
namespace {

ArcResult Chain(ArcVerdict verdict, std::vector<std::pair<std::string, std::string>> sets) {
  ArcResult r;
  r.result = verdict;
  int i = 0;
  for (auto& [sealer, results] : sets) {
    ArcSet& s = r.sets.emplace_back();
    s.instance = ++i;
    s.cv = i == 1 ? "none" : "pass";
    s.seal.domain = sealer;
    s.seal.result = DkimVerdict::kPass;
    s.message_signature.result = DkimVerdict::kPass;
    s.results = results;
  }
  return r;
}

DmarcResult Fail(DmarcDisposition disposition = DmarcDisposition::kReject) {
  DmarcResult d;
  d.verdict = DmarcVerdict::kFail;
  d.from_domain = "author.example";
  d.org_domain = "author.example";
  d.has_record = true;
  d.record.p = DmarcPolicy::kReject;
  d.requested = DmarcPolicy::kReject;
  d.disposition = disposition;
  return d;
}

const std::vector<std::string> kTrusted = {"lists.example.org"};

BOOST_AUTO_TEST_SUITE(arc_policy)

BOOST_AUTO_TEST_CASE(trusted_sealer_saying_dmarc_pass_overrides) {
  ArcResult arc = Chain(ArcVerdict::kPass,
                        {{"lists.example.org", " lists.example.org; arc=none;\r\n  "
                                               "dmarc=pass (p=reject) header.from=Author.Example"}});
  DmarcResult d = Fail();
  BOOST_TEST(ApplyArcOverride(arc, kTrusted, &d));
  BOOST_TEST((d.verdict == DmarcVerdict::kFail));  // RFC 9989: stays fail
  BOOST_TEST((d.disposition == DmarcDisposition::kNone));
  BOOST_TEST((d.disposition_before_override == DmarcDisposition::kReject));
  BOOST_TEST(d.arc_override_sealer == "lists.example.org");
  BOOST_TEST(d.arc_override_instance == 1);
  BOOST_TEST(d.arc_override_evidence == "dmarc=pass header.from=author.example");
}

BOOST_AUTO_TEST_CASE(aligned_dkim_or_spf_pass_also_vouches) {
  DmarcResult d = Fail();
  BOOST_TEST(ApplyArcOverride(Chain(ArcVerdict::kPass,
                                    {{"lists.example.org",
                                      " lists.example.org; dkim=pass header.d=mail.author.example"}}),
                              kTrusted, &d));
  BOOST_TEST(d.arc_override_evidence == "dkim=pass header.d=mail.author.example");
  d = Fail();
  BOOST_TEST(ApplyArcOverride(Chain(ArcVerdict::kPass,
                                    {{"lists.example.org",
                                      " lists.example.org; spf=pass smtp.mailfrom=a@author.example"}}),
                              kTrusted, &d));
  // adkim=s: a subdomain's signature is not aligned.
  d = Fail();
  d.record.adkim = DmarcAlignmentMode::kStrict;
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass,
                                     {{"lists.example.org",
                                       " lists.example.org; dkim=pass header.d=mail.author.example"}}),
                               kTrusted, &d));
}

BOOST_AUTO_TEST_CASE(no_override_without_every_condition) {
  const std::string says = " lists.example.org; dmarc=pass header.from=author.example";
  DmarcResult d = Fail();
  // Chain fail or none.
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kFail, {{"lists.example.org", says}}), kTrusted, &d));
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kNone, {}), kTrusted, &d));
  // Untrusted sealer; no trusted list at all.
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass, {{"evil.example", says}}), kTrusted, &d));
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass, {{"lists.example.org", says}}), {}, &d));
  // DMARC did not fail.
  DmarcResult pass = Fail();
  pass.verdict = DmarcVerdict::kPass;
  BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass, {{"lists.example.org", says}}), kTrusted, &pass));
  // What the AAR says: another From domain, a fail, an unaligned DKIM pass, the words only in
  // a comment or a quoted string.
  for (const char* text : {" lists.example.org; dmarc=pass header.from=other.example",
                           " lists.example.org; dmarc=fail header.from=author.example",
                           " lists.example.org; dkim=pass header.d=other.example",
                           " lists.example.org; none (dmarc=pass header.from=author.example)",
                           " lists.example.org; x=\"dmarc=pass header.from=author.example\"",
                           " lists.example.org dmarc=pass header.from=author.example"}) {
    BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass, {{"lists.example.org", text}}), kTrusted, &d),
               text);
  }
  BOOST_TEST(!d.arc_override);
  BOOST_TEST((d.disposition == DmarcDisposition::kReject));
}

// What a sender put in a MAIL FROM reaches the trusted sealer's AAR as written: a quoted
// local part is part of one address (RFC 8601 §2.2 pvalue = [local-part "@"] domain), and a
// ';' or a space in quotes ends nothing. Neither makes the From domain look aligned.
BOOST_AUTO_TEST_CASE(quoted_strings_in_an_aar_stay_inside_their_value) {
  for (const char* text :
       {" lists.example.org; spf=pass smtp.mailfrom=\"ceo@author.example\\ \"@evil.example;"
        " dmarc=fail header.from=author.example",
        " lists.example.org; spf=pass smtp.mailfrom=\"ceo@author.example \"@evil.example",
        " lists.example.org; spf=pass smtp.mailfrom=\"x;dmarc=pass\\ header.from=author.example\\ "
        "\"@evil.example",
        " lists.example.org; spf=pass smtp.mailfrom=\"x; dkim=pass header.d=author.example \"@e.example",
        " lists.example.org; spf=pass smtp.mailfrom=\"x@author.example"}) {  // unclosed
    DmarcResult d = Fail();
    BOOST_TEST(!ApplyArcOverride(Chain(ArcVerdict::kPass, {{"lists.example.org", text}}), kTrusted,
                                 &d),
               text);
  }
  // A whole address in quotes is that address; a quoted local part of the From domain's own
  // address still aligns by its domain.
  for (const char* text :
       {" lists.example.org; spf=pass smtp.mailfrom=\"a@author.example\"",
        " lists.example.org; spf=pass smtp.mailfrom=\"a;b\\ c\"@author.example",
        " lists.example.org; spf=pass (comment; with \"quotes) smtp.mailfrom=a@author.example"}) {
    DmarcResult d = Fail();
    BOOST_TEST(ApplyArcOverride(Chain(ArcVerdict::kPass, {{"lists.example.org", text}}), kTrusted,
                                &d),
               text);
    BOOST_TEST(d.arc_override_evidence == "spf=pass smtp.mailfrom=author.example", text);
  }
}

// The newest trusted sealer speaks: an older trusted set's dmarc=pass does not count when a
// newer trusted sealer saw DMARC fail.
BOOST_AUTO_TEST_CASE(newest_trusted_sealer_speaks) {
  std::vector<std::string> trusted = {"lists.example.org", "forward.example.net"};
  DmarcResult d = Fail();
  BOOST_TEST(!ApplyArcOverride(
      Chain(ArcVerdict::kPass,
            {{"lists.example.org", " lists.example.org; dmarc=pass header.from=author.example"},
             {"forward.example.net", " forward.example.net; arc=pass; dmarc=fail header.from=author.example"},
             {"untrusted.example", " untrusted.example; dmarc=pass header.from=author.example"}}),
      trusted, &d));
  BOOST_TEST(ApplyArcOverride(
      Chain(ArcVerdict::kPass,
            {{"forward.example.net", " forward.example.net; spf=fail"},
             {"lists.example.org", " lists.example.org; dmarc=pass header.from=author.example"}}),
      trusted, &d));
  BOOST_TEST(d.arc_override_instance == 2);
}

// A trusted set speaks about the message it sealed only: once its ARC-Message-Signature no
// longer verifies (oldest-pass above its instance), a later hop changed the message or carried
// the set over to another one, sealing the result with its own key.
BOOST_AUTO_TEST_CASE(trusted_set_speaks_only_while_its_message_is_unchanged) {
  ArcResult arc = Chain(
      ArcVerdict::kPass,
      {{"lists.example.org", " lists.example.org; dmarc=pass header.from=author.example"},
       {"evil.example", " evil.example; arc=pass"}});
  DmarcResult d = Fail();
  arc.oldest_pass = 2;  // the list's AMS fails; only the newest verifies
  BOOST_TEST(!ApplyArcOverride(arc, kTrusted, &d));
  BOOST_TEST((d.disposition == DmarcDisposition::kReject));
  BOOST_TEST(!arc.UnchangedSince(1));
  BOOST_TEST(arc.UnchangedSince(2));
  arc.oldest_pass = 0;  // every AMS verifies: the untrusted hop only added its set
  BOOST_TEST(ApplyArcOverride(arc, kTrusted, &d));
  BOOST_TEST(d.arc_override_instance == 1);
  // Three sets, the trusted one in the middle: oldest-pass 2 keeps it, 3 does not.
  ArcResult three = Chain(
      ArcVerdict::kPass,
      {{"origin.example", " origin.example; spf=pass smtp.mailfrom=a@author.example"},
       {"lists.example.org", " lists.example.org; dmarc=pass header.from=author.example"},
       {"evil.example", " evil.example; arc=pass"}});
  three.oldest_pass = 2;
  d = Fail();
  BOOST_TEST(ApplyArcOverride(three, kTrusted, &d));
  three.oldest_pass = 3;
  d = Fail();
  BOOST_TEST(!ApplyArcOverride(three, kTrusted, &d));
  // A chain that did not pass is unchanged since no set.
  three.result = ArcVerdict::kFail;
  three.oldest_pass = 0;
  BOOST_TEST(!three.UnchangedSince(3));
  // The list's AMS verifies but leaves a Subject above the one it signed (a replay with a new
  // Subject on top), or text past its l=: the message is not what the list sealed.
  arc.oldest_pass = 0;
  arc.sets[0].message_signature.unsigned_fields = {"subject"};
  BOOST_TEST(!arc.UnchangedSince(1));
  d = Fail();
  BOOST_TEST(!ApplyArcOverride(arc, kTrusted, &d));
  arc.sets[0].message_signature.unsigned_fields.clear();
  arc.sets[0].message_signature.unsigned_body_bytes = 40;
  BOOST_TEST(!arc.UnchangedSince(1));
  arc.sets[0].message_signature.unsigned_body_bytes = 0;
  BOOST_TEST(arc.UnchangedSince(1));
}

ScoreResult ScoreWith(const ScoreInput& in) {
  Result<Config> c = ParseConfig(
      "[[mailing_list]]\nname = \"announce\"\nlist_id = \"announce\\\\.lists\\\\.example\\\\.org\"\n",
      "arc");
  BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
  return c->score_policy.Score(in);
}

bool Has(const ScoreResult& r, std::string_view name) {
  for (const ScoreSymbol& s : r.symbols)
    if (s.name == name) return true;
  return false;
}

BOOST_AUTO_TEST_CASE(list_id_rule_on_a_trusted_sealers_chain) {
  SpfResult spf;
  spf.result = SpfVerdict::kFail;
  spf.identity = "mailfrom";
  spf.domain = "author.example";
  ArcResult arc = Chain(ArcVerdict::kPass, {{"lists.example.org", " lists.example.org; none"}});
  ScoreInput in;
  in.spf = &spf;
  in.arc = &arc;
  in.list_id = "Announcements <announce.lists.example.org>";
  // No DKIM of the list, no trusted sealer: the List-Id alone does not count.
  ScoreResult r = ScoreWith(in);
  BOOST_TEST(!Has(r, "CREDENCE_SPF_FORWARDED"));
  BOOST_TEST(Has(r, "CREDENCE_SPF_FAIL"));
  BOOST_TEST(Has(r, "CREDENCE_ARC_PASS"));
  // A trusted sealer of another domain does not vouch for this list.
  in.trusted_arc_sealers = {"forward.example.net"};
  BOOST_TEST(!Has(ScoreWith(in), "CREDENCE_SPF_FORWARDED"));
  // The list's own trusted sealer does.
  in.trusted_arc_sealers = {"lists.example.org"};
  r = ScoreWith(in);
  BOOST_TEST(Has(r, "CREDENCE_SPF_FORWARDED"));
  BOOST_TEST(!Has(r, "CREDENCE_SPF_FAIL"));
}

// A chain that failed only because a key lookup failed temporarily cannot be checked: a
// trusted sealer's vouching set leaves the override undecided (no override, the score stays
// the fail's, CREDENCE_ARC_TRUSTED_DNSFAIL for Exim's defer); any other failure, an untrusted
// sealer or a set that does not vouch leave nothing.
BOOST_AUTO_TEST_CASE(a_trusted_chain_undecided_by_dns_is_pending_not_overridden) {
  const std::string says = " lists.example.org; dmarc=pass header.from=author.example";
  auto chain = [&](ArcReason reason, const std::string& sealer, const std::string& text) {
    ArcResult arc = Chain(ArcVerdict::kFail, {{"forwarder.example", " f; none"}, {sealer, text}});
    arc.reason = reason;
    arc.sets[1].seal.result = DkimVerdict::kTempError;  // the sealer's own key: SERVFAIL
    return arc;
  };
  DmarcResult d = Fail();
  const ArcResult pending = chain(ArcReason::kKeyDnsError, "lists.example.org", says);
  BOOST_TEST(!ApplyArcOverride(pending, kTrusted, &d));
  BOOST_TEST(!d.arc_override);
  BOOST_TEST((d.disposition == DmarcDisposition::kReject));
  BOOST_TEST(d.arc_override_pending == "lists.example.org");
  ScoreInput in;
  in.arc = &pending;
  in.dmarc = &d;
  const ScoreResult with = ScoreWith(in);
  BOOST_TEST(Has(with, "CREDENCE_ARC_TRUSTED_DNSFAIL"));
  BOOST_TEST(Has(with, "CREDENCE_DMARC_REJECT"));
  BOOST_TEST(!Has(with, "CREDENCE_ARC_TRUSTED"));
  DmarcResult plain = Fail();
  in.dmarc = &plain;
  BOOST_TEST(ScoreWith(in).score == with.score);  // no better than without the set
  for (const auto& [reason, sealer, text] :
       std::vector<std::tuple<ArcReason, std::string, std::string>>{
           {ArcReason::kSeal, "lists.example.org", says},
           {ArcReason::kKeyDnsError, "evil.example", says},
           {ArcReason::kKeyDnsError, "lists.example.org",
            " lists.example.org; dmarc=fail header.from=author.example"}}) {
    DmarcResult other = Fail();
    BOOST_TEST(!ApplyArcOverride(chain(reason, sealer, text), kTrusted, &other));
    BOOST_TEST(other.arc_override_pending.empty(), sealer << text);
  }
  // A spoofer's own newer set whose key never answers, over a forged set of the trusted
  // sealer: the chain stops at the newer set, the trusted set is never checked: no pending.
  ArcResult forged = Chain(ArcVerdict::kFail, {{"lists.example.org", says}, {"evil.example", " e; none"}});
  forged.reason = ArcReason::kKeyDnsError;
  forged.sets[1].message_signature.result = DkimVerdict::kTempError;
  forged.sets[0].message_signature.result = DkimVerdict::kPermError;  // not evaluated
  forged.sets[0].seal.result = DkimVerdict::kPermError;
  DmarcResult spoofed = Fail();
  BOOST_TEST(!ApplyArcOverride(forged, kTrusted, &spoofed));
  BOOST_TEST(spoofed.arc_override_pending.empty());
  // The trusted list is the newest hop and its seal verified (it covers the older ARC
  // fields); an older hop's seal key fails on DNS (its message signature broke, as the list
  // changed the body): real list mail caught by a DNS fault, pending.
  ArcResult older = Chain(ArcVerdict::kFail, {{"forwarder.example", " f; none"}, {"lists.example.org", says}});
  older.reason = ArcReason::kKeyDnsError;
  older.sets[0].seal.result = DkimVerdict::kTempError;
  older.sets[0].message_signature.result = DkimVerdict::kFail;
  DmarcResult listed = Fail();
  BOOST_TEST(!ApplyArcOverride(older, kTrusted, &listed));
  BOOST_TEST(listed.arc_override_pending == "lists.example.org");
  // The newest (trusted) set's own message-signature key fails: pending as well.
  ArcResult own_ams = Chain(ArcVerdict::kFail, {{"lists.example.org", says}});
  own_ams.reason = ArcReason::kKeyDnsError;
  own_ams.sets[0].message_signature.result = DkimVerdict::kTempError;
  own_ams.sets[0].seal.result = DkimVerdict::kPermError;  // not reached
  DmarcResult own = Fail();
  BOOST_TEST(!ApplyArcOverride(own_ams, kTrusted, &own));
  BOOST_TEST(own.arc_override_pending == "lists.example.org");
  DmarcResult monitored = Fail(DmarcDisposition::kNone);  // nothing to defer
  BOOST_TEST(!ApplyArcOverride(pending, kTrusted, &monitored));
  BOOST_TEST(monitored.arc_override_pending.empty());
}

BOOST_AUTO_TEST_CASE(arc_symbols) {
  ScoreInput in;
  ArcResult arc;
  in.arc = &arc;
  for (const ScoreSymbol& s : ScoreWith(in).symbols) {  // no sets: no ARC symbol
    BOOST_TEST(s.name.rfind("CREDENCE_ARC_", 0) != 0, s.name);
  }
  arc.result = ArcVerdict::kFail;
  arc.reason = ArcReason::kSeal;
  BOOST_TEST(Has(ScoreWith(in), "CREDENCE_ARC_FAIL"));
  arc.reason = ArcReason::kKeyDnsError;
  BOOST_TEST(Has(ScoreWith(in), "CREDENCE_ARC_DNSFAIL"));
  DmarcResult d = Fail(DmarcDisposition::kNone);
  d.arc_override = true;
  d.arc_override_sealer = "lists.example.org";
  arc = Chain(ArcVerdict::kPass, {{"lists.example.org", ""}});
  in.dmarc = &d;
  ScoreResult r = ScoreWith(in);
  BOOST_TEST(Has(r, "CREDENCE_ARC_TRUSTED"));
  BOOST_TEST(Has(r, "CREDENCE_DMARC_SOFTFAIL"));  // DMARC still fail, disposition none
  BOOST_TEST(!Has(r, "CREDENCE_DMARC_REJECT"));
  // No ARC input: no ARC symbol.
  in.arc = nullptr;
  BOOST_TEST(!Has(ScoreWith(in), "CREDENCE_ARC_TRUSTED"));
}

BOOST_AUTO_TEST_CASE(authres_arc_entry) {
  ArcResult arc = Chain(ArcVerdict::kPass, {{"lists.example.org", ""}, {"fwd.example.net", ""}});
  arc.oldest_pass = 2;
  DmarcResult d = Fail(DmarcDisposition::kNone);
  d.arc_override = true;
  d.arc_override_sealer = "fwd.example.net";
  AuthResInput in;
  in.arc = &arc;
  in.dmarc = &d;
  in.client_ip = "192.0.2.1";
  AuthResOptions o;
  o.authserv_id = "mx.example.net";
  Result<AuthResHeader> h = WriteAuthResults(in, o);
  BOOST_TEST_REQUIRE(h.ok());
  BOOST_TEST(h->value.find("arc=pass (i=2 lists.example.org fwd.example.net) "
                           "smtp.remote-ip=192.0.2.1 header.oldest-pass=2") != std::string::npos,
             h->value);
  BOOST_TEST(h->value.find("dmarc=fail") != std::string::npos, h->value);
  BOOST_TEST(h->value.find("local_policy arc=pass fwd.example.net") != std::string::npos, h->value);
  arc.result = ArcVerdict::kFail;
  arc.reason = ArcReason::kSeal;
  arc.detail = "ARC-Seal of instance 2: signature did not verify";
  h = WriteAuthResults(in, o);
  BOOST_TEST(h->value.find("arc=fail reason=\"seal: ARC-Seal of instance 2") != std::string::npos,
             h->value);
  ArcResult none;
  in.arc = &none;
  h = WriteAuthResults(in, o);
  BOOST_TEST(h->value.find("; arc=") == std::string::npos, h->value);  // no sets: no entry
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
