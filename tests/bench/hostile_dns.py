#!/usr/bin/python3
"""What a hostile DNS zone (or a hostile file) costs credence: peak memory and time.

    hostile_dns.py --credence BIN [--messages 800] [--signatures 16] [--key-kb 60]
                   [--only serve,exp,zone]

Parts (each prints one line of numbers; run it on two builds to compare them):
  serve  `credence serve --dns` (2 workers) against a BIND named on 127.0.0.1 whose zone
         evil.test publishes a --key-kb KB TXT record at the wildcard *._domainkey.evil.test.
         --messages messages, each with --signatures DKIM-Signature fields, every one with a
         selector of its own (so every key question is a new DNS name). Prints the service's
         resident memory after start-up and its peak (VmHWM) after the last answer.
  exp    `credence spf --zone` for a sender whose SPF record fails with an exp= text of "%{S}"
         repeated over a 62 KB TXT record, the sender's local part 1,000 "!" (each %{S} is
         then ~3 KB once URL-escaped). Prints the explanation's length, the time and the peak
         RSS of the process.
  zone   `credence verify --zone /dev/zero`: exit code, first line of stderr, time and peak RSS
         (the child is limited to 2 GiB of address space and 60 s).

Nothing here asks the machine's resolver: named runs on 127.0.0.1 (named_fixture.py), and the
other parts use zone files.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from named_fixture import Named  # noqa: E402


def log(msg):
    print(msg, flush=True)


def txt_strings(data):
    """Zone-file TXT rdata: the data in quoted strings of at most 255 octets."""
    return " ".join('"%s"' % data[i:i + 255] for i in range(0, len(data), 255))


def run_measured(args, timeout=120, limit_as=None):
    """Runs args; returns (exit, stdout, stderr, seconds, peak RSS in MB) of that child alone
    (os.wait4). Output goes through temporary files, so a large output cannot block it."""
    def limits():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(args, stdout=out, stderr=err, preexec_fn=limits)
        killed = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() - start > timeout:
                p.kill()
                killed = True
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rc = "killed after %d s" % timeout if killed else p.returncode
        return rc, out.read(), err.read(), elapsed, usage.ru_maxrss / 1024.0


def vm_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def dkim_message(n, signatures):
    """A message with `signatures` DKIM-Signature fields, selectors m<n>s<i> at evil.test."""
    bh = "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
    b = "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSwganVzdCBiYXNlNjQ="
    head = ""
    for i in range(signatures):
        head += ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=evil.test;\r\n"
                 " s=m%ds%d; h=from:to:subject; bh=%s;\r\n b=%s\r\n" % (n, i, bh, b))
    return (head + "From: a@evil.test\r\nTo: b@example.test\r\nSubject: m%d\r\n"
            "Message-ID: <m%d@evil.test>\r\n\r\nbody %d\r\n" % (n, n, n)).encode()


def ask(sock_path, message):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock_path)
    try:
        s.sendall(b"CREDENCE/1 VERIFY %d ip= helo= from=\n" % len(message) + message)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    nl = data.find(b"\n")
    return json.loads(data[nl + 1:].strip())


def serve_memory(credence, messages, signatures, key_kb):
    """`credence serve` fed the hostile-key messages; its memory (MB) and the DKIM results."""
    key = "v=DKIM1; k=rsa; p=" + "A" * (key_kb * 1000 - 18)
    zone = "*._domainkey IN TXT %s\n" % txt_strings(key)
    work = tempfile.mkdtemp(prefix="credence-hostile-")
    try:
        with Named({"evil.test": zone}) as ns:
            sock_path = os.path.join(work, "s.sock")
            proc = subprocess.Popen([credence, "serve", "--socket", sock_path,
                                     "--dns", "127.0.0.1:%d" % ns.port, "--workers", "2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.time() + 20
                while not os.path.exists(sock_path) and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(0.2)
                start_kb = vm_kb(proc.pid, "VmRSS")
                t0 = time.monotonic()
                results = {}
                for n in range(messages):
                    doc = ask(sock_path, dkim_message(n, signatures))
                    for d in doc.get("dkim", []):
                        key = d.get("result", "?") + "/" + d.get("reason", "")
                        results[key] = results.get(key, 0) + 1
                elapsed = time.monotonic() - t0
                peak_kb = vm_kb(proc.pid, "VmHWM")
                end_kb = vm_kb(proc.pid, "VmRSS")
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        return {"start_mb": start_kb / 1024, "peak_mb": peak_kb / 1024, "end_mb": end_kb / 1024,
                "seconds": elapsed, "results": results}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def exp_explanation(credence):
    """`credence spf` on the hostile exp= record: the explanation, time and peak RSS."""
    work = tempfile.mkdtemp(prefix="credence-hostile-")
    try:
        exp = "%{S}" * (62000 // 4)
        zone = ("$ORIGIN evil.test.\n$TTL 300\n@ IN SOA ns hm 1 2 3 4 60\n"
                "@ IN TXT \"v=spf1 -all exp=why.evil.test\"\n"
                "why IN TXT %s\n" % txt_strings(exp))
        path = os.path.join(work, "evil.zone")
        with open(path, "w") as f:
            f.write(zone)
        sender = "!" * 1000 + "@evil.test"
        rc, out, err, secs, rss = run_measured(
            [credence, "spf", "--ip", "192.0.2.99", "--mail-from", sender, "--zone", path,
             "--format", "json"])
        explanation = ""
        try:
            doc = json.loads(out)
            spf = doc.get("spf", doc)
            explanation = spf.get("explanation", "")
            result = spf.get("result", "?")
        except ValueError:
            result = "unparsed output"
        return {"exp_bytes": len(exp), "result": result, "explanation": explanation,
                "seconds": secs, "peak_mb": rss, "exit": rc}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def zone_dev_zero(credence):
    """`credence verify --zone /dev/zero`: exit, time, peak RSS, first line of stderr."""
    work = tempfile.mkdtemp(prefix="credence-hostile-")
    try:
        msg = os.path.join(work, "m.eml")
        with open(msg, "w") as f:
            f.write("From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n")
        rc, out, err, secs, rss = run_measured(
            [credence, "verify", "--zone", "/dev/zero", msg], timeout=60, limit_as=2 << 30)
        first = err.decode(errors="replace").strip().splitlines()[:1]
        return {"exit": rc, "seconds": secs, "peak_mb": rss,
                "stderr": first[0] if first else "(none)"}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--credence", required=True)
    ap.add_argument("--messages", type=int, default=800)
    ap.add_argument("--signatures", type=int, default=16)
    ap.add_argument("--key-kb", type=int, default=60)
    ap.add_argument("--only", default="serve,exp,zone")
    a = ap.parse_args()
    parts = set(a.only.split(","))
    if "serve" in parts:
        r = serve_memory(a.credence, a.messages, a.signatures, a.key_kb)
        log("serve: %d messages x %d signatures, %d KB wildcard key: RSS at start %.1f MB, "
            "peak %.1f MB, at end %.1f MB, %.1f s; DKIM results %s"
            % (a.messages, a.signatures, a.key_kb, r["start_mb"], r["peak_mb"], r["end_mb"],
               r["seconds"], json.dumps(r["results"], sort_keys=True)))
    if "exp" in parts:
        r = exp_explanation(a.credence)
        log("exp: %d-byte exp= text of %%{S}, 1,000-byte local part: spf=%s, explanation "
            "%d bytes, %.2f s, peak RSS %.1f MB (exit %s)"
            % (r["exp_bytes"], r["result"], len(r["explanation"]), r["seconds"], r["peak_mb"],
               r["exit"]))
    if "zone" in parts:
        r = zone_dev_zero(a.credence)
        log("zone: --zone /dev/zero: exit %s, %.2f s, peak RSS %.1f MB, stderr: %s"
            % (r["exit"], r["seconds"], r["peak_mb"], r["stderr"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
