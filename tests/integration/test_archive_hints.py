#!/usr/bin/python3
"""`credence verify`: why a DKIM header hash failed (issue 17). Messages signed by python3-dkim
(dkimpy, an independent signer), then altered the way transit alters them; each must fail on
its header hash (body hash good) and say what can be known, in the text and JSON detail, the
CSV dkim_cause column, the A-R reason= and the summary's per-cause line. Checks:
  - a '[list] ' tag prefixed to Subject: "Subject changed (a '[list] ' prefix was added...)";
  - From rewritten by a list, the original kept in X-Original-From: "From changed";
  - a Subject field added below the signed one (bottom-up selection picks it);
  - a field h= signs while absent (Reply-To) added after signing;
  - c=simple/simple with Subject folded by a relay: "white space or name case changed";
  - Content-Type rewritten: "not explained", with what h= names and what lists rewrite;
  - verdicts are the same as dkimpy's own verifier on every altered message (a hint never
    changes a verdict), and the same with the hints' budget spent;
  - hostile: one message with 1000 Subject fields and 100 failing signatures stays within the
    per-message budget (time printed, bound generous).

Env as test_archive.py. Prints PASS/FAIL per check; exit 1 on any failure.
"""
import csv
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_archive as ta  # noqa: E402
from test_archive import check, lines_of, mbox_bytes, run, write  # noqa: E402

import dkim  # noqa: E402

_real_time = time.time


def sign(msg, domain, headers, canon=(b"relaxed", b"relaxed")):
    time.time = lambda: ta.T_SIGN
    try:
        sig = dkim.sign(msg, b"rsa", domain.encode(), ta.RSA_KEY, canonicalize=canon,
                        include_headers=headers)
    finally:
        time.time = _real_time
    return sig + msg


def message(n, domain, extra=b""):
    return (f"From: Sender {n} <sender{n}@{domain}>\r\nTo: list@lists.example.net\r\n"
            f"Subject: hint test {n}\r\n"
            f"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <hint-{n}@{domain}>\r\n"
            ).encode() + extra + b"\r\nHello,\r\nthe numbers are in.\r\n"


H = [b"from", b"to", b"subject", b"date", b"message-id"]
MIME = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"


def cases():
    """(name, altered bytes, what the detail must say, summary kind)."""
    out = []
    m = sign(message(1, "dom0.test"), "dom0.test", H)
    out.append(("subject tag", m.replace(b"Subject: hint", b"Subject: [finance] hint"),
                "header hash fails: Subject changed (a '[finance] ' prefix was added after "
                "signing", "Subject tag added"))
    m = sign(message(2, "dom1.test"), "dom1.test", H)
    out.append(("from rewritten",
                m.replace(b"From: Sender 2 <sender2@dom1.test>",
                          b"From: \"Sender 2 via Finance\" <finance@lists.example.net>\r\n"
                          b"X-Original-From: Sender 2 <sender2@dom1.test>"),
                "header hash fails: From changed (the signature verifies with From as "
                "X-Original-From has it", "From rewritten by a list"))
    m = sign(message(3, "dom2.test"), "dom2.test", H)
    out.append(("subject added below",
                m.replace(b"Date: ", b"Subject: Win a prize\r\nDate: "),
                "a Subject field (field 5 of the header, the lowest of 2) was added below the "
                "signed one after signing", "field added after signing"))
    m = sign(message(4, "dom3.test"), "dom3.test", H + [b"reply-to"])
    out.append(("reply-to added",
                m.replace(b"Date: ", b"Reply-To: list@lists.example.net\r\nDate: "),
                "was added after signing: h= names Reply-To once, the signer's message had none",
                "field added after signing"))
    m = sign(message(5, "dom4.test"), "dom4.test", H, canon=(b"simple", b"simple"))
    out.append(("simple folded",
                m.replace(b"Subject: hint test 5", b"Subject: hint\r\n test 5"),
                "c=simple and the signed fields' white space or name case changed in transit "
                "(the signature verifies with them unfolded)",
                "header white space rewritten (c=simple)"))
    m = sign(message(6, "dom5.test", MIME), "dom5.test",
             H + [b"mime-version", b"content-type", b"subject"])
    out.append(("content-type changed",
                m.replace(b"charset=utf-8", b"charset=\"UTF-8\""),
                "not explained by the repairs tried", "not explained"))
    return out


