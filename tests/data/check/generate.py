#!/usr/bin/python3
"""Writes the `credence check` test data: zones/*.zone (one zone per checked domain, plus the
shared mailer.example and reports.example), cases.json (the manifest read by
tests/unit/check_test.cc and tests/integration/test_check.py) and messages/*.eml.

Every case starts from a clean domain (MX, SPF "v=spf1 mx -all", a 2048-bit key at s1,
DMARC p=reject with rua) and changes one thing; "problems" lists the code of every finding
that is not ok (sorted, with repeats), "present" ok codes that must be there. Keys come from
tests/data/corpus/keys; messages are signed with dkimpy with t= pinned, so a rerun gives the
same files byte for byte:  /usr/bin/python3 tests/data/check/generate.py
"""
import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import dkim  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "..", "corpus", "keys")
T = 1700000000
time.time = lambda: T


def der(args):
    return subprocess.run(["openssl"] + args + ["-outform", "DER"], check=True,
                          capture_output=True).stdout


def rsa_public(bits):
    return base64.b64encode(der(["pkey", "-in", f"{KEYS}/rsa{bits}.pem", "-pubout"])).decode()


ED_PUBLIC = base64.b64encode(der(["pkey", "-in", f"{KEYS}/ed25519.pem", "-pubout"])[-32:]).decode()


def txt(value, size=250):
    """A TXT rdata in character-strings of at most `size` bytes."""
    parts = [value[i:i + size] for i in range(0, len(value), size)] or [""]
    return " ".join(f'"{p}"' for p in parts)


KEY = {b: "v=DKIM1; k=rsa; p=" + rsa_public(b) for b in (512, 1024, 2048)}

# Shared zones: the include targets and report destinations of the cases.
MAILER = ["_spf IN TXT \"v=spf1 ip4:198.51.100.0/24 -all\"",
          "many IN TXT \"v=spf1 " + " ".join(f"a:h{i}.mailer.example" for i in range(1, 10)) + " -all\""]
MAILER += [f"h{i} IN A 198.51.100.{i}" for i in range(1, 10)]
MAILER += ["big IN MX %d mx%d" % (i, i) for i in range(1, 12)]
MAILER += ["mx%d IN A 198.51.100.%d" % (i, 100 + i) for i in range(1, 12)]
MAILER += ['loop1 IN TXT "v=spf1 include:loop2.mailer.example -all"',
           'loop2 IN TXT "v=spf1 include:loop1.mailer.example -all"',
           'open IN TXT "v=spf1 +all"',
           'halves IN TXT "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1"',
           '; RFC 9990 External Destination Verification: mailer.example takes the reports of',
           '; dmarc-external-ok.example (and no one else).',
           'dmarc-external-ok.example._report._dmarc IN TXT "v=DMARC1"']
# c0..c8.mailer.example take the reports of dmarc-many-external.example: the check asks eight.
MAILER += [f'dmarc-many-external.example._report._dmarc.c{i} IN TXT "v=DMARC1"' for i in range(9)]

ZONES = {"mailer.example": MAILER}
CASES = []


def case(name, problems, rfc, comment, spf=None, dkim_lines=None, dmarc=None, mx=None,
         extra=(), selectors=("s1",), present=(), domain=None):
    """The domain NAME.example (its own zone) made from the clean one with the given parts
    replaced: `spf`, `dkim_lines`, `dmarc`, `mx` are zone lines relative to the domain."""
    d = domain or f"{name}.example"
    lines = ["@ IN MX 10 mail"] if mx is None else list(mx)
    lines += ["mail IN A 192.0.2.10", "@ IN A 192.0.2.10"]
    lines += ['@ IN TXT "v=spf1 mx -all"'] if spf is None else list(spf)
    lines += [f"s1._domainkey IN TXT {txt(KEY[2048])}"] if dkim_lines is None else list(dkim_lines)
    lines += ([f'_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{d}"'] if dmarc is None
              else list(dmarc))
    lines += list(extra)
    ZONES[d] = lines
    add_case(name, d, problems, rfc, comment, selectors, present, [d, "mailer.example"])


def add_case(name, d, problems, rfc, comment, selectors, present, zones, message=None):
    CASES.append({"name": name, "domain": d, "selectors": list(selectors), "zones": sorted(zones),
                  "problems": sorted(problems), "present": sorted(present),
                  "exit": 2 if any(p in ERRORS for p in problems) else 1 if problems else 0,
                  "rfc": rfc, "comment": comment, "message": message})


