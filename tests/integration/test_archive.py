#!/usr/bin/python3
"""`credence verify` over archives: offline re-verification of many messages at once.

Inputs are generated at test time in a temp dir (keys from tests/data/example/keys, messages
signed with dkimpy with t= pinned), DNS comes from zone files or a throwaway BIND named on
127.0.0.1 (named_fixture). Checks, one line each:
  - the same messages as .eml files, an mboxrd mbox (bodies with "From " lines quoted as
    ">From " / ">>From "), an mboxo mbox (--mbox-format mboxo), a gzip mbox, a maildir
    (cur/ + new/) and stdin all give the same JSON per message, in input order, with `file`
    naming "path", "path:N", "dir/cur/name", "-", "-:N";
  - many paths at once; a missing path is an error line (exit 1) and the rest is still done;
  - --jobs 1 and --jobs 2 give identical output (JSON and text);
  - DNS de-duplication: 200 messages from 10 domains through a DelayProxy ask each question
    once, and the run takes far less than 200 x the delay;
  - --record FILE against named, then --zone FILE with named stopped: identical JSON;
  - --at (fixed times, `received`, bad values exit 2);
  - the summary on stderr (counts, failing domains, testing-mode signatures), --quiet,
    --summary; no progress line without a terminal, a progress line on a pty;
  - bounded memory: a ~200 MB mbox verified with max RSS under 64 MB (peak_rss.py);
  - delivered mail as Exim writes it: --envelope received=HOST (the envelope from the topmost
    Received field only, the null sender, another host's field on top) and --compare-authres
    (same verdicts, a change after delivery, forgeries below our Received still listed, the
    SPF-only DMARC pass that differs without the envelope), text, summary, usage errors.

Env: CREDENCE_BIN (the credence binary), CREDENCE_SRC (source dir), CREDENCE_KEEP_TMP=1 keeps
the temp dir. Run with /usr/bin/python3 (Debian's dkim module). Prints PASS/FAIL per check;
exit 1 on any failure.
"""
import base64
import gzip
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_fixture import DelayProxy, Named  # noqa: E402
import peak_rss  # noqa: E402

import dkim  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
SRC = os.environ.get("CREDENCE_SRC",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KEYS = os.path.join(SRC, "tests", "data", "example", "keys")
FAILURES = []

T_SIGN = 1700000000            # t= of every signature (Tue, 14 Nov 2023 22:13:20 UTC)
T_AT = 1700000100              # the fixed --at of runs that compare output
X_EXPIRE = 1700092800          # x= of the expiring signature (Thu, 16 Nov 2023 00:00:00 UTC)
DOMAINS = [f"dom{i}.test" for i in range(10)]


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"))
    sys.stdout.flush()
    if not ok:
        FAILURES.append(name)
    return ok


def run_suite(name, body):
    """The runner the archive tests share: checks that the credence binary is there, runs
    body(tmp) in a new temporary directory (kept with CREDENCE_KEEP_TMP=1, else removed, read-only
    directories a test made included), prints the failure count and time, and returns the exit
    status: 1 on any failure."""
    if not os.access(BIN, os.X_OK) and not shutil.which(BIN):
        print(f"FAIL credence binary not found: {BIN}")
        return 1
    tmp = tempfile.mkdtemp(prefix=f"credence-{name}-")
    start = time.monotonic()
    try:
        body(tmp)
    finally:
        if os.environ.get("CREDENCE_KEEP_TMP"):
            print("kept", tmp)
        else:
            os.chmod(tmp, 0o755)
            for root, dirs, _ in os.walk(tmp):
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o755)
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{name}: {len(FAILURES)} failure(s) in {time.monotonic() - start:.1f} s")
    return 1 if FAILURES else 0


# ---------------------------------------------------------------------------------------------
# Keys, zones, signing

def der(args):
    return subprocess.run(["openssl"] + args + ["-outform", "DER"], check=True,
                          capture_output=True).stdout


def txt(value):
    parts = [value[i:i + 200] for i in range(0, len(value), 200)]
    return " ".join(f'"{p}"' for p in parts)


RSA_KEY = open(os.path.join(KEYS, "rsa2048.pem"), "rb").read()
TESTING_KEY = open(os.path.join(KEYS, "testing.pem"), "rb").read()
RSA_PUB = base64.b64encode(der(["pkey", "-in", os.path.join(KEYS, "rsa2048.pem"), "-pubout"])).decode()
TESTING_PUB = base64.b64encode(
    der(["pkey", "-in", os.path.join(KEYS, "testing.pem"), "-pubout"])).decode()
ED_SEED = base64.b64encode(der(["pkey", "-in", os.path.join(KEYS, "ed25519.pem")])[-32:])
ED_PUB = base64.b64encode(
    der(["pkey", "-in", os.path.join(KEYS, "ed25519.pem"), "-pubout"])[-32:]).decode()


def zone_records(domain):
    """Records of one domain's zone, relative to its origin."""
    return (f"rsa._domainkey IN TXT {txt('v=DKIM1; k=rsa; p=' + RSA_PUB)}\n"
            f"ed._domainkey IN TXT \"v=DKIM1; k=ed25519; p={ED_PUB}\"\n"
            f"tst._domainkey IN TXT {txt('v=DKIM1; k=rsa; t=y; p=' + TESTING_PUB)}\n"
            f"_dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}\"\n"
            f"@ IN TXT \"v=spf1 a:mail.{domain} mx -all\"\n"
            f"mail IN A 192.0.2.10\n")


