#!/usr/bin/python3
"""`credence serve` end to end: a throwaway BIND on loopback, the real binary, real sockets.

Checks the framed protocol (docs/serve.md), verdicts for a signed and a spoofed message, forged
A-R removal hints, limits (size, garbage, slow clients), concurrency, the shared warm DNS cache,
TCP, socket permissions, option errors and clean shutdown on SIGTERM/SIGINT. Prints PASS/FAIL
per check and exits 1 on any failure. Run with /usr/bin/python3 (Debian's dkim module).

test_rspamd.py and test_spamassassin.py import the fixture pieces from here.
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import DelayProxy, Named, free_port  # noqa: E402

SRC = os.environ.get("CREDENCE_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))


def find_credence():
    cands = [os.environ.get("CREDENCE_BIN", "")]
    if os.environ.get("CREDENCE_BUILD"):
        cands.append(os.path.join(os.environ["CREDENCE_BUILD"], "plugin/cli/credence"))
    cands.append(os.path.join(SRC, "build/plugin/cli/credence"))
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("credence binary not found: set CREDENCE_BIN")


FAILURES = []


def check(name, ok, detail=""):
    print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  -- %s" % (detail,)))
    sys.stdout.flush()
    if not ok:
        FAILURES.append(name)
    return ok


# ---------------------------------------------------------------------------------------------
# Fixture: a DKIM key, a zone with DKIM/SPF/DMARC for example.test, and messages.

CLIENT_GOOD = "192.0.2.7"
CLIENT_BAD = "203.0.113.9"
AUTHSERV = "mx.credence.test"


class MailFixture:
    """Keys, zone text and messages under a temp dir (removed by cleanup())."""

    def __init__(self):
        import dkim  # Debian python3-dkim
        self.dir = tempfile.mkdtemp(prefix="credence-serve-fx-")
        key = os.path.join(self.dir, "dkim.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        import base64
        p = base64.b64encode(der).decode()
        chunks = " ".join('"%s"' % p[i:i + 200] for i in range(0, len(p), 200))
        self.zone = (
            'sel._domainkey IN TXT "v=DKIM1; k=rsa; p=" %s\n' % chunks +
            '@ IN TXT "v=spf1 ip4:%s -all"\n' % CLIENT_GOOD +
            '_dmarc IN TXT "v=DMARC1; p=reject"\n'
            'mx IN A %s\n' % CLIENT_GOOD)
        with open(key, "rb") as f:
            priv = f.read()
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        body = ("From: Alice <alice@example.test>\r\nTo: bob@credence.test\r\n"
                "Subject: hello from credence\r\nDate: %s\r\n"
                "Message-ID: <%d@example.test>\r\n\r\nHello Bob.\r\n" % (date, os.getpid()))
        sig = dkim.sign(body.encode(), b"sel", b"example.test", priv,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        self.signed = sig + body.encode()
        # 150 kB, signed over the whole body: passes whole, fails as a 100 kB prefix.
        big = body.replace("Hello Bob.\r\n", "".join(
            "line %05d of a long message, all of it signed\r\n" % i for i in range(3300)))
        sig = dkim.sign(big.encode(), b"sel", b"example.test", priv,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        self.big_signed = sig + big.encode()
        self.spoofed = body.replace("hello from", "urgent: wire money").encode()
        forged = ("Authentication-Results: %s; dkim=pass header.d=example.test; "
                  "dmarc=pass header.from=example.test\r\n" % AUTHSERV)
        self.forged = forged.encode() + self.spoofed
        self.zone_path = os.path.join(self.dir, "example.test.zone")
        head = ("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns.example.test. h.example.test. "
                "1 3600 600 86400 300\n@ IN NS ns.example.test.\nns IN A 127.0.0.1\n")
        with open(self.zone_path, "w") as f:
            f.write(head + self.zone)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The service and a client.

class Service:
    """`credence serve` in the background; stop() sends SIGTERM and waits."""

    def __init__(self, args, socket_path=None, wait=True):
        self.dir = tempfile.mkdtemp(prefix="credence-serve-")
        os.chmod(self.dir, 0o755)
        self.socket = socket_path or os.path.join(self.dir, "credence.sock")
        self.args = [find_credence(), "serve", "--socket", self.socket,
                     "--authserv-id", AUTHSERV] + list(args)
        self.log_path = os.path.join(self.dir, "serve.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("credence serve exited: %s" % self.output())
            if os.path.exists(self.socket):
                try:
                    if ask(self.socket, None, ping=True).get("pong"):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("credence serve did not start: %s" % self.output())

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def header_line(length, ip="", helo="", mail_from="", req_id=""):
    def enc(v):
        return "".join(c if 0x21 <= ord(c) <= 0x7e and c != "%" else
                       "".join("%%%02X" % b for b in c.encode()) for c in v)
    line = "CREDENCE/1 VERIFY %d ip=%s helo=%s from=%s" % (length, enc(ip), enc(helo),
                                                           enc(mail_from))
    if req_id:
        line += " id=" + enc(req_id)
    return (line + "\n").encode()


def read_frame(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    nl = data.find(b"\n")
    if nl <= 0:
        raise ValueError("no frame: %r" % data[:100])
    n = int(data[:nl])
    doc = data[nl + 1:]
    if len(doc) != n + 1 or not doc.endswith(b"\n"):
        raise ValueError("frame length %d, got %d bytes" % (n, len(doc)))
    return json.loads(doc[:n])


def connect(where, timeout=15):
    if isinstance(where, tuple):
        s = socket.create_connection(where, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(where)
    return s


def ask(where, message, ip="", helo="", mail_from="", req_id="", ping=False, raw=None):
    s = connect(where)
    try:
        if raw is not None:
            s.sendall(raw)
        elif ping:
            s.sendall(b"CREDENCE/1 PING\n")
        else:
            s.sendall(header_line(len(message), ip, helo, mail_from, req_id) + message)
        return read_frame(s)
    finally:
        s.close()


def symbols_of(doc):
    return [s["name"] for s in doc.get("symbols", [])]


# ---------------------------------------------------------------------------------------------

def run_checks(fx, ns_port):
    dns = ["--dns", "127.0.0.1:%d" % ns_port, "--dns-timeout", "1000"]

    svc = Service(dns + ["--workers", "4", "--max-request-bytes", "100000",
                         "--request-timeout", "600"])
    try:
        st = os.stat(svc.socket)
        check("socket file is a socket with mode 0660 by default",
              stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
              oct(st.st_mode))
        check("PING answers pong", ask(svc.socket, None, ping=True) == {"pong": True})

        t0 = time.time()
        good = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, helo="mx.example.test",
                   mail_from="alice@example.test", req_id="q-1")
        first_ms = (time.time() - t0) * 1000
        syms = symbols_of(good)
        check("signed message: dkim pass", good.get("dkim", [{}])[0].get("result") == "pass",
              good.get("dkim"))
        check("signed message: spf pass", good.get("spf", {}).get("result") == "pass",
              good.get("spf"))
        check("signed message: dmarc pass", good.get("dmarc", {}).get("result") == "pass",
              good.get("dmarc"))
        ar = good.get("authentication_results", "")
        check("signed message: A-R names our authserv-id and dkim=pass",
              AUTHSERV in ar and "dkim=pass" in ar and "dmarc=pass" in ar, ar)
        check("signed message: symbols and negative score",
              {"CREDENCE_DKIM_PASS", "CREDENCE_SPF_PASS", "CREDENCE_DMARC_PASS"} <= set(syms)
              and good.get("score", 0) < 0, (syms, good.get("score")))
        check("request id echoed", good.get("id") == "q-1", good.get("id"))
        check("score is the sum of the symbol weights",
              abs(sum(s["weight"] for s in good["symbols"]) - good["score"]) < 1e-9)

        bad = ask(svc.socket, fx.spoofed, ip=CLIENT_BAD, helo="evil.test",
                  mail_from="alice@example.test")
        check("spoofed message: spf fail, dmarc fail, positive score",
              bad.get("spf", {}).get("result") == "fail" and
              bad.get("dmarc", {}).get("result") == "fail" and bad.get("score", 0) > 0,
              (bad.get("spf"), bad.get("dmarc"), bad.get("score")))
        check("spoofed message: CREDENCE_DMARC_REJECT", "CREDENCE_DMARC_REJECT" in symbols_of(bad),
              symbols_of(bad))

        forged = ask(svc.socket, fx.forged, ip=CLIENT_BAD, mail_from="alice@example.test")
        check("forged A-R with our authserv-id: remove_authentication_results == [1]",
              forged.get("remove_authentication_results") == [1],
              forged.get("remove_authentication_results"))
        clean = ask(svc.socket, fx.spoofed, ip=CLIENT_BAD)
        check("no forged A-R: remove_authentication_results == []",
              clean.get("remove_authentication_results") == [])

        nul = ask(svc.socket, b"", ip=CLIENT_GOOD)
        check("empty message: error not_a_message", nul.get("code") == "not_a_message", nul)
        null_sender = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, helo="mx.example.test",
                          mail_from="<>")
        check("null sender: SPF checks the HELO identity (postmaster@HELO)",
              null_sender.get("spf", {}).get("result") in ("pass", "none", "neutral")
              and "error" not in null_sender, null_sender.get("spf"))

        # Over --max-request-bytes (100000): judged on its first 100000 bytes, not refused;
        # the signature covers the whole body, so the prefix fails DKIM (fail closed).
        t0 = time.time()
        big = ask(svc.socket, fx.big_signed, ip=CLIENT_GOOD, mail_from="alice@example.test",
                  req_id="big")
        took = time.time() - t0
        check("request over --max-request-bytes (%d bytes, limit 100000): judged as cut, "
              "dkim=%s, CREDENCE_LIMIT, %.0f ms" % (len(fx.big_signed),
                                                   (big.get("dkim") or [{}])[0].get("reason"),
                                                   took * 1000),
              "code" not in big and big.get("id") == "big" and
              big.get("dkim", [{}])[0].get("reason") == "not_evaluated" and
              any("only the first 100000 read" in n for n in big.get("limits", [])) and
              "CREDENCE_LIMIT" in [s["name"] for s in big.get("symbols", [])] and
              big.get("spf", {}).get("result") == "pass" and took < 1, big)
        for junk in [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"CREDENCE/1 VERIFY 12abc\n",
                     b"CREDENCE/1 VERIFY 5 ip=not-an-ip\nhello", b"\x16\x03\x01\x00\xa5\x01\n",
                     b"CREDENCE/1 VERIFY 5 ip=1.2.3.4 ip=1.2.3.4\nhello"]:
            doc = ask(svc.socket, None, raw=junk)
            check("garbage %r: bad_request" % junk[:24], doc.get("code") == "bad_request", doc)
        long_line = ask(svc.socket, None, raw=b"CREDENCE/1 VERIFY 5 id=" + b"a" * 10000)
        check("endless header line: error", "error" in long_line, long_line)

        # Slow clients (slowloris) time out; others are served meanwhile.
        slow = [connect(svc.socket) for _ in range(6)]
        for i, s in enumerate(slow):
            s.sendall(b"CREDENCE/1 VERIFY 1000\n" + b"x" * i if i % 2 else b"CREDENCE/1 VER")
        t0 = time.time()
        fast = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        fast_ms = (time.time() - t0) * 1000
        check("normal client answered while 6 slow clients hold connections (%.0f ms)" % fast_ms,
              fast.get("dkim", [{}])[0].get("result") == "pass" and fast_ms < 500, fast_ms)
        codes = []
        t0 = time.time()
        for s in slow:
            try:
                codes.append(read_frame(s).get("code"))
            except (ValueError, OSError) as e:
                codes.append(str(e))
            s.close()
        check("slow clients get timeout errors after --request-timeout (%.0f ms)"
              % ((time.time() - t0) * 1000), codes == ["timeout"] * 6, codes)

        # Concurrency with a warm cache.
        results = []
        lock = threading.Lock()

        def worker(n):
            for _ in range(n):
                d = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
                with lock:
                    results.append(d.get("dmarc", {}).get("result"))
        t0 = time.time()
        threads = [threading.Thread(target=worker, args=(25,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - t0
        check("200 requests from 8 concurrent clients all answered dmarc=pass "
              "(%.0f msg/s, first request %.1f ms)" % (200 / took, first_ms),
              results == ["pass"] * 200, results[:5])
    finally:
        rc = svc.stop()
        check("SIGTERM: exit code 0", rc == 0, (rc, svc.output()[-500:]))
        check("SIGTERM: socket file removed", not os.path.exists(svc.socket))
        check("shutdown log has counters", "stopped (" in svc.output(), svc.output()[-300:])
        svc.cleanup()

    # A slow DNS server: the first message waits for it, the next ones hit the shared cache,
    # whichever worker takes them; a request in flight at SIGTERM is still answered.
    slow_dns = DelayProxy(ns_port, delay=0.3)
    with slow_dns as slow_port:
        svc = Service(["--dns", "127.0.0.1:%d" % slow_port, "--workers", "3",
                       "--socket-mode", "0600"])
        try:
            check("--socket-mode 0600", stat.S_IMODE(os.stat(svc.socket).st_mode) == 0o600)
            t0 = time.time()
            ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
            cold = time.time() - t0
            queries_cold = slow_dns.count
            warm = []
            for _ in range(6):
                t0 = time.time()
                d = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
                warm.append(time.time() - t0)
            check("shared DNS cache is warm across requests/workers (cold %.0f ms, warm max "
                  "%.0f ms, %d DNS queries)" % (cold * 1000, max(warm) * 1000, queries_cold),
                  cold >= 0.3 and max(warm) < 0.15 and d["dkim"][0]["result"] == "pass"
                  and slow_dns.count == queries_cold, (cold, warm, slow_dns.count))
            # In flight at SIGTERM: a message whose DNS is not cached yet.
            box = {}

            def inflight():
                try:
                    box["doc"] = ask(svc.socket, fx.spoofed, ip=CLIENT_BAD,
                                     mail_from="bob@mx.example.test")
                except Exception as e:  # noqa: BLE001
                    box["err"] = e
            t = threading.Thread(target=inflight)
            t.start()
            time.sleep(0.15)
            rc = svc.stop(signal.SIGTERM)
            t.join()
            check("SIGTERM: the in-flight request is still answered",
                  "doc" in box and "spf" in box["doc"], box)
            check("SIGTERM with a request in flight: exit 0, socket removed",
                  rc == 0 and not os.path.exists(svc.socket), rc)
        finally:
            svc.cleanup()

    # TCP listener and SIGINT.
    port = free_port()
    svc = Service(dns + ["--listen", "127.0.0.1:%d" % port])
    try:
        doc = ask(("127.0.0.1", port), fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        check("--listen TCP answers", doc.get("dmarc", {}).get("result") == "pass", doc)
        rc = svc.stop(signal.SIGINT)
        check("SIGINT: exit 0, socket removed", rc == 0 and not os.path.exists(svc.socket), rc)
    finally:
        svc.cleanup()

    # Zone file instead of DNS.
    svc = Service(["--zone", fx.zone_path])
    try:
        doc = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        check("--zone: dkim/spf/dmarc pass without a DNS server",
              doc["dkim"][0]["result"] == "pass" and doc["spf"]["result"] == "pass"
              and doc["dmarc"]["result"] == "pass", doc.get("dmarc"))
        doc = ask(svc.socket, fx.big_signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        check("the same %d-byte message under the default --max-request-bytes: dkim pass"
              % len(fx.big_signed), doc.get("dkim", [{}])[0].get("result") == "pass", doc)
    finally:
        svc.cleanup()

    # Option and start-up errors.
    cred = find_credence()
    tmp = tempfile.mkdtemp(prefix="credence-serve-bad-")
    try:
        def run(args):
            return subprocess.run([cred, "serve"] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=20)
        r = run(["--dns", "127.0.0.1:%d" % ns_port])
        check("no --socket/--listen: exit 2", r.returncode == 2, r.stderr)
        r = run(["--socket", tmp + "/s", "--authserv-id", "bad id!"])
        check("bad --authserv-id: exit 2 with a message",
              r.returncode == 2 and b"authserv-id" in r.stderr, r.stderr)
        r = run(["--socket", tmp + "/s", "--socket-mode", "999"])
        check("bad --socket-mode: exit 2", r.returncode == 2, r.stderr)
        r = run(["--socket", tmp + "/s", "--zone", tmp + "/missing.zone"])
        check("missing --zone file: exit 2", r.returncode == 2, r.stderr)
        r = run(["--socket", tmp + "/s", "--dns", "dns.example:53"])
        check("--dns with a host name: exit 2", r.returncode == 2, r.stderr)
        plain = os.path.join(tmp, "plain")
        open(plain, "w").close()
        r = run(["--socket", plain, "--zone", fx.zone_path])
        check("socket path is a regular file: exit 1, file kept",
              r.returncode == 1 and os.path.isfile(plain), (r.returncode, r.stderr))
        r = run(["--socket", tmp + "/" + "x" * 120, "--zone", fx.zone_path])
        check("socket path too long: exit 2", r.returncode == 2, r.stderr)
        r = run(["--socket", tmp + "/s", "--zone", fx.zone_path, "--max-inflight-bytes",
                 "1000000"])
        check("--max-inflight-bytes below --max-request-bytes: exit 2 naming both",
              r.returncode == 2 and b"--max-inflight-bytes" in r.stderr and
              b"--max-request-bytes" in r.stderr, r.stderr)
        r = run(["--socket", tmp + "/s", "--zone", fx.zone_path, "--max-connections", "10",
                 "--max-connections-per-peer", "20"])
        check("--max-connections-per-peer over --max-connections: exit 2",
              r.returncode == 2 and b"per-peer" in r.stderr, r.stderr)
        check("no socket file left by the refused starts", not os.path.exists(tmp + "/s"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Pressure from one local user (issue 9): the flooders run as `nobody` in a forked child, the
# "other user" is this root process; the socket is 0666 so `nobody` may connect.

MIB = 1 << 20
# docs/serve.md: RSS stays under max-inflight-bytes + (workers + reserve workers) x 2 x
# max-request-bytes + 32 MiB
# (the budget, each worker's parse of one message, the process itself).
RSS_BOUND = 256 * MIB + (2 + 1) * 2 * 64 * MIB + 32 * MIB  # 2 workers + 1 in reserve


class Sampler(threading.Thread):
    """Samples VmRSS of `pid` every 50 ms until stop(); .peak is the largest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.halt = pid, 0, threading.Event()
        self.start()

    def run(self):
        import serve_pressure as sp
        while not self.halt.is_set():
            self.peak = max(self.peak, sp.proc_status(self.pid).get("VmRSS", 0))
            time.sleep(0.05)

    def stop(self):
        self.halt.set()
        self.join()
        return self.peak