def check_hints(tmp, zone):
    cs = cases()
    box = write(os.path.join(tmp, "hints.mbox"), mbox_bytes([c[1] for c in cs]))
    rc, out, err, _ = run(["--format", "json", "--at", str(ta.T_AT)] + zone + [box])
    objs = lines_of(out)
    check("header hints: one JSON line per message, exit 0 (every input read)",
          rc == 0 and len(objs) == len(cs), f"rc={rc} {len(objs)} {err[-300:]}")
    for (name, data, words, _), o in zip(cs, objs):
        d = (o.get("dkim") or [{}])[0]
        check(f"header hint, {name}: dkimpy says fail, credence signature_mismatch",
              not dkim.verify(data, dnsfunc=dnsfunc) and d.get("result") == "fail" and
              d.get("reason") == "signature_mismatch", d)
        check(f"header hint, {name}: the detail says what can be known",
              words in d.get("detail", ""), d.get("detail"))
        ar = o.get("authentication_results", "")
        check(f"header hint, {name}: the A-R reason= says it too, once",
              words.split(" (")[0][:60] in ar and
              ar.count("signature did not verify") == 1, ar[:600])
    ct = objs[-1]["dkim"][0].get("detail", "") if objs else ""
    check("header hint, not explained: counts of what h= names, fields lists rewrite, the key",
          "h= names Subject twice, the message has one" in ct and
          "possibly changed: MIME-Version, Content-Type, Subject, From" in ct and
          "rsa._domainkey.dom5.test was replaced after signing" in ct, ct)
    kinds = {}
    for c in cs:
        kinds[c[3]] = kinds.get(c[3], 0) + 1
    line = next((ln for ln in err.splitlines() if "header hash failures by cause" in ln), "")
    check("summary: a line of header hash failures by cause, each counted",
          all(f"{k} {v}" in line for k, v in kinds.items()), line)

    rc, out, err, _ = run(["--at", str(ta.T_AT), "-q"] + zone + [box])
    check("text output: the header hint in the signature's detail",
          rc == 0 and "Subject changed (a '[finance] ' prefix" in out and
          "was added below the signed one" in out, out[:800])
    rc, out, err, _ = run(["--format", "csv", "--at", str(ta.T_AT), "-q"] + zone + [box])
    rows = list(csv.reader(io.StringIO(out, newline="")))
    check("csv: a dkim_cause column, 'd=D s=S: sentence' per explained signature",
          rows and rows[0][-1] == "dkim_cause" and len(rows) == len(cs) + 1 and
          rows[1][-1].startswith("d=dom0.test s=rsa: header hash fails: Subject changed"),
          rows[:2])


def dnsfunc(name, timeout=5):
    """dkimpy's key lookup, answered from the test zones (no DNS)."""
    name = name.decode() if isinstance(name, bytes) else name
    if name.startswith("rsa._domainkey."):
        return ("v=DKIM1; k=rsa; p=" + ta.RSA_PUB).encode()
    return None


def check_hostile(tmp, zone):
    # 1000 Subject fields and 100 signatures, every signature failing on its header hash.
    msg = message(7, "dom6.test")
    signature = sign(msg, "dom6.test", H)[:-len(msg)]
    subjects = b"".join(b"Subject: copy %d\r\n" % i for i in range(1000))
    hostile = signature * 100 + msg.replace(b"Date: ", subjects + b"Date: ")
    box = write(os.path.join(tmp, "hostile.mbox"), mbox_bytes([hostile]))
    rc, out, err, seconds = run(["--format", "json", "--at", str(ta.T_AT), "--jobs", "1"] +
                                zone + [box])
    objs = lines_of(out)
    dk = objs[0].get("dkim", []) if objs else []
    print(f"  hostile: 1000 Subject fields, {len(dk)} DKIM results, {seconds:.2f} s")
    failing = [d for d in dk if d.get("reason") == "signature_mismatch"]
    check("hostile: judged, each evaluated signature fails on its header hash, within 10 s",
          rc == 0 and len(dk) == 100 and len(failing) == 16 and seconds < 10, (rc, len(dk),
                                                                               len(failing), seconds))
    spent = [d for d in failing if "the message's hint budget was spent" in d.get("detail", "")]
    check("hostile: the per-message budget stops the repairs (said so in the detail)",
          len(spent) > 0, [d.get("detail", "")[:200] for d in failing[-2:]])


def check_all(tmp):
    zone = ta.zone_file(tmp)
    check_hints(tmp, zone)
    check_hostile(tmp, zone)


def main():
    return ta.run_suite("test_archive_hints", check_all)


if __name__ == "__main__":
    sys.exit(main())