def zone_file(tmp):
    """One zone file per domain (with SOA and NS); returns the --zone arguments."""
    args = []
    for d in DOMAINS:
        path = os.path.join(tmp, f"{d}.zone")
        with open(path, "w") as f:
            f.write(f"$ORIGIN {d}.\n$TTL 300\n@ IN SOA ns.{d}. hostmaster.{d}. 1 3600 600 86400 300\n"
                    f"@ IN NS ns.{d}.\nns IN A 127.0.0.1\n" + zone_records(d))
        args += ["--zone", path]
    return args


_EXPIRE = [None]
_gen_header = dkim.DKIM.gen_header


def _gen_header_with_x(self, fields, *args, **kwargs):
    # dkimpy has no x= parameter: add it just before b= (which is signed over the fields).
    if _EXPIRE[0] is not None and fields and fields[-1][0] == b"b":
        fields = fields[:-1] + [(b"x", str(_EXPIRE[0]).encode())] + fields[-1:]
    return _gen_header(self, fields, *args, **kwargs)


dkim.DKIM.gen_header = _gen_header_with_x
_real_time = time.time


def sign(msg, domain, selector, key=RSA_KEY, algorithm=b"rsa-sha256",
         canon=(b"relaxed", b"relaxed"), expire=None, length=False):
    _EXPIRE[0] = expire
    time.time = lambda: T_SIGN
    try:
        sig = dkim.sign(msg, selector.encode(), domain.encode(), key, canonicalize=canon,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                        signature_algorithm=algorithm, length=length)
    finally:
        time.time = _real_time
        _EXPIRE[0] = None
    return sig + msg


def message(n, domain, body, subject=None):
    return (f"From: Sender {n} <sender{n}@{domain}>\r\nTo: rcpt@example.net\r\n"
            f"Subject: {subject or f'archive test {n}'}\r\n"
            f"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <archive-{n}@{domain}>\r\n"
            f"\r\n{body}").encode()


def message_set():
    """The messages every input format must agree on: (name, bytes, expected summary)."""
    out = []
    # 1: "From " and ">From " body lines; an mboxrd writer stores ">From " and ">>From ".
    body1 = ("Hello,\r\nFrom the start of a line.\r\n>From a line already quoted.\r\n"
             "bye\r\n")
    out.append(("m1", sign(message(1, "dom0.test", body1), "dom0.test", "rsa"),
                ("pass", "", "pass")))
    # 2: Ed25519, simple/simple (exact bytes), "From " and ">>From " body lines.
    body2 = "From x to y.\r\n>>From deep quoting.\r\n  From indented stays.\r\n"
    out.append(("m2", sign(message(2, "dom1.test", body2), "dom1.test", "ed", ED_SEED,
                           b"ed25519-sha256", (b"simple", b"simple")),
                ("pass", "", "pass")))
    # 3: body changed after signing.
    signed = sign(message(3, "dom2.test", "Pay 10 EUR.\r\n"), "dom2.test", "rsa")
    out.append(("m3", signed.replace(b"10 EUR", b"99 EUR"), ("fail", "body_hash_mismatch", "fail")))
    # 4: a t=y key.
    out.append(("m4", sign(message(4, "dom3.test", "Testing.\r\nFrom here on.\r\n"), "dom3.test",
                           "tst", TESTING_KEY), ("pass", "", "pass")))
    # 5: unsigned, From a p=reject domain.
    out.append(("m5", message(5, "dom4.test", "No signature.\r\n"), (None, None, "fail")))
    # 6: a selector with no key.
    out.append(("m6", sign(message(6, "dom5.test", "Gone.\r\n"), "dom5.test", "gone"),
                ("permerror", "no_key", "fail")))
    # 7: simple/simple RSA with a "From " line right after the blank line.
    out.append(("m7", sign(message(7, "dom6.test", "From the top.\r\n\r\nFrom again.\r\n"),
                           "dom6.test", "rsa", canon=(b"simple", b"simple")),
                ("pass", "", "pass")))
    return out


# ---------------------------------------------------------------------------------------------
# Archive writers

def to_lf(data):
    return data.replace(b"\r\n", b"\n")


def mbox_bytes(messages, fmt="mboxrd"):
    out = bytearray()
    for i, data in enumerate(messages):
        body = to_lf(data)
        if fmt == "mboxrd":
            body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
        else:
            body = re.sub(rb"(?m)^From ", rb">From ", body)
        if not body.endswith(b"\n"):
            body += b"\n"
        out += b"From sender%d@example.test Tue Nov 14 22:13:%02d 2023\n" % (i, i % 60)
        out += body + b"\n"
    return bytes(out)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------------------------------------
# Running credence

def run(args, stdin=None, timeout=120):
    start = time.monotonic()
    p = subprocess.run([BIN, "verify"] + args, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), \
        time.monotonic() - start


def lines_of(out):
    objs = []
    for line in out.splitlines():
        try:
            objs.append(json.loads(line))
        except ValueError:
            objs.append({"unparsable": line})
    return objs