def timed_ask(path, message):
    t0 = time.time()
    try:
        doc = ask(path, message, ip=CLIENT_GOOD, mail_from="alice@example.test")
    except OSError as e:
        doc = {"code": "socket: %s" % e}
    return doc, (time.time() - t0) * 1000


def check_slow_big_requests(fx, cred):
    """16 clients of one uid announce 64 MiB each and send at 16 MiB/s."""
    import serve_pressure as sp
    srv = sp.Serve(cred, ["--request-timeout", "6000"], zone=fx.zone_path)
    try:
        msg = sp.message_of_size(64 * MIB)

        def flood():
            box = {}
            threads = [threading.Thread(target=sp.send_slowly,
                                        args=(srv.socket, msg, 16 * MIB, box, i))
                       for i in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return [sp.outcome(d) for d in box.values()]
        sampler = Sampler(srv.proc.pid)
        child = sp.AsUser("nobody", flood)
        time.sleep(1.0)
        doc, ms = timed_ask(srv.socket, fx.signed)
        outcomes = child.result()
        rss = sampler.stop()
        hwm = srv.status().get("VmHWM", 0)
        alive = srv.alive()
    finally:
        srv.stop()
    tally = {}
    for o in outcomes if isinstance(outcomes, list) else []:
        tally[o] = tally.get(o, 0) + 1
    check("16 x 64 MiB sent slowly by `nobody`: VmHWM %.0f MiB, VmRSS peak %.0f MiB (bound %.0f "
          "MiB)" % (hwm / MIB, rss / MIB, RSS_BOUND / MIB), alive and 0 < hwm < RSS_BOUND,
          (hwm, outcomes))
    check("... each of them gets an answer or an error document: %s" % tally,
          isinstance(outcomes, list) and len(outcomes) == 16 and tally.get("answer", 0) >= 1
          and set(tally) <= {"answer", "timeout"}, outcomes)
    check("... meanwhile root is served: dkim=%s in %.0f ms"
          % ((doc.get("dkim") or [{}])[0].get("result"), ms),
          doc.get("dkim", [{}])[0].get("result") == "pass" and ms < 1000, doc)


def check_idle_flood(fx, cred):
    """`nobody` opens 300 idle connections; root is still served at once."""
    import serve_pressure as sp
    srv = sp.Serve(cred, [], zone=fx.zone_path)
    fl = sp.Flooder(srv.socket, 300, user="nobody")
    try:
        fl.ready()
        time.sleep(0.3)
        t0 = time.time()
        try:
            pong = sp.ping(srv.socket)
        except OSError as e:
            pong = {"code": str(e)}
        ping_ms = (time.time() - t0) * 1000
        doc, ms = timed_ask(srv.socket, fx.signed)
    finally:
        fl.stop()
        srv.stop()
    check("`nobody` holds 300 idle connections: root PING answered in %.0f ms" % ping_ms,
          pong.get("pong") is True and ping_ms < 1000, pong)
    check("... and a root VERIFY in %.0f ms (dkim=%s)"
          % (ms, (doc.get("dkim") or [{}])[0].get("result")),
          doc.get("dkim", [{}])[0].get("result") == "pass" and ms < 1000, doc)


def check_out_of_memory(fx, cred):
    """Under an address-space limit, requests that cannot all be buffered end in errors; the
    service goes on."""
    import serve_pressure as sp
    r = sp.out_of_memory(cred, [], zone=fx.zone_path, then=fx.signed)
    verify = r["after"].get("verify", {})
    check("prlimit --as=1000000000, 3 x 400 MiB at once: alive (exit %s), outcomes %s, %.1f s, "
          "VmHWM %.0f MiB" % (r["exit"], r["outcomes"], r["took"],
                              r["peak"].get("VmHWM", 0) / MIB),
          r["alive"] and r["outcomes"].get("internal", 0) >= 1 and
          sum(r["outcomes"].values()) == 3 and
          all(not k.startswith("socket") and k != "no answer" for k in r["outcomes"]),
          (r["outcomes"], r["log"]))
    oom = [d for d in r["docs"] if d.get("code") == "internal"]
    check("... the failed requests say so (%r)" % (oom[0].get("error") if oom else None),
          bool(oom) and "out of memory" in oom[0].get("error", ""), oom)
    check("... and afterwards PING and VERIFY are answered (%s, %s)"
          % (sp.outcome(r["after"].get("ping", {})), sp.outcome(verify)),
          r["after"].get("ping", {}).get("pong") is True and
          verify.get("dkim", [{}])[0].get("result") == "pass", r["after"])


def race_socket_path(path, victim, seconds):
    """As `nobody`: for `seconds`, swap every socket file that appears at `path` for a symlink
    to `victim`. Returns the number of swaps."""
    swaps = 0
    tmp = path + ".link"
    end = time.time() + seconds
    while time.time() < end:
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                os.symlink(victim, tmp)
                os.rename(tmp, path)
                swaps += 1
        except OSError:
            pass
    return swaps


def check_socket_symlink_race(fx, cred):
    """The socket's directory belongs to `nobody`, who swaps the socket file for a symlink to a
    root file as soon as it appears, while the service starts again and again with
    --socket-mode 0666 --socket-group nogroup. The root file keeps its mode and group."""
    import pwd
    import serve_pressure as sp
    nobody = pwd.getpwnam("nobody")
    base = tempfile.mkdtemp(prefix="credence-race-")
    try:
        os.chmod(base, 0o755)
        d = os.path.join(base, "run")
        os.mkdir(d)
        os.chown(d, nobody.pw_uid, nobody.pw_gid)
        victim = os.path.join(base, "victim")
        with open(victim, "w") as f:
            f.write("root's\n")
        os.chmod(victim, 0o600)
        before = os.stat(victim)
        path = os.path.join(d, "s.sock")
        racer = sp.AsUser("nobody", lambda: race_socket_path(path, victim, 5.0))
        starts = 0
        end = time.time() + 4.0
        while time.time() < end:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            p = subprocess.Popen([cred, "serve", "--socket", path, "--socket-mode", "0666",
                                  "--socket-group", "nogroup", "--zone", fx.zone_path],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            t0 = time.time()
            while p.poll() is None and not os.path.lexists(path) and time.time() - t0 < 5:
                time.sleep(0.002)
            if p.poll() is None:
                starts += 1
                p.send_signal(signal.SIGTERM)
            p.wait(10)
        swaps = racer.result()
        after = os.stat(victim)
        leftovers = [n for n in os.listdir(d) if n.startswith(".credence-")]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check("socket symlink race: %d starts, %d socket files swapped for a symlink by `nobody`; "
          "the root file keeps mode 0600 and its group" % (starts, swaps if isinstance(swaps, int)
                                                          else -1),
          isinstance(swaps, int) and swaps > 0 and starts > 0 and
          stat.S_IMODE(after.st_mode) == 0o600 and after.st_gid == before.st_gid and
          after.st_uid == before.st_uid, (swaps, oct(after.st_mode), after.st_gid))
    check("... no private directory is left behind", leftovers == [], leftovers)


def check_reserve_worker(fx, ns_port):
    """`nobody` keeps both workers busy with requests whose DNS never answers (each holds a
    worker until its deadline); root's request goes to the reserve worker at once. The same
    with --reserve-workers 0 is the control: root waits for one of them to end."""
    import serve_pressure as sp
    stalled = fx.spoofed.replace(b"alice@example.test", b"ceo@stall.test")
    waited = {}
    with DelayProxy(ns_port, delay=0, stall=("stall.test",)) as port:
        for reserve in (1, 0):
            svc = Service(["--dns", "127.0.0.1:%d" % port, "--dns-timeout", "1000",
                           "--workers", "2", "--reserve-workers", str(reserve),
                           "--socket-mode", "0666", "--request-timeout", "20000"])
            try:
                def flood():
                    box = {}

                    def one(i):
                        t0 = time.time()
                        doc = ask(svc.socket, stalled, ip=CLIENT_BAD, mail_from="x@stall.test")
                        box[i] = (time.time() - t0, doc.get("dmarc", {}).get("result"))
                    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    return sorted(box.values())
                child = sp.AsUser("nobody", flood)
                time.sleep(0.7)
                t0 = time.time()
                doc = ask(svc.socket, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
                waited[reserve] = ((time.time() - t0) * 1000, doc.get("dmarc", {}).get("result"),
                                   child.result())
            finally:
                svc.cleanup()
    ms, dmarc, theirs = waited[1]
    check("`nobody` holds both workers with 4 requests whose DNS never answers: root's request "
          "is answered by the reserve worker in %.0f ms (dmarc=%s)" % (ms, dmarc),
          ms < 1000 and dmarc == "pass", waited[1])
    check("... nobody's own requests end at their deadline with temperror (%s)"
          % ", ".join("%.1f s" % t for t, _ in theirs if isinstance(theirs, list)),
          isinstance(theirs, list) and len(theirs) == 4 and
          all(r == "temperror" for _, r in theirs), theirs)
    ms0, dmarc0, _ = waited[0]
    check("... control, --reserve-workers 0: root waited %.0f ms for a worker (dmarc=%s)"
          % (ms0, dmarc0), ms0 >= 1500 and dmarc0 == "pass", waited[0])


def check_late_fails_closed(fx, ns_port):
    """A request that reaches a worker with less than half of its time left (here: a client
    timeout already spent) is judged on what it can be, and fails closed: CREDENCE_LIMIT, and
    a DMARC policy it could not look up scores as p=reject would. Never better than the spoof
    judged in time (the red-team's starvation of the workers through one uid)."""
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--dns-timeout", "1000"])
    try:
        s = connect(svc.socket)
        s.sendall(header_line(len(fx.spoofed), CLIENT_BAD, "", "bob@mx.example.test")[:-1] +
                  b" timeout=150\n" + fx.spoofed)
        late = read_frame(s)
        s.close()
        in_time = ask(svc.socket, fx.spoofed, ip=CLIENT_BAD, mail_from="bob@mx.example.test")
    finally:
        svc.cleanup()
    check("late request: CREDENCE_LIMIT names the busy service (%s)" % symbols_of(late),
          "CREDENCE_LIMIT" in symbols_of(late) and
          any("busy" in x.get("description", "") for x in late.get("symbols", [])), late)
    check("late request: score %s >= the spoof judged in time %s"
          % (late.get("score"), in_time.get("score")),
          late.get("score", -99) >= in_time.get("score", 99), (late, in_time))
    # A HELO and a MAIL FROM too long to carry (8-bit, %-encoded to three times their size):
    # judged without them, named, never a refusal (rspamd and spamd would go on without us).
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--dns-timeout", "1000"])
    try:
        long_helo = "h" * 1100 + ".example.test"
        long_from = "\u00e9" * 700 + "@mx.example.test"
        dropped = ask(svc.socket, fx.spoofed, ip=CLIENT_BAD, helo=long_helo, mail_from=long_from)
    finally:
        svc.cleanup()
    check("HELO and MAIL FROM over 1024 bytes: an answer, not an error (%s)"
          % symbols_of(dropped), "score" in dropped and "CREDENCE_LIMIT" in symbols_of(dropped)
          and any("MAIL FROM longer" in x.get("description", "")
                  for x in dropped.get("symbols", [])), dropped)
    check("... score %s >= the spoof judged with its envelope %s"
          % (dropped.get("score"), in_time.get("score")),
          dropped.get("score", -99) >= in_time.get("score", 99), dropped)


def run_pressure_checks(fx):
    if os.geteuid() != 0:
        print("SKIP: the pressure checks need root (their flooders switch to `nobody`)")
        return
    cred = find_credence()
    check_slow_big_requests(fx, cred)
    check_idle_flood(fx, cred)
    check_out_of_memory(fx, cred)
    check_socket_symlink_race(fx, cred)


def check_operations(fx):
    """What an administrator sees (issue 18, item 7): one log line per request, a client that
    gave up counted, SIGHUP reloading --config (a bad file kept out), a clean stop after."""
    conf_dir = tempfile.mkdtemp(prefix="credence-serve-conf-")
    conf = os.path.join(conf_dir, "credence.toml")
    with open(conf, "w") as f:
        f.write('authserv_id = "before.example"\n')
    # Service() passes --authserv-id, which would win over the file: start it by hand.
    args = [find_credence(), "serve", "--socket", os.path.join(conf_dir, "s.sock"), "--zone",
            fx.zone_path, "--config", conf]
    log_path = os.path.join(conf_dir, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(conf_dir, "s.sock")
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(sock):
            time.sleep(0.05)
        a = ask(sock, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test", req_id="r-1")
        s = connect(sock)
        s.sendall(header_line(len(fx.signed), CLIENT_GOOD, "", "alice@example.test", "quitter")
                  [:-1] + b" timeout=5000\n" + fx.signed)
        s.close()  # gives up before the answer
        time.sleep(0.5)
        with open(conf, "w") as f:
            f.write('authserv_id = "after.example"\n')
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        b = ask(sock, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        with open(conf, "w") as f:
            f.write('authserv_id = "bad id!"\n')
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        c = ask(sock, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test")
        alive = proc.poll() is None and os.path.exists(sock)
        check("SIGHUP reloads --config: authserv-id %s -> %s; a bad file is refused and the "
              "running configuration kept (%s); still serving"
              % (a.get("authentication_results", "?").split(";")[0].strip(),
                 b.get("authentication_results", "?").split(";")[0].strip(),
                 c.get("authentication_results", "?").split(";")[0].strip()),
              a.get("authentication_results", "").lstrip().startswith("before.example;") and
              b.get("authentication_results", "").lstrip().startswith("after.example;") and
              c.get("authentication_results", "").lstrip().startswith("after.example;") and alive,
              (a.get("authentication_results"), b.get("authentication_results"),
               c.get("authentication_results")))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    out = open(log_path).read()
    shutil.rmtree(conf_dir, ignore_errors=True)
    check("after SIGHUPs, SIGTERM: exit 0 and the socket file removed",
          rc == 0 and not os.path.exists(sock), rc)
    check("the log says what each SIGHUP did", "SIGHUP, reloaded" in out and
          "SIGHUP, reload failed, configuration unchanged:" in out and "authserv" in out, out[-800:])
    line = next((l for l in out.splitlines() if "id=r-1" in l), "")
    check("one request-log line per request: %s" % line[:120],
          line.startswith("credence serve: request outcome=verdict id=r-1 peer=uid:") and
          " dkim=pass " in line and " eval_ms=" in line and " ms=" in line, out[-800:])
    quit_line = next((l for l in out.splitlines() if "id=quitter" in l), "")
    check("a client that gave up: logged (outcome=gave_up) and counted at shutdown",
          "outcome=gave_up answer=verdict" in quit_line and "1 gave up" in out, out[-800:])
    check("every connection has its line (%d lines for the 4 connections)"
          % out.count("request outcome="), out.count("request outcome=") == 4, out[-1200:])


def run_with_named(fx, run):
    """Runs run(named_port) with a BIND named serving fx's zone on 127.0.0.1, cleans fx up,
    prints the tally; returns the exit code. "test" is served too, so the DMARC tree walk's
    _dmarc.test gets NXDOMAIN (cacheable) rather than REFUSED (a temporary failure, asked
    again every time)."""
    try:
        with Named({"example.test": fx.zone, "test": ""}) as ns:
            run(ns.port)
    finally:
        fx.cleanup()
    print("%d check(s) failed" % len(FAILURES) if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


def main():
    fx = MailFixture()
    if "--pressure-only" in sys.argv[1:]:  # e.g. against another binary (CREDENCE_BIN)
        try:
            run_pressure_checks(fx)
        finally:
            fx.cleanup()
        print("%d check(s) failed" % len(FAILURES) if FAILURES else "all checks passed")
        return 1 if FAILURES else 0

    def everything(port):
        run_checks(fx, port)
        check_operations(fx)
        run_pressure_checks(fx)
        check_late_fails_closed(fx, port)
        if os.geteuid() == 0:
            check_reserve_worker(fx, port)
    return run_with_named(fx, everything)


if __name__ == "__main__":
    sys.exit(main())
