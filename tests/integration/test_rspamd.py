#!/usr/bin/python3
"""rspamd 3.4 with credence's Lua plugin (plugin/rspamd/) and a real `credence serve`.

A throwaway rspamd (INTEGRATION.md) runs on loopback ports with its DNS pinned to a throwaway
BIND; the plugin talks to the service over a Unix socket owned by group _rspamd. Scans with
rspamc and checks symbols, weights, the Authentication-Results milter header and forged A-R
removal, that rspamd is the one place where weights are set (a score changed in rspamd is the
score, whatever credence.toml says), the timeout that fits rspamd's task_timeout and a stalled
DNS server that gives temperror symbols (not CREDENCE_UNAVAILABLE); plays whole SMTP transactions through rspamd's proxy worker in milter mode (as
Debian configures it, forwarding to the normal worker, and self-scanning) with a milter client
(milter_client.py), so a forged A-R must really be deleted and an upstream one kept; then
stops the service and checks the degraded CREDENCE_UNAVAILABLE symbol (weight 0) and that
scanning still succeeds. PASS/FAIL per check, exit 1 on failure.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from milter_client import apply_header_actions, milter_transaction, split_message  # noqa: E402
from named_fixture import DelayProxy, free_port  # noqa: E402
from test_serve import (AUTHSERV, CLIENT_BAD, CLIENT_GOOD, SRC,  # noqa: E402
                        MailFixture, Service, check, run_with_named)

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
RSPAMC = shutil.which("rspamc") or "/usr/bin/rspamc"
RSPAMADM = shutil.which("rspamadm") or "/usr/bin/rspamadm"


class Rspamd:
    def __init__(self, ns_port, service_socket):
        self.dir = tempfile.mkdtemp(prefix="credence-rspamd-")
        self.normal = free_port()
        self.controller = free_port()
        self.proxy = free_port()       # milter mode, forwarding to the normal worker (Debian)
        self.proxy_self = free_port()  # milter mode, scanning itself (self_scan)
        local = os.path.join(self.dir, "local")
        for d in ("local/local.d", "local/override.d", "local/plugins.d", "db", "run", "log"):
            os.makedirs(os.path.join(self.dir, d))
        shutil.copy(os.path.join(SRC, "plugin/rspamd/credence.lua"),
                    os.path.join(local, "plugins.d/credence.lua"))
        shutil.copy(os.path.join(SRC, "plugin/rspamd/rspamd.conf.local"),
                    os.path.join(local, "rspamd.conf.local"))
        with open(os.path.join(SRC, "plugin/rspamd/local.d/credence.conf")) as f:
            conf = f.read().replace('"/run/credence/credence.sock"', '"%s"' % service_socket)
        self.write("local/local.d/credence.conf", conf)
        self.write("local/override.d/worker-normal.inc",
                   'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.normal)
        self.write("local/override.d/worker-controller.inc",
                   'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.controller)
        # Debian's worker-proxy.inc has milter = yes and forwards to "localhost" (the normal
        # worker's default port): the same, with our ports.
        self.write("local/override.d/worker-proxy.inc",
                   'bind_socket = "127.0.0.1:%d";\ncount = 1;\nmilter = yes;\ntimeout = 120s;\n'
                   'upstream "local" {\n  default = yes;\n  hosts = "127.0.0.1:%d";\n}\n'
                   % (self.proxy, self.normal))
        with open(os.path.join(local, "rspamd.conf.local"), "a") as f:
            f.write('\nworker "rspamd_proxy" {\n  bind_socket = "127.0.0.1:%d";\n  count = 1;\n'
                    '  milter = yes;\n  timeout = 120s;\n  upstream "local" {\n'
                    '    default = yes;\n    self_scan = yes;\n  }\n}\n' % self.proxy_self)
        # DNS pinned to the loopback BIND: nothing leaves the machine.
        self.write("local/override.d/options.inc",
                   'dns {\n  nameserver = ["127.0.0.1:%d"];\n  timeout = 1s;\n  retransmits = 1;\n}\n'
                   % ns_port)
        self.write("local/local.d/logging.inc", 'level = "info";\n')
        # An rspamd admin's own score for a credence symbol (docs/rspamd.md, "Weights").
        self.write("local/local.d/groups.conf",
                   'group "credence" {\n  symbols {\n    "CREDENCE_DMARC_REJECT" {\n'
                   '      weight = 6.0;\n    }\n  }\n}\n')
        # fuzzy_check names its servers (fuzzy1.rspamd.com): rspamd resolves upstream names
        # with getaddrinfo() while reading the configuration, i.e. through the machine's
        # resolver, not the pinned one. Off, so nothing is ever asked of /etc/resolv.conf.
        self.write("local/override.d/fuzzy_check.conf", 'enabled = false;\n')
        rs = pwd.getpwnam("_rspamd")
        for root, dirs, files in os.walk(self.dir):
            os.chown(root, rs.pw_uid, rs.pw_gid)
            for n in files:
                os.chown(os.path.join(root, n), rs.pw_uid, rs.pw_gid)
        os.chmod(self.dir, 0o755)
        self.vars = ["--var=LOCAL_CONFDIR=%s" % local, "--var=DBDIR=%s/db" % self.dir,
                     "--var=RUNDIR=%s/run" % self.dir, "--var=LOGDIR=%s/log" % self.dir]
        self.proc = None

    def write(self, rel, text):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(text)

    def configtest(self):
        # --var is a global rspamadm option: it goes before the command.
        return subprocess.run([RSPAMADM] + self.vars +
                              ["configtest", "-s", "-c", "/etc/rspamd/rspamd.conf"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)

    def start(self, timeout=300):
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([RSPAMD, "-f", "-u", "_rspamd", "-g", "_rspamd", "-c",
                                      "/etc/rspamd/rspamd.conf"] + self.vars,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rspamd exited: %s" % self.log()[-2000:])
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.normal,
                                            timeout=1) as r:
                    if r.read().strip() == b"pong":
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("rspamd did not start: %s" % self.log()[-2000:])

    def log(self):
        try:
            with open(os.path.join(self.dir, "log/rspamd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def scan(self, message, ip, helo, mail_from):
        path = os.path.join(self.dir, "msg.eml")
        with open(path, "wb") as f:
            f.write(message)
        r = subprocess.run([RSPAMC, "-h", "127.0.0.1:%d" % self.normal, "-i", ip, "--helo", helo,
                            "-F", mail_from, "-j", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        return r.returncode, doc, r

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def credence_symbols(doc):
    return {k: v for k, v in doc.get("symbols", {}).items() if k.startswith("CREDENCE_")}


def milter_header(doc, name):
    h = doc.get("milter", {}).get("add_headers", {}).get(name)
    if isinstance(h, list):
        h = h[0] if h else None
    if isinstance(h, dict):
        return h.get("value")
    return h


def ar_fields(headers):
    return [v for n, v in headers if n.lower() == "authentication-results"]


def check_milter(rs, fx):
    """Forged A-R removal and credence's A-R through the milter protocol, both proxy modes."""
    ours = "%s; dkim=pass header.d=example.test; dmarc=pass header.from=example.test" % AUTHSERV
    upstream = "upstream.example.net; spf=pass smtp.mailfrom=example.test"
    cases = [
        ("one forged A-R", [ours], [0]),
        ("forged, upstream, forged", [ours, upstream, ours], [0, 2]),
        ("upstream only", [upstream], []),
        ("70 forged and an upstream A-R (past 64: every A-R field goes)",
         [ours] * 35 + [upstream] + [ours] * 35, None),
    ]
    for port, mode in ((rs.proxy, "proxy -> normal worker"), (rs.proxy_self, "self_scan")):
        for name, fields, forged in cases:
            # On top of a signed message (a spoof would be refused: its header changes moot).
            msg = (b"".join(b"Authentication-Results: " + f.encode() + b"\r\n" for f in fields)
                   + fx.signed)
            try:
                reply = milter_transaction(("127.0.0.1", port), msg, CLIENT_GOOD,
                                           "mx.example.test", "alice@example.test",
                                           ["bob@credence.test"])
            except Exception as e:  # noqa: BLE001
                check("milter (%s), %s: transaction" % (mode, name), False, e)
                continue
            headers, _ = split_message(msg)
            kept = [ar_fields(apply_header_actions(headers, reply.actions, shifting=s))
                    for s in (False, True)]
            want = [f for i, f in enumerate(fields) if forged is not None and i not in forged]
            added = [v for k, i, n, v in reply.actions if k in ("insheader", "addheader")
                     and n.lower() == "authentication-results"]
            check("milter (%s), %s: %d A-R field(s) deleted, %d kept, credence's A-R added "
                  "(%s)" % (mode, name, len(fields) - len(want), len(want), reply.final),
                  reply.final == "accept" and len(added) == 1 and added[0].startswith(AUTHSERV)
                  and "dmarc=pass" in added[0] and kept[0] == kept[1] == [added[0]] + want,
                  (reply.final, [a[:3] for a in reply.actions], kept))