# Codes whose severity is error (policy/check/codes.cc); the rest of `problems` are warnings.
ERRORS = {"spf.missing", "spf.multiple", "spf.syntax_error", "spf.split_glued",
          "spf.lookup_limit", "spf.void_limit", "spf.mx_limit", "spf.all_pass", "spf.wide_range",
          "spf.include_missing", "spf.loop", "dkim.key_missing", "dkim.key_multiple",
          "dkim.key_syntax", "dkim.key_too_small", "dkim.sha1_only", "dkim.revoked",
          "dmarc.missing", "dmarc.multiple", "dmarc.syntax_error", "dmarc.alignment_none",
          "mx.no_address", "message.unreadable", "message.dkim_fail", "message.spf_fail",
          "message.dmarc_fail", "dns.tempfail", "check.incomplete"}

# --- The admin's setup from issue 13 (bind9 + exim4), nothing else changed. ---
ZONES["example.com"] = [
    "@ IN MX 10 mail", "@ IN A 192.0.2.10", "mail IN A 192.0.2.10",
    '@ IN TXT "v=spf1 mx -all"',
    f"20160629._domainkey IN TXT {txt(KEY[1024])}",
    '; The admin believed this puts DKIM into testing mode (DomainKeys-era policy record).',
    '_domainkey IN TXT "t=y;o=~;r=postmaster@example.com"']
add_case("admin", "example.com", ["dkim.domainkey_record", "dkim.key_short", "dmarc.missing"],
         "RFC 6376 §3.6.1, RFC 8301 §3.2, RFC 9989 §4.10",
         "issue 13: the _domainkey record explained as ignored, the 1024-bit key warned, the "
         "selector not in testing mode, mx -all checked against the MX host, DMARC missing",
         ["20160629"], ["dkim.not_testing", "spf.mx_authorised", "spf.all", "spf.lookups",
                        "spf.record", "spf.syntax", "mx.hosts", "dmarc.alignment"],
         ["example.com"])

# --- Clean: nothing to report. ---
case("clean", [], "", "the baseline every other case changes one thing of",
     spf=['@ IN TXT "v=spf1 mx include:_spf.mailer.example -all"'],
     present=["spf.mx_authorised", "dkim.key", "dkim.not_testing", "dmarc.record",
              "dmarc.alignment", "mx.hosts"])
case("clean-external-reports", [], "RFC 9990", "reports to another domain that consents",
     domain="dmarc-external-ok.example",
     dmarc=['_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:reports@mailer.example"'],
     present=["dmarc.external_verified"])
case("clean-ed25519", [], "RFC 8463", "an Ed25519 key",
     dkim_lines=[f's1._domainkey IN TXT "v=DKIM1; k=ed25519; p={ED_PUBLIC}"'],
     present=["dkim.key"])
case("clean-strict-key", [], "RFC 6376 §3.6.1", "t=s is noted, not a problem",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048].replace('k=rsa;', 'k=rsa; t=s;'))}"],
     present=["dkim.strict"])
ZONES["inherit.example"] = [
    '_dmarc IN TXT "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@inherit.example"',
    "sub IN MX 10 mail.sub", "mail.sub IN A 192.0.2.10", 'sub IN TXT "v=spf1 mx -all"',
    f"s1._domainkey.sub IN TXT {txt(KEY[2048])}"]
add_case("clean-inherited", "sub.inherit.example", [], "RFC 9989 §4.10",
         "a subdomain whose DMARC record is its parent's", ["s1"], ["dmarc.record"],
         ["inherit.example"])
case("clean-null-mx", [], "RFC 7505", "a domain that receives no mail",
     mx=["@ IN MX 0 ."], spf=['@ IN TXT "v=spf1 a -all"'], present=["mx.null"])

# --- SPF (RFC 7208) ---
case("spf-missing", ["spf.missing", "dmarc.alignment_weak"], "RFC 7208 §4.5", "no SPF record", spf=[])
case("spf-two", ["spf.multiple", "dmarc.alignment_weak"], "RFC 7208 §4.5", "two SPF records",
     spf=['@ IN TXT "v=spf1 mx -all"', '@ IN TXT "v=spf1 a -all"'])
case("spf-rr-type", ["spf.rr_type"], "RFC 7208 §3.1", "the obsolete SPF RR type as well",
     spf=['@ IN TXT "v=spf1 mx -all"', '@ IN SPF "v=spf1 mx -all"'])
