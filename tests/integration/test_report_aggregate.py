#!/usr/bin/python3
"""DMARC aggregate reports end to end (issue 12 part 1, docs/reports.md).

History is made by verifying the corpus (tests/data/corpus, 195 messages, with DMARC records
that ask for reports added to its zone) with `credence verify --history` and through a real
`credence serve` with concurrent clients; then `credence report aggregate` writes (--out) and
mails (a fake sendmail that keeps what it is given) the reports, and every report is validated
against the RFC 9990 schema (tests/data/dmarc/rfc9990.xsd) with xmllint and read back: the
counts in the XML equal the evaluations recorded. Also: a period is never reported twice, a
catch-up run is bounded, External Destination Verification and "!size" decide which rua
addresses are used, a DMARC report sent to us is not reported back, SQLite under several
writer processes at once loses and duplicates nothing, and PostgreSQL (initdb + pg_ctl on a
Unix socket in a temporary directory, as an unprivileged user) stores the same rows, and costs
only the rows, within its timeout, when it is down.

Env: CREDENCE_BIN, CREDENCE_SRC. One PASS/FAIL line per check; exit 1 on any failure. No DNS
leaves the machine: every run has --zone (serve too).
"""
import email
import glob
import gzip
import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("CREDENCE_BIN", "credence")
SRC = os.environ.get("CREDENCE_SRC", os.path.dirname(os.path.dirname(HERE)))
CORPUS = os.path.join(SRC, "tests", "data", "corpus")
XSD = os.path.join(SRC, "tests", "data", "dmarc", "rfc9990.xsd")
NS = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}
FAILURES = []

DAY1 = "2025-12-05"
DAY1_BEGIN = 1764892800
DAY2 = "2025-12-06"

# The corpus zone plus DMARC records that ask for aggregate reports, SPF for the test client,
# and the External Destination Verification records of one outside destination (not of the
# other).
EXTRA_CORPUS = """
_dmarc IN TXT "v=DMARC1; p=quarantine; np=reject; adkim=s; rua=mailto:dmarc@corpus.test,mailto:agg@reports.example.net,mailto:x@unverified.example,mailto:tiny@corpus.test!1k"
@ IN TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
"""
OTHER_ZONES = """
$ORIGIN example.org.
@ IN SOA ns.example.org. h.example.org. 1 3600 600 86400 300
@ IN NS ns.example.org.
_dmarc IN TXT "v=DMARC1; p=reject; t=y; rua=mailto:dmarc@example.org"
@ IN TXT "v=spf1 -all"
$ORIGIN reports.example.net.
@ IN SOA ns.reports.example.net. h.reports.example.net. 1 3600 600 86400 300
@ IN NS ns.reports.example.net.
corpus.test._report._dmarc IN TXT "v=DMARC1"
"""

FAKE_SENDMAIL = """#!/bin/sh
# Keeps each message and its arguments: OUT/N.eml, OUT/N.args
out="%s"
n=$(ls "$out" | grep -c '\\.eml$')
printf '%%s\\n' "$@" > "$out/$n.args"
cat > "$out/$n.eml"
"""


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        FAILURES.append(name)
    return ok


def run(args, timeout=300, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout, **kw)


EXTRA_MESSAGES = []  # written by Fixture: mail From example.org (the corpus has none)


def messages():
    return sorted(glob.glob(os.path.join(CORPUS, "messages", "*.eml"))) + EXTRA_MESSAGES


def write_config(path, store, extra=""):
    with open(path, "w") as f:
        f.write(f"""authserv_id = "mx.rx.example"
[history]
enabled = true
store = "{store}"
org_name = "Receiver Example"
email = "dmarc-reports@rx.example"
extra_contact_info = "https://rx.example/dmarc"
report_from = "dmarc@corpus.test"
receiver_domain = "rx.example"
{extra}
""")


def reportable(json_lines):
    """Messages the history must record: DMARC had a policy (a record domain)."""
    n = 0
    for line in json_lines.splitlines():
        doc = json.loads(line)
        if doc.get("dmarc", {}).get("record_domain"):
            n += 1
    return n


def db_rows(path, where=""):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM credence_history " + where).fetchone()[0]


