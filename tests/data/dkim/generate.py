#!/usr/bin/python3
"""Signs the test messages of tests/data/dkim/signed with python3-dkim (an independent signer).

Called by generate.sh after it made the keys. Writes *.eml, keys.json (TXT records by name,
or "NXDOMAIN" / "SERVFAIL") and signed.json (the manifest: file, clock, expected results).
Every case expected to pass is also checked with dkimpy's own verifier (differential check).
"""
import base64
import json
import os
import sys
import time

import dkim
import dkim.canonicalization

OUT = sys.argv[1]
KEYS = os.path.join(OUT, "keys")
T0 = 1700000000          # t= of every signature
NOW = T0 + 100           # the verifier's clock unless a case says otherwise
time.time = lambda: T0   # dkimpy stamps t= from time.time()

DOMAIN = b"example.com"
BASE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: Test   message\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-ID: <test-1@example.com>\r\n"
    b"X-Folded: first part\r\n"
    b"\tsecond part  \r\n"
    b"\r\n"
    b"Hello Bob,  \r\n"
    b"\tthis line has  inner   whitespace\tand trailing tab\t\r\n"
    b" \r\n"
    b"Bye.\r\n"
    b"\r\n"
    b"\r\n")
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"x-folded"]


def read(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


records = {}
def publish(selector, record):
    records[selector + "._domainkey.example.com"] = [record]

for bits in (512, 1024, 2048, 4096):
    publish("s%d" % bits, "v=DKIM1; k=rsa; p=" + b64(read("rsa%d.pub.der" % bits)))
ed_pub = read("ed25519.pub.der")[-32:]
publish("sed", "v=DKIM1; k=ed25519; p=" + b64(ed_pub))
publish("pkcs1", "v=DKIM1; p=" + b64(read("rsa2048.pkcs1.der")))
publish("revoked", "v=DKIM1; k=rsa; p=")
publish("testing", "v=DKIM1; k=rsa; t=y; p=" + b64(read("rsa2048.pub.der")))
publish("wrong", "v=DKIM1; k=rsa; p=" + b64(read("other2048.pub.der")))
publish("strict", "v=DKIM1; k=rsa; t=s; p=" + b64(read("rsa2048.pub.der")))
publish("hsha1", "v=DKIM1; k=rsa; h=sha1; p=" + b64(read("rsa2048.pub.der")))
publish("edmismatch", "v=DKIM1; k=ed25519; p=" + b64(ed_pub))
# Several TXT records: the first is not a key record, the second is (RFC 6376 §6.1.2).
records["multi._domainkey.example.com"] = [
    "google-site-verification=abc", "v=DKIM1; k=rsa; p=" + b64(read("rsa2048.pub.der"))]
records["servfail._domainkey.example.com"] = "SERVFAIL"
# "nokey" is not published: NXDOMAIN.

PRIV = {
    "rsa512": read("rsa512.pem"), "rsa1024": read("rsa1024.pem"), "rsa2048": read("rsa2048.pem"),
    "rsa4096": read("rsa4096.pem"), "ed25519": read("ed25519.seed.b64").strip(),
}


class ExpiringDKIM(dkim.DKIM):
    """dkimpy has no x= option: add one just before b= is computed."""
    x = None

    def gen_header(self, fields, *args, **kwargs):
        if self.x is not None:
            fields = [f for f in fields if f[0] != b"b"] + [(b"x", str(self.x).encode()),
                                                            (b"b", b"0" * 60)]
        return super().gen_header(fields, *args, **kwargs)


def sign(msg, key, selector, canon=b"relaxed/relaxed", headers=SIGNED, length=False,
         identity=None, x=None):
    alg = b"ed25519-sha256" if key == "ed25519" else b"rsa-sha256"
    d = ExpiringDKIM(msg)
    d.x = x
    c = tuple(canon.split(b"/"))
    sig = d.sign(selector.encode(), DOMAIN, PRIV[key], signature_algorithm=alg,
                 identity=identity, canonicalize=c, include_headers=headers, length=length)
    return sig + msg


def dns(name, timeout=5):
    rec = records.get(name.decode().rstrip("."))
    if rec is None or rec == "SERVFAIL":
        return None
    return rec[-1].encode()


cases = []
def case(name, data, expected, now=NOW, comment="", check_dkimpy=None):
    path = name + ".eml"
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)
    if check_dkimpy is None:
        check_dkimpy = all(e["result"] == "pass" for e in expected)
    if check_dkimpy:  # differential: dkimpy verifies every signature it made
        d = dkim.DKIM(data.replace(b"\n", b"\r\n") if b"\r\n" not in data else data)
        n = sum(1 for line in data.split(b"\n") if line.lower().startswith(b"dkim-signature:"))
        for i in range(n):
            assert d.verify(idx=i, dnsfunc=dns), (name, i)
    cases.append({"name": name, "file": path, "now": now, "expected": expected,
                  "comment": comment})


