#!/usr/bin/python3
"""`credence verify --resume STATE` (issue 17): a long run, interrupted, goes on where it
stopped, and the output is byte for byte that of one uninterrupted run. 3000 messages (each
with its own selector, so every batch asks named through a proxy that delays each answer:
the run lasts seconds, long enough to stop it half-way). Checks:
  - JSON to --output FILE, --jobs 2, killed with SIGKILL after STATE counted some results,
    then resumed: the file equals the uninterrupted run's output; the closing summary counts
    all 3000 messages, as the uninterrupted run's does;
  - CSV on stdout appended (>> FILE), stopped with SIGINT (exit 130), then SIGTERM (143), then
    finished: equal, one CSV header;
  - text to --output, SIGKILL twice: equal;
  - an archive changed since the run began is refused (exit 2, names the input and why), the
    output untouched; other options refused the same way;
  - a STATE that cannot be written: exit 2 before the first message (nothing written); a
    STATE that is not one (garbage, cut short): exit 2, nothing verified;
  - stdout to a pipe with --resume, or re-opened with '>' instead of '>>': refused, exit 2.

Env as test_archive.py. Prints PASS/FAIL per check; exit 1 on any failure.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_archive as ta  # noqa: E402
from named_fixture import DelayProxy, Named  # noqa: E402
from test_archive import check, mbox_bytes, write  # noqa: E402

import dkim  # noqa: E402

N = 3000
DOMAIN = "resume.test"
_real_time = time.time


def messages():
    out = []
    time.time = lambda: ta.T_SIGN
    try:
        for i in range(N):
            msg = (f"From: Sender {i} <s{i}@{DOMAIN}>\r\nTo: rcpt@example.net\r\n"
                   f"Subject: resume test {i}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                   f"Message-ID: <resume-{i}@{DOMAIN}>\r\n\r\nMessage {i}.\r\n").encode()
            if i % 11 == 5:
                out.append(msg)  # unsigned
                continue
            sig = dkim.sign(msg, f"s{i}".encode(), DOMAIN.encode(), ta.ED_SEED,
                            signature_algorithm=b"ed25519-sha256",
                            include_headers=[b"from", b"to", b"subject", b"date"])
            data = sig + msg
            if i % 7 == 3:
                data = data.replace(f"Message {i}.".encode(), b"Changed.")
            if i % 13 == 4:
                data = data.replace(b"Subject: resume", b"Subject: [list] resume")
            out.append(data)
    finally:
        time.time = _real_time
    return out


def zone():
    return (f"*._domainkey IN TXT \"v=DKIM1; k=ed25519; p={ta.ED_PUB}\"\n"
            f"_dmarc IN TXT \"v=DMARC1; p=reject\"\n")


def cmd(dns_port, fmt, extra=()):
    return [ta.BIN, "verify", "--format", fmt, "--at", str(ta.T_AT), "--jobs", "2",
            "--dns", f"127.0.0.1:{dns_port}"] + list(extra)


def done_in(state):
    try:
        with open(state) as f:
            for line in f:
                if line.startswith("done "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def interrupt(args, state, sig, stdout=None):
    """Starts a run, waits until STATE counts some results, sends `sig`; returns (rc, done)."""
    p = subprocess.Popen(args, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE)
    start = done_in(state)
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        if done_in(state) > start:
            p.send_signal(sig)
            break
        time.sleep(0.02)
    _, err = p.communicate(timeout=120)
    print(f"  signal {int(sig)} after STATE counted {done_in(state)} of {N} results")
    return p.returncode, done_in(state), err.decode("utf-8", "replace")


def summary_lines(err):
    """The summary without its timing (the first line's ' in X s, Y messages/s')."""
    lines = [ln for ln in err.splitlines() if ln.startswith(("summary:", "  "))]
    if lines:
        lines[0] = lines[0].split(" in ")[0]
    return lines


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_resume(tmp, port, box):
    # The uninterrupted runs, for comparison.
    ref = {}
    for fmt in ("json", "csv", "text"):
        start = time.monotonic()
        p = subprocess.run(cmd(port, fmt, ["-q"]) + [box], capture_output=True, timeout=300)
        ref[fmt] = p.stdout
        print(f"  uninterrupted {fmt} run: {time.monotonic() - start:.2f} s")
    p = subprocess.run(cmd(port, "json") + [box], capture_output=True, timeout=300)
    ref_summary = summary_lines(p.stderr.decode())
    lines = ref["json"].count(b"\n")
    check("reference: 3000 results, exit 0", p.returncode == 0 and lines == N,
          f"rc={p.returncode} {lines}")

    # 1. JSON to --output, SIGKILL, resume.
    state, out = os.path.join(tmp, "json.state"), os.path.join(tmp, "out.json")
    args = cmd(port, "json", ["--resume", state, "--output", out]) + [box]
    rc, done, _ = interrupt(args, state, signal.SIGKILL)
    check("json: killed (SIGKILL) after STATE counted part of the run",
          rc == -signal.SIGKILL and 0 < done < N, f"rc={rc} done={done}")
    p = subprocess.run(args, capture_output=True, timeout=300)
    err = p.stderr.decode()
    check("json: the resumed run says where it goes on, exit 0",
          p.returncode == 0 and f"going on after {done} results" in err, err[-300:])
    check("json: the output equals one uninterrupted run's, byte for byte",
          read(out) == ref["json"], f"{len(read(out))} vs {len(ref['json'])} bytes")
    check("json: the summary covers the whole run, as the uninterrupted run's",
          summary_lines(err) == ref_summary, (summary_lines(err)[:3], ref_summary[:3]))
    check("json: STATE says complete", "complete yes" in open(state).read())

    # 2. CSV on stdout appended, SIGINT then SIGTERM, then the end.
    state, out = os.path.join(tmp, "csv.state"), os.path.join(tmp, "out.csv")
    args = cmd(port, "csv", ["--resume", state]) + [box]
    codes = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with open(out, "ab") as f:
            rc, done, err = interrupt(args, state, sig, stdout=f)
        codes.append((rc, done))
    check("csv: SIGINT exits 130, SIGTERM 143, each after saving its place",
          [c[0] for c in codes] == [130, 143] and 0 < codes[0][1] < codes[1][1] < N and
          "the same command goes on from there" in err, (codes, err[-300:]))
    with open(out, "ab") as f:
        p = subprocess.run(args, stdout=f, stderr=subprocess.PIPE, timeout=300)
    data = read(out)
    check("csv: stdout appended (>>) over three runs equals one run, one header",
          p.returncode == 0 and data == ref["csv"] and data.count(b"file,error,") == 1,
          f"rc={p.returncode} {len(data)} vs {len(ref['csv'])}")

    # 3. Text to --output, SIGKILL twice.
    state, out = os.path.join(tmp, "text.state"), os.path.join(tmp, "out.txt")
    args = cmd(port, "text", ["-q", "--resume", state, "--output", out]) + [box]
    kills = [interrupt(args, state, signal.SIGKILL)[:2] for _ in range(2)]
    p = subprocess.run(args, capture_output=True, timeout=300)
    check("text: killed twice, then finished: equals one run",
          all(rc == -signal.SIGKILL for rc, _ in kills) and p.returncode == 0 and
          read(out) == ref["text"], (kills, p.returncode, len(read(out)), len(ref["text"])))

    # 4. A changed archive, other options: refused, output untouched.
    state, out = os.path.join(tmp, "changed.state"), os.path.join(tmp, "changed.json")
    copy = write(os.path.join(tmp, "copy.mbox"), read(box))
    args = cmd(port, "json", ["--resume", state, "--output", out]) + [copy]
    interrupt(args, state, signal.SIGKILL)
    before = read(out)
    renamed = write(os.path.join(tmp, "renamed.mbox"), read(copy))
    p = subprocess.run(cmd(port, "json", ["--resume", state, "--output", out]) + [renamed],
                       capture_output=True, timeout=60)
    check("the same archive under another name: refused (exit 2), saying only the name changed",
          p.returncode == 2 and "its name changed" in p.stderr.decode() and read(out) == before,
          f"rc={p.returncode} {p.stderr.decode()[-400:]}")
    with open(copy, "ab") as f:
        f.write(mbox_bytes([ta.message(1, DOMAIN, "One more.\r\n")]))
    p = subprocess.run(args, capture_output=True, timeout=60)
    err = p.stderr.decode()
    check("changed archive: refused (exit 2), names the input and why, output untouched",
          p.returncode == 2 and "is not the archive the run began with" in err and
          copy in err and read(out) == before, f"rc={p.returncode} {err[-400:]}")
    p = subprocess.run(cmd(port, "json", ["--resume", state, "--output", out, "--only",
                                          "failing"]) + [copy], capture_output=True, timeout=60)
    check("other options: refused (exit 2), the options named",
          p.returncode == 2 and "the options differ" in p.stderr.decode() and
          read(out) == before, p.stderr.decode()[-300:])

    # 5. STATE that cannot be written: exit 2 before the first message.
    out = os.path.join(tmp, "unwritable.json")
    p = subprocess.run(cmd(port, "json", ["--resume", os.path.join(tmp, "no", "such", "dir",
                                                                   "s"), "--output", out]) +
                       [box], capture_output=True, timeout=60)
    check("unwritable STATE: exit 2 before the first message, with the reason",
          p.returncode == 2 and "cannot write there" in p.stderr.decode() and
          "nothing was verified" in p.stderr.decode() and os.path.getsize(out) == 0,
          p.stderr.decode()[-300:])

    # 5b. A STATE that is not one, or is cut short: refused, nothing verified.
    for label, text in (("garbage", b"\x00\xffnot a state\n"),
                        ("cut short", read(os.path.join(tmp, "json.state"))[:-4])):
        bad = write(os.path.join(tmp, f"bad-{label.replace(' ', '-')}.state"), text)
        out = os.path.join(tmp, "bad.json")
        p = subprocess.run(cmd(port, "json", ["--resume", bad, "--output", out]) + [box],
                           capture_output=True, timeout=60)
        check(f"a STATE file that is {label}: refused (exit 2), said, nothing verified",
              p.returncode == 2 and "not a credence verify --resume state file" in
              p.stderr.decode() and not os.path.exists(out), p.stderr.decode()[-300:])

    # 6. Output that cannot be resumed.
    p = subprocess.run(cmd(port, "json", ["--resume", os.path.join(tmp, "pipe.state")]) + [box],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    check("stdout to a pipe: refused (exit 2): the output must be a file",
          p.returncode == 2 and p.stdout == b"" and "needs the reports in a file" in
          p.stderr.decode(), p.stderr.decode()[-300:])
    state, out = os.path.join(tmp, "gt.state"), os.path.join(tmp, "gt.json")
    args = cmd(port, "json", ["--resume", state]) + [box]
    with open(out, "ab") as f:
        interrupt(args, state, signal.SIGKILL, stdout=f)
    with open(out, "wb") as f:  # '>' empties the file
        p = subprocess.run(args, stdout=f, stderr=subprocess.PIPE, timeout=60)
    check("stdout re-opened with '>' (emptied): refused (exit 2), says to append with '>>'",
          p.returncode == 2 and "append with '>>'" in p.stderr.decode(),
          p.stderr.decode()[-300:])


def check_all(tmp):
    box = write(os.path.join(tmp, "big.mbox"), mbox_bytes(messages()))
    with Named({DOMAIN: zone()}) as ns:
        with DelayProxy(ns.port, delay=0.05) as port:
            check_resume(tmp, port, box)


def main():
    return ta.run_suite("test_archive_resume", check_all)


if __name__ == "__main__":
    sys.exit(main())