def without_file(o):
    return {k: v for k, v in o.items() if k != "file"}


def summary_of(o):
    """(first dkim result, its reason, dmarc result) of one JSON line."""
    if "dkim" not in o:
        return ("error", o.get("error"), None)
    d = o["dkim"][0] if o["dkim"] else {}
    return (d.get("result"), d.get("reason"), o.get("dmarc", {}).get("result"))


# ---------------------------------------------------------------------------------------------
# Checks

def check_formats(tmp, zone):
    msgs = message_set()
    datas = [m[1] for m in msgs]
    expected = [m[2] for m in msgs]
    base = ["--format", "json", "--at", str(T_AT), "--jobs", "2"] + zone

    emls = [write(os.path.join(tmp, "eml", f"{i + 1:02d}-{m[0]}.eml"), m[1])
            for i, m in enumerate(msgs)]
    rc, out, err, _ = run(base + emls)
    ref = lines_of(out)
    check("eml: exit 0, one line per message", rc == 0 and len(ref) == len(msgs), f"rc={rc} {err}")
    got = [summary_of(o) for o in ref]
    check("eml: verdicts as expected", got == expected, f"{got} != {expected}")
    check("eml: file names the path", [o.get("file") for o in ref] == emls,
          [o.get("file") for o in ref])
    check("eml: evaluated_at is --at", all(o.get("evaluated_at") == T_AT for o in ref))
    check("eml: m4 signature is testing-mode", len(ref) > 3 and ref[3]["dkim"]
          and ref[3]["dkim"][0].get("testing") is True)
    ref_body = [without_file(o) for o in ref]

    def same(label, path_names, args, stdin=None, expect=None, fmt_args=()):
        rc, out, err, _ = run(base + list(fmt_args) + args, stdin=stdin)
        objs = lines_of(out)
        ok_rc = check(f"{label}: exit 0, {len(path_names)} lines", rc == 0 and len(objs) == len(path_names),
                      f"rc={rc} lines={len(objs)} {err[-300:]}")
        names = [o.get("file") for o in objs]
        check(f"{label}: file names in input order", names == path_names, f"{names}")
        want = expect if expect is not None else ref_body
        if ok_rc:
            diff = [i + 1 for i, (a, b) in enumerate(zip([without_file(o) for o in objs], want))
                    if a != b]
            check(f"{label}: same JSON per message as the .eml files", not diff,
                  f"messages {diff} differ: {[summary_of(objs[i - 1]) for i in diff]}")
        return objs

    mboxrd = write(os.path.join(tmp, "box.mboxrd"), mbox_bytes(datas, "mboxrd"))
    raw = open(mboxrd, "rb").read()
    check("mboxrd writer quoted '>From ' and '>>From ' lines",
          b"\n>From the start" in raw and b"\n>>From a line already" in raw and
          b"\n>>>From deep" in raw)
    same("mboxrd", [f"{mboxrd}:{i + 1}" for i in range(len(msgs))], [mboxrd])

    gz = write(os.path.join(tmp, "box.mbox.gz"), gzip.compress(raw))
    same("gzip mbox", [f"{gz}:{i + 1}" for i in range(len(msgs))], [gz])

    # mboxo cannot store a body line ">From " (m1): the rest round-trips with --mbox-format mboxo.
    o_idx = [i for i in range(len(msgs)) if msgs[i][0] != "m1"]
    mboxo = write(os.path.join(tmp, "box.mboxo"), mbox_bytes([datas[i] for i in o_idx], "mboxo"))
    same("mboxo (--mbox-format mboxo)", [f"{mboxo}:{k + 1}" for k in range(len(o_idx))], [mboxo],
         expect=[ref_body[i] for i in o_idx], fmt_args=["--mbox-format", "mboxo"])
    # Read as mboxrd, the same file loses a '>' of m2's ">>From " line: body hash fails.
    rc, out, _, _ = run(base + [mboxo])
    objs = lines_of(out)
    check("mboxo read as mboxrd: m2's '>>From ' line unquoted once too often -> body hash fails",
          len(objs) == len(o_idx) and summary_of(objs[0])[:2] == ("fail", "body_hash_mismatch"),
          [summary_of(o) for o in objs])

    # Maildir: m1..m3 in cur/ (names sort in order), the rest in new/; dot files and tmp/ ignored.
    md = os.path.join(tmp, "Maildir")
    names = []
    for i, data in enumerate(datas):
        sub = "cur" if i < 3 else "new"
        fname = f"{1700000000 + i}.M{i}P1.host" + (":2,S" if sub == "cur" else "")
        write(os.path.join(md, sub, fname), to_lf(data))
        names.append(f"{md}/{sub}/{fname}")
    write(os.path.join(md, "cur", ".hidden"), b"not a message")
    write(os.path.join(md, "tmp", "partial"), b"From: half\n")
    same("maildir (cur/ then new/)", names, [md])

    same("stdin single message", ["-"], ["-"], stdin=datas[0], expect=ref_body[:1])
    same("stdin mbox", [f"-:{i + 1}" for i in range(len(msgs))], ["-"], stdin=raw)

    # Many paths at once, a missing one among them.
    missing = os.path.join(tmp, "no-such.mbox")
    rc, out, err, _ = run(base + [emls[0], mboxrd, missing, md, emls[1]])
    objs = lines_of(out)
    files = [o.get("file") for o in objs]
    want_files = ([emls[0]] + [f"{mboxrd}:{i + 1}" for i in range(len(msgs))] + [missing] + names +
                  [emls[1]])
    check("many paths: every message in input order", files == want_files, f"{files}")
    err_lines = [o for o in objs if "error" in o]
    check("many paths: the missing path is one error line",
          len(err_lines) == 1 and err_lines[0]["file"] == missing and
          "no such file" in err_lines[0]["error"], f"{err_lines}")
    check("many paths: exit 1 with a missing path", rc == 1, f"rc={rc}")
    check("many paths: the others are verified",
          [summary_of(o) for o in objs if "error" not in o] ==
          [expected[0]] + expected + expected + [expected[1]])
    rc, out, err, _ = run(["--at", str(T_AT)] + zone + [missing, emls[0]])
    check("text: missing path reported on stderr, exit 1, the next still verified",
          rc == 1 and f"{missing}: error:" in err and f"{emls[0]}: 1 DKIM signature" in out,
          f"rc={rc} out={out[:200]} err={err[:200]}")
    return mboxrd, raw


