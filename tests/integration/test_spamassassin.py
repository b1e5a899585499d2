#!/usr/bin/python3
"""SpamAssassin 4.0 with credence's plugin (plugin/spamassassin/) and a real `credence serve`.

Runs `spamassassin -t -L --siteconfigpath=DIR` (no network tests; credence's own DNS goes to a
throwaway BIND on loopback) and spamd/spamc on a loopback port. Checks the dynamic CREDENCE
hit and its symbol list, the per-symbol rules (informational and weighted modes), the
_CREDENCEAR_ tag, the `credence verify` fallback when the socket is absent, and that scanning
goes on without a verdict when nothing answers. PASS/FAIL per check, exit 1 on failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import free_port  # noqa: E402
from test_serve import (AUTHSERV, CLIENT_BAD, CLIENT_GOOD, SRC,  # noqa: E402
                        MailFixture, Service, check, find_credence, run_with_named)

SPAMASSASSIN = shutil.which("spamassassin") or "/usr/bin/spamassassin"
SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"  # Debian package spamd
SPAMC = shutil.which("spamc") or "/usr/bin/spamc"


def with_envelope(message, ip, helo, mail_from):
    """What our MTA would have added: Return-Path and its Received line (SA reads the client
    IP and HELO from the first untrusted relay, the envelope sender from Return-Path)."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    top = ("Return-Path: <%s>\r\nReceived: from %s (%s [%s])\r\n\tby mail.credence.test "
           "(Postfix) with ESMTP id 4XyZ1\r\n\tfor <bob@credence.test>; %s\r\n"
           % (mail_from, helo, helo, ip, date))
    return top.encode() + message


