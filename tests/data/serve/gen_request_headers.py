#!/usr/bin/python3
"""Writes request_headers.json: the header-line cases for tests/unit/serve_protocol_test.cc.

Each case: name, line (the header line without LF), max_length (default 1000), expect
("ok", "bad_request" or "too_large") and, for "ok", the parsed fields. Run it after editing
CASES; the JSON is committed so the tests need no Python.
"""
import json
import os

OK = "ok"
BAD = "bad_request"
BIG = "too_large"

CASES = [
    # name, line, expect, fields (for ok), max_length
    ("minimal", "CREDENCE/1 VERIFY 10", OK, {"length": 10}),
    ("full-envelope", "CREDENCE/1 VERIFY 5 ip=192.0.2.7 helo=mx.example.test from=a@example.test",
     OK, {"length": 5, "ip": "192.0.2.7", "helo": "mx.example.test", "from": "a@example.test"}),
    ("ipv6", "CREDENCE/1 VERIFY 5 ip=2001:db8::1", OK, {"length": 5, "ip": "2001:db8::1"}),
    ("fields-any-order", "CREDENCE/1 VERIFY 5 from=x@y.test id=abc ip=127.0.0.1 helo=h",
     OK, {"length": 5, "ip": "127.0.0.1", "helo": "h", "from": "x@y.test", "id": "abc"}),
    ("empty-values", "CREDENCE/1 VERIFY 5 ip= helo= from=", OK, {"length": 5}),
    ("null-sender-brackets", "CREDENCE/1 VERIFY 5 from=<>", OK, {"length": 5, "from": ""}),
    ("bracketed-sender", "CREDENCE/1 VERIFY 5 from=<a@b.test>", OK, {"length": 5, "from": "a@b.test"}),
    ("percent-encoded", "CREDENCE/1 VERIFY 5 from=%22a%20b%22@x.test helo=%25",
     OK, {"length": 5, "from": "\"a b\"@x.test", "helo": "%"}),
    ("percent-lowercase-hex", "CREDENCE/1 VERIFY 5 helo=a%2fb", OK, {"length": 5, "helo": "a/b"}),
    ("utf8-encoded", "CREDENCE/1 VERIFY 5 from=%C3%A9@x.test", OK, {"length": 5, "from": "é@x.test"}),
    ("crlf-line", "CREDENCE/1 VERIFY 7\r", OK, {"length": 7}),
    ("zero-length", "CREDENCE/1 VERIFY 0", OK, {"length": 0}),
    ("leading-zeros", "CREDENCE/1 VERIFY 0007", OK, {"length": 7}),
    ("length-at-limit", "CREDENCE/1 VERIFY 1000", OK, {"length": 1000}),
    ("ping", "CREDENCE/1 PING", OK, {"kind": "ping"}),
    ("ping-crlf", "CREDENCE/1 PING\r", OK, {"kind": "ping"}),
    # Lengths.
    ("length-over-limit", "CREDENCE/1 VERIFY 1001", BIG, None),
    ("length-huge", "CREDENCE/1 VERIFY 99999999999999999999", BIG, None),
    ("length-too-many-digits", "CREDENCE/1 VERIFY 123456789012345678901234567890", BIG, None),
    ("length-2-64", "CREDENCE/1 VERIFY 18446744073709551616", BIG, None),
    ("length-negative", "CREDENCE/1 VERIFY -5", BAD, None),
    ("length-plus", "CREDENCE/1 VERIFY +5", BAD, None),
    ("length-hex", "CREDENCE/1 VERIFY 0x10", BAD, None),
    ("length-float", "CREDENCE/1 VERIFY 1.5", BAD, None),
    ("length-missing", "CREDENCE/1 VERIFY", BAD, None),
    ("length-is-field", "CREDENCE/1 VERIFY ip=1.2.3.4", BAD, None),
    # Framing garbage.
    ("empty-line", "", BAD, None),
    ("wrong-tag", "CREDENCE/2 VERIFY 5", BAD, None),
    ("lowercase-tag", "credence/1 VERIFY 5", BAD, None),
    ("http-request", "GET / HTTP/1.1", BAD, None),
    ("smtp-greeting", "EHLO mx.example.test", BAD, None),
    ("unknown-command", "CREDENCE/1 SCAN 5", BAD, None),
    ("lowercase-command", "CREDENCE/1 verify 5", BAD, None),
    ("missing-command", "CREDENCE/1", BAD, None),
    ("ping-with-args", "CREDENCE/1 PING 5", BAD, None),
    ("double-space", "CREDENCE/1  VERIFY 5", BAD, None),
    ("trailing-space", "CREDENCE/1 VERIFY 5 ", BAD, None),
    ("leading-space", " CREDENCE/1 VERIFY 5", BAD, None),
    ("tab-separator", "CREDENCE/1\tVERIFY 5", BAD, None),
    ("nul-in-line", "CREDENCE/1 VERIFY 5 helo=a\u0000b", BAD, None),
    ("binary-garbage", "\u0016\u0003\u0001\u0002\u0000\u0001", BAD, None),
    # Fields.
    ("unknown-field", "CREDENCE/1 VERIFY 5 rcpt=a@b.test", BAD, None),
    ("field-without-equals", "CREDENCE/1 VERIFY 5 helo", BAD, None),
    ("repeated-field", "CREDENCE/1 VERIFY 5 ip=1.2.3.4 ip=5.6.7.8", BAD, None),
    ("bad-ip", "CREDENCE/1 VERIFY 5 ip=999.1.1.1", BAD, None),
    ("ip-hostname", "CREDENCE/1 VERIFY 5 ip=mx.example.test", BAD, None),
    ("ip-cidr", "CREDENCE/1 VERIFY 5 ip=192.0.2.0/24", BAD, None),
    ("truncated-escape", "CREDENCE/1 VERIFY 5 helo=ab%4", BAD, None),
    ("truncated-escape-end", "CREDENCE/1 VERIFY 5 helo=ab%", BAD, None),
    ("bad-escape", "CREDENCE/1 VERIFY 5 helo=%zz", BAD, None),
    ("escaped-nul", "CREDENCE/1 VERIFY 5 helo=a%00b", BAD, None),
    ("escaped-crlf", "CREDENCE/1 VERIFY 5 from=a%0D%0Ab", BAD, None),
    ("raw-high-byte", "CREDENCE/1 VERIFY 5 from=é@x.test", BAD, None),
    # A sender's HELO or MAIL FROM too long to carry: dropped and named, not refused (a refusal
    # makes rspamd and SpamAssassin go on without credence's verdict).
    ("helo-too-long-dropped", "CREDENCE/1 VERIFY 5 helo=" + "a" * 1025 + " from=x@y.test", OK,
     {"length": 5, "from": "x@y.test", "dropped": "HELO longer than 1024 bytes: not evaluated"}),
    ("from-too-long-dropped", "CREDENCE/1 VERIFY 5 helo=h from=" + "%C3%A9" * 600, OK,
     {"length": 5, "helo": "h",
      "dropped": "MAIL FROM longer than 1024 bytes: not evaluated"}),
    ("both-too-long-encoded", "CREDENCE/1 VERIFY 5 helo=" + "%C3%A9" * 1000 + " from=" +
     "%C3%A9" * 1000, OK,
     {"length": 5, "dropped": "HELO longer than 1024 bytes: not evaluated; MAIL FROM longer "
                              "than 1024 bytes: not evaluated"}),
    ("id-too-long", "CREDENCE/1 VERIFY 5 id=" + "a" * 1025, BAD, None),
    ("value-at-limit", "CREDENCE/1 VERIFY 5 helo=" + "a" * 1024, OK, {"length": 5, "helo": "a" * 1024}),
    ("too-many-fields", "CREDENCE/1 VERIFY 5" + " x=1" * 20, BAD, None),
    ("line-too-long", "CREDENCE/1 VERIFY 5 id=" + "a" * 17000, BAD, None),
]

out = []
for name, line, expect, fields, *rest in CASES:
    case = {"name": name, "line": line, "expect": expect, "max_length": rest[0] if rest else 1000}
    if fields is not None:
        case["fields"] = fields
    out.append(case)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "request_headers.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("wrote %d cases to %s" % (len(out), path))