def check_jobs(tmp, zone, big_mbox):
    outs = {}
    for fmt in ("json", "text"):
        for jobs in ("1", "2"):
            rc, out, err, _ = run(["--format", fmt, "--at", str(T_AT), "--jobs", jobs, "-q"] + zone +
                                  [big_mbox])
            outs[(fmt, jobs)] = (rc, out)
    n = len(lines_of(outs[("json", "1")][1]))
    check("--jobs 1 and --jobs 2: identical JSON", outs[("json", "1")] == outs[("json", "2")]
          and n == 220, f"lines={n}")
    check("--jobs 1 and --jobs 2: identical text", outs[("text", "1")] == outs[("text", "2")]
          and outs[("text", "1")][1].count("1 DKIM signature") >= 200)


def dedup_messages():
    """200 messages from 10 domains (20 distinct, each repeated ten times), plus 20 others."""
    distinct = [sign(message(100 + k, DOMAINS[k % 10], f"Message {k}.\r\nFrom me.\r\n"),
                     DOMAINS[k % 10], "rsa") for k in range(20)]
    return [distinct[i % 20] for i in range(200)]


def check_dns(tmp, zone, dedup_mbox, formats_mbox):
    zones = {d: zone_records(d) for d in DOMAINS}
    rec = os.path.join(tmp, "recorded.zone")
    envelope = ["--client-ip", "192.0.2.10", "--helo", "mail.dom0.test",
                "--mail-from", "bounce@dom0.test"]
    with Named(zones) as ns:
        delay = 0.1
        with DelayProxy(ns.port, delay=delay) as proxy_port:
            proxy = _current_proxy[0]
            rc, out, err, secs = run(["--format", "json", "--dns", f"127.0.0.1:{proxy_port}",
                                      "--jobs", "2", "-q", dedup_mbox])
            objs = lines_of(out)
            questions = list(proxy.questions)
        check("dedup: 200 messages verified, all pass", rc == 0 and len(objs) == 200 and
              all(summary_of(o) == ("pass", "", "pass") for o in objs),
              f"rc={rc} n={len(objs)} {err[-300:]}")
        counts = {}
        for q in questions:
            counts[q] = counts.get(q, 0) + 1
        repeated = {q: c for q, c in counts.items() if c > 1}
        keys = {q for q in counts if "._domainkey." in q[0]}
        check("dedup: each DNS question asked once", not repeated and len(keys) == 10,
              f"repeated={repeated} keys={len(keys)} total={len(questions)}")
        check(f"dedup: {secs:.2f} s, far less than 200 x {delay} s", secs < 200 * delay / 5,
              f"{secs:.2f} s")
        print(f"  info: dedup run {secs:.2f} s, {len(questions)} DNS questions for 200 messages")

        # Progress on a terminal: the first results arrive after >= 0.3 s of DNS delay, so the
        # line (drawn at most 5 times a second) must show up.
        with DelayProxy(ns.port, delay=0.3) as slow_port:
            rc, pty_out = run_on_pty(["--format", "json", "--dns", f"127.0.0.1:{slow_port}",
                                      "--jobs", "1", formats_mbox])
        check("pty: progress line drawn on a terminal",
              re.search(r"\r\d+ messages  \d+/s", pty_out) is not None, repr(pty_out[-300:]))
        check("pty: progress line cleared at the end and the summary follows",
              "\r\x1b[K" in pty_out and "summary: 7 messages" in pty_out, repr(pty_out[-300:]))
        # stdout on the same terminal: each result starts on a clean line, never after the
        # progress text.
        with DelayProxy(ns.port, delay=0.3) as slow_port:
            rc, both = run_on_pty(["--dns", f"127.0.0.1:{slow_port}", "--jobs", "1", formats_mbox],
                                  stdout_too=True)
        glued = re.search(r"\d+/s[^\r\n]*" + re.escape(formats_mbox), both)
        check("pty: results on the terminal never land on the progress line",
              rc == 0 and both.count(": 1 DKIM signature") == 6 and glued is None,
              repr(glued.group(0) if glued else both[-300:]))

        rc, out_live, err, _ = run(["--format", "json", "--at", str(T_AT), "--dns",
                                    f"127.0.0.1:{ns.port}", "--record", rec, "-q"] + envelope +
                                   [formats_mbox, dedup_mbox])
        check("record: exit 0 against named, zone file written",
              rc == 0 and os.path.exists(rec) and os.path.getsize(rec) > 0, f"rc={rc} {err[-300:]}")
        live = lines_of(out_live)
        spf = [o.get("spf", {}).get("result") for o in live]
        check("record: SPF evaluated through the same DNS (pass via a: mechanism)",
              spf and all(r == "pass" for r in spf), f"{set(spf)}")
    # named is stopped now: the replay must not need it.
    rc, out_replay, err, _ = run(["--format", "json", "--at", str(T_AT), "--zone", rec, "-q"] +
                                 envelope + [formats_mbox, dedup_mbox])
    check("replay: --zone recorded file with named stopped gives identical JSON",
          rc == 0 and out_replay == out_live and len(live) == 207,
          f"rc={rc} {err[-300:]} first diff: {first_diff(out_live, out_replay)}")
    rc, out_zone, _, _ = run(["--format", "json", "--at", str(T_AT), "-q"] + zone + envelope +
                             [formats_mbox, dedup_mbox])
    check("replay: same JSON as the hand-written zone files", out_zone == out_live,
          first_diff(out_live, out_zone))
    # Without --at only evaluated_at (the time of the run) may differ.
    rc, out_now, _, _ = run(["--format", "json", "--zone", rec, "-q"] + envelope + [formats_mbox])
    now = lines_of(out_now)
    check("replay without --at: identical but for evaluated_at (and its source: now)",
          [dict(o, evaluated_at=0, evaluated_at_source="") for o in now] ==
          [dict(o, evaluated_at=0, evaluated_at_source="") for o in live[:7]]
          and all(abs(o.get("evaluated_at", 0) - _real_time()) < 120 and
                  o.get("evaluated_at_source") == "now" for o in now))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
        if x != y:
            return f"line {i + 1}:\n  {x[:400]}\n  {y[:400]}"
    return f"lengths {len(a.splitlines())} vs {len(b.splitlines())}"


