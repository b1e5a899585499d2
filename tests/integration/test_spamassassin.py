#!/usr/bin/python3
"""SpamAssassin 4.0 with credence's plugin (plugin/spamassassin/) and a real `credence serve`.

Runs `spamassassin -t -L --siteconfigpath=DIR` (no network tests; credence's own DNS goes to a
throwaway BIND on loopback) and spamd/spamc on a loopback port. Checks the per-symbol rules
with the scores credence.cf ships for SpamAssassin's scale (a p=reject spoof over
required_score 5.0), the informational CREDENCE rule, descriptions without a doubled prefix,
the forged-A-R rule, the envelope from Received/Return-Path and what happens without them,
the "total" and "symbols" modes, the _CREDENCEAR_ tag with and without a verdict, spamd run
as Debian runs it (root, children switching users) with and without `--username
debian-spamd` against a 0660 socket, a stalled DNS server (temperror within credence_timeout,
not "unavailable"), and the `credence verify` fallback. PASS/FAIL per check, exit 1 on failure.
"""
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import DelayProxy, as_localhost, free_port  # noqa: E402
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
    # as_localhost: SpamAssassin looks its host name up (28 questions to the system's resolver
    # in a run on a minimal Debian root, whose /etc/hosts does not name the host).
    r = subprocess.run(as_localhost([SPAMASSASSIN, "-t", "-L", "--siteconfigpath=" + site.dir]),
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


def credence_points(out):
    """{rule: points} of the CREDENCE* rules in the -t report."""
    return {m.group(2): float(m.group(1)) for m in
            re.finditer(r"^\s*(-?\d+(?:\.\d+)?)\s+(CREDENCE\w*)\s", out, re.M)}


def total_score(out):
    m = re.search(r"^X-Spam-Status: (Yes|No), score=(-?\d+(?:\.\d+)?)", out, re.M)
    return (m.group(1), float(m.group(2))) if m else (None, None)


def check_rules_mode(site, fx, good, bad):
    rc, out, err = sa_check(site, good)
    pts = credence_points(out)
    check("signed message: exit 0; CREDENCE_DKIM_PASS -0.1, CREDENCE_SPF_PASS -0.1, "
          "CREDENCE_DMARC_PASS -0.2 (credence.cf's scores)",
          rc == 0 and pts.get("CREDENCE_DKIM_PASS") == -0.1 and
          pts.get("CREDENCE_SPF_PASS") == -0.1 and pts.get("CREDENCE_DMARC_PASS") == -0.2,
          (rc, pts, err[-800:]))
    line = report_line(out, "CREDENCE")
    check("CREDENCE is informational and lists credence's symbols and own score",
          pts.get("CREDENCE") == 0.0 and "credence score -0.90" in line and
          "CREDENCE_DKIM_PASS(-0.20)" in line and "CREDENCE_DMARC_PASS(-0.50)" in line,
          (pts.get("CREDENCE"), line))
    dkim_line = report_line(out, "CREDENCE_DKIM_PASS")
    check("descriptions without a doubled prefix: %r" % dkim_line[:80],
          dkim_line.startswith("DKIM signature of the From domain verified") and
          not re.search(r"(?i)credence:\s*credence", out), dkim_line)
    ar = header_value(out, "X-Spam-Credence-AR") or ""
    check("_CREDENCEAR_ tag carries credence's Authentication-Results",
          ar.startswith(AUTHSERV) and "dkim=pass" in ar and "spf=pass" in ar, ar)

    rc, out, err = sa_check(site, bad)
    pts = credence_points(out)
    flag, score = total_score(out)
    check("p=reject spoof: CREDENCE_DMARC_REJECT 5.0 and CREDENCE_SPF_FAIL 1.0; spam on "
          "SpamAssassin's scale (X-Spam-Status: %s, score=%s)" % (flag, score),
          pts.get("CREDENCE_DMARC_REJECT") == 5.0 and pts.get("CREDENCE_SPF_FAIL") == 1.0 and
          flag == "Yes" and score >= 5.0, (pts, flag, score))

    # Postfix writes the client's HELO first and keeps its spaces and brackets ("EHLO x y
    # [GOOD]"; parentheses become '?'), and with smtpd_tls_received_header a client
    # certificate's CN in a later comment: SpamAssassin's parser took the first literal, an
    # address the From domain's SPF lists. The plugin takes the first comment's.
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    for top in ("Received: from x y [%s] (unknown [%s])\r\n" % (CLIENT_GOOD, CLIENT_BAD),
                "Received: from x?y?[%s]? (unknown [%s])\r\n" % (CLIENT_GOOD, CLIENT_BAD),
                "Received: from mx.evil.test (mx.evil.test [%s])\r\n\t(using TLSv1.3 with "
                "cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\t(Client CN \"[%s]\", "
                "Issuer \"x\" (not verified))\r\n" % (CLIENT_BAD, CLIENT_GOOD)):
        helo = top.split("\r\n")[0]
        injected = ("Return-Path: <alice@example.test>\r\n" + top +
                    "\tby mail.credence.test (Postfix) with ESMTP id 4XyZ2\r\n\tfor "
                    "<bob@credence.test>; %s\r\n" % date).encode() + fx.spoofed
        rc, out, err = sa_check(site, injected)
        pts = credence_points(out)
        check("%r naming a listed address: still SPF fail and DMARC reject (%s)"
              % (helo, sorted(pts)), pts.get("CREDENCE_DMARC_REJECT") == 5.0 and
              pts.get("CREDENCE_SPF_FAIL") == 1.0 and "CREDENCE_SPF_PASS" not in pts, pts)

    forged = with_envelope(fx.forged, CLIENT_BAD, "evil.test", "alice@example.test")
    rc, out, err = sa_check(site, forged)
    pts = credence_points(out)
    check("forged A-R with our authserv-id: CREDENCE_FORGED_AR 3.0 (%s)"
          % report_line(out, "CREDENCE_FORGED_AR")[:100],
          pts.get("CREDENCE_FORGED_AR") == 3.0 and AUTHSERV in report_line(out, "CREDENCE_FORGED_AR"),
          pts)
    rc, out, err = sa_check(site, good)
    check("no forged A-R: no CREDENCE_FORGED_AR", "CREDENCE_FORGED_AR" not in credence_points(out))

    # Without the MTA's Received and Return-Path fields: no client IP, so SPF is not evaluated
    # (no CREDENCE_SPF_* rule, no spf= in the A-R); DKIM and DMARC are judged as usual.
    rc, out, err = sa_check(site, fx.signed)
    pts = credence_points(out)
    ar = header_value(out, "X-Spam-Credence-AR") or ""
    check("no Received/Return-Path: SPF not evaluated (no CREDENCE_SPF_* rule, no spf= in the "
          "A-R), DKIM and DMARC pass",
          not any(r.startswith("CREDENCE_SPF_") for r in pts) and "spf=" not in ar and
          "CREDENCE_DKIM_PASS" in pts and "CREDENCE_DMARC_PASS" in pts, (pts, ar))
    # A Received field but no Return-Path: the null sender, SPF checks postmaster@HELO.
    no_rp = re.sub(rb"^Return-Path: [^\r\n]*\r\n", b"", good)
    rc, out, err = sa_check(site, no_rp)
    ar = header_value(out, "X-Spam-Credence-AR") or ""
    spf = re.search(r"spf=\S+ [^;]*", ar)
    check("Received but no Return-Path: the null sender, SPF of postmaster@HELO (%s)"
          % (spf.group(0)[:90] if spf else "no spf="),
          "smtp.mailfrom=postmaster@mx.example.test" in ar, ar)


def check_other_modes(svc, fx, good, bad):
    site = SiteConfig(svc.socket, "credence_score_mode total\n")
    try:
        rc, out, err = sa_check(site, bad)
        pts = credence_points(out)
        check("total mode: CREDENCE carries credence's own score (3.0: rspamd's scale), the "
              "per-symbol rules are informational",
              pts.get("CREDENCE") == 3.0 and pts.get("CREDENCE_DMARC_REJECT") == 0.0, pts)
        rc, out, err = sa_check(site, good)
        check("total mode: signed message CREDENCE -0.9",
              credence_points(out).get("CREDENCE") == -0.9, credence_points(out))
    finally:
        site.cleanup()
    site = SiteConfig(svc.socket, "credence_score_mode symbols\n")
    try:
        rc, out, err = sa_check(site, bad)
        pts = credence_points(out)
        check("symbols mode: CREDENCE_DMARC_REJECT carries credence's weight 2.0, CREDENCE "
              "informational", pts.get("CREDENCE_DMARC_REJECT") == 2.0 and
              pts.get("CREDENCE") == 0.0, pts)
    finally:
        site.cleanup()


class Spamd:
    """spamd as Debian's unit starts it (root, /etc/default/spamd's OPTIONS) on a loopback
    port, with `extra` options; for the test: -L, our site configuration, and -x (no per-user
    preferences written under the real /var/lib/spamassassin)."""

    def __init__(self, site, extra):
        self.dir = tempfile.mkdtemp(prefix="credence-spamd-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "spamd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(as_localhost(
            [SPAMD, "--create-prefs", "--max-children", "1", "--helper-home-dir", "-L", "-x",
             "--siteconfigpath=" + site.dir, "--listen=127.0.0.1:%d" % self.port,
             "--syslog=stderr", "--pidfile=" + os.path.join(self.dir, "spamd.pid")] + extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        # spamd compiles its rules before its child answers: on a loaded machine one ping can
        # wait longer than its own timeout. A ping that times out is tried again, within the
        # overall 300 s.
        deadline = time.time() + 300
        while time.time() < deadline and self.proc.poll() is None:
            try:
                r = subprocess.run([SPAMC, "-d", "127.0.0.1", "-p", str(self.port), "-K"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0:
                break
            time.sleep(0.5)

    def scan(self, message):
        r = subprocess.run([SPAMC, "-d", "127.0.0.1", "-p", str(self.port)], input=message,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def output(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cleanup(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def check_spamd(fx, ns_port, good):
    """The socket 0660, group debian-spamd, in a 0750 directory: spamd as Debian runs it
    switches its children to the user spamc names (root: "nobody"), which cannot connect;
    with `--username debian-spamd` every child is debian-spamd and reaches it."""
    if os.geteuid() != 0:
        print("SKIP: spamd user checks need root")
        return
    run_dir = tempfile.mkdtemp(prefix="credence-run-")
    gid = grp.getgrnam("debian-spamd").gr_gid
    os.chown(run_dir, 0, gid)
    os.chmod(run_dir, 0o750)
    sock = os.path.join(run_dir, "credence.sock")
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--socket-group", "debian-spamd"],
                  socket_path=sock)
    site = SiteConfig(sock)
    try:
        for extra, who in (([], "Debian's default (children as nobody)"),
                           (["--username", "debian-spamd"], "--username debian-spamd")):
            d = Spamd(site, extra)
            try:
                rc, out = d.scan(good)
                tests = status_tests(out)
                ar = header_value(out, "X-Spam-Credence-AR") or ""
                if extra:
                    check("spamd, %s: reaches the 0660 socket: CREDENCE_DKIM_PASS, "
                          "X-Spam-Credence-AR" % who,
                          rc == 0 and "CREDENCE_DKIM_PASS" in tests and "dkim=pass" in ar,
                          (rc, sorted(tests), ar, d.output()[-800:]))
                else:
                    check("spamd, %s: no verdict, and it shows: CREDENCE_UNAVAILABLE, "
                          "X-Spam-Credence-AR %r" % (who, ar[:70]),
                          rc == 0 and "CREDENCE_UNAVAILABLE" in tests and
                          "CREDENCE_DKIM_PASS" not in tests and "Permission denied" in ar,
                          (rc, sorted(tests), ar))
            finally:
                d.cleanup()
    finally:
        site.cleanup()
        svc.cleanup()
        shutil.rmtree(run_dir, ignore_errors=True)


def check_stalled_dns(fx, ns_port, good):
    """The service's DNS never answers for example.test: temperror within credence_timeout."""
    with DelayProxy(ns_port, delay=0.0, stall=["example.test"]) as stalled:
        svc = Service(["--dns", "127.0.0.1:%d" % stalled, "--socket-mode", "0666"])
        site = SiteConfig(svc.socket)
        try:
            t0 = time.time()
            rc, out, err = sa_check(site, good)
            took = time.time() - t0
            tests = status_tests(out)
            want = {"CREDENCE_DKIM_TEMPERROR", "CREDENCE_SPF_TEMPERROR", "CREDENCE_DMARC_TEMPERROR"}
            check("stalled DNS: temperror rules hit, not CREDENCE_UNAVAILABLE (scan %.1f s, "
                  "credence_timeout 7 s)" % took,
                  want <= tests and "CREDENCE_UNAVAILABLE" not in tests, (sorted(tests), err[-500:]))
        finally:
            site.cleanup()
            svc.stop()
            log = svc.output()
            svc.cleanup()
        line = next((l for l in log.splitlines() if "outcome=verdict" in l), "")
        took = re.search(r"eval_ms=\d+", line)
        check("stalled DNS: the service answered before the plugin's 7 s (timeout_ms=7000, "
              "deadline=reached, %s)" % (took.group(0) if took else "no log line"),
              "timeout_ms=7000" in line and "deadline=reached" in line, log[-800:])


def check_postfix_pattern():
    """docs/spamassassin.md's Postfix header_checks line, with grep -Ei (POSIX ERE, case
    ignored, as Postfix's regexp tables): our forged fields match, other hosts' do not."""
    with open(os.path.join(SRC, "docs/spamassassin.md")) as f:
        m = re.search(r"^\s*/(\^Authentication-Results:.*)/ IGNORE$", f.read(), re.M)
    if not check("docs/spamassassin.md has a Postfix header_checks line", m is not None):
        return
    pattern = m.group(1).replace(r"mx\.example\.com", re.escape(AUTHSERV).replace("\\-", "-"))
    forged = ["Authentication-Results: %s; dkim=pass header.d=example.test" % AUTHSERV,
              "authentication-results:%s;spf=pass" % AUTHSERV.upper(),
              "Authentication-Results: (checked here) %s; dmarc=pass" % AUTHSERV,
              "Authentication-Results: %s 1; spf=pass" % AUTHSERV,
              "Authentication-Results: %s" % AUTHSERV]
    others = ["Authentication-Results: upstream.example.net; spf=pass",
              "Authentication-Results: %s.evil.example; dkim=pass" % AUTHSERV,
              "Authentication-Results: not%s; dkim=pass" % AUTHSERV,
              "X-Authentication-Results: %s; dkim=pass" % AUTHSERV]
    r = subprocess.run(["grep", "-Ei", "-e", pattern], input="\n".join(forged + others) + "\n",
                       stdout=subprocess.PIPE, universal_newlines=True)
    matched = r.stdout.splitlines()
    check("Postfix header_checks pattern: the %d forged fields match, the %d others do not"
          % (len(forged), len(others)), matched == forged, (pattern, matched))


def run_checks(fx, ns_port, good, bad):
    check_postfix_pattern()
    svc = Service(["--dns", "127.0.0.1:%d" % ns_port, "--socket-mode", "0666"])
    site = SiteConfig(svc.socket)
    try:
        check_rules_mode(site, fx, good, bad)
        check_other_modes(svc, fx, good, bad)
    finally:
        site.cleanup()
        svc.cleanup()
    check_spamd(fx, ns_port, good)
    check_stalled_dns(fx, ns_port, good)

    # No socket, the fallback off (the default): no verdict, and the report and the tag say so.
    gone = "/nonexistent/credence.sock"
    off_site = SiteConfig(gone)
    try:
        rc, out, err = sa_check(off_site, good)
        tests = status_tests(out)
        ar = header_value(out, "X-Spam-Credence-AR") or ""
        check("no service: scan succeeds; only CREDENCE_UNAVAILABLE; the tag reads %r" % ar,
              rc == 0 and [t for t in tests if t.startswith("CREDENCE")] == ["CREDENCE_UNAVAILABLE"]
              and ar.startswith("none (credence: no verdict: socket") and "_CREDENCEAR_" not in out,
              (rc, sorted(tests), ar))
    finally:
        off_site.cleanup()

    # No socket, the fallback on: the plugin runs `credence verify --format json` itself.
    fb_site = SiteConfig(gone, "credence_fallback 1\ncredence_path %s\ncredence_verify_args "
                         "--dns 127.0.0.1:%d --authserv-id %s\n" % (find_credence(), ns_port,
                                                                      AUTHSERV))
    try:
        rc, out, err = sa_check(fb_site, good)
        pts = credence_points(out)
        check("fallback (credence_fallback 1, socket absent): credence verify gives the same "
              "verdicts", pts.get("CREDENCE_DMARC_PASS") == -0.2 and
              "credence score -0.90" in report_line(out, "CREDENCE"), (pts, err[-800:]))
    finally:
        fb_site.cleanup()


def main():
    fx = MailFixture()
    good = with_envelope(fx.signed, CLIENT_GOOD, "mx.example.test", "alice@example.test")
    bad = with_envelope(fx.spoofed, CLIENT_BAD, "evil.test", "alice@example.test")
    return run_with_named(fx, lambda port: run_checks(fx, port, good, bad))


if __name__ == "__main__":
    sys.exit(main())