def ok(**extra):
    return dict({"result": "pass", "reason": ""}, **extra)


def bad(result, reason, **extra):
    return dict({"result": result, "reason": reason}, **extra)


def canon_len(msg, canon):
    body = msg.split(b"\r\n\r\n", 1)[1]
    policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(canon)
    return len(policy.canonicalize_body(body))


# Every key size and algorithm across every c= variant.
for key, sel, bits in (("rsa1024", "s1024", 1024), ("rsa2048", "s2048", 2048),
                       ("rsa4096", "s4096", 4096), ("ed25519", "sed", 256)):
    for canon in (b"simple/simple", b"relaxed/relaxed", b"relaxed/simple", b"simple/relaxed"):
        name = "%s_%s" % (key, canon.decode().replace("/", "_"))
        case(name, sign(BASE, key, sel, canon), [ok(key_bits=bits)])

signed = sign(BASE, "rsa2048", "s2048", b"relaxed/relaxed")
signed_simple = sign(BASE, "rsa2048", "s2048", b"simple/simple")
case("bare_lf_line_ends", signed.replace(b"\r\n", b"\n"), [ok()], comment="LF read as CRLF")
case("pkcs1_key", sign(BASE, "rsa2048", "pkcs1"), [ok(key_bits=2048)],
     comment="p= is a PKCS#1 RSAPublicKey")
case("multiple_txt_records", sign(BASE, "rsa2048", "multi"), [ok()],
     comment="first TXT is not a key record; the second is used")
case("two_signatures", sign(sign(BASE, "rsa2048", "s2048"), "ed25519", "sed"),
     [ok(key_bits=256), ok(key_bits=2048)], comment="results in header order")

# Tampering.
case("body_changed", signed.replace(b"Bye.", b"Bye!"),
     [bad("fail", "body_hash_mismatch")])
case("signed_header_changed", signed.replace(b"Test   message", b"Test massage"),
     [bad("fail", "signature_mismatch")])
case("relaxed_header_whitespace_changed", signed.replace(b"Test   message", b"Test \t message"),
     [ok()], comment="relaxed header canonicalization absorbs WSP changes")
case("simple_header_whitespace_changed",
     signed_simple.replace(b"Test   message", b"Test message"),
     [bad("fail", "signature_mismatch")])
case("relaxed_body_whitespace_changed",
     signed.replace(b"inner   whitespace", b"inner whitespace").replace(b"Bye.\r\n", b"Bye.  \r\n\r\n"),
     [ok()], comment="relaxed body: WSP runs and trailing empty lines")
case("simple_body_whitespace_changed", signed_simple.replace(b"inner   whitespace", b"inner whitespace"),
     [bad("fail", "body_hash_mismatch")])
case("simple_body_trailing_lines_added", signed_simple + b"\r\n\r\n", [ok()],
     comment="simple body ignores trailing empty lines")
