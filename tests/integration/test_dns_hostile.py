#!/usr/bin/python3
"""What a hostile DNS zone (or file) can make credence do, end to end, against a BIND named on
127.0.0.1 and the real binaries (the measurements of tests/bench/hostile_dns.py, smaller):

  - names with the characters a zone file gives a meaning to, white space and \\DDD spellings
    are asked through c-ares and answered (tool_dnsquery);
  - an SPF check whose exists:%{l} builds such a name from the local-part passes, and its
    --record file replays offline to the same result (RFC 1035 §5.1 escapes);
  - `credence serve` fed 200 messages x 16 signatures at a 60 KB wildcard key stays under
    64 MiB of resident memory (the DNS cache keeps no answer over 4 KiB; unbounded it holds
    ~200 MB here);
  - an exp= of %{S} over a 62 KB TXT record gives an explanation of at most 1,024 bytes;
  - --zone /dev/zero and --zone FIFO are refused at once (exit 2), nothing read.

Env: CREDENCE_BIN, CREDENCE_TOOLS (the build's tests/ folder, for tool_dnsquery). Prints one
PASS/FAIL line per check; exit 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "bench"))
from named_fixture import Named  # noqa: E402
import hostile_dns  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN") or os.path.join(SRC, "build", "plugin", "cli", "credence")
TOOLS = os.environ.get("CREDENCE_TOOLS") or os.path.join(SRC, "build", "tests")
FAILURES = []


def check(name, ok, detail=""):
    print(("PASS" if ok else "FAIL") + ": " + name + ("" if ok else "  -- " + str(detail)[:800]))
    sys.stdout.flush()
    if not ok:
        FAILURES.append(name)


# Owners only: BIND's check-names refuses such names as MX targets or A owners in a primary.
NAMES_ZONE = r'''a\;b\(c\)\"d IN TXT "semicolon name"
sp\032ace IN TXT "space name"
@ IN TXT "v=spf1 exists:%{l}.x.evil.test -all"
*.x IN A 127.0.0.2
mx IN MX 10 mail.evil.test.
mx IN MX 20 .
'''


def check_names(port, work):
    tool = os.path.join(TOOLS, "tool_dnsquery")
    out = subprocess.run([tool, "--dns", "127.0.0.1:%d" % port,
                          'a;b(c)"d.evil.test', "TXT", "A\\059b\\(c)\\034d.EVIL.test.", "TXT",
                          "sp ace.evil.test", "TXT", "sp\\032ace.evil.test", "TXT",
                          "mx.evil.test", "MX"], capture_output=True, text=True, timeout=60)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    check("tool_dnsquery answered every question", len(answers) == 5, out.stderr)
    if len(answers) != 5:
        return
    for a, want in zip(answers[:4], ["semicolon name"] * 2 + ["space name"] * 2):
        got = [r["data"] for r in a["records"]]
        check("c-ares asks %r and gets its TXT" % a["name"], a["outcome"] == "ok" and got == [want],
              a)
    prefs = sorted((r["preference"], r["data"]) for r in answers[4]["records"])
    check("null MX (RFC 7505) comes back as an empty target", prefs == [(10, "mail.evil.test"),
                                                                        (20, "")], answers[4])

    # SPF exists:%{l} with a local-part that needs escapes, live and replayed from --record.
    msg = os.path.join(work, "m.eml")
    with open(msg, "w") as f:
        f.write("From: a@evil.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\nbody\r\n")
    rec = os.path.join(work, "rec.zone")
    args = ["--client-ip", "192.0.2.9", "--mail-from", 'a;b(c)"d e@evil.test', "--format",
            "json", "-q", msg]
    live = subprocess.run([BIN, "verify", "--dns", "127.0.0.1:%d" % port, "--record", rec] + args,
                          capture_output=True, text=True, timeout=60)
    spf_live = json.loads(live.stdout)["spf"] if live.returncode == 0 else {}
    check("SPF exists:%{l} with local-part 'a;b(c)\"d e': pass against named",
          spf_live.get("result") == "pass", (live.returncode, live.stderr, spf_live))
    text = open(rec).read() if os.path.exists(rec) else ""
    check("--record writes the name escaped", 'a\\;b\\(c\\)\\"d\\032e.x.evil.test. 300 IN A '
          '127.0.0.2' in text and "not representable" not in text, text)
    replay = subprocess.run([BIN, "verify", "--zone", rec] + args, capture_output=True, text=True,
                            timeout=60)
    spf_replay = json.loads(replay.stdout)["spf"] if replay.returncode == 0 else {}
    check("--zone replays the recording to the same SPF result", spf_replay == spf_live,
          (replay.stderr, spf_replay, spf_live))


def check_serve_memory():
    r = hostile_dns.serve_memory(BIN, messages=200, signatures=16, key_kb=60)
    print("serve: 200 messages x 16 signatures at a 60 KB wildcard key: RSS at start %.1f MB, "
          "peak %.1f MB, %.1f s" % (r["start_mb"], r["peak_mb"], r["seconds"]))
    check("every signature evaluated", sum(r["results"].values()) == 3200, r["results"])
    check("serve stays under 64 MiB (peak %.1f MB)" % r["peak_mb"], r["peak_mb"] < 64, r)


def check_exp():
    r = hostile_dns.exp_explanation(BIN)
    print("exp: explanation %d bytes, %.2f s, peak RSS %.1f MB" % (len(r["explanation"]),
                                                                 r["seconds"], r["peak_mb"]))
    check("62 KB exp= of %{S}: spf=fail with a 1,024-byte explanation",
          r["result"] == "fail" and len(r["explanation"]) == 1024, r)
    check("and quickly (under 10 s, generous)", r["seconds"] < 10, r["seconds"])


def check_zone_files(work):
    r = hostile_dns.zone_dev_zero(BIN)
    check("--zone /dev/zero: exit 2, 'not a regular file', at once",
          r["exit"] == 2 and "not a regular file" in r["stderr"] and r["seconds"] < 10, r)
    fifo = os.path.join(work, "fifo.zone")
    os.mkfifo(fifo)
    start = time.monotonic()
    try:
        p = subprocess.run([BIN, "spf", "--ip", "192.0.2.1", "--mail-from", "a@evil.test",
                            "--zone", fifo], capture_output=True, text=True, timeout=30)
        result = (p.returncode, p.stderr)
    except subprocess.TimeoutExpired:
        result = ("still waiting after 30 s", "")
    check("--zone FIFO (no writer): exit 2 without waiting",
          result[0] == 2 and "not a regular file" in result[1] and time.monotonic() - start < 10,
          result)


def main():
    for path in (BIN, os.path.join(TOOLS, "tool_dnsquery")):
        if not os.access(path, os.X_OK):
            print("FAIL: %s not found (set CREDENCE_BIN / CREDENCE_TOOLS)" % path)
            return 1
    work = tempfile.mkdtemp(prefix="credence-hostile-")
    try:
        with Named({"evil.test": NAMES_ZONE}) as ns:
            check_names(ns.port, work)
        check_serve_memory()
        check_exp()
        check_zone_files(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