case("spf-syntax", ["spf.syntax_error", "dmarc.alignment_weak"], "RFC 7208 §12",
     "an address that is not one", spf=['@ IN TXT "v=spf1 mx ip4:192.0.2.300 -all"'])
case("spf-version-space", ["spf.syntax_error", "dmarc.alignment_weak"], "RFC 7208 §4.5",
     "'v=spf1' without the space is not an SPF record", spf=['@ IN TXT "v=spf1-all"'])
case("spf-glued", ["spf.split_glued", "dmarc.alignment_weak"], "RFC 7208 §3.3",
     "two strings joined into 'mxinclude:...'",
     spf=['@ IN TXT "v=spf1 mx" "include:_spf.mailer.example -all"'])
case("spf-glued-version", ["spf.split_glued", "dmarc.alignment_weak"], "RFC 7208 §3.3",
     "'v=spf1' glued to the first term", spf=['@ IN TXT "v=spf1" "mx -all"'])
case("spf-split-ok", [], "RFC 7208 §3.3", "a term split across strings on purpose",
     spf=['@ IN TXT "v=spf1 mx include:_spf.mai" "ler.example -all"'], present=["spf.syntax"])
case("spf-lookups", ["spf.lookup_limit", "dmarc.alignment_weak"], "RFC 7208 §4.6.4",
     "12 lookups over the include tree",
     spf=['@ IN TXT "v=spf1 mx include:_spf.mailer.example include:many.mailer.example -all"'])
case("spf-void-one", ["spf.void"], "RFC 7208 §4.6.4", "one name that no longer exists",
     spf=['@ IN TXT "v=spf1 mx a:gone1.mailer.example -all"'])
case("spf-void-three", ["spf.void_limit", "dmarc.alignment_weak"], "RFC 7208 §4.6.4",
     "three void lookups",
     spf=['@ IN TXT "v=spf1 mx a:gone1.mailer.example a:gone2.mailer.example a:gone3.mailer.example -all"'])
case("spf-mx-limit", ["spf.mx_limit", "dmarc.alignment_weak"], "RFC 7208 §4.6.4",
     "an mx term naming 11 MX hosts", spf=['@ IN TXT "v=spf1 mx mx:big.mailer.example -all"'])
case("spf-ptr", ["spf.ptr"], "RFC 7208 §5.5", "ptr is deprecated", spf=['@ IN TXT "v=spf1 mx ptr -all"'])
case("spf-plus-all", ["spf.all_pass"], "RFC 7208 §5.1", "+all lets everyone pass",
     spf=['@ IN TXT "v=spf1 mx +all"'])
case("spf-wide-range", ["spf.wide_range"], "RFC 7208 §5.6",
     "ip4:0.0.0.0/0 passes every IPv4 host, as +all does", spf=['@ IN TXT "v=spf1 mx ip4:0.0.0.0/0 -all"'])
case("spf-wide-halves", ["spf.wide_range"], "RFC 7208 §5.6",
     "the Internet in halves and quarters, and a:/0", spf=[
         '@ IN TXT "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/2 ip4:192.0.0.0/2 ip6:::/1 mx/0 -all"'])
case("spf-wide-include", ["spf.wide_range"], "RFC 7208 §5.2",
     "an include whose ranges are the whole IPv4 space", spf=[
         '@ IN TXT "v=spf1 mx include:halves.mailer.example -all"'])
case("spf-wide-under-fail-include", [], "RFC 7208 §5.2",
     "the same ranges under -include: fail, they open nothing", spf=[
         '@ IN TXT "v=spf1 mx -include:halves.mailer.example -all"'])
case("spf-plus-all-under-fail-include", [], "RFC 7208 §5.2",
     "+all in a record included with -include: makes nothing pass", spf=[
         '@ IN TXT "v=spf1 mx -include:open.mailer.example -all"'])
case("spf-provider-ranges", [], "RFC 7208 §5.6",
     "a provider's ranges (a few /14s to /20s) are not wide", spf=[
         '@ IN TXT "v=spf1 mx ip4:40.92.0.0/15 ip4:52.100.0.0/14 ip4:104.47.0.0/17 ip6:2a01:111:f400::/48 ~ip4:0.0.0.0/0 -all"'])
case("spf-neutral-all", ["spf.all_neutral"], "RFC 7208 §5.1", "?all is no policy",
     spf=['@ IN TXT "v=spf1 mx ?all"'])