case("unsigned_header_added", b"X-Added: yes\r\n" + signed, [ok()])
case("second_subject_on_top_not_oversigned", b"Subject: evil\r\n" + signed,
     [ok(unsigned_fields=["subject"])],
     comment="h= names one Subject; the bottom one is still the original, the one on top "
             "(which a reader shows) is not signed: unsigned_fields (RFC 6376 8.15)")
oversigned = sign(BASE, "rsa2048", "s2048",
                  headers=SIGNED + [b"subject", b"from", b"reply-to"])
case("oversigned", oversigned, [ok()], comment="h= lists Subject and From twice, Reply-To absent")
case("oversigned_subject_added", b"Subject: evil\r\n" + oversigned,
     [bad("fail", "signature_mismatch")])
case("oversigned_reply_to_added", oversigned.replace(b"\r\n\r\n", b"\r\nReply-To: x@evil.test\r\n\r\n", 1),
     [bad("fail", "signature_mismatch")])

# l= body length.
for canon in (b"simple/simple", b"relaxed/relaxed"):
    tag = canon.decode().replace("/", "_")
    with_l = sign(BASE, "rsa2048", "s2048", canon, length=True)
    case("length_" + tag, with_l, [ok(unsigned_body_bytes=0)])
    appended = with_l + b"Appended  text\r\n"
    extra = canon_len(appended, canon) - canon_len(with_l, canon)
    case("length_appended_" + tag, appended, [ok(unsigned_body_bytes=extra)],
         comment="text after l= is not signed; reported in unsigned_body_bytes")
    case("length_truncated_" + tag, with_l.replace(b"Bye.\r\n", b""),
         [bad("permerror", "body_length_exceeded")], check_dkimpy=False)

# Keys.
case("key_too_small_512", sign(BASE, "rsa512", "s512"),
     [bad("permerror", "key_too_small", key_bits=512)], check_dkimpy=False)
case("key_revoked", sign(BASE, "rsa2048", "revoked"), [bad("permerror", "key_revoked")])
case("key_testing", sign(BASE, "rsa2048", "testing"), [ok(testing=True)])
case("key_testing_fail", sign(BASE, "rsa2048", "testing").replace(b"Bye.", b"Bye!"),
     [bad("fail", "body_hash_mismatch", testing=True)])
case("wrong_key", sign(BASE, "rsa2048", "wrong"), [bad("fail", "signature_mismatch")])
case("key_strict_subdomain", sign(BASE, "rsa2048", "strict", identity=b"@sub.example.com"),
     [bad("permerror", "key_strict_subdomain")], check_dkimpy=False)
case("key_strict_same_domain", sign(BASE, "rsa2048", "strict", identity=b"alice@example.com"),
     [ok()])
case("key_hash_not_allowed", sign(BASE, "rsa2048", "hsha1"),
     [bad("permerror", "key_hash_not_allowed")])
case("key_algorithm_mismatch", sign(BASE, "rsa2048", "edmismatch"),
     [bad("permerror", "key_algorithm_mismatch")])
case("no_key", sign(BASE, "rsa2048", "nokey"), [bad("permerror", "no_key")])
case("key_dns_servfail", sign(BASE, "rsa2048", "servfail"),
     [bad("temperror", "key_dns_error")])

# Time.
case("expiry_in_future", sign(BASE, "rsa2048", "s2048", x=T0 + 3600), [ok()])
case("expired", sign(BASE, "rsa2048", "s2048", x=T0 + 50), [bad("permerror", "expired")],
     check_dkimpy=False)
case("timestamp_in_future", signed, [bad("permerror", "future_timestamp")], now=T0 - 1000)
case("timestamp_within_slack", signed, [ok()], now=T0 - 200)

with open(os.path.join(OUT, "keys.json"), "w") as f:
    json.dump(records, f, indent=1, sort_keys=True)
with open(os.path.join(OUT, "signed.json"), "w") as f:
    json.dump(cases, f, indent=1)
print("%d cases, %d key names" % (len(cases), len(records)))
