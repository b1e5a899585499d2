#!/usr/bin/python3
"""Verdicts a hostile sender cannot bend (docs/security.md), through the real `credence verify`
against a real BIND named on 127.0.0.1.

Every case is a spoof of, or real mail from, a domain with a DMARC policy, plus what an attacker
adds: bytes, header fields, signatures, a greedy SPF record, a slow or broken name server. Each
asserts the verdict (a spoof of a p=reject domain stays DMARC fail with disposition reject), that
its score is at least the plain spoof's, the wall time and the peak memory (ru_maxrss of the
program itself, tests/integration/peak_rss.py). A generated family of mutations (fixed seed) checks the property that adding
to a message never lowers its score.

    /usr/bin/python3 tests/integration/test_adversarial.py            # the build's binary
    CREDENCE_BIN=path/to/credence ... test_adversarial.py --report    # table only, no verdict

Exits 1 on any failure. --report prints the table whatever happens (used for the "before"
numbers of docs/security.md, measured with the binary of an earlier commit).
"""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peak_rss  # noqa: E402
from named_fixture import DelayProxy, Named  # noqa: E402

SRC = os.environ.get("CREDENCE_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
AUTHSERV = "mx.credence.test"
ATTACKER_IP = "203.0.113.66"
BANK_IP = "192.0.2.10"
FAILURES = []
REPORT_ONLY = "--report" in sys.argv


def find_credence():
    for c in [os.environ.get("CREDENCE_BIN", ""),
              os.path.join(os.environ.get("CREDENCE_BUILD", ""), "plugin/cli/credence"),
              os.path.join(SRC, "build/plugin/cli/credence")]:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("credence binary not found: set CREDENCE_BIN")


BIN = find_credence()


def check(name, ok, detail=""):
    print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  -- %s" % (detail,)))
    sys.stdout.flush()
    if not ok:
        FAILURES.append(name)
    return ok


# ---------------------------------------------------------------------------------------------
# Keys and zones.

def rsa_key(dirname, name):
    path = os.path.join(dirname, name + ".pem")
    subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


def txt(value):
    """A TXT record value as quoted strings of at most 200 bytes."""
    return " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200)) or '""'


def zones(bank_pub, evil_pub):
    bank = (
        '@ IN TXT "v=spf1 ip4:%s -all"\n' % BANK_IP +
        '@ IN MX 10 mx\nmx IN A %s\nwww IN A %s\n' % (BANK_IP, BANK_IP) +
        # sp=none so that np= decides for a subdomain that does not exist (login.bank.test).
        '_dmarc IN TXT "v=DMARC1; p=reject; sp=none; np=reject"\n'
        'sel._domainkey IN TXT %s\n' % txt("v=DKIM1; k=rsa; p=" + bank_pub))
    evil = ['@ IN TXT "v=spf1 -all"', 'plus IN TXT "v=spf1 +all"']
    for i in range(24):
        evil.append('s%d._domainkey IN TXT %s' % (i, txt("v=DKIM1; k=rsa; p=" + evil_pub)))
    # A greedy record within RFC 7208's limits: ten mx: terms, ten MX names each, ~111 queries.
    evil.append('greedy IN TXT "v=spf1 %s -all"' % " ".join("mx:m%d.evil.test" % i for i in range(10)))
    for i in range(10):
        for j in range(10):
            evil.append("m%d IN MX %d h%d" % (i, j, j))
    for j in range(10):
        evil.append("h%d IN A 198.51.100.%d" % (j, j + 1))
    flaky = ('@ IN TXT "v=spf1 include:_spf.broken.test -all"\n'
             '_dmarc IN TXT "v=DMARC1; p=reject"\n')
    return {"bank.test": bank, "evil.test": "\n".join(evil) + "\n", "flaky.test": flaky,
            "slow.test": 'sel._domainkey IN TXT %s\n' % txt("v=DKIM1; k=rsa; p=" + evil_pub)}


# ---------------------------------------------------------------------------------------------
# Messages.

def message(from_hdr="\"Bank CEO\" <ceo@bank.test>", extra_top=(), extra_bottom=(), body=None,
            msg_id="spoof-1@evil.test"):
    head = list(extra_top) + [
        "From: " + from_hdr,
        "To: victim@example.org",
        "Subject: Urgent wire transfer",
        "Date: Sun, 06 Dec 2026 00:00:00 +0000",
        "Message-ID: <%s>" % msg_id,
    ] + list(extra_bottom)
    if body is None:
        body = "Please wire the money today.\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body.encode() if isinstance(body, str) else body)


def sign(msg, domain, selector, key, headers=(b"from", b"to", b"subject", b"date"),
         length=False):
    import dkim  # Debian python3-dkim
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key, include_headers=list(headers),
                    canonicalize=(b"relaxed", b"relaxed"), length=length)
    return sig + msg