class SiteConfig:
    def __init__(self, socket_path, extra=""):
        self.dir = tempfile.mkdtemp(prefix="credence-sa-")
        os.chmod(self.dir, 0o755)
        # --siteconfigpath replaces /etc/spamassassin: bring its plugin loaders (v320.pre loads
        # the Check plugin, without which nothing is scanned).
        for n in os.listdir("/etc/spamassassin"):
            if n.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", n), self.dir)
        pm = os.path.join(self.dir, "Credence.pm")
        shutil.copy(os.path.join(SRC, "plugin/spamassassin/Credence.pm"), pm)
        with open(os.path.join(SRC, "plugin/spamassassin/credence.pre")) as f:
            pre = f.read().replace("/etc/spamassassin/Credence.pm", pm)
        with open(os.path.join(SRC, "plugin/spamassassin/credence.cf")) as f:
            cf = f.read().replace("/run/credence/credence.sock", socket_path)
        self.write("credence.pre", pre)
        self.write("credence.cf", cf)
        self.write("local.cf", "trusted_networks 127.0.0.1/32\ninternal_networks 127.0.0.1/32\n"
                   "dns_available no\nadd_header all Credence-AR _CREDENCEAR_\n" + extra)
        for n in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, n), 0o644)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def sa_check(site, message):
    r = subprocess.run([SPAMASSASSIN, "-t", "-L", "--siteconfigpath=" + site.dir],
                       input=message, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def status_tests(out):
    """Rule names from X-Spam-Status tests=..."""
    m = re.search(r"^X-Spam-Status:.*?tests=(.*?)(?:\s+autolearn=|\s+version=)", out, re.S | re.M)
    return set(re.split(r"[,\s]+", m.group(1).strip())) if m else set()


def report_points(out, rule):
    """Points of `rule` in the -t report table ("pts rule name description")."""
    m = re.search(r"^\s*(-?\d+(?:\.\d+)?)\s+%s\s" % re.escape(rule), out, re.M)
    return float(m.group(1)) if m else None


def report_line(out, rule):
    m = re.search(r"^\s*-?\d+(?:\.\d+)?\s+%s\s+(.*(?:\n\s{20,}.*)*)" % re.escape(rule), out, re.M)
    return re.sub(r"\s+", " ", m.group(1)) if m else ""


def header_value(out, name):
    m = re.search(r"^%s:(.*(?:\n[ \t].*)*)" % re.escape(name), out, re.M)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else None


def run_checks(fx, ns_port, good, bad):
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--socket-mode", "0666"])
    site = SiteConfig(svc.socket)
    try:
        rc, out, err = sa_check(site, good)
        tests = status_tests(out)
        check("spamassassin -t -L: exit 0 and the plugin ran", rc == 0 and "CREDENCE" in tests,
              (rc, err[-800:], sorted(tests)))
        pts = report_points(out, "CREDENCE")
        check("signed message: CREDENCE hit carries credence's score (-0.9)",
              pts is not None and abs(pts - (-0.9)) < 1e-6, (pts, report_line(out, "CREDENCE")))
        line = report_line(out, "CREDENCE")
        check("CREDENCE description lists the symbols",
              "CREDENCE_DKIM_PASS(-0.20)" in line and "CREDENCE_DMARC_PASS(-0.50)" in line, line)
        check("per-symbol rules hit (informational): DKIM/SPF/DMARC pass",
              {"CREDENCE_DKIM_PASS", "CREDENCE_SPF_PASS", "CREDENCE_DMARC_PASS"} <= tests,
              sorted(tests))
        ar = header_value(out, "X-Spam-Credence-AR") or ""
        check("_CREDENCEAR_ tag carries credence's Authentication-Results",
              ar.startswith(AUTHSERV) and "dkim=pass" in ar and "spf=pass" in ar, ar)

        rc, out, err = sa_check(site, bad)
        tests = status_tests(out)
        pts = report_points(out, "CREDENCE")
        check("spoofed message: positive CREDENCE score and CREDENCE_DMARC_REJECT",
              pts is not None and pts > 2 and "CREDENCE_DMARC_REJECT" in tests,
              (pts, sorted(tests)))

        # Weighted per-symbol mode.
        sym_site = SiteConfig(svc.socket, "credence_score_mode symbols\n")
        try:
            rc, out, err = sa_check(sym_site, bad)
            check("symbols mode: CREDENCE_DMARC_REJECT carries its weight 2.0",
                  report_points(out, "CREDENCE_DMARC_REJECT") == 2.0,
                  report_line(out, "CREDENCE_DMARC_REJECT") or out[-1500:])
            pts = report_points(out, "CREDENCE")
            check("symbols mode: CREDENCE itself is informational (0.0 shown)",
                  pts is not None and abs(pts) < 0.01, pts)
        finally:
            sym_site.cleanup()

        # spamd + spamc on loopback, spamd running as nobody.
        port = free_port()
        spamd_dir = tempfile.mkdtemp(prefix="credence-spamd-")
        os.chmod(spamd_dir, 0o755)
        log = open(os.path.join(spamd_dir, "spamd.log"), "w")
        spamd = subprocess.Popen([SPAMD, "-L", "-x", "-u", "nobody", "--siteconfigpath=" + site.dir,
                                  "--listen=127.0.0.1:%d" % port, "--syslog=stderr",
                                  "--pidfile=" + os.path.join(spamd_dir, "spamd.pid"),
                                  "--max-children=1"],
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            out = ""
            deadline = time.time() + 120
            while time.time() < deadline and spamd.poll() is None:
                r = subprocess.run([SPAMC, "-d", "127.0.0.1", "-p", str(port), "-K"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                if r.returncode == 0:
                    break
                time.sleep(0.5)
            r = subprocess.run([SPAMC, "-d", "127.0.0.1", "-p", str(port)], input=good,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            out = r.stdout.decode("utf-8", "replace")
            check("spamd/spamc: CREDENCE and CREDENCE_DKIM_PASS in X-Spam-Status",
                  r.returncode == 0 and {"CREDENCE", "CREDENCE_DKIM_PASS"} <= status_tests(out),
                  (r.returncode, header_value(out, "X-Spam-Status")))
            check("spamd/spamc: X-Spam-Credence-AR header",
                  "dkim=pass" in (header_value(out, "X-Spam-Credence-AR") or ""),
                  header_value(out, "X-Spam-Credence-AR"))
        finally:
            spamd.terminate()
            try:
                spamd.wait(30)
            except subprocess.TimeoutExpired:
                spamd.kill()
                spamd.wait()
            log.close()
            shutil.rmtree(spamd_dir, ignore_errors=True)
    finally:
        site.cleanup()
        svc.cleanup()

    # No socket: the plugin runs `credence verify --format json` itself.
    gone = "/nonexistent/credence.sock"
    fb_site = SiteConfig(gone, "credence_path %s\ncredence_verify_args --dns 127.0.0.1:%d "
                         "--authserv-id %s\n" % (find_credence(), ns_port, AUTHSERV))
    try:
        rc, out, err = sa_check(fb_site, good)
        pts = report_points(out, "CREDENCE")
        check("fallback (socket absent): credence verify gives the same CREDENCE score",
              pts is not None and abs(pts - (-0.9)) < 1e-6, (pts, err[-800:]))
        check("fallback: per-symbol rules hit",
              "CREDENCE_DMARC_PASS" in status_tests(out), sorted(status_tests(out)))
    finally:
        fb_site.cleanup()

    # Nothing answers and the fallback is off: no verdict, scanning goes on.
    off_site = SiteConfig(gone, "credence_fallback 0\n")
    try:
        rc, out, err = sa_check(off_site, good)
        tests = status_tests(out)
        check("no service, no fallback: scan succeeds without CREDENCE hits",
              rc == 0 and "X-Spam-Status" in out and not any(t.startswith("CREDENCE") for t in tests),
              (rc, sorted(tests)))
    finally:
        off_site.cleanup()


def main():
    fx = MailFixture()
    good = with_envelope(fx.signed, CLIENT_GOOD, "mx.example.test", "alice@example.test")
    bad = with_envelope(fx.spoofed, CLIENT_BAD, "evil.test", "alice@example.test")
    return run_with_named(fx, lambda port: run_checks(fx, port, good, bad))


if __name__ == "__main__":
    sys.exit(main())