def xmllint(path_or_bytes):
    if isinstance(path_or_bytes, bytes):
        p = subprocess.run(["xmllint", "--noout", "--schema", XSD, "-"], input=path_or_bytes,
                           capture_output=True, timeout=60)
    else:
        p = subprocess.run(["xmllint", "--noout", "--schema", XSD, path_or_bytes],
                           capture_output=True, timeout=60)
    return p.returncode == 0, p.stderr.decode(errors="replace")[-500:]


def report_counts(xml_bytes):
    """(policy domain, begin, end, total count, rows) of one report."""
    root = ET.fromstring(xml_bytes)
    total, rows = 0, 0
    for rec in root.findall("d:record", NS):
        total += int(rec.find("d:row/d:count", NS).text)
        rows += 1
    pp = root.find("d:policy_published", NS)
    dr = root.find("d:report_metadata/d:date_range", NS)
    return (pp.find("d:domain", NS).text, int(dr.find("d:begin", NS).text),
            int(dr.find("d:end", NS).text), total, rows)


class Fixture:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="credence-report-")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(CORPUS, "corpus.zone")) as f:
            corpus = f.read()
        self.zone = os.path.join(self.dir, "corpus.zone")
        with open(self.zone, "w") as f:
            f.write(corpus + EXTRA_CORPUS)
        self.other = os.path.join(self.dir, "other.zone")
        with open(self.other, "w") as f:
            f.write(OTHER_ZONES)
        self.zones = ["--zone", self.zone, "--zone", self.other]
        for i in range(3):
            path = self.path("example-org-%d.eml" % i)
            with open(path, "w") as f:
                f.write("From: Alice <alice@example.org>\r\nTo: bob@rx.example\r\n"
                        "Subject: unsigned %d\r\nMessage-ID: <%d@example.org>\r\n\r\n"
                        "Hello.\r\n" % (i % 2, i))
            EXTRA_MESSAGES.append(path)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def verify(self, config, at, ip="192.0.2.10", files=None, extra=()):
        return run(["verify", "--history", "--config", config, "--format", "json",
                    "--at", at, "--client-ip", ip, "--helo", "mx.corpus.test",
                    "--mail-from", "bounce@corpus.test"] + self.zones + list(extra) +
                   (files or messages()))