_current_proxy = [None]
_DelayProxyEnter = DelayProxy.__enter__


def _enter(self):
    _current_proxy[0] = self
    return _DelayProxyEnter(self)


DelayProxy.__enter__ = _enter


def run_on_pty(args, timeout=60, stdout_too=False):
    """Runs credence verify with stderr (and stdout when `stdout_too`) on a pseudo-terminal;
    returns (rc, what it wrote there). Otherwise stdout goes to /dev/null."""
    master, slave = pty.openpty()
    with open(os.devnull, "wb") as devnull:
        p = subprocess.Popen([BIN, "verify"] + args, stdout=slave if stdout_too else devnull,
                             stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    os.close(master)
    rc = p.wait(10)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def check_at(tmp, zone):
    body = "This signature expires on Thu, 16 Nov 2023 00:00:00 UTC.\r\n"
    signed = sign(message(300, "dom7.test", body), "dom7.test", "rsa", expire=X_EXPIRE)
    check("--at: the test signature carries x=", b"x=%d" % X_EXPIRE in signed)
    path = write(os.path.join(tmp, "at", "expiring.eml"), signed)

    def verdict(args, paths=(path,)):
        rc, out, err, _ = run(["--format", "json"] + zone + list(args) + list(paths))
        objs = lines_of(out)
        return rc, [(summary_of(o)[:2], o.get("evaluated_at")) for o in objs], err

    rc, v, err = verdict([])
    # The verdict word for an expired signature is the DKIM layer's choice (permerror today);
    # the reason must be `expired`, and it must not pass.
    expired = v[0][0] if len(v) == 1 else ("?", "?")
    check("--at: x= in the past fails as expired now",
          rc == 0 and expired[0] in ("fail", "permerror", "policy") and expired[1] == "expired",
          f"{v} {err}")
    for at, when in (("1700040000", 1700040000), ("2023-11-15", 1700006400),
                     ("2023-11-15T23:59:59Z", 1700092799), ("2023-11-15T23:59:59", 1700092799)):
        rc, v, err = verdict(["--at", at])
        check(f"--at {at}: passes before x=", rc == 0 and v == [(("pass", ""), when)], f"{v} {err}")
    rc, v, _ = verdict(["--at", "2023-11-16T00:00:01Z"])
    check("--at 2023-11-16T00:00:01Z: just after x= is expired", v == [(expired, 1700092801)],
          f"{v}")
    rc, v, _ = verdict(["--at", "1699999000"])
    check("--at before t=: the signature is from the future",
          len(v) == 1 and v[0][0][0] != "pass" and v[0][0][1] == "future_timestamp", f"{v}")

    # --at received: the date of the topmost Received field (an older one below is ignored).
    older = b"Received: from relay.example by mx.example; Tue, 14 Nov 2023 22:14:00 +0000\r\n"

    def received(date):
        return (b"Received: from mx.example (mx.example [192.0.2.25])\r\n\tby mail.example with ESMTP"
                b" id abc; " + date.encode() + b"\r\n")
    cases = [
        ("before-x.eml", received("Wed, 15 Nov 2023 10:00:00 +0000") + older + signed,
         ("pass", ""), 1700042400),
        # 23:59 at -0100 is 00:59 UTC on the 16th: after x=.
        ("after-x-offset.eml", received("Wed, 15 Nov 2023 23:59:00 -0100") + older + signed,
         expired, 1700096340),
        # 00:30 at +0100 is 23:30 UTC on the 15th: before x=. Comments and no day name.
        ("before-x-offset.eml", received("16 Nov 2023 00:30:00 +0100 (CET)") + signed,
         ("pass", ""), 1700091000),
        # Obsolete zone (RFC 5322 §4.3): 18:00 EST is 23:00 UTC on the 15th: before x=.
        ("obsolete-zone.eml", received("Wed, 15 Nov 2023 18:00:00 EST") + signed,
         ("pass", ""), 1700089200),
    ]
    paths = [write(os.path.join(tmp, "at", name), data) for name, data, _, _ in cases]
    no_received = path
    rc, v, err = verdict(["--at", "received"], paths + [no_received])
    want = [(c[2], c[3]) for c in cases]
    check("--at received: judged at each message's top Received date", rc == 0 and v[:4] == want,
          f"{v} != {want} {err}")
    check("--at received: no Received field -> now (expired)",
          len(v) == 5 and v[4][0] == expired and abs(v[4][1] - _real_time()) < 120,
          f"{v[4:]}")
    mbox = write(os.path.join(tmp, "at", "received.mbox"), mbox_bytes([c[1] for c in cases]))
    rc, v2, _ = verdict(["--at", "received"], [mbox])
    check("--at received: same from an mbox", v2 == want, f"{v2}")

    for bad in ("yesterday", "2023-13-01", "2023-11-15T25:00:00", "2023-11-15T10:00:00+01:00",
                "1700000000.5", "-5", "2023-11-15x", "2023-02-30", "99999999999999999999"):
        rc, out, err, _ = run(["--at", bad] + zone + [path])
        check(f"--at {bad!r}: exit 2, nothing verified", rc == 2 and out == "" and "--at" in err,
              f"rc={rc} out={out[:100]!r} err={err[:200]!r}")


def check_summary(tmp, zone, mboxrd, eml):
    rc, out, err, _ = run(["--at", str(T_AT)] + zone + [mboxrd])
    check("summary: printed on stderr for several messages", "summary: 7 messages (0 unreadable)" in err,
          err)
    check("summary: DKIM counts per result",
          re.search(r"dkim:\s+6 signatures: fail 1, pass 4, permerror 1; 1 message unsigned", err)
          is not None, err)
    check("summary: DMARC counts per result", re.search(r"dmarc: fail 3, pass 4", err) is not None, err)
    check("summary: SPF not evaluated without --client-ip", re.search(r"spf:\s+-", err) is not None, err)
    check("summary: failing domains listed",
          "dkim failing most (fail/permerror by d=): dom2.test 1, dom5.test 1" in err and
          re.search(r"dmarc failing most \(by From domain\): [^\n]*dom4\.test 1", err) is not None, err)
    check("summary: failing signatures by reason and by selector",
          re.search(r"dkim failures by reason: \S+ 1, \S+ 1\n", err) is not None and
          "body_hash_mismatch 1" in err and
          re.search(r"dkim failing most by selector: \S+\._domainkey\.dom[25]\.test 1, "
                    r"\S+\._domainkey\.dom[25]\.test 1\n", err) is not None, err)
    # An l= signature passes with a footer appended after signing: its unsigned bytes counted.
    footer = b"Unsubscribe: https://list.example/\r\n"
    lmsg = sign(message(8, "dom0.test", "Signed part.\r\n"), "dom0.test", "rsa", length=True)
    lbox = os.path.join(tmp, "summary-l.mbox")
    with open(lbox, "wb") as f:
        f.write(mbox_bytes([lmsg + footer, lmsg]))
    rc, _, lerr, _ = run(["--at", str(T_AT), "--summary"] + zone + [lbox])
    check("summary: l= passes with unsigned body bytes counted",
          f"l= signatures passing with unsigned body bytes: 1 ({len(footer)} bytes unsigned), "
          "by d=: dom0.test 1" in lerr, lerr)
    check("summary: testing-mode signatures", "testing-mode (t=y) signatures: 1, by d=: dom3.test 1" in err,
          err)
    check("summary: dispositions of DMARC failures", "dmarc failures by disposition: reject 3" in err, err)
    check("no progress line when stderr is not a terminal", "\r" not in err and "/s  " not in err, repr(err))
    rc, out, err, _ = run(["--at", str(T_AT), "--quiet"] + zone + [mboxrd])
    check("--quiet: no summary, nothing on stderr", err == "" and out.count(": 1 DKIM signature") == 6,
          repr(err))
    rc, out, err, _ = run(["--at", str(T_AT)] + zone + [eml])
    check("one message: no summary by default", "summary:" not in err, err)
    rc, out, err, _ = run(["--at", str(T_AT), "--summary"] + zone + [eml])
    check("--summary: summary for one message", "summary: 1 message (" in err, err)
    rc, out, err, _ = run(["--at", str(T_AT), "--summary", "--quiet"] + zone + [eml])
    check("--quiet wins over --summary", err == "", err)


def check_memory(tmp, zone, label, line_count, target_mb):
    """One signed message of `line_count` body lines repeated to ~target_mb: fast to write,
    too much to keep in memory."""
    body = "".join(f"Line {i:06d} of a long message body, the same text again and again.\r\n"
                   for i in range(line_count))
    one = to_lf(sign(message(400, "dom8.test", body), "dom8.test", "rsa"))
    record = b"From big@example.test Tue Nov 14 22:13:20 2023\n" + one + b"\n"
    count = (target_mb << 20) // len(record) + 1
    path = os.path.join(tmp, "big.mbox")
    with open(path, "wb") as f:
        reps = max(1, (8 << 20) // len(record))
        chunk = record * reps
        for _ in range(count // reps):
            f.write(chunk)
        f.write(record * (count % reps))
    size = os.path.getsize(path)
    # Peak RSS from wait4 in a small helper process (peak_rss.py), not /usr/bin/time: a
    # minimal Debian has no `time` package.
    p = peak_rss.run([BIN, "verify", "--format", "json", "--at", str(T_AT), "--jobs", "2"] + zone +
                     [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    secs, cpu, rss_mb = p.seconds, p.cpu_seconds, p.max_rss_kib / 1024
    lines = p.stdout.count(b"\n")
    check(f"memory ({label}): {size >> 20} MB mbox, {count} messages, all verified",
          p.returncode == 0 and lines == count and p.stdout.count(b'dkim=pass') == count,
          f"rc={p.returncode} lines={lines} {p.stderr[-300:]}")
    check(f"memory ({label}): max RSS {rss_mb:.1f} MB < 64 MB", rss_mb < 64, f"{rss_mb:.1f} MB")
    print(f"  info: {label}: {size / 1e6:.0f} MB, {count} messages in {secs:.1f} s wall, "
          f"{cpu:.1f} s CPU ({size / 1e6 / max(cpu, 0.01):.0f} MB per CPU second), "
          f"max RSS {rss_mb:.1f} MB")
    os.unlink(path)


MX = "mx.archive.test"


def delivered(original, client_ip, helo, mail_from, zone, by=MX, above=(), below_received=()):
    """`original` as Exim delivers it after the credence snippet ran (docs/exim.md): our A-R
    (what credence computed for this envelope at delivery) above Exim's Received field (with
    its envelope-from), the transport's Return-path, Envelope-to and Delivery-date on top; LF
    line ends as in a maildir."""
    code, out, err, _ = run(["--format", "json", "--at", str(T_AT), "--authserv-id", MX,
                             "--client-ip", client_ip, "--helo", helo, "--mail-from", mail_from]
                            + zone + ["-"], stdin=original)
    ar = json.loads(out)["authentication_results"] if code == 0 else " %s; none" % MX
    env_from = "\t(envelope-from <%s>)\n" % mail_from if mail_from else ""
    head = ("Return-path: <%s>\nEnvelope-to: rcpt@example.net\n"
            "Delivery-date: Tue, 14 Nov 2023 22:15:00 +0000\n" % mail_from)
    head += "".join(h + "\n" for h in above)
    head += "Authentication-Results:%s\nX-Credence-Score: 0.0 ()\n" % ar
    head += ("Received: from [%s] (helo=%s)\n\tby %s with esmtp (Exim 4.96)\n%s"
             "\tid 1rAbCd-000042-Qx\n\tfor rcpt@example.net;\n"
             "\tTue, 14 Nov 2023 22:14:00 +0000\n" % (client_ip, helo, by, env_from))
    head += "".join(h + "\n" for h in below_received)
    return head.encode() + to_lf(original)


def check_delivered(tmp, zone):
    """Item 9 of issue 11: --envelope received[=HOST] and --compare-authres on mail built as
    Exim delivers it."""
    ip = "192.0.2.10"  # mail.domN.test: every domain's SPF lists it
    unsigned = message(50, "dom4.test", "DMARC passes through SPF alone.\r\n")
    signed = sign(message(51, "dom0.test", "Signed.\r\n"), "dom0.test", "rsa")
    later = sign(message(52, "dom2.test", "Pay 10 EUR.\r\n"), "dom2.test", "rsa")
    msgs = [
        # 1. DMARC pass by SPF alone.
        delivered(unsigned, ip, "mail.dom4.test", "sender50@dom4.test", zone),
        # 2. Signed, and a forged A-R of ours below the Received field.
        delivered(signed, ip, "mail.dom0.test", "sender51@dom0.test", zone,
                  below_received=["Authentication-Results: %s; dmarc=pass" % MX]),
        # 3. Changed after delivery: the signature no longer verifies.
        delivered(later, ip, "mail.dom2.test", "sender52@dom2.test", zone).replace(
            b"10 EUR", b"99 EUR"),
        # 4. A content filter's hop on top: the Received field of ours is not the topmost.
        b"Received: from [10.0.0.5] by filter.internal with esmtp;\n"
        b"\tTue, 14 Nov 2023 22:14:30 +0000\n" +
        delivered(unsigned, ip, "mail.dom4.test", "sender50@dom4.test", zone),
        # 5. The null sender (no envelope-from; Return-path: <>).
        delivered(message(53, "dom6.test", "A bounce.\r\n"), ip, "mail.dom6.test", "", zone),
    ]
    mdir = os.path.join(tmp, "delivered")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(mdir, sub), exist_ok=True)
    for i, m in enumerate(msgs):
        write(os.path.join(mdir, "new", "%d.delivered:2," % (i + 1)), m)
    base = ["--format", "json", "--at", "received", "--authserv-id", MX, "--compare-authres"]
    code, out, err, _ = run(base + ["--envelope", "received=" + MX] + zone + [mdir])
    got = lines_of(out)
    check("delivered: 5 results, exit 0", code == 0 and len(got) == 5, err[-300:])
    if len(got) != 5:
        return
    env = [o.get("envelope", {}) for o in got]
    cmp = [o.get("compare_authres", {}) for o in got]
    check("delivered 1: envelope from Exim's Received field",
          env[0] == {"found": True, "client_ip": ip, "helo": "mail.dom4.test",
                     "mail_from": "sender50@dom4.test"}, json.dumps(env[0]))
    check("delivered 1: SPF pass and DMARC pass again, same verdicts as at delivery",
          got[0]["spf"]["result"] == "pass" and got[0]["dmarc"]["result"] == "pass" and
          cmp[0].get("same") is True, json.dumps(cmp[0]))
    check("delivered 2: recorded A-R compared (same), the forged one below still listed",
          cmp[1].get("same") is True and len(got[1]["forged_authentication_results"]) == 1,
          json.dumps([cmp[1], got[1]["forged_authentication_results"]]))
    check("delivered 3: changed after delivery: dkim pass -> fail shown",
          {"method": "dkim", "identity": "header.d=dom2.test header.s=rsa", "then": "pass",
           "now": "fail"} in cmp[2].get("differences", []), json.dumps(cmp[2]))
    check("delivered 4: another host's Received on top: no envelope, no record",
          env[3].get("found") is False and "filter.internal" in env[3].get("note", "") and
          got[3]["spf"]["result"] == "none" and cmp[3].get("found") is False,
          json.dumps([env[3], cmp[3]]))
    check("delivered 4: our A-R below another host's Received stays a forgery",
          len(got[3]["forged_authentication_results"]) == 1,
          json.dumps(got[3]["forged_authentication_results"]))
    check("delivered 5: null sender (Return-path: <>), same verdicts",
          env[4].get("found") is True and env[4].get("mail_from") == "" and
          cmp[4].get("same") is True, json.dumps([env[4], cmp[4]]))

    # Without the envelope, SPF is none and the SPF-only DMARC pass becomes a difference.
    code, out, err, _ = run(base + zone + [mdir])
    plain = lines_of(out)
    diffs = plain[0].get("compare_authres", {}).get("differences", [])
    check("delivered 1 without --envelope: dmarc pass -> fail, spf pass -> none",
          {"method": "dmarc", "identity": "header.from=dom4.test", "then": "pass",
           "now": "fail"} in diffs and
          {"method": "spf", "identity": "smtp.mailfrom", "then": "pass", "now": "none"} in diffs,
          json.dumps(diffs))

    # Text output and the summary.
    code, out, err, _ = run(["--at", "received", "--authserv-id", MX, "--compare-authres",
                             "--envelope", "received=" + MX, "--summary"] + zone + [mdir])
    check("delivered text: envelope and recorded lines",
          "  envelope  client-ip=192.0.2.10 helo=mail.dom4.test mail-from=<sender50@dom4.test>"
          in out and "  recorded  same verdicts as at delivery" in out and
          "  recorded  differs from delivery: dkim header.d=dom2.test header.s=rsa: pass -> fail"
          in out and "no envelope: the topmost Received field is by 'filter.internal'" in out,
          out[-1500:])
    check("delivered summary: 3 same, 1 differ, 1 without a record",
          "recorded verdicts (--compare-authres): 3 same, 1 differ, 1 without a record" in err,
          err[-600:])

    # Usage errors.
    for args in (["--envelope", "received=", mdir], ["--envelope", "headers", mdir],
                 ["--envelope", "received", "--client-ip", ip, mdir]):
        code, _, err, _ = run(args + zone)
        check("usage: %s exits 2" % " ".join(args[:-1]), code == 2, err[-200:])


def check_all(tmp):
    zone = zone_file(tmp)
    mboxrd, raw = check_formats(tmp, zone)
    eml = os.path.join(tmp, "eml", "01-m1.eml")
    dedup = dedup_messages()
    dedup_mbox = write(os.path.join(tmp, "dedup.mbox"), mbox_bytes(dedup))
    big = write(os.path.join(tmp, "jobs.mbox"),
                mbox_bytes([m[1] for m in message_set()] * 2 + dedup[:6] + dedup))
    check_jobs(tmp, zone, big)
    check_dns(tmp, zone, dedup_mbox, mboxrd)
    check_at(tmp, zone)
    check_summary(tmp, zone, mboxrd, eml)
    check_delivered(tmp, zone)
    check_memory(tmp, zone, "100 KB messages", 1400, 200)
    check_memory(tmp, zone, "1 MB messages", 14000, 100)


def main():
    return run_suite("test_archive", check_all)


if __name__ == "__main__":
    sys.exit(main())