def controller_symbols(rs):
    """{symbol: weight} as the web UI shows them (the controller's /symbols)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/symbols" % rs.controller, timeout=10) as r:
        groups = json.loads(r.read())
    return {rule["symbol"]: rule.get("weight") for g in groups for rule in g.get("rules", [])}


def check_stalled_dns(fx, ns_port, rs, socket_path):
    """The service asks a DNS server that never answers for example.test: rspamd gets
    temperror symbols within its task_timeout, not CREDENCE_UNAVAILABLE."""
    with DelayProxy(ns_port, delay=0.0, stall=["example.test"]) as stalled:
        svc = Service(["--dns", "127.0.0.1:%d" % stalled, "--socket-group", "_rspamd"],
                      socket_path=socket_path)
        try:
            t0 = time.time()
            rc, doc, r = rs.scan(fx.signed, CLIENT_GOOD, "mx.example.test", "alice@example.test")
            took = time.time() - t0
            syms = credence_symbols(doc or {})
            want = {"CREDENCE_DKIM_TEMPERROR", "CREDENCE_SPF_TEMPERROR", "CREDENCE_DMARC_TEMPERROR"}
            check("stalled DNS: temperror symbols reach rspamd, not CREDENCE_UNAVAILABLE "
                  "(%.1f s; module timeout 7 s, task_timeout 8 s)" % took,
                  rc == 0 and want <= set(syms) and "CREDENCE_UNAVAILABLE" not in syms
                  and took < 8, (took, syms))
            ar = milter_header(doc or {}, "Authentication-Results") or ""
            check("stalled DNS: the A-R added says temperror",
                  "dkim=temperror" in ar and "dmarc=temperror" in ar, ar[:300])
        finally:
            svc.stop()
            log = svc.output()
            svc.cleanup()
        line = next((l for l in log.splitlines() if "outcome=verdict" in l), "")
        check("stalled DNS: the service's log line shows the client's timeout, the deadline "
              "and the DNS failures", "timeout_ms=7000" in line and "deadline=reached" in line
              and "dns_tempfail=" in line and "dns_tempfail=0" not in line, log[-1500:])


def run_checks(fx, ns_port):
    # credence.toml weights that rspamd must not multiply: rspamd's own score is the score.
    conf_dir = tempfile.mkdtemp(prefix="credence-rspamd-conf-")
    conf = os.path.join(conf_dir, "credence.toml")
    with open(conf, "w") as f:
        f.write("[score.weights]\nCREDENCE_DMARC_REJECT = 3.0\n")
    os.chmod(conf_dir, 0o755)
    os.chmod(conf, 0o644)
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--socket-group", "_rspamd",
                   "--config", conf])
    rs = Rspamd(ns_port, svc.socket)
    try:
        ct = rs.configtest()
        check("rspamadm configtest accepts the plugin and snippets", ct.returncode == 0,
              ct.stdout[-1500:])
        check("configtest resolved no host names (nothing sent to the system resolver)",
              b"address resolution" not in ct.stdout, ct.stdout[-500:])
        rs.start()
        check("rspamd loaded the credence module, timeout 7 s (task_timeout 8 s less 1 s)",
              "credence: enabled, service at %s, timeout 7" % svc.socket in rs.log(),
              rs.log()[-1500:])
        ui = controller_symbols(rs)
        check("web UI (/symbols): credence's default weights, and rspamd's own score where set "
              "(CREDENCE_DKIM_PASS %s, CREDENCE_SPF_FAIL %s, CREDENCE_DMARC_REJECT %s)"
              % (ui.get("CREDENCE_DKIM_PASS"), ui.get("CREDENCE_SPF_FAIL"),
                 ui.get("CREDENCE_DMARC_REJECT")),
              ui.get("CREDENCE_DKIM_PASS") == -0.2 and ui.get("CREDENCE_SPF_FAIL") == 1.0 and
              ui.get("CREDENCE_DMARC_REJECT") == 6.0 and ui.get("CREDENCE_UNAVAILABLE") == 0,
              {k: v for k, v in ui.items() if k.startswith("CREDENCE")})

        rc, doc, r = rs.scan(fx.signed, CLIENT_GOOD, "mx.example.test", "alice@example.test")
        check("signed message: rspamc exit 0 with JSON", rc == 0 and doc is not None, r.stderr)
        doc = doc or {}
        syms = credence_symbols(doc)
        check("signed message: CREDENCE_DKIM_PASS -0.2, CREDENCE_SPF_PASS, CREDENCE_DMARC_PASS",
              abs(syms.get("CREDENCE_DKIM_PASS", {}).get("score", 99) + 0.2) < 1e-6 and
              "CREDENCE_SPF_PASS" in syms and "CREDENCE_DMARC_PASS" in syms, syms)
        check("signed message: no CREDENCE_UNAVAILABLE", "CREDENCE_UNAVAILABLE" not in syms, syms)
        ar = milter_header(doc, "Authentication-Results") or ""
        check("signed message: milter adds credence's Authentication-Results",
              ar.startswith(AUTHSERV) and "dkim=pass" in ar and "dmarc=pass" in ar,
              doc.get("milter"))
        direct = __import__("test_serve").ask(svc.socket, fx.signed, ip=CLIENT_GOOD,
                                                helo="mx.example.test",
                                                mail_from="alice@example.test")
        total = sum(v["score"] for v in syms.values())
        check("signed message: rspamd scores of CREDENCE_* (%.2f) are credence's default "
              "weights, as the service computes them (%.2f)" % (total, direct["score"]),
              abs(total - direct["score"]) < 1e-6, (total, direct["score"]))

        rc, doc, r = rs.scan(fx.spoofed, CLIENT_BAD, "evil.test", "alice@example.test")
        syms = credence_symbols(doc or {})
        check("spoofed message: CREDENCE_DMARC_REJECT scores rspamd's 6.0 (credence.toml's 3.0 "
              "does not multiply it) and CREDENCE_SPF_FAIL 1.0",
              rc == 0 and abs(syms.get("CREDENCE_DMARC_REJECT", {}).get("score", 0) - 6.0) < 1e-6
              and abs(syms.get("CREDENCE_SPF_FAIL", {}).get("score", 0) - 1.0) < 1e-6, syms)

        # Limits fail closed (docs/security.md): the same spoof behind 1,200 header fields and
        # with a 70 KiB body line is still judged (it was "not a message", CREDENCE_UNAVAILABLE
        # with weight 0, before).
        padded = ("".join("X-Junk-%d: %d\r\n" % (i, i) for i in range(1200)).encode() +
                  fx.spoofed + b"x" * (70 << 10) + b"\r\n")
        rc, doc, r = rs.scan(padded, CLIENT_BAD, "evil.test", "alice@example.test")
        syms = credence_symbols(doc or {})
        check("padded spoof: CREDENCE_DMARC_REJECT and CREDENCE_LIMIT, not UNAVAILABLE",
              rc == 0 and "CREDENCE_DMARC_REJECT" in syms and "CREDENCE_LIMIT" in syms
              and "CREDENCE_UNAVAILABLE" not in syms, syms)
        ar = milter_header(doc or {}, "Authentication-Results") or ""
        check("padded spoof: the A-R added is folded, no line over 998 bytes",
              "\n" in ar and max(len(l) for l in ar.split("\n")) <= 998, repr(ar[:200]))

        rc, doc, r = rs.scan(fx.forged, CLIENT_BAD, "evil.test", "alice@example.test")
        remove = (doc or {}).get("milter", {}).get("remove_headers", {})
        check("forged A-R with our authserv-id: /checkv2 milter reply removes "
              "Authentication-Results 1 (an integer: rspamd 3.4's milter skips an array)",
              rc == 0 and remove.get("Authentication-Results") == 1, (doc or {}).get("milter"))
        check_milter(rs, fx)

        svc.stop()
        check_stalled_dns(fx, ns_port, rs, svc.socket)

        # The service goes away: scanning goes on with a zero-weight symbol.
        t0 = time.time()
        rc, doc, r = rs.scan(fx.signed, CLIENT_GOOD, "mx.example.test", "alice@example.test")
        took = time.time() - t0
        syms = credence_symbols(doc or {})
        check("service down: scan succeeds (%.0f ms)" % (took * 1000),
              rc == 0 and doc is not None and "action" in doc, r.stderr)
        check("service down: CREDENCE_UNAVAILABLE with score 0 and no other CREDENCE_* symbol",
              list(syms) == ["CREDENCE_UNAVAILABLE"] and syms["CREDENCE_UNAVAILABLE"]["score"] == 0,
              syms)
        check("service down: no Authentication-Results added",
              milter_header(doc or {}, "Authentication-Results") is None, (doc or {}).get("milter"))
        check("rspamd resolved no host names at start-up", "address resolution" not in rs.log(),
              [l for l in rs.log().splitlines() if "address resolution" in l][:3])
    finally:
        rs.cleanup()
        svc.cleanup()
        shutil.rmtree(conf_dir, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        print("SKIP: test_rspamd.py needs root (rspamd drops to _rspamd)")
        return 0
    fx = MailFixture()
    return run_with_named(fx, lambda port: run_checks(fx, port))


if __name__ == "__main__":
    sys.exit(main())
