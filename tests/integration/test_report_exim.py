#!/usr/bin/python3
"""Issue 12's "done when", part 1: a real Exim with credence records a day of mail in the
history (the shim, [history] in the config file it loads), and `credence report aggregate`
sends the day's aggregate report through that Exim's own sendmail interface to a local
mailbox, where it arrives as an RFC 9990 report: the attachment is schema-valid and counts the
messages Exim received, rejected ones included.

Reuses test_exim_e2e.py's throwaway Exim (BIND named on 127.0.0.1, the shim installed with
cmake --install). Env: CREDENCE_BUILD, CREDENCE_SRC, CREDENCE_BIN. Run as root. One PASS/FAIL
line per check; exit 1 on any failure.
"""
import email
import gzip
import os
import pwd
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # importing test_exim_e2e leaves no __pycache__ in the tree
import test_exim_e2e as e2e  # noqa: E402
from named_fixture import Named  # noqa: E402

XSD = os.path.join(e2e.SRC, "tests", "data", "dmarc", "rfc9990.xsd")
NS = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}

ZONES = {
    # The sender asks for aggregate reports at our own mail domain (credence.test), which
    # says it takes them (External Destination Verification).
    "example.test": """@ IN TXT "v=spf1 ip4:%s -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@credence.test"
sel._domainkey IN TXT %s
""" % (e2e.GOOD_IP, e2e.dkim_key_txt()),
    "credence.test": """example.test._report._dmarc IN TXT "v=DMARC1"
""",
}


def main():
    if os.geteuid() != 0:
        print("SKIP: must run as root (exim -C with -oMa)")
        return 0
    if not os.path.exists(e2e.PLUGIN):
        print("FAIL: %s not built" % e2e.PLUGIN)
        return 1
    ent = pwd.getpwnam("Debian-exim")
    with Named(ZONES) as ns:
        exim = None
        try:
            exim = e2e.Exim(ns.port, extra_options="config=__CONFIG__")
            hist = os.path.join(exim.dir, "history")
            os.mkdir(hist)
            os.chown(hist, ent.pw_uid, ent.pw_gid)
            db = os.path.join(hist, "history.sqlite")
            config = os.path.join(exim.dir, "credence.toml")
            with open(config, "w") as f:
                f.write(f"""[history]
enabled = true
store = "sqlite:{db}"
org_name = "Credence test receiver"
email = "dmarc-reports@credence.test"
""")
            with open(exim.conf) as f:
                text = f.read()
            with open(exim.conf, "w") as f:
                f.write(text.replace("__CONFIG__", config))

            accepted = rejected = 0
            for i in range(3):
                replies, _ = exim.smtp(e2e.GOOD_IP, "alice@example.test",
                                       e2e.message("good %d" % i))
                accepted += e2e.data_reply(replies).startswith("250")
            for i in range(2):
                replies, _ = exim.smtp(e2e.BAD_IP, "alice@example.test",
                                       e2e.message("forged %d" % i, sign=False))
                rejected += e2e.data_reply(replies).startswith("5")
            e2e.check("Exim: 3 good messages accepted, 2 forged ones rejected (p=reject)",
                      accepted == 3 and rejected == 2, exim.log("main")[-500:])
            with sqlite3.connect(db) as c:
                rows = c.execute("SELECT source_ip, envelope_to, dmarc, disposition FROM "
                                 "credence_history ORDER BY id").fetchall()
            e2e.check("the shim recorded all 5, rejected ones included, with the recipient's "
                      "domain (%s)" % rows,
                      len(rows) == 5 and all(r[1] == "credence.test" for r in rows) and
                      [r[2] for r in rows] == ["pass"] * 3 + ["fail"] * 2 and
                      rows[3][3] == "reject")
            before = len(exim.delivered())

            sendmail = os.path.join(exim.dir, "sendmail")
            with open(sendmail, "w") as f:
                f.write("#!/bin/sh\nexec %s -C %s -odi \"$@\"\n" % (e2e.EXIM, exim.conf))
            os.chmod(sendmail, 0o755)
            today = time.strftime("%Y-%m-%d", time.gmtime())
            p = subprocess.run([e2e.CREDENCE, "report", "aggregate", "--config", config,
                                "--day", today, "--sendmail", sendmail,
                                "--dns", "127.0.0.1:%d" % ns.port],
                               capture_output=True, text=True, timeout=120)
            e2e.check("report aggregate through Exim's sendmail", p.returncode == 0,
                      p.stdout + p.stderr)
            got = exim.delivered()
            e2e.check("the report was delivered to the local mailbox", len(got) == before + 1,
                      "%d -> %d" % (before, len(got)))
            if len(got) != before + 1:
                return 1
            msg = email.message_from_bytes(got[-1])
            e2e.check("its Subject names the domain and the submitter",
                      msg["Subject"].startswith("Report Domain: example.test Submitter: "
                                                "credence.test Report-ID: <"), msg["Subject"])
            parts = [x for x in msg.walk() if x.get_content_type() == "application/gzip"]
            e2e.check("one application/gzip attachment", len(parts) == 1)
            raw = gzip.decompress(parts[0].get_payload(decode=True))
            v = subprocess.run(["xmllint", "--noout", "--schema", XSD, "-"], input=raw,
                               capture_output=True, timeout=60)
            e2e.check("the report is valid against the RFC 9990 schema", v.returncode == 0,
                      v.stderr.decode(errors="replace")[-400:])
            root = ET.fromstring(raw)
            counts = {}
            for rec in root.findall("d:record", NS):
                disp = rec.find("d:row/d:policy_evaluated/d:disposition", NS).text
                counts[disp] = counts.get(disp, 0) + int(rec.find("d:row/d:count", NS).text)
            e2e.check("it counts 3 delivered and 2 rejected messages (%s)" % counts,
                      counts == {"none": 3, "reject": 2})
            e2e.check("the report arrived through Exim without being recorded again (no loop)",
                      sqlite3.connect(db).execute(
                          "SELECT COUNT(*) FROM credence_history").fetchone()[0] == 5)
        finally:
            if exim is not None:
                exim.cleanup()
    print("%d failure(s)" % e2e.failures)
    return 1 if e2e.failures else 0


if __name__ == "__main__":
    sys.exit(main())