def tamper_body(msg):
    return msg + b"A line the forger added after signing.\r\n"


# ---------------------------------------------------------------------------------------------
# Running credence.

class Run:
    def __init__(self, port, tmp):
        self.port = port
        self.tmp = tmp
        self.n = 0

    def verify(self, msg, ip=ATTACKER_IP, helo="mail.evil.test", mail_from="spoofer@evil.test",
               extra=(), port=None):
        """(json result or {"error"}, wall seconds, peak RSS MB)."""
        self.n += 1
        path = os.path.join(self.tmp, "m%d.eml" % self.n)
        with open(path, "wb") as f:
            f.write(msg)
        args = [BIN, "verify", "--format", "json", "--dns", "127.0.0.1:%d" % (port or self.port),
                "--authserv-id", AUTHSERV, "--client-ip", ip, "--helo", helo,
                "--mail-from", mail_from, "--jobs", "1"] + list(extra) + [path]
        return run_measured(args, path)


def run_measured(args, cleanup=None):
    """(parsed JSON lines, wall seconds, peak RSS MB of the command itself: peak_rss.py, since
    a child of this large test process would report the test's own peak)."""
    r = peak_rss.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    if cleanup:
        os.unlink(cleanup)
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    try:
        results = [json.loads(l) for l in lines]
    except ValueError:
        results = [{"error": "unparseable output"}]
    return results, r.seconds, r.max_rss_kib / 1024.0


def summary(r):
    if "error" in r:
        return "error: %s" % r["error"][:60]
    d = r["dmarc"]
    return "dmarc=%s/%s score=%.1f" % (d["result"], d["disposition"], r["score"])


TABLE = []


def case(name, point, r, secs, rss, expect, max_secs=15.0, max_rss=200.0):
    """Records one named case; `expect` is a list of (what, ok, detail)."""
    r = r[0] if isinstance(r, list) and r else (r or {"error": "no output"})
    TABLE.append((point, name, summary(r), secs, rss))
    ok = "error" not in r
    if not ok:
        check("%s: judged (not an error)" % name, False, r.get("error"))
    else:
        for what, good, detail in expect(r):
            check("%s: %s" % (name, what), good, detail)
    check("%s: time %.2f s <= %.0f s" % (name, secs, max_secs), secs <= max_secs)
    check("%s: peak RSS %.1f MB <= %.0f MB" % (name, rss, max_rss), rss <= max_rss)
    return r


def symbols(r):
    return [s["name"] for s in r.get("symbols", [])]


def spoof_expect(base_score, disposition="reject", extra=()):
    """A spoof of a DMARC domain: still fail with the disposition, and no better a score."""
    def f(r):
        d = r["dmarc"]
        out = [("DMARC fail", d["result"] == "fail", summary(r)),
               ("disposition %s" % disposition, d["disposition"] == disposition, summary(r)),
               ("score %.1f >= plain spoof %.1f" % (r["score"], base_score),
                r["score"] >= base_score - 1e-9, symbols(r))]
        for what, pred in extra:
            out.append((what, pred(r), json.dumps(r)[:400]))
        return out
    return f


# ---------------------------------------------------------------------------------------------
# The cases.

