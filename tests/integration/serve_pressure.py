#!/usr/bin/python3
"""Local-client pressure on `credence serve`: what one user with access to the socket can make
the service spend. Each scenario starts its own `credence serve` (answering DNS from a zone
file, so nothing is asked on the network), pushes, and prints what it measured; nothing is
asserted here (tests/integration/test_serve.py asserts the bounds, using these helpers).

    serve_pressure.py [--bin PATH] [--extra "ARGS"] [SCENARIO ...]

Scenarios: header-flood, bulk, as-limit, oom, idle-flood (all when none is named). --bin defaults
to the build's credence (as test_serve.py finds it); --extra adds options to every serve
(e.g. "--max-inflight-bytes 1073741824"). Runs as root: the idle flood's connections are made
by a child that has switched to `nobody`, so the socket is created 0666.
"""
import argparse
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1 << 20
ZONE = ("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns.example.test. h.example.test. "
        "1 3600 600 86400 300\n@ IN NS ns.example.test.\nns IN A 127.0.0.1\n"
        '@ IN TXT "v=spf1 -all"\n_dmarc IN TXT "v=DMARC1; p=none"\n')


def proc_status(pid):
    """VmSize, VmRSS, VmHWM of `pid` in bytes (a dict; empty when the process is gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmSize", "VmRSS", "VmHWM", "VmPeak"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def fmt_mib(n):
    return "%.0f MiB" % (n / MIB)


def message_of_size(size):
    """An RFC 5322 message of exactly `size` bytes (From example.test, a body of short lines)."""
    head = (b"From: Alice <alice@example.test>\r\nTo: bob@credence.test\r\n"
            b"Subject: big\r\nMessage-ID: <big@example.test>\r\n\r\n")
    line = b"x" * 76 + b"\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return (head + body)[:size]


def verify_line(length, ip="192.0.2.7", helo="mx.example.test", mail_from="alice@example.test"):
    return ("CREDENCE/1 VERIFY %d ip=%s helo=%s from=%s\n" % (length, ip, helo, mail_from)).encode()


def read_answer(sock):
    """The JSON document of a framed answer, or {"code": <what went wrong>}."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        if not data:
            return {"code": "socket: %s" % e.strerror}
    nl = data.find(b"\n")
    if nl <= 0:
        return {"code": "no answer"}
    try:
        return json.loads(data[nl + 1:nl + 1 + int(data[:nl])])
    except ValueError:
        return {"code": "bad frame"}


def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def ask(path, request, timeout=30):
    s = connect(path, timeout)
    try:
        try:
            s.sendall(request)
        except OSError:
            pass  # refused early: the answer is still readable
        return read_answer(s)
    finally:
        s.close()


def ping(path, timeout=5):
    return ask(path, b"CREDENCE/1 PING\n", timeout)


def outcome(doc):
    """The error code of an answer, or "answer" for an evaluation (or a pong)."""
    if not doc:
        return "nothing"
    return doc.get("code", "?") if "error" in doc or "code" in doc else "answer"


def tally(docs):
    out = {}
    for d in docs:
        k = outcome(d)
        out[k] = out.get(k, 0) + 1
    return out


class Serve:
    """`credence serve --zone` in a temp dir; `prefix` runs it under e.g. prlimit."""

    def __init__(self, binary, extra=(), prefix=(), mode="0666", zone=None):
        self.dir = tempfile.mkdtemp(prefix="credence-pressure-")
        os.chmod(self.dir, 0o755)
        self.zone = zone or os.path.join(self.dir, "example.test.zone")
        if not zone:
            with open(self.zone, "w") as f:
                f.write(ZONE)
        self.socket = os.path.join(self.dir, "s.sock")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.log = open(self.log_path, "w")
        args = list(prefix) + [binary, "serve", "--socket", self.socket, "--socket-mode", mode,
                               "--zone", self.zone] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited at start: " + self.output())
            try:
                if ping(self.socket).get("pong"):
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("serve did not start: " + self.output())

    def status(self):
        return proc_status(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


class Flooder:
    """A child process (optionally switched to `user`) that opens `count` connections to
    `path`, sends `prefix` on each, and holds them until stop(). ready() returns how many
    connections the child holds open."""

    def __init__(self, path, count, prefix=b"", user=None):
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: only syscalls, then wait to be killed
            try:
                os.close(r)
                if user:
                    pw = pwd.getpwnam(user)
                    os.setgroups([])
                    os.setgid(pw.pw_gid)
                    os.setuid(pw.pw_uid)
                held = []
                for _ in range(count):
                    try:
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.connect(path)
                        if prefix:
                            s.sendall(prefix)
                        held.append(s)
                    except OSError:
                        pass
                os.write(w, str(len(held)).encode() + b"\n")
                while True:
                    time.sleep(60)
            finally:
                os._exit(0)
        os.close(w)
        self.r = r

    def ready(self, timeout=30):
        t0 = time.time()
        buf = b""
        while not buf.endswith(b"\n") and time.time() - t0 < timeout:
            chunk = os.read(self.r, 64)
            if not chunk:
                break
            buf += chunk
        return int(buf or b"0")

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.r)


