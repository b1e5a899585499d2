#!/usr/bin/python3
"""Writes zone_cases.json (the manifest read by tests/unit/dns_zone_test.cc).
Kept as Python so zone snippets stay readable; run it after editing: /usr/bin/python3 gen_zone_cases.py"""
import json, os

H = "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n"
cases = []

def ok(name, zone, queries, rfc="RFC 1035 §5.1", origin="example.test", comment=""):
    cases.append({"name": name, "rfc": rfc, "origin": origin, "zone": zone,
                  "queries": [dict(zip(["q", "type", "outcome", "records", "ttl"], q)) for q in queries],
                  "comment": comment})

def bad(name, zone, error, rfc="RFC 1035 §5.1", origin="example.test"):
    cases.append({"name": name, "rfc": rfc, "origin": origin, "zone": zone, "error": error})

ok("a_record", H + "www IN A 192.0.2.1\n",
   [("www.example.test", "A", "ok", ["192.0.2.1"], 300),
    ("WWW.Example.TEST.", "A", "ok", ["192.0.2.1"], 300),
    ("www.example.test", "TXT", "nodata", [], 60),
    ("nope.example.test", "A", "nxdomain", [], 60),
    ("elsewhere.invalid", "A", "nxdomain", [], 0)], comment="case-insensitive, trailing dot")
ok("aaaa_canonical", H + "v6 IN AAAA 2001:DB8:0:0:0:0:0:1\n",
   [("v6.example.test", "AAAA", "ok", ["2001:db8::1"], 300)])
ok("mx_pref", H + "@ IN MX 10 mail\n@ IN MX 20 backup.other.test.\n",
   [("example.test", "MX", "ok", ["10 mail.example.test", "20 backup.other.test"], 300)])
ok("ptr", H + "1.2.0.192.in-addr.arpa. IN PTR www\n",
   [("1.2.0.192.in-addr.arpa", "PTR", "ok", ["www.example.test"], 300)], origin="example.test")
ok("txt_multi_string", H + 'sel._domainkey IN TXT "v=DKIM1; k=rsa; " "p=ABC" "DEF"\n',
   [("sel._domainkey.example.test", "TXT", "ok", ["v=DKIM1; k=rsa; p=ABCDEF"], 300),
    ("_domainkey.example.test", "TXT", "nodata", [], 60)], rfc="RFC 6376 §3.6.2.2",
   comment="strings joined with nothing between; empty non-terminal is nodata")
ok("txt_escapes", H + 'e IN TXT "a\\"b" "c\\\\d" "\\065\\066" unq\\;x\n',
   [("e.example.test", "TXT", "ok", ['a"bc\\dABunq;x'], 300)])
ok("txt_parens_multiline", H + 'k IN TXT ( "v=DKIM1; "   ; comment\n   "p=XYZ" )\nafter IN A 192.0.2.9\n',
   [("k.example.test", "TXT", "ok", ["v=DKIM1; p=XYZ"], 300),
    ("after.example.test", "A", "ok", ["192.0.2.9"], 300)])
ok("txt_semicolon_in_quotes", H + 't IN TXT "v=spf1 -all; not a comment"\n',
   [("t.example.test", "TXT", "ok", ["v=spf1 -all; not a comment"], 300)])
ok("two_txt_records", H + 't IN TXT "one"\nt IN TXT "two"\n',
   [("t.example.test", "TXT", "ok", ["one", "two"], 300)])
ok("duplicate_records_once", H + 't IN TXT "one"\nt IN TXT "one"\n',
   [("t.example.test", "TXT", "ok", ["one"], 300)])
ok("omitted_owner_repeats", H + "www IN A 192.0.2.1\n    IN A 192.0.2.2\n\tIN TXT \"x\"\n",
   [("www.example.test", "A", "ok", ["192.0.2.1", "192.0.2.2"], 300),
    ("www.example.test", "TXT", "ok", ["x"], 300)])
ok("ttl_and_class_orders", H + "a 60 IN A 192.0.2.1\nb IN 120 A 192.0.2.2\nc A 192.0.2.3\nd 1h30m A 192.0.2.4\n",
   [("a.example.test", "A", "ok", ["192.0.2.1"], 60), ("b.example.test", "A", "ok", ["192.0.2.2"], 120),
    ("c.example.test", "A", "ok", ["192.0.2.3"], 300), ("d.example.test", "A", "ok", ["192.0.2.4"], 5400)])
ok("no_dollar_ttl_uses_last", "a 77 IN A 192.0.2.1\nb IN A 192.0.2.2\n",
   [("b.example.test", "A", "ok", ["192.0.2.2"], 77)], comment="RFC 1035 §5.1: last explicit TTL")
ok("origin_directive", "$ORIGIN other.test.\n$TTL 10\nwww A 192.0.2.5\n$ORIGIN sub\nx A 192.0.2.6\n@ TXT \"at-sub\"\n",
   [("www.other.test", "A", "ok", ["192.0.2.5"], 10), ("x.sub.other.test", "A", "ok", ["192.0.2.6"], 10),
    ("sub.other.test", "TXT", "ok", ["at-sub"], 10)], origin="")
ok("absolute_names", "$TTL 5\nabs.example.test. IN A 192.0.2.7\n",
   [("abs.example.test", "A", "ok", ["192.0.2.7"], 5)], origin="")
ok("cname_followed", H + "alias IN CNAME target\ntarget 30 IN TXT \"t\"\nout IN CNAME missing\n",
   [("alias.example.test", "TXT", "ok", ["t"], 30), ("alias.example.test", "CNAME", "ok", ["target.example.test"], 300),
    ("out.example.test", "A", "nxdomain", [], 60)], rfc="RFC 1034 §3.6.2")