def point1_limits(run, base):
    big = "X" * (70 << 10)
    r = case("long_body_line", 1, *run.verify(message(body="Hi.\r\n" + big + "\r\n")),
             spoof_expect(base))
    junk = ["X-Junk-%d: %d" % (i, i) for i in range(1500)]
    case("1500_header_fields_before_from", 1, *run.verify(message(extra_top=junk)),
         spoof_expect(base, extra=[("CREDENCE_LIMIT", lambda r: "CREDENCE_LIMIT" in symbols(r))]))
    huge = ["X-Pad-%d: %s" % (i, "p" * 60000) for i in range(20)]  # ~1.2 MB before From
    case("header_section_over_1MiB", 1, *run.verify(message(extra_top=huge)),
         spoof_expect(base, extra=[("CREDENCE_LIMIT", lambda r: "CREDENCE_LIMIT" in symbols(r))]))
    forged = ["Authentication-Results: %s; dmarc=pass header.from=bank.test" % AUTHSERV]
    case("forged_authres_with_long_line", 1,
         *run.verify(message(extra_top=forged, body="x\r\n" + big + "\r\n")),
         spoof_expect(base, extra=[("forged A-R found at position 0",
                                    lambda r: r["forged_authentication_results"] == [0])]))
    case("forged_authres_past_1500_fields", 1,
         *run.verify(message(extra_top=junk + forged)),
         spoof_expect(base, extra=[("forged A-R found at position 1500",
                                    lambda r: r["forged_authentication_results"] == [1500])]))
    # Past both limits: 1000 fields, then 1000 other A-R fields (the verdict fields kept past
    # the limit), then ours forged: found all the same (the header section is read again).
    others = ["Authentication-Results: other.example; none"] * 1000
    # (The From after them is past the limits too: unreadable, scored like a reject.)
    case("forged_authres_past_2000_fields", 1,
         *run.verify(message(extra_top=junk[:1000] + others + forged)),
         lambda r: [("forged A-R found at position 2000",
                     r["forged_authentication_results"] == [2000],
                     r["forged_authentication_results"]),
                    ("score %.1f >= plain spoof %.1f" % (r["score"], base),
                     r["score"] >= base - 1e-9, symbols(r))])
    body = ("y" * 1000 + "\r\n") * ((65 << 20) // 1002)  # over the 64 MiB message limit
    case("message_over_64MiB", 1, *run.verify(message(body=body)),
         spoof_expect(base, extra=[("CREDENCE_LIMIT names the cut",
                                    lambda r: any("only the first" in n for n in r.get("limits", [])))]),
         max_rss=400.0)
    # A line that is not a field ends the header section (as in Exim and Postfix): the From
    # after it is body text, and a message without a From scores at least like the spoof.
    r = case("non_field_line_hides_from", 1,
             *run.verify(b"X-Mailer: x\r\nnot a header line\r\n" + message()),
             lambda r: [("no From: CREDENCE_DMARC_BAD_FROM", "CREDENCE_DMARC_BAD_FROM" in symbols(r),
                         symbols(r)),
                        ("score >= plain spoof", r["score"] >= base - 1e-9, r["score"])])


def point2_from_readings(run, base):
    """From fields that mail readers read differently (a bare CR ending the field for some,
    an unquoted '@' in a display name shown as the address by others): refused as unreadable,
    so they score at least like the plain spoof instead of judging the other domain."""
    def bad_from(r):
        # (A From behind the bare CR is also one more From field: either symbol says so.)
        return [("From unreadable: CREDENCE_DMARC_BAD_FROM or _MULTIPLE_FROM",
                 {"CREDENCE_DMARC_BAD_FROM", "CREDENCE_DMARC_MULTIPLE_FROM"} & set(symbols(r)),
                 summary(r)),
                ("score %.1f >= plain spoof %.1f" % (r["score"], base), r["score"] >= base - 1e-9,
                 symbols(r))]
    for name, from_hdr in (("bare_cr_second_from", "ceo@bank.test\rFrom: x@evil.test"),
                           ("at_in_group_name", "ceo@bank.test: x@evil.test;"),
                           ("at_in_display_name", "ceo@bank.test <x@evil.test>"),
                           # Mailsploit: readers that decode the encoded-word show
                           # ceo@bank.test, the NUL hiding the rest.
                           ("encoded_word_local_part",
                            "=?utf-8?b?Y2VvQGJhbmsudGVzdA==?==?utf-8?Q?=00?=@evil.test")):
        case(name, 2, *run.verify(message(from_hdr=from_hdr)), bad_from)
    # The bank's From hidden behind a bare CR in another field, above the attacker's own From
    # (Python's email package, for one, reads the bank's as the first From): several From
    # fields, not the attacker's domain.
    hidden = message(from_hdr="<x@evil.test>", extra_top=["X-Note: a\rFrom: \"Bank CEO\" <ceo@bank.test>"])
    case("from_behind_bare_cr_in_another_field", 2, *run.verify(hidden),
         lambda r: [("several From fields: CREDENCE_DMARC_MULTIPLE_FROM",
                     "CREDENCE_DMARC_MULTIPLE_FROM" in symbols(r), summary(r)),
                    ("score %.1f >= plain spoof %.1f" % (r["score"], base),
                     r["score"] >= base - 1e-9, symbols(r))])


def point2_header_limits(run, base, keys):
    """A From or a Subject pushed past the header limits (1,000 fields, then 1,000 more From,
    DKIM-Signature and A-R fields) is not read, but every reader still shows it: it counts as
    one more instance all the same (several From fields; a field the signature leaves
    unsigned), so the padding cannot make the spoof score better."""
    pad = ["X-Pad-%d: p" % i for i in range(1000)] + \
          ["Authentication-Results: other.example; none"] * 1001
    # The careful spoofer signs their own From, then the bank's From comes after the padding.
    own = sign(message(from_hdr="<x@evil.test>", extra_bottom=pad), "evil.test", "s1",
               keys["evil"])
    twice = own + b""
    head, sep, body = twice.partition(b"\r\n\r\n")
    twice = head + b"\r\nFrom: \"Bank CEO\" <ceo@bank.test>" + sep + body
    case("from_past_the_header_limits", 2, *run.verify(twice),
         lambda r: [("several From fields: CREDENCE_DMARC_MULTIPLE_FROM",
                     "CREDENCE_DMARC_MULTIPLE_FROM" in symbols(r), summary(r)),
                    ("no DMARC pass", r["dmarc"]["result"] != "pass", summary(r)),
                    ("score %.1f >= plain spoof %.1f" % (r["score"], base),
                     r["score"] >= base - 1e-9, symbols(r))])


def point2_shown_address(run, keys):
    """A From whose address is the sender's own (authenticated in full) but whose display
    name, comment, group name or encoded-word shows the bank's address: the displayed author
    is not authenticated, CREDENCE_FROM_NAME_ADDRESS says so."""
    forms = [("quoted_display_name", '"ceo@bank.test" <x@evil.test>'),
             ("encoded_word_b", "=?utf-8?b?Y2VvQGJhbmsudGVzdA==?= <x@evil.test>"),
             ("encoded_word_q", "=?utf-8?q?ceo=40bank=2Etest?= <x@evil.test>"),
             # RFC 2047 6.2: a reader shows the two words joined, "ceo@bank.test".
             ("encoded_words_split", "=?utf-8?q?ceo?= =?utf-8?q?=40bank=2Etest?= <x@evil.test>"),
             ("comment", "x@evil.test (ceo@bank.test)"),
             ("group_name", '"ceo@bank.test": x@evil.test;')]
    for name, from_hdr in forms:
        signed = sign(message(from_hdr=from_hdr), "evil.test", "s1", keys["evil"])
        case("shown_address_" + name, 2, *run.verify(signed),
             lambda r: [("CREDENCE_FROM_NAME_ADDRESS",
                         "CREDENCE_FROM_NAME_ADDRESS" in symbols(r), symbols(r))])


def point2_replay(run, keys):
    """A genuine signed message of the bank, replayed from the attacker's server with new
    words a reader sees but the signature does not cover: a Subject (or To) above the signed
    one (h= picks from the bottom, RFC 6376 8.15), or text past l= (8.2). DKIM and DMARC still
    pass (the RFCs say so); the score must not be the replay's own: CREDENCE_DKIM_PARTIAL."""
    genuine = message(from_hdr="<alerts@bank.test>", msg_id="real-3@bank.test",
                      body="Your statement is ready.\r\n")
    replay = sign(genuine, "bank.test", "sel", keys["bank"])
    r0, _, _ = run.verify(replay)
    plain = r0[0]["score"] if r0 and "score" in r0[0] else 0.0
    check("replay alone: DMARC pass, no CREDENCE_DKIM_PARTIAL",
          bool(r0) and r0[0].get("dmarc", {}).get("result") == "pass" and
          "CREDENCE_DKIM_PARTIAL" not in symbols(r0[0]), r0)

    def partial(what):
        return lambda r: [
            ("DKIM and DMARC pass (RFC 6376: the signed part is intact)",
             r["dmarc"]["result"] == "pass", summary(r)),
            ("CREDENCE_DKIM_PARTIAL names %s" % what,
             any(s["name"] == "CREDENCE_DKIM_PARTIAL" and what in s["description"]
                 for s in r.get("symbols", [])), r.get("symbols")),
            ("score %.1f >= the replay's %.1f + 1.0" % (r["score"], plain),
             r["score"] >= plain + 1.0 - 1e-9, symbols(r))]
    case("replay_with_subject_on_top", 2,
         *run.verify(b"Subject: Your account is locked, log in here\r\n" + replay), partial("subject"))
    case("replay_with_to_on_top", 2, *run.verify(b"To: everyone@example.org\r\n" + replay),
         partial("to"))
    with_l = sign(genuine, "bank.test", "sel", keys["bank"], length=True)
    case("replay_with_text_past_l", 2,
         *run.verify(with_l + b"Call +1 555 0100 now to unlock it.\r\n"), partial("past l="))
    # The careful replayer: from a host of their own domain, whose SPF passes (+all). The
    # replay alone passes DMARC; with a Subject on top it must score no better than the
    # careful spoof of the same domain (2.0: DMARC reject, SPF unaligned pass).
    r1, _, _ = run.verify(message(), mail_from="x@plus.evil.test")
    careful = r1[0]["score"] if r1 and "score" in r1[0] else None
    check("the careful spoof (SPF pass of the spoofer's domain) was judged", careful is not None, r1)
    careful = 2.0 if careful is None else careful
    case("careful_replay_with_subject_on_top", 2,
         *run.verify(b"Subject: Your account is locked\r\n" + replay, mail_from="x@plus.evil.test"),
         lambda r: [("CREDENCE_DMARC_PARTIAL_REJECT: the pass rests on the partial signature",
                     "CREDENCE_DMARC_PARTIAL_REJECT" in symbols(r), symbols(r)),
                    ("no CREDENCE_DKIM_PASS credit", "CREDENCE_DKIM_PASS" not in symbols(r),
                     symbols(r)),
                    ("score %.1f >= the careful spoof's %.1f" % (r["score"], careful),
                     r["score"] >= careful - 1e-9, symbols(r))])
    # A Subject after 2,001 padding fields (past the header limits, so not read): every reader
    # still shows it; the signature leaves it unsigned all the same.
    pad = ("".join("X-Pad-%d: p\r\n" % i for i in range(1000)) +
           "Authentication-Results: other.example; none\r\n" * 1001).encode()
    head, sep, body = replay.partition(b"\r\n\r\n")
    case("replay_with_subject_past_the_header_limits", 2,
         *run.verify(head + b"\r\n" + pad + b"Subject: PAY NOW to IBAN XX00 EVIL" + sep + body),
         partial("subject"))
    # A second Content-Type on top of a signed one (RFC 2045: one per entity): readers render
    # the body by the first, and the text the attacker chose in the genuine body becomes the
    # message shown.
    mime = message(from_hdr="<alerts@bank.test>", msg_id="real-4@bank.test",
                   extra_bottom=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"],
                   body="Your reference: --ZZ\r\n\r\nWire 50,000 EUR to IBAN XX00 EVIL.\r\n--ZZ--\r\n")
    signed_mime = sign(mime, "bank.test", "sel", keys["bank"],
                       headers=(b"from", b"to", b"subject", b"date", b"mime-version",
                                b"content-type"))
    case("replay_with_content_type_on_top", 2,
         *run.verify(b'Content-Type: multipart/mixed; boundary="ZZ"\r\n' + signed_mime),
         partial("content-type"))
    # Over-signed (h= names Subject twice): the added Subject breaks the signature instead.
    over = sign(genuine, "bank.test", "sel", keys["bank"],
                headers=(b"from", b"to", b"subject", b"subject", b"date"))
    case("oversigned_replay_with_subject_on_top", 2,
         *run.verify(b"Subject: Your account is locked\r\n" + over),
         lambda r: [("DKIM fail, DMARC fail: the signature covers both Subjects",
                     r["dmarc"]["result"] == "fail", summary(r))])


def point2_budgets(run, base, base_login, keys):
    evil_key = keys["evil"]
    login = message(from_hdr="<security@login.bank.test>")
    case("greedy_spf_mailfrom_vs_np", 2,
         *run.verify(login, mail_from="x@greedy.evil.test"),
         spoof_expect(base_login))
    case("greedy_spf_helo_vs_np", 2, *run.verify(login, helo="greedy.evil.test"),
         spoof_expect(base_login))
    # Sixteen valid signatures of the attacker's own domain above a failing signature of the
    # From domain: the aligned one is still evaluated (and fails), the others earn nothing.
    forged_aligned = tamper_body(sign(message(), "bank.test", "sel", keys["bank_wrong"]))
    r1, _, _ = run.verify(forged_aligned)
    one_fail = r1[0]["score"] if r1 and "score" in r1[0] else base
    m = forged_aligned
    for i in range(16):
        m = sign(m, "evil.test", "s%d" % i, evil_key)
    case("16_attacker_signatures_above_the_aligned_one", 2, *run.verify(m),
         spoof_expect(one_fail, extra=[
             ("the bank.test signature was evaluated (fail)",
              lambda r: any(s["domain"] == "bank.test" and s["result"] == "fail" for s in r["dkim"])),
             ("no credit for the attacker's passes",
              lambda r: "CREDENCE_DKIM_PASS" not in symbols(r))]))
    m = forged_aligned
    for i in range(24):
        m = sign(m, "evil.test", "s%d" % i, evil_key)
    case("24_attacker_signatures_over_the_limit", 2, *run.verify(m),
         spoof_expect(one_fail, extra=[
             ("CREDENCE_LIMIT", lambda r: "CREDENCE_LIMIT" in symbols(r)),
             ("the bank.test signature was evaluated",
              lambda r: any(s["domain"] == "bank.test" for s in r["dkim"])),
             ("A-R: one entry for the signatures not evaluated",
              lambda r: r["authentication_results"].count("dkim=") <= 17)]))


def point3_dns_faults(run, base, keys):
    legit = sign(message(from_hdr="<news@flaky.test>", msg_id="real-1@flaky.test"), "flaky.test",
                 "sel", keys["bank"])
    # The key lookup under _domainkey.flaky.test answers SERVFAIL; SPF is not aligned.
    r = case("aligned_dkim_key_servfail", 3, *run.verify(legit, ip=BANK_IP, helo="mx.bank.test",
                                                         mail_from="bounce@bank.test"),
             lambda r: [("DMARC temperror, not fail", r["dmarc"]["result"] == "temperror", summary(r)),
                        ("disposition none", r["dmarc"]["disposition"] == "none", summary(r)),
                        ("reason cites RFC 7489 6.6.2", "6.6.2" in r["dmarc"]["reason"],
                         r["dmarc"]["reason"]),
                        ("A-R carries the reason", "6.6.2" in r["authentication_results"],
                         r["authentication_results"])])
    unsigned = message(from_hdr="<news@flaky.test>", msg_id="real-2@flaky.test")
    case("aligned_spf_temperror", 3, *run.verify(unsigned, ip=BANK_IP, helo="mx.flaky.test",
                                                 mail_from="bounce@flaky.test"),
         lambda r: [("SPF temperror", r["spf"]["result"] == "temperror", r["spf"]),
                    ("DMARC temperror, not fail", r["dmarc"]["result"] == "temperror", summary(r)),
                    ("temporary identifier spf", r["dmarc"].get("temporary_identifier") == "spf",
                     r["dmarc"])])
    # The attacker's own broken signature (its key SERVFAILs) cannot stop the bank's policy.
    m = sign(message(), "flaky.test", "sel", keys["evil"])
    case("unaligned_temperror_does_not_stop_policy", 3, *run.verify(m), spoof_expect(base))
    # The attacker names an aligned domain whose DNS fails (lame.bank.test, a broken delegation
    # of the bank's): DMARC cannot conclude (temperror, policy not applied), but the score is
    # the fail's: what could not be checked proves nothing.
    def temperror_no_better(base_score):
        return lambda r: [
            ("DMARC temperror (not fail), policy not applied",
             r["dmarc"]["result"] == "temperror" and r["dmarc"]["disposition"] == "none",
             summary(r)),
            ("CREDENCE_DMARC_TEMPERROR_REJECT", "CREDENCE_DMARC_TEMPERROR_REJECT" in symbols(r),
             symbols(r)),
            ("score %.1f >= plain spoof %.1f" % (r["score"], base_score),
             r["score"] >= base_score - 1e-9, symbols(r))]
    m = sign(message(), "lame.bank.test", "x", keys["evil"])
    case("attacker_named_lame_aligned_signature", 3, *run.verify(m), temperror_no_better(base))
    r, _, _ = run.verify(message(), mail_from="x@nothere.bank.test")
    base_sub = r[0]["score"] if r and "score" in r[0] else base
    case("attacker_named_lame_aligned_mail_from", 3,
         *run.verify(message(), mail_from="x@lame.bank.test"), temperror_no_better(base_sub))
    # The From itself under the broken delegation: the policy lookup fails at
    # _dmarc.x.lame.bank.test and _dmarc.lame.bank.test; bank.test's record (np=reject) is what
    # applies if they hold none, and nothing passing could align.
    case("attacker_from_under_lame_delegation", 3,
         *run.verify(message(from_hdr="<ceo@x.lame.bank.test>")), temperror_no_better(base_sub))
    # Real mail from there, signed by bank.test: it could align whatever the failed names hold,
    # so the plain temperror (no weight, no defer).
    legit = sign(message(from_hdr="<ops@x.lame.bank.test>", msg_id="real-3@bank.test"),
                 "bank.test", "sel", keys["bank"])
    case("real_from_under_lame_delegation", 3,
         *run.verify(legit, ip=BANK_IP, helo="mx.bank.test", mail_from="bounce@bank.test"),
         lambda r: [("DMARC temperror", r["dmarc"]["result"] == "temperror", summary(r)),
                    ("plain CREDENCE_DMARC_TEMPERROR",
                     "CREDENCE_DMARC_TEMPERROR" in symbols(r) and
                     "CREDENCE_DMARC_TEMPERROR_REJECT" not in symbols(r), symbols(r)),
                    ("score %.1f below the spoof's" % r["score"], r["score"] < base_sub,
                     symbols(r))])


def point3_slow_attacker(tmp, ns_port, base, keys):
    """A signature whose key's name server never answers, and a MAIL FROM of the bank (SPF
    fail): the SPF check still gets time, DMARC still rejects."""
    with DelayProxy(ns_port, delay=0.0, stall=("slow.test",)) as port:
        run = Run(port, tmp)
        m = sign(message(), "slow.test", "sel", keys["evil"])
        case("stalled_key_server_does_not_starve_spf", 3,
             *run.verify(m, mail_from="ceo@bank.test",
                         extra=["--dns-timeout", "4000"]),
             spoof_expect(base, extra=[("SPF fail (not temperror)",
                                        lambda r: r["spf"]["result"] == "fail")]),
             max_secs=14.0)


def point6_output(run, base):
    sig = ("DKIM-Signature: v=1; a=rsa-sha256; d=evil.test\r\n $(touch /tmp/x); s=s0; h=from;"
           " bh=AAAA; b=AAAA")
    case("hostile_d_and_s_never_leave", 6, *run.verify(message(extra_top=[sig])),
         lambda r: [("JSON domain empty", all(s["domain"] == "" for s in r["dkim"]), r["dkim"]),
                    ("no '$(' in A-R", "$(" not in r["authentication_results"],
                     r["authentication_results"])])
    sigs = ["DKIM-Signature: v=1; a=rsa-sha256; d=evil%d.test; s=s; h=from; bh=AAAA; b=AAAA" % i
            for i in range(996)]
    case("996_signatures_a_r_stays_short", 6, *run.verify(message(extra_top=sigs)),
         lambda r: [("A-R under 8 KB (was 91,747 bytes)", len(r["authentication_results"]) < 8192,
                     len(r["authentication_results"])),
                    ("score >= plain spoof", r["score"] >= base - 1e-9, r["score"])])


# ---------------------------------------------------------------------------------------------
# The generated family: adding to a message never lowers its score.

def mutate(rng, msg_parts, keys):
    """One mutation of a (top_fields, bottom_fields, body, signers) description."""
    top, bottom, body, signers = msg_parts
    kind = rng.choice(["junk_fields", "long_line", "attacker_sig", "bad_sig", "forged_ar",
                       "list_id", "big_field", "dup_subject", "more_body"])
    if kind == "junk_fields":
        top = top + ["X-Junk-%d: %s" % (i, "j" * rng.randint(0, 40)) for i in range(rng.choice([5, 200, 1200]))]
    elif kind == "long_line":
        body = body + "L" * rng.choice([1000, 70000, 300000]) + "\r\n"
    elif kind == "attacker_sig":
        signers = signers + [("evil.test", "s%d" % rng.randint(0, 23))] * rng.choice([1, 3, 20])
    elif kind == "bad_sig":
        top = top + ["DKIM-Signature: v=1; a=rsa-sha256; d=%s; s=x; h=from; bh=AAAA; b=AAAA"
                     % rng.choice(["evil.test", "bank.test", "nx.invalid"])]
    elif kind == "forged_ar":
        top = top + ["Authentication-Results: %s; dkim=pass; spf=pass; dmarc=pass" % AUTHSERV]
    elif kind == "list_id":
        bottom = bottom + ["List-Id: Trusted list <announce.lists.example.org>"]
    elif kind == "big_field":
        top = top + ["X-Big: " + "b" * rng.choice([10000, 400000])]
    elif kind == "dup_subject":
        bottom = bottom + ["Subject: another subject"]
    else:
        body = body + "more text\r\n" * rng.randint(1, 3000)
    return (top, bottom, body, signers), kind


def build(parts, keys):
    top, bottom, body, signers = parts
    m = message(extra_top=top, extra_bottom=bottom, body=body)
    for domain, selector in signers:
        m = sign(m, domain, selector, keys["evil"] if domain == "evil.test" else keys["bank_wrong"])
    return m


def family(tmp, port, keys, count):
    rng = random.Random(20261206)
    bases = [([], [], "Hello.\r\n", []),
             ([], [], "Signed by us.\r\n", [("evil.test", "s0")])]
    msgs, labels = [], []
    for b, parts in enumerate(bases):
        msgs.append(build(parts, keys))
        labels.append((b, "base"))
        for _ in range(count // len(bases)):
            p, kinds = parts, []
            for _ in range(rng.randint(1, 3)):
                p, k = mutate(rng, p, keys)
                kinds.append(k)
            msgs.append(build(p, keys))
            labels.append((b, "+".join(kinds)))
    mbox = os.path.join(tmp, "family.mbox")
    with open(mbox, "wb") as f:
        for m in msgs:
            f.write(b"From spoofer@evil.test Sun Dec  6 00:00:00 2026\n")
            body = m.replace(b"\r\n", b"\n")
            for line in body.split(b"\n"):
                if line.startswith(b"From ") or line.lstrip(b">").startswith(b"From "):
                    line = b">" + line
                f.write(line + b"\n")
            f.write(b"\n")
    args = [BIN, "verify", "--format", "json", "--dns", "127.0.0.1:%d" % port, "--authserv-id",
            AUTHSERV, "--client-ip", ATTACKER_IP, "--helo", "mail.evil.test", "--mail-from",
            "spoofer@evil.test", "--jobs", "2", "-q", mbox]
    results, secs, rss = run_measured(args)
    os.unlink(mbox)
    base_score = {}
    bad = []
    if len(results) != len(msgs):
        check("family: one result per message", False, "%d results for %d" % (len(results), len(msgs)))
        return
    for (b, label), r in zip(labels, results):
        if "error" in r:
            bad.append("%s: %s" % (label, r["error"]))
            continue
        if label == "base":
            base_score[b] = r["score"]
            continue
        if r["score"] < base_score[b] - 1e-9 or r["dmarc"]["disposition"] != "reject":
            bad.append("base %d +%s: %s (base %.1f) %s" % (b, label, summary(r), base_score[b],
                                                          symbols(r)))
    print("  info: family: %d messages (2 bases, %d mutants) in %.1f s, peak RSS %.0f MB"
          % (len(msgs), len(msgs) - 2, secs, rss))
    check("family: no mutation lowers the score or the disposition (%d mutants)" % (len(msgs) - 2),
          not bad, "; ".join(bad[:5]))


def main():
    tmp = tempfile.mkdtemp(prefix="credence-adversarial-")
    try:
        bank_key, bank_pub = rsa_key(tmp, "bank")
        evil_key, evil_pub = rsa_key(tmp, "evil")
        wrong_key, _ = rsa_key(tmp, "wrong")
        keys = {"bank": bank_key, "evil": evil_key, "bank_wrong": wrong_key}
        with Named(zones(bank_pub, evil_pub),
                   servfail_zones=["broken.test", "_domainkey.flaky.test",
                                   "lame.bank.test"]) as ns:
            run = Run(ns.port, tmp)
            r, secs, rss = run.verify(message())
            base = case("plain_spoof", 0, r, secs, rss, spoof_expect(0.0))["score"]
            r, secs, rss = run.verify(message(from_hdr="<security@login.bank.test>"))
            base_login = case("plain_spoof_of_nonexistent_subdomain", 0, r, secs, rss,
                              spoof_expect(0.0))["score"]
            point1_limits(run, base)
            point2_from_readings(run, base)
            point2_replay(run, keys)
            point2_header_limits(run, base, keys)
            point2_shown_address(run, keys)
            point2_budgets(run, base, base_login, keys)
            point3_dns_faults(run, base, keys)
            point3_slow_attacker(tmp, ns.port, base, keys)
            point6_output(run, base)
            family(tmp, ns.port, keys, int(os.environ.get("CREDENCE_FAMILY", "120")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| point | case | result | time s | peak RSS MB |\n|---|---|---|---|---|")
    for point, name, res, secs, rss in TABLE:
        print("| %s | %s | %s | %.2f | %.1f |" % (point, name, res, secs, rss))
    if FAILURES:
        print("test_adversarial: %d failure(s)" % len(FAILURES))
        return 0 if REPORT_ONLY else 1
    print("test_adversarial: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