def check_verify_and_out(fx):
    db = fx.path("h1.sqlite")
    conf = fx.path("h1.toml")
    write_config(conf, "sqlite:" + db)
    t = time.time()
    p = fx.verify(conf, DAY1 + "T10:00:00Z")
    secs = time.time() - t
    want = reportable(p.stdout)
    check("verify --history: %d messages verified, %d with a DMARC policy (%.2f s)"
          % (len(p.stdout.splitlines()), want, secs), p.returncode == 0 and want > 150,
          p.stderr[-400:])
    check("... the store holds exactly one row per evaluation with a policy (%d)" % db_rows(db),
          db_rows(db) == want)
    check("... stderr says how many were written",
          ("%d record(s) written, 0 dropped" % want) in p.stderr, p.stderr[-300:])
    # An evaluation recorded while verifying with --at of another day lands in that day.
    p2 = fx.verify(conf, DAY2 + "T23:59:59Z", ip="198.51.100.20",
                   files=messages()[:10])
    check("... a second day's evaluations", p2.returncode == 0 and db_rows(db) == want + 10,
          p2.stderr[-300:])

    out = fx.path("out1")
    os.mkdir(out)
    p = run(["report", "aggregate", "--config", conf, "--day", DAY1, "--out", out] + fx.zones)
    files = sorted(os.listdir(out))
    check("report aggregate --day --out: %d report file(s)" % len(files),
          p.returncode == 0 and len(files) == 2, p.stdout + p.stderr)
    total = 0
    for name in files:
        raw = gzip.open(os.path.join(out, name)).read()
        ok, err = xmllint(raw)
        check("... %s is valid against the RFC 9990 schema" % name, ok, err)
        dom, begin, end, count, rows = report_counts(raw)
        parts = name.split("!")
        check("... its name is receiver!policy-domain!begin!end!id.xml.gz (%s, %d rows, %d "
              "messages)" % (dom, rows, count),
              parts[0] == "rx.example" and parts[1] == dom and parts[2] == str(begin) and
              parts[3] == str(end) and name.endswith(".xml.gz") and begin == DAY1_BEGIN and
              end == DAY1_BEGIN + 86399)
        check("... identical evaluations are merged (%d rows for %d messages)" % (rows, count),
              rows < count)
        root = ET.fromstring(raw)
        rid = root.find("d:report_metadata/d:report_id", NS).text
        check("... the report id is the file's unique-id", name.endswith("!" + rid + ".xml.gz"))
        total += count
        if dom == "example.org":
            pp = root.find("d:policy_published", NS)
            check("... example.org: testing y, discovery_method treewalk, p reject",
                  pp.find("d:testing", NS).text == "y" and
                  pp.find("d:discovery_method", NS).text == "treewalk" and
                  pp.find("d:p", NS).text == "reject")
            reasons = [r.text for r in root.iter("{%s}type" % NS["d"])]
            check("... a t=y policy not applied says policy_test_mode",
                  "policy_test_mode" in reasons, reasons)
        else:
            pp = root.find("d:policy_published", NS)
            check("... corpus.test: np and adkim as published",
                  pp.find("d:np", NS).text == "reject" and pp.find("d:adkim", NS).text == "s")
    check("... the reports count every recorded evaluation of the day (%d = %d)" % (total, want),
          total == want)
    # The round trip: `credence report read` (the domain owner's side) reads the reports this
    # receiver wrote and finds the same messages per domain and the same DMARC results.
    rd = run(["report", "read", "--format", "json", out])
    try:
        summary = json.loads(rd.stdout)
    except ValueError:
        summary = {"domains": []}
    read_counts = {d["domain"]: d["counts"] for d in summary.get("domains", [])}
    want_counts = {}
    for name in files:
        root = ET.fromstring(gzip.open(os.path.join(out, name)).read())
        dom = root.find("d:policy_published/d:domain", NS).text
        c = want_counts.setdefault(dom, {"messages": 0, "dmarc_pass": 0})
        for rec in root.iterfind("d:record", NS):
            n = int(rec.find("d:row/d:count", NS).text)
            pe = rec.find("d:row/d:policy_evaluated", NS)
            c["messages"] += n
            if "pass" in (pe.find("d:dkim", NS).text, pe.find("d:spf", NS).text):
                c["dmarc_pass"] += n
    check("report read reads our own reports back: the same messages and DMARC passes per "
          "domain (%s)" % want_counts,
          rd.returncode == 0 and len(read_counts) == len(want_counts) and
          all(read_counts.get(d, {}).get("messages") == c["messages"] and
              read_counts.get(d, {}).get("dmarc_pass") == c["dmarc_pass"]
              for d, c in want_counts.items()),
          "%s %s" % (read_counts, rd.stderr[-300:]))
    p = run(["report", "aggregate", "--config", conf, "--day", DAY1, "--out", out] + fx.zones)
    check("... a second run for the same day reports nothing again",
          p.returncode == 0 and len(os.listdir(out)) == 2 and "2 already reported" in p.stderr,
          p.stderr)
    prev = fx.path("preview")
    os.mkdir(prev)
    p = run(["report", "aggregate", "--config", conf, "--day", DAY1, "--out", prev,
             "--no-state"] + fx.zones)
    check("... --no-state previews a reported day again", len(os.listdir(prev)) == 2, p.stderr)
    return conf, db, want