case("spf-no-all", ["spf.no_all"], "RFC 7208 §4.7", "no all at all", spf=['@ IN TXT "v=spf1 mx"'])
case("spf-include-missing", ["spf.include_missing", "dmarc.alignment_weak"], "RFC 7208 §5.2",
     "an include of a name without SPF",
     spf=['@ IN TXT "v=spf1 mx include:nothing.mailer.example -all"'])
case("spf-include-plus-all", ["spf.all_pass"], "RFC 7208 §5.2",
     "an include whose record ends in +all", spf=['@ IN TXT "v=spf1 mx include:open.mailer.example -all"'])
case("spf-loop", ["spf.loop", "dmarc.alignment_weak"], "RFC 7208 §4.6.4", "include loop",
     spf=['@ IN TXT "v=spf1 mx include:loop1.mailer.example -all"'])
case("spf-redirect-ignored", ["spf.redirect_ignored"], "RFC 7208 §5.1",
     "redirect= beside all", spf=['@ IN TXT "v=spf1 mx -all redirect=_spf.mailer.example"'])
case("spf-macro", ["spf.macro_target"], "RFC 7208 §7", "an include built by a macro",
     spf=['@ IN TXT "v=spf1 mx include:%{d}.macro.mailer.example -all"'])
case("spf-mx-not-authorised", ["spf.mx_not_authorised"], "RFC 7208 §5.4",
     "the MX host is not in the record", spf=['@ IN TXT "v=spf1 ip4:192.0.2.99 -all"'])

# --- DKIM (RFC 6376, RFC 8301) ---
case("dkim-short", ["dkim.key_short"], "RFC 8301 §3.2", "1024-bit key",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[1024])}"])
case("dkim-too-small", ["dkim.key_too_small", "dmarc.alignment_weak"], "RFC 8301 §3.2",
     "512-bit key", dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[512])}"])
case("dkim-testing", ["dkim.testing", "dmarc.alignment_weak"], "RFC 6376 §3.6.1", "t=y left on",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048].replace('k=rsa;', 'k=rsa; t=y;'))}"])
case("dkim-sha1", ["dkim.sha1_only", "dmarc.alignment_weak"], "RFC 8301 §3.1", "h=sha1",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048].replace('k=rsa;', 'k=rsa; h=sha1;'))}"])
case("dkim-revoked", ["dkim.revoked", "dmarc.alignment_weak"], "RFC 6376 §3.6.1", "empty p=",
     dkim_lines=['s1._domainkey IN TXT "v=DKIM1; k=rsa; p="'])
case("dkim-missing", ["dkim.key_missing", "dmarc.alignment_weak"], "RFC 6376 §6.1.2",
     "no record at the selector", dkim_lines=[])
case("dkim-syntax", ["dkim.key_syntax", "dmarc.alignment_weak"], "RFC 6376 §3.6.1",
     "p= is not base64", dkim_lines=['s1._domainkey IN TXT "v=DKIM1; k=rsa; p=MIIB!!notbase64"'])
case("dkim-unknown-k", ["dkim.key_syntax", "dmarc.alignment_weak"], "RFC 6376 §3.6.1",
     "k= names no known algorithm", dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048].replace('k=rsa', 'k=dsa'))}"])
case("dkim-lenient", ["dkim.key_lenient"], "RFC 6376 §3.6.1, §3.2",
     "v= not first and a UTF-8 note: read, warned",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048].replace('v=DKIM1; k=rsa;', 'k=rsa; n=café; v=DKIM1;'))}"])
case("dkim-multiple", ["dkim.key_multiple", "dmarc.alignment_weak"], "RFC 6376 §3.6.2.2",
     "two records at one selector",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048])}", f"s1._domainkey IN TXT {txt(KEY[1024])}"])
case("dkim-no-selector", ["dkim.no_selector", "dmarc.alignment_weak"], "RFC 6376 §3.1",
     "no selector given", selectors=())
case("dkim-domainkey-record", ["dkim.domainkey_record"], "RFC 6376 §3.6.1",
     "a DomainKeys policy record at _domainkey",
     dkim_lines=[f"s1._domainkey IN TXT {txt(KEY[2048])}", '_domainkey IN TXT "o=-"'])

# --- DMARC (RFC 9989, RFC 9990) ---
def dm(tags):
    return [f'_dmarc IN TXT "v=DMARC1; {tags}"']