class AsUser:
    """Runs fn() in a forked child switched to `user` (None: stay root); result() is what fn
    returned (JSON-able), or {"error": ...}."""

    def __init__(self, user, fn):
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 0
            try:
                os.close(r)
                if user:
                    pw = pwd.getpwnam(user)
                    os.setgroups([])
                    os.setgid(pw.pw_gid)
                    os.setuid(pw.pw_uid)
                out = json.dumps(fn()).encode()
            except BaseException as e:  # noqa: BLE001 -- reported to the parent
                out = json.dumps({"error": repr(e)}).encode()
                code = 1
            try:
                while out:
                    out = out[os.write(w, out):]
            finally:
                os._exit(code)
        os.close(w)
        self.r = r

    def result(self):
        buf = b""
        while True:
            chunk = os.read(self.r, 65536)
            if not chunk:
                break
            buf += chunk
        os.close(self.r)
        os.waitpid(self.pid, 0)
        return json.loads(buf or b'{"error": "no result"}')


def send_slowly(path, message, rate, box, key, timeout=60):
    """Sends a VERIFY of `message` at about `rate` bytes/s; box[key] = the answer."""
    s = connect(path, timeout)
    try:
        s.sendall(verify_line(len(message)))
        step = max(1, rate // 20)
        t0 = time.time()
        for off in range(0, len(message), step):
            s.sendall(message[off:off + step])
            ahead = (off + step) / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    except OSError:
        pass  # the service gave up on us: its answer is still readable
    box[key] = read_answer(s)
    s.close()


def header_flood(binary, extra, count=64, length=64 * MIB, prefix=(), user="nobody"):
    """`count` connections from `user` that send only a header line announcing `length`
    bytes; then a root client PINGs."""
    srv = Serve(binary, extra, prefix)
    fl = None
    try:
        before = srv.status()
        fl = Flooder(srv.socket, count, prefix=verify_line(length), user=user)
        held = fl.ready()
        time.sleep(1.0)
        after = srv.status()
        alive = srv.alive()
        pong = None
        if alive:
            try:
                pong = ping(srv.socket)
            except OSError as e:
                pong = {"code": str(e)}
        return {"before": before, "after": after, "alive": alive and srv.alive(), "held": held,
                "exit": srv.proc.poll(), "ping": pong, "log": srv.output()[-400:]}
    finally:
        if fl:
            fl.stop()
        srv.stop()


def bulk(binary, extra, clients=8, size=60 * MIB):
    """`clients` concurrent requests of `size` bytes each, sent as fast as the socket takes."""
    srv = Serve(binary, extra)
    msg = message_of_size(size)
    try:
        base = srv.status()
        box = {}
        t0 = time.time()
        threads = [threading.Thread(target=send_slowly, args=(srv.socket, msg, 1 << 40, box, i))
                   for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - t0
        return {"base": base, "peak": srv.status(), "took": took,
                "outcomes": tally(box.values()), "alive": srv.alive()}
    finally:
        srv.stop()


def out_of_memory(binary, extra, as_limit=1000 * 1000 * 1000, clients=3, size=400 * MIB,
                  zone=None, then=None):
    """Under `prlimit --as=as_limit`, with 1 GiB requests allowed, `clients` send `size` bytes
    each at once (their buffers cannot all fit); then a root PING and a VERIFY of `then` (a
    small message when None)."""
    srv = Serve(binary, ["--max-request-bytes", str(1 << 30)] + list(extra),
                ["prlimit", "--as=%d" % as_limit], zone=zone)
    try:
        msg = message_of_size(size)
        box = {}
        t0 = time.time()
        threads = [threading.Thread(target=send_slowly, args=(srv.socket, msg, 1 << 40, box, i))
                   for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - t0
        alive = srv.alive()
        after = {}
        if alive:
            small = then or message_of_size(2000)
            for key, request in (("ping", b"CREDENCE/1 PING\n"),
                                 ("verify", verify_line(len(small)) + small)):
                try:
                    after[key] = ask(srv.socket, request)
                except OSError as e:
                    after[key] = {"code": "socket: %s" % e.strerror}
        return {"outcomes": tally(box.values()), "docs": list(box.values()), "took": took,
                "alive": alive and srv.alive(), "exit": srv.proc.poll(), "after": after,
                "peak": srv.status(), "log": srv.output()[-300:]}
    finally:
        srv.stop()


def idle_flood(binary, extra, count=256, user="nobody", probe_for=12.0):
    """`count` idle connections from `user`; then a root client asks PING until it is
    answered. Returns the time to the first pong and what the probes got before it."""
    srv = Serve(binary, extra)
    fl = Flooder(srv.socket, count, user=user)
    try:
        held = fl.ready()
        time.sleep(0.3)  # let the service accept them all
        seen = []
        t0 = time.time()
        first = None
        while time.time() - t0 < probe_for:
            try:
                d = ping(srv.socket)
            except OSError as e:
                d = {"code": "socket: %s" % e}
            if d.get("pong"):
                first = time.time() - t0
                break
            seen.append(d)
            time.sleep(0.1)
        return {"held": held, "first_pong": first, "probes_refused": tally(seen)
                if seen else {}}
    finally:
        fl.stop()
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--extra", default="")
    ap.add_argument("--as-limit", type=int, default=1500 * 1000 * 1000)
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    if a.bin:
        binary = a.bin
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from test_serve import find_credence
        binary = find_credence()
    extra = shlex.split(a.extra)
    todo = a.scenarios or ["header-flood", "bulk", "as-limit", "oom", "idle-flood"]
    print("binary: %s %s" % (binary, a.extra))
    for name in todo:
        if name == "header-flood":
            r = header_flood(binary, extra)
            b, f = r["before"], r["after"]
            print("header-flood: `nobody` opens 64 connections announcing 64 MiB, header line "
                  "only: VmSize %s -> %s (+%s), VmRSS %s -> %s; root ping after: %s" % (
                      fmt_mib(b["VmSize"]), fmt_mib(f.get("VmSize", 0)),
                      fmt_mib(f.get("VmSize", 0) - b["VmSize"]), fmt_mib(b["VmRSS"]),
                      fmt_mib(f.get("VmRSS", 0)), r["ping"]))
        elif name == "bulk":
            r = bulk(binary, extra)
            print("bulk: 8 x 60 MiB at full speed: VmHWM %s (base RSS %s), %.2f s, outcomes %s, "
                  "alive %s" % (fmt_mib(r["peak"].get("VmHWM", 0)), fmt_mib(r["base"]["VmRSS"]),
                                r["took"], r["outcomes"], r["alive"]))
        elif name == "as-limit":
            r = header_flood(binary, extra, prefix=["prlimit", "--as=%d" % a.as_limit])
            print("as-limit: prlimit --as=%d, `nobody` sends 64 header lines announcing 64 MiB: "
                  "alive %s, exit "
                  "%s, ping after %s; log tail: %r" % (a.as_limit, r["alive"], r["exit"],
                                                       r["ping"], r["log"][-200:]))
        elif name == "oom":
            r = out_of_memory(binary, extra)
            print("oom: prlimit --as=1000000000, --max-request-bytes 1 GiB, 3 x 400 MiB at once: "
                  "outcomes %s in %.1f s, alive %s (exit %s), then %s; VmHWM %s; log tail %r" % (
                      r["outcomes"], r["took"], r["alive"], r["exit"], {
                          k: outcome(v) for k, v in r["after"].items()},
                      fmt_mib(r["peak"].get("VmHWM", 0)), r["log"][-160:]))
        elif name == "idle-flood":
            r = idle_flood(binary, extra)
            print("idle-flood: `nobody` holds %d idle connections; root PING answered after %s; "
                  "refused probes before that: %s" % (
                      r["held"], "%.2f s" % r["first_pong"] if r["first_pong"] is not None
                      else "never (12 s)", r["probes_refused"]))
        else:
            sys.exit("unknown scenario " + name)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