def check_sendmail(fx, conf, db):
    spool = fx.path("spool")
    os.mkdir(spool)
    fake = fx.path("sendmail")
    with open(fake, "w") as f:
        f.write(FAKE_SENDMAIL % spool)
    os.chmod(fake, 0o755)
    # Default period: every unreported complete day up to yesterday; DAY1 is done, DAY2 not.
    now_epoch = DAY1_BEGIN + 2 * 86400 + 3600
    p = run(["report", "aggregate", "--config", conf, "--sendmail", fake,
             "--now", str(now_epoch)] + fx.zones)
    sent = sorted(glob.glob(os.path.join(spool, "*.eml")), key=lambda s: int(os.path.basename(s)[:-4]))
    to = []
    for m in sent:
        with open(m.replace(".eml", ".args")) as f:
            to.append(f.read().split("\n")[4])
    check("report aggregate through sendmail: %d message(s) to %s" % (len(sent), sorted(to)),
          p.returncode == 0 and sorted(to) == ["agg@reports.example.net", "dmarc@corpus.test"],
          p.stdout + p.stderr)
    check("... an outside destination without its _report._dmarc record is not used",
          "x@unverified.example not used" in p.stderr and
          "corpus.test._report._dmarc.unverified.example" in p.stderr, p.stderr)
    check("... a destination whose !size the report exceeds is not used",
          "tiny@corpus.test!1k not used" in p.stderr, p.stderr)
    with open(sent[0].replace(".eml", ".args")) as f:
        args = f.read().split("\n")
    check("... sendmail -oi -f <report_from> -- <address>",
          args[:4] == ["-oi", "-f", "dmarc@corpus.test", "--"], args)
    msg = email.message_from_binary_file(open(sent[0], "rb"))
    subject = msg["Subject"]
    check("... Subject: Report Domain: corpus.test Submitter: rx.example Report-ID: <id>",
          subject.startswith("Report Domain: corpus.test Submitter: rx.example Report-ID: <"),
          subject)
    parts = [x for x in msg.walk() if x.get_content_type() == "application/gzip"]
    check("... one application/gzip attachment", len(parts) == 1)
    raw = gzip.decompress(parts[0].get_payload(decode=True))
    ok, err = xmllint(raw)
    check("... the mailed report is valid against the RFC 9990 schema", ok, err)
    dom, begin, _, count, _ = report_counts(raw)
    check("... for %s, day %s, 10 messages" % (dom, DAY2),
          dom == "corpus.test" and begin == DAY1_BEGIN + 86400 and count == 10, (dom, count))
    rid = ET.fromstring(raw).find("d:report_metadata/d:report_id", NS).text
    check("... the Subject's Report-ID and the file name's unique-id are the report's id",
          ("<%s>" % rid) in subject and parts[0].get_filename().endswith("!%s.xml.gz" % rid))
    n = len(sent)
    p = run(["report", "aggregate", "--config", conf, "--sendmail", fake,
             "--now", str(now_epoch)] + fx.zones)
    check("... the next run sends nothing again",
          len(glob.glob(os.path.join(spool, "*.eml"))) == n and p.returncode == 0, p.stderr)
    with sqlite3.connect(db) as c:
        states = c.execute("SELECT policy_domain, period_begin, state FROM credence_report_state "
                           "ORDER BY period_begin, policy_domain").fetchall()
    check("... the store's report state: DAY1 written, DAY2 sent (%s)" % states,
          ("corpus.test", DAY1_BEGIN, "written") in states and
          ("corpus.test", DAY1_BEGIN + 86400, "sent") in states)

    # Loops: our own report, delivered back to us and verified, is recorded but not reported.
    p = fx.verify(conf, "2025-12-07T08:00:00Z", files=[sent[0]])
    with sqlite3.connect(db) as c:
        loop = c.execute("SELECT COUNT(*) FROM credence_history WHERE is_report = 1").fetchone()[0]
    check("... a DMARC report to us is recorded as one (%d)" % loop, loop == 1, p.stderr)
    p = run(["report", "aggregate", "--config", conf, "--sendmail", fake, "--day", "2025-12-07"]
            + fx.zones)
    check("... and not reported back",
          len(glob.glob(os.path.join(spool, "*.eml"))) == n and
          "DMARC reports sent to us left out" in p.stderr, p.stderr)

    # A sendmail that fails: the report stays unsent, the next run sends it.
    broken = fx.path("broken-sendmail")
    with open(broken, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\necho 'spool full' >&2\nexit 75\n")
    os.chmod(broken, 0o755)
    fx.verify(conf, "2025-12-08T08:00:00Z", files=messages()[:3])
    p = run(["report", "aggregate", "--config", conf, "--sendmail", broken, "--day",
             "2025-12-08"] + fx.zones)
    check("... a failing sendmail: exit 1, its exit code and message shown",
          p.returncode == 1 and "exit code 75: spool full" in p.stderr, p.stderr)
    p = run(["report", "aggregate", "--config", conf, "--sendmail", fake, "--day",
             "2025-12-08"] + fx.zones)
    check("... and the next run sends that day",
          p.returncode == 0 and len(glob.glob(os.path.join(spool, "*.eml"))) == n + 2, p.stderr)


def check_catch_up(fx):
    db = fx.path("catchup.sqlite")
    conf = fx.path("catchup.toml")
    write_config(conf, "sqlite:" + db, "max_catchup_days = 3")
    for day in range(1, 11):  # ten days of mail, 2025-11-01 .. 2025-11-10
        fx.verify(conf, "2025-11-%02dT12:00:00Z" % day, files=messages()[:2])
    out = fx.path("catchup-out")
    os.mkdir(out)
    now = 1763078400  # 2025-11-14T00:00:00Z: days 11, 12, 13 have no mail
    p = run(["report", "aggregate", "--config", conf, "--out", out, "--now", str(now)] + fx.zones)
    check("catch-up: at most max_catchup_days (3) days back: no report for days without mail",
          p.returncode == 0 and os.listdir(out) == [] and "3 period(s)" in p.stderr, p.stderr)
    now = 1762905600  # 2025-11-12T00:00:00Z: yesterday is the 11th
    p = run(["report", "aggregate", "--config", conf, "--out", out, "--now", str(now)] + fx.zones)
    days = sorted({int(n.split("!")[2]) for n in os.listdir(out)})
    check("... after downtime, the 3 most recent days with mail (%s)" % days,
          days == [1762646400, 1762732800] and "3 period(s)" in p.stderr, p.stderr)


def check_concurrent_sqlite(fx):
    db = fx.path("concurrent.sqlite")
    conf = fx.path("concurrent.toml")
    write_config(conf, "sqlite:" + db)
    # 8 processes at once, each appending every evaluation of the corpus 5 times (its --jobs 2
    # workers through one writer): ~7,000 one-row transactions racing for the write lock with
    # the default 250 ms busy timeout.
    writers, repeat = 8, 5
    t = time.time()
    procs = [subprocess.Popen([BIN, "verify", "--history", "--config", conf, "--format", "json",
                               "--quiet", "--jobs", "2", "--at", DAY1 + "T10:00:00Z",
                               "--client-ip", "192.0.2.%d" % (100 + i), "--mail-from",
                               "bounce@corpus.test"] + fx.zones + messages() * repeat,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(writers)]
    outs = [p.communicate(timeout=600) for p in procs]
    secs = time.time() - t
    want = reportable(outs[0][0])
    per_ip = []
    with sqlite3.connect(db) as c:
        for i in range(writers):
            per_ip.append(c.execute("SELECT COUNT(*) FROM credence_history WHERE source_ip = ?",
                                    ("192.0.2.%d" % (100 + i),)).fetchone()[0])
        mode = c.execute("PRAGMA journal_mode").fetchone()[0]
    check("SQLite, %d verify processes appending at once (%.1f s): %d rows, %d each, none lost "
          "or duplicated" % (writers, secs, sum(per_ip), want),
          all(p.returncode == 0 for p in procs) and per_ip == [want] * writers,
          (per_ip, [o[1][-200:] for o in outs]))
    check("... the database is in WAL mode", mode == "wal", mode)


def check_serve(fx):
    db = fx.path("serve.sqlite")
    conf = fx.path("serve.toml")
    write_config(conf, "sqlite:" + db)
    sock = fx.path("serve.sock")
    log = open(fx.path("serve.log"), "w")
    proc = subprocess.Popen([BIN, "serve", "--socket", sock, "--config", conf, "--workers", "4"]
                            + fx.zones, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        msgs = [open(m, "rb").read() for m in messages()]
        results = []
        lock = threading.Lock()

        def client(k):
            for i, m in enumerate(msgs):
                if i % 4 != k:
                    continue
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(30)
                s.connect(sock)
                hdr = "CREDENCE/1 VERIFY %d ip=192.0.2.77 helo=mx.corpus.test from=b@corpus.test\n"
                s.sendall((hdr % len(m)).encode() + m)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                doc = json.loads(data[data.find(b"\n") + 1:])
                with lock:
                    results.append(bool(doc.get("dmarc", {}).get("record_domain")))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        t = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        secs = time.time() - t
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    text = open(fx.path("serve.log")).read()
    want = sum(results)
    check("credence serve, 4 concurrent clients, %d requests (%.1f s): %d rows for %d "
          "evaluations with a policy" % (len(results), secs, db_rows(db), want),
          len(results) == len(msgs) and db_rows(db) == want, text[-500:])
    check("... its stop line counts them", ("history: %d record(s) written, 0 dropped" % want)
          in text, text[-300:])


def pg_user():
    for name in ("nobody",):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    return None


def pg_bin(tool):
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, tool)):
            return os.path.join(d, tool)
    return shutil.which(tool)


def check_postgres(fx):
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    user = pg_user()
    if not initdb or not pg_ctl or user is None:
        check("PostgreSQL: initdb/pg_ctl found", False, "install postgresql")
        return
    pgdir = fx.path("pg")
    os.mkdir(pgdir)
    os.chown(pgdir, user.pw_uid, user.pw_gid)
    data, sockdir = os.path.join(pgdir, "data"), pgdir
    as_user = ["runuser", "-u", user.pw_name, "--"] if os.getuid() == 0 else []
    p = subprocess.run(as_user + [initdb, "-D", data, "-U", "credence", "--auth=trust",
                                  "--no-sync"], capture_output=True, text=True, timeout=120)
    if not check("PostgreSQL: initdb as %s" % user.pw_name, p.returncode == 0, p.stderr[-400:]):
        return
    opts = "-k %s -c listen_addresses='' -c fsync=off" % sockdir
    p = subprocess.run(as_user + [pg_ctl, "-D", data, "-o", opts, "-l",
                                  os.path.join(pgdir, "log"), "-w", "start"],
                       capture_output=True, text=True, timeout=120)
    if not check("... pg_ctl start on a Unix socket in a temporary directory", p.returncode == 0,
                 p.stderr[-400:]):
        return
    try:
        uri = "postgresql:///postgres?host=%s&user=credence" % sockdir
        conf = fx.path("pg.toml")
        write_config(conf, uri)
        procs = [subprocess.Popen([BIN, "verify", "--history", "--config", conf, "--format",
                                   "json", "--quiet", "--at", DAY1 + "T10:00:00Z", "--client-ip",
                                   "192.0.2.%d" % (200 + i), "--mail-from",
                                   "bounce@corpus.test"] + fx.zones + messages(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(3)]
        outs = [p.communicate(timeout=600) for p in procs]
        want = reportable(outs[0][0])
        psql = pg_bin("psql")
        q = subprocess.run([psql, "-h", sockdir, "-U", "credence", "-d", "postgres", "-At", "-c",
                            "SELECT source_ip, COUNT(*) FROM credence_history GROUP BY 1 ORDER "
                            "BY 1"], capture_output=True, text=True, timeout=60)
        counts = [int(line.split("|")[1]) for line in q.stdout.split()]
        check("... 3 verify processes appending at once: %s rows per process, %d expected"
              % (counts, want),
              all(p.returncode == 0 for p in procs) and counts == [want] * 3,
              [o[1][-300:] for o in outs] + [q.stderr])
        out = fx.path("pg-out")
        os.mkdir(out)
        p = run(["report", "aggregate", "--config", conf, "--day", DAY1, "--out", out]
                + fx.zones)
        files = os.listdir(out)
        total = 0
        for name in files:
            raw = gzip.open(os.path.join(out, name)).read()
            ok, err = xmllint(raw)
            check("... report %s from PostgreSQL is schema-valid" % name.split("!")[1], ok, err)
            total += report_counts(raw)[3]
        check("... the reports count all %d rows" % (3 * want),
              p.returncode == 0 and len(files) == 2 and total == 3 * want, p.stderr)
        p = run(["report", "aggregate", "--config", conf, "--day", DAY1, "--out", out]
                + fx.zones)
        check("... never twice (state in PostgreSQL)", "2 already reported" in p.stderr, p.stderr)
    finally:
        subprocess.run(as_user + [pg_ctl, "-D", data, "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
    # The database is down now: the verdicts still come, each row is dropped and counted, and
    # the time spent is bounded (one connect attempt per 30 s pause; 500 ms at most each).
    t = time.time()
    p = fx.verify(conf, DAY1 + "T10:00:00Z", files=messages()[:20])
    secs = time.time() - t
    check("... PostgreSQL down: 20 verdicts printed, rows dropped and counted, exit 1 (%.2f s)"
          % secs, len(p.stdout.splitlines()) == 20 and p.returncode == 1 and
          "0 record(s) written" in p.stderr and "dropped" in p.stderr and secs < 30,
          p.stderr[-400:])


def main():
    fx = Fixture()
    try:
        conf, db, _ = check_verify_and_out(fx)
        check_sendmail(fx, conf, db)
        check_catch_up(fx)
        check_concurrent_sqlite(fx)
        check_serve(fx)
        check_postgres(fx)
    finally:
        shutil.rmtree(fx.dir, ignore_errors=True)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