case("dmarc-missing", ["dmarc.missing"], "RFC 9989 §4.10", "no record", dmarc=[])
case("dmarc-policy-none", ["dmarc.policy_none"], "RFC 9989 §4.7", "monitoring only",
     dmarc=dm("p=none; rua=mailto:dmarc@dmarc-policy-none.example"))
case("dmarc-testing", ["dmarc.testing"], "RFC 9989 §4.7", "t=y",
     dmarc=dm("p=reject; t=y; rua=mailto:dmarc@dmarc-testing.example"))
case("dmarc-pct", ["dmarc.pct"], "RFC 7489 §6.3", "pct=50",
     dmarc=dm("p=quarantine; pct=50; rua=mailto:dmarc@dmarc-pct.example"))
case("dmarc-sp-weaker", ["dmarc.subdomain_weaker"], "RFC 9989 §4.7", "sp=none under p=reject",
     dmarc=dm("p=reject; sp=none; rua=mailto:dmarc@dmarc-sp-weaker.example"))
case("dmarc-np-weaker", ["dmarc.subdomain_weaker"], "RFC 9989 §4.7", "np=none under p=reject",
     dmarc=dm("p=reject; np=none; rua=mailto:dmarc@dmarc-np-weaker.example"))
case("dmarc-no-rua", ["dmarc.no_rua"], "RFC 9990", "no aggregate reports", dmarc=dm("p=reject"))
case("dmarc-external", ["dmarc.external_unverified"], "RFC 9990",
     "reports to another domain that did not consent",
     dmarc=dm("p=reject; rua=mailto:reports@mailer.example"))
case("dmarc-many-external", ["dmarc.external_unverified"], "RFC 9990",
     "nine report addresses at other domains: the ninth is named as not checked",
     dmarc=["_dmarc IN TXT " + txt("v=DMARC1; p=reject; rua=" + ",".join(
         f"mailto:r@c{i}.mailer.example" for i in range(9)))],
     present=["dmarc.external_verified"])
case("dmarc-cname-loop", ["dns.tempfail"], "RFC 1034 §3.6.2",
     "_dmarc is a CNAME loop: the zone's fault, and the fix says to mend the CNAME records",
     dmarc=["_dmarc IN CNAME _dmarc2", "_dmarc2 IN CNAME _dmarc"])
case("dmarc-uri", ["dmarc.report_uri"], "RFC 9990", "a report URI that is not mailto:",
     dmarc=dm("p=reject; rua=https://reports.example/dmarc"))
case("dmarc-syntax", ["dmarc.syntax_error"], "RFC 9989 §4.7", "no valid p= and no rua",
     dmarc=dm("p=bogus"))
case("dmarc-version", ["dmarc.missing", "dmarc.syntax_error"], "RFC 9989 §4.7",
     "v=dmarc1 in lower case is not a DMARC record",
     dmarc=['_dmarc IN TXT "v=dmarc1; p=reject; rua=mailto:dmarc@dmarc-version.example"'])
case("dmarc-multiple", ["dmarc.multiple"], "RFC 9989 §4.10", "two records",
     dmarc=dm("p=reject; rua=mailto:dmarc@dmarc-multiple.example") + dm("p=none"))
case("dmarc-invalid-value", ["dmarc.tag_invalid"], "RFC 9989 §4.7", "pct=500 falls back to 100",
     dmarc=dm("p=reject; pct=500; rua=mailto:dmarc@dmarc-invalid-value.example"))

# --- MX (RFC 5321 §5.1, RFC 7505, RFC 2181 §10.3) ---
case("mx-missing", ["mx.missing"], "RFC 5321 §5.1", "no MX record", mx=[],
     spf=['@ IN TXT "v=spf1 a -all"'])
case("mx-no-address", ["mx.no_address"], "RFC 5321 §5.1", "an MX host without an address",
     mx=["@ IN MX 10 nohost"])
case("mx-cname", ["mx.cname"], "RFC 2181 §10.3", "an MX host that is an alias",
     mx=["@ IN MX 10 alias", "alias IN CNAME mail"])

# --- --message: a message sent through the domain's own server ---
add_case("message-pass", "clean.example", [], "RFC 6376 §6", "a message that verifies",
         [], ["message.dkim_pass", "message.dmarc_pass", "dkim.key"],
         ["clean.example", "mailer.example"], message="clean-pass.eml")
add_case("message-tampered", "clean.example", ["message.dkim_fail", "message.dmarc_fail"],
         "RFC 6376 §6", "the body changed after signing (its selector is still checked)",
         [], ["dkim.key"], ["clean.example", "mailer.example"], message="clean-tampered.eml")