ok("cname_loop_bounded", H + "l1 IN CNAME l2\nl2 IN CNAME l1\n",
   [("l1.example.test", "A", "tempfail", [], 0)], comment="at most 8 links")
ok("spf_type_kept_apart", H + 's IN SPF "v=spf1 -all"\ns IN TXT "v=spf1 -all"\nonly IN SPF "v=spf1" " a"\n',
   [("s.example.test", "TXT", "ok", ["v=spf1 -all"], 300),
    ("s.example.test", "TYPE99", "ok", ["\x0bv=spf1 -all"], 300),
    ("only.example.test", "TXT", "nodata", [], 60),
    ("only.example.test", "TYPE99", "ok", ["\x06v=spf1\x02 a"], 300)], rfc="RFC 7208 §3.1",
   comment="the obsolete SPF type is never TXT; kept as RFC 3597 rdata of type 99 for credence check")
ok("generic_rfc3597", H + "g IN TYPE65280 \\# 2 abcd\n",
   [("g.example.test", "TXT", "nodata", [], 60)], rfc="RFC 3597 §5")
ok("wildcard", H + "*.wild IN TXT \"w\"\nexplicit.wild IN A 192.0.2.8\n",
   [("x.wild.example.test", "TXT", "ok", ["w"], 300), ("a.b.wild.example.test", "TXT", "ok", ["w"], 300),
    ("explicit.wild.example.test", "TXT", "nodata", [], 60)], rfc="RFC 4592 §3.3.1")
ok("comments_blank_lines_crlf", H.replace("\n", "\r\n") + "; full comment\r\n\r\nc IN A 192.0.2.10 ; trailing\r\n",
   [("c.example.test", "A", "ok", ["192.0.2.10"], 300)])
ok("soa_units", "$TTL 1d\n@ IN SOA ns hm 2024010101 1h 10m 1w 5m\n",
   [("example.test", "SOA", "ok", ["ns.example.test hm.example.test 2024010101 3600 600 604800 300"], 86400),
    ("nx.example.test", "TXT", "nxdomain", [], 300)], rfc="RFC 2308 §5")

bad("unknown_type", H + "x IN FOO bar\n", "<zone>:5: unknown record type 'FOO'")
bad("bad_ipv4", H + "x IN A 300.1.1.1\n", "<zone>:5: bad IPv4 address '300.1.1.1'")
bad("bad_ipv6", H + "x IN AAAA 2001:::1\n", "<zone>:5: bad IPv6 address '2001:::1'")
bad("a_two_fields", H + "x IN A 192.0.2.1 192.0.2.2\n", "<zone>:5: A needs 1 field, got 2")
bad("mx_bad_pref", H + "x IN MX 70000 mail\n", "<zone>:5: bad MX preference '70000'")
bad("unterminated_quote", H + 'x IN TXT "abc\n', "<zone>:5: unterminated quoted string")
bad("unbalanced_open_paren", H + "x IN TXT ( \"a\"\n", "<zone>:5: '(' without ')'")
bad("unbalanced_close_paren", H + "x IN TXT \"a\" )\n", "<zone>:5: ')' without '('")
bad("nested_paren", H + "x IN TXT ( ( \"a\" ) )\n", "<zone>:5: nested '('")
bad("txt_string_too_long", H + 'x IN TXT "' + "a" * 256 + '"\n', "<zone>:5: TXT string longer than 255 octets")
bad("label_too_long", H + "a" * 64 + " IN A 192.0.2.1\n", "<zone>:5: bad name '" + "a" * 64 + "': label longer than 63 octets")
bad("relative_without_origin", "x IN A 192.0.2.1\n", "<zone>:1: relative name 'x' and no $ORIGIN", origin="")
bad("no_previous_owner", "  IN A 192.0.2.1\n", "<zone>:1: no previous owner name to repeat")
bad("unsupported_class", H + "x CH TXT \"a\"\n", "<zone>:5: unsupported class 'CH'")
bad("include_refused", H + "$INCLUDE /etc/passwd\n", "<zone>:5: unsupported directive '$INCLUDE'")
bad("bad_ttl", H + "x 1x IN A 192.0.2.1\n", "<zone>:5: bad TTL '1x'")
bad("ttl_too_big", "$TTL 4294967296\n", "<zone>:1: bad TTL '4294967296'")
bad("missing_type", H + "x 300 IN\n", "<zone>:5: missing record type")
bad("soa_short", "@ IN SOA ns hm 1 2 3\n", "<zone>:1: SOA needs 7 fields, got 5")
bad("cname_and_other", H + "c IN CNAME x\nc IN A 192.0.2.1\n", "<zone>:6: CNAME and other data at 'c.example.test'", rfc="RFC 2181 §10.1")
bad("generic_length_mismatch", H + "g IN TYPE65280 \\# 3 abcd\n", "<zone>:5: TYPE65280: rdata length 3 does not match the hex data")
bad("empty_label", H + "a..b IN A 192.0.2.1\n", "<zone>:5: bad name 'a..b': empty label")
bad("bad_escape", H + 'x IN TXT "\\999"\n', "<zone>:5: bad \\DDD escape")
bad("error_line_after_parens", H + "x IN TXT (\n \"a\"\n \"b\" )\ny IN BOGUS 1\n", "<zone>:8: unknown record type 'BOGUS'")

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zone_cases.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(len(cases), "cases ->", out)