# --- docs/check.md: the admin's walk from testing mode to p=reject, one zone per step. ---
# Step 0 is the admin's setup above (zones/example.com.zone). Each step is checked by
# tests/integration/test_check.py with the selectors, problems and exit status listed here.
WALK_BASE = ["@ IN MX 10 mail", "@ IN A 192.0.2.10", "mail IN A 192.0.2.10",
             '@ IN TXT "v=spf1 mx -all"']
KEY_2026 = KEY[2048].replace("k=rsa;", "k=rsa; t=y;")
WALK = [
    ("step1", "a new 2048-bit key in testing mode, the _domainkey record gone, DMARC p=none",
     [f"2026a._domainkey IN TXT {txt(KEY_2026)}",
      f"20160629._domainkey IN TXT {txt(KEY[1024])}",
      '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.com"'],
     ["2026a"], ["dkim.testing", "dmarc.alignment_weak", "dmarc.policy_none"]),
    ("step2", "out of testing mode, the old key revoked, still p=none while reports come in",
     [f"2026a._domainkey IN TXT {txt(KEY[2048])}",
      '20160629._domainkey IN TXT "v=DKIM1; k=rsa; p="',
      '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.com"'],
     ["2026a"], ["dmarc.policy_none"]),
    ("step3", "p=quarantine",
     [f"2026a._domainkey IN TXT {txt(KEY[2048])}",
      '_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"'],
     ["2026a"], []),
    ("step4", "p=reject",
     [f"2026a._domainkey IN TXT {txt(KEY[2048])}",
      '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@example.com"'],
     ["2026a"], []),
]


def write_zone(zone, lines, path=None, title=None):
    head = [f"; credence check test zone {title or zone}: generated by generate.py, do not edit.",
            f"$ORIGIN {zone}.", "$TTL 300",
            f"@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300",
            f"@ IN NS ns.{zone}.", "ns IN A 192.0.2.53"]
    body = list(lines)
    with open(path or os.path.join(HERE, "zones", zone + ".zone"), "w") as f:
        f.write("\n".join(head + body) + "\n")


def sign(body_after, name, domain=b"clean.example", selector=b"s1"):
    d = domain.decode()
    msg = (f"Return-Path: <admin@{d}>\r\n".encode() if domain != b"clean.example" else b"")
    msg += (f"From: Admin <admin@{d}>\r\nTo: Friend <friend@elsewhere.example>\r\n"
            f"Subject: credence check\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            f"Message-ID: <check-1@{d}>\r\n\r\nHello, this is a test of my own setup.\r\n"
            ).encode()
    key = open(f"{KEYS}/rsa2048.pem", "rb").read()
    sig = dkim.sign(msg, selector, domain, key, include_headers=[b"from", b"to", b"subject",
                    b"date", b"message-id"], canonicalize=(b"relaxed", b"relaxed"))
    out = sig + msg
    if body_after:
        out = out.replace(b"my own setup.", b"my own setup. -- added by a footer")
    with open(os.path.join(HERE, "messages", name), "wb") as f:
        f.write(out)


os.makedirs(os.path.join(HERE, "zones"), exist_ok=True)
os.makedirs(os.path.join(HERE, "messages"), exist_ok=True)
for old in os.listdir(os.path.join(HERE, "zones")):
    os.remove(os.path.join(HERE, "zones", old))
for zone, lines in ZONES.items():
    write_zone(zone, lines)
sign(False, "clean-pass.eml")
sign(True, "clean-tampered.eml")
sign(False, "example.com-2026a.eml", b"example.com", b"2026a")
os.makedirs(os.path.join(HERE, "walkthrough"), exist_ok=True)
walk = []
for step, comment, lines, selectors, problems in WALK:
    write_zone("example.com", WALK_BASE + lines,
               os.path.join(HERE, "walkthrough", step + ".zone"), f"example.com ({step})")
    walk.append({"step": step, "comment": comment, "selectors": selectors,
                 "problems": sorted(problems),
                 "exit": 2 if any(p in ERRORS for p in problems) else 1 if problems else 0})
with open(os.path.join(HERE, "walkthrough", "steps.json"), "w") as f:
    json.dump(walk, f, indent=1)
    f.write("\n")
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(CASES, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(len(CASES), "cases,", len(ZONES), "zones ->", HERE)
