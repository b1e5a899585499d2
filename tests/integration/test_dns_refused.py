#!/usr/bin/python3
"""An authoritative-only DNS server given as credence's resolver (issue 11, item 5).

named serving only the admin's own zone (no recursion, no root zone) answers REFUSED for every
other name. A message from a foreign domain then gets temperror for DKIM, SPF and DMARC; each
reason must say what REFUSED means (the server does not recurse: credence needs a recursive
resolver), once, in the JSON, the Authentication-Results field and Exim's log line. Then the
unbound recipe of docs/exim.md (its block, read from the page) in front of the same server:
the foreign message and one from the own zone (the recipe's stub zone) pass.

A second named stands in for the rest of the DNS (unbound forwards "." to it: no network).
Exim runs when this is root with exim4-daemon-heavy and the shim built (test_exim_e2e's
harness); unbound is needed for the recipe part (setup.sh installs it).

Env: CREDENCE_BIN, CREDENCE_BUILD, CREDENCE_SRC. One line per check; exit 1 on any failure.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("CREDENCE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from named_fixture import Named, _query_ok, free_port  # noqa: E402

import dkim  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
EXIM_DOC = os.path.join(SRC, "docs", "exim.md")
CLIENT_IP = "203.0.113.7"
EXPLAINED = ("REFUSED: the DNS server does not answer (recurse) for this name: credence needs "
             "a recursive resolver")
FAILURES = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {str(detail)[:1500]}"))
    if not ok:
        FAILURES.append(name)


def rsa2048(tmp):
    path = os.path.join(tmp, "rsa2048.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", path], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return open(path, "rb").read(), base64.b64encode(der).decode()


def sender_zone(public_key):
    p = public_key
    return ('sel._domainkey IN TXT "v=DKIM1; k=rsa; p=%s" "%s"\n' % (p[:200], p[200:]) +
            '@ IN TXT "v=spf1 ip4:%s -all"\n' % CLIENT_IP +
            '_dmarc IN TXT "v=DMARC1; p=reject"\n' +
            "mail IN A %s\n" % CLIENT_IP)


def message(domain, key):
    msg = (f"From: Alice <alice@{domain}>\r\nTo: Bob <bob@own.test>\r\n"
           f"Subject: from {domain}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           f"Message-ID: <refused-{domain}@{domain}>\r\n\r\nHello from {domain}.\r\n").encode()
    return dkim.sign(msg, b"sel", domain.encode(), key,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def verify(path, port, domain):
    proc = subprocess.run([BIN, "verify", "--format", "json", "-q", "--dns", f"127.0.0.1:{port}",
                           "--dns-timeout", "1000", "--client-ip", CLIENT_IP, "--helo",
                           f"mail.{domain}", "--mail-from", f"alice@{domain}", path],
                          capture_output=True, timeout=60)
    return json.loads(proc.stdout.decode().splitlines()[0])


def verdicts(r):
    return ([d.get("result") for d in r.get("dkim", [])], r["spf"]["result"], r["dmarc"]["result"])


def reasons(r):
    """The detail behind each temperror: DKIM, SPF (MAIL FROM, HELO), DMARC."""
    return {"dkim": r["dkim"][0].get("detail", ""), "spf": r["spf"].get("detail", ""),
            "spf_helo": r["spf_helo"].get("detail", ""), "dmarc": r["dmarc"].get("reason", "")}


def authres_reasons(authres):
    return re.findall(r'reason="((?:[^"\\]|\\.)*)"', authres)


def refused_cases(own_port, files):
    r = verify(files["foreign.test"], own_port, "foreign.test")
    check("authoritative-only server: dkim, spf, dmarc temperror (not fail, not none)",
          verdicts(r) == (["temperror"], "temperror", "temperror"), r)
    for method, text in reasons(r).items():
        check(f"{method} detail explains REFUSED once: {text!r}",
              EXPLAINED in text and text.count("REFUSED") == 1, text)
    found = authres_reasons(r["authentication_results"])
    check(f"the A-R carries the explanation in each of its {len(found)} reasons, once each",
          len(found) == 4 and all(x.count(EXPLAINED) == 1 and x.count("REFUSED") == 1
                                  for x in found), r["authentication_results"])
    check("DKIM's reason does not say the lookup failed twice",
          "key lookup failed: sel._domainkey.foreign.test: REFUSED" in found[0], found)
    # The own zone is still answered: REFUSED is only for names outside it.
    r = verify(files["own.test"], own_port, "own.test")
    check("the server's own zone still passes through it",
          verdicts(r) == (["pass"], "pass", "pass"), r)


def exim_cases(own_port, unbound_port, files):
    """Through a real Exim: the log line names the reason; dns=localhost said once."""
    try:
        import test_exim_e2e as e2e
    except Exception as e:  # noqa: BLE001
        check("test_exim_e2e's harness imports", False, repr(e))
        return
    if os.geteuid() != 0 or not os.path.exists(e2e.PLUGIN) or \
            "Expand_dlfunc" not in e2e.exim_features():
        print("SKIP Exim cases: need root, exim4-daemon-heavy and the shim built")
        return
    foreign = open(files["foreign.test"], "rb").read()
    exim = e2e.Exim(own_port)
    try:
        replies, _ = exim.smtp(CLIENT_IP, "alice@foreign.test", foreign, helo="mail.foreign.test")
        check("Exim, authoritative-only dns=: accepted (250, not 451)",
              e2e.data_reply(replies).startswith("250"), replies)
        lines = [l for l in exim.log("main").splitlines() if "credence: score=" in l]
        want = ('dmarc=temperror forged=0 dmarc_reason="_dmarc.foreign.test: %s"' % EXPLAINED)
        check("Exim's log line says why: " + want, len(lines) == 1 and want in lines[0], lines)
        got = exim.delivered()
        check("the delivered A-R explains REFUSED",
              len(got) == 1 and EXPLAINED.split(": ", 1)[1] in
              re.sub(r"\n\t", " ", e2e.header_block(got[0])), got)
        check("nothing in the paniclog", exim.log("panic") == "", exim.log("panic"))
    finally:
        exim.cleanup()
    exim = e2e.Exim(own_port, extra_options="dns=localhost")
    try:
        replies, _ = exim.smtp(CLIENT_IP, "alice@foreign.test", foreign, helo="mail.foreign.test")
        panic = exim.log("panic")
        check("dns=localhost: the configuration error names the server once",
              "DNS server 'localhost' is not an IP address" in panic and
              panic.count("localhost") == 1, panic)
    finally:
        exim.cleanup()
    if unbound_port:
        exim = e2e.Exim(unbound_port)
        try:
            replies, _ = exim.smtp(CLIENT_IP, "alice@foreign.test", foreign,
                                   helo="mail.foreign.test")
            lines = [l for l in exim.log("main").splitlines() if "credence: score=" in l]
            check("Exim, dns= the unbound of the recipe: dkim=pass spf=pass dmarc=pass",
                  len(lines) == 1 and "dkim=pass spf=pass dmarc=pass" in lines[0] and
                  "dmarc_reason" not in lines[0], lines)
        finally:
            exim.cleanup()


def documented_unbound_block():
    """docs/exim.md's /etc/unbound/unbound.conf.d/credence.conf block."""
    text = open(EXIM_DOC).read()
    block = re.search(r"```\n# /etc/unbound/unbound.conf.d/credence.conf\n(.*?)```", text, re.S)
    if not block:
        raise RuntimeError("docs/exim.md has no unbound block")
    return block.group(1)


class Unbound:
    """unbound with the documented block: the port, the stub zone's name and address made
    the test's; plus what a throwaway instance needs (no chroot, no user switch, files in a
    temp dir, the .test TLD not answered locally) and a forwarder to `internet_port` in place
    of the root servers."""

    def __init__(self, own_port, internet_port):
        self.port = free_port()
        block = documented_unbound_block()
        block = block.replace("port: 5335", "port: %d" % self.port)
        block = block.replace('name: "example.org"', 'name: "own.test"')
        block = block.replace("stub-addr: 127.0.0.1@53", "stub-addr: 127.0.0.1@%d" % own_port)
        self.dir = tempfile.mkdtemp(prefix="credence-unbound-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write(block + """
server:
    username: ""
    chroot: ""
    directory: "%s"
    pidfile: "%s/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    # unbound answers the special-use TLD .test itself (RFC 6761): the test's names are there
    local-zone: "test." nodefault
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@%d
""" % (self.dir, self.dir, internet_port))
        self.proc = None

    def __enter__(self):
        check_conf = subprocess.run(["unbound-checkconf", self.conf], capture_output=True,
                                    text=True)
        if check_conf.returncode != 0:
            raise RuntimeError("unbound-checkconf: " + check_conf.stdout + check_conf.stderr)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            if _query_ok(self.port, "own.test"):
                return self
            time.sleep(0.1)
        out = open(os.path.join(self.dir, "stderr.log")).read()
        self.__exit__()
        raise RuntimeError("unbound did not start:\n" + out[-2000:])

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def unbound_cases(unbound_port, files):
    r = verify(files["foreign.test"], unbound_port, "foreign.test")
    check("through unbound (the recipe): a foreign sender gets dkim, spf, dmarc pass",
          verdicts(r) == (["pass"], "pass", "pass"), r)
    r = verify(files["own.test"], unbound_port, "own.test")
    check("through unbound: the own zone (stub-zone to the authoritative named) passes",
          verdicts(r) == (["pass"], "pass", "pass"), r)


def main():
    tmp = tempfile.mkdtemp(prefix="credence-refused-")
    key, public = rsa2048(tmp)
    files = {}
    for domain in ("foreign.test", "own.test"):
        files[domain] = os.path.join(tmp, domain + ".eml")
        open(files[domain], "wb").write(message(domain, key))
    zone = sender_zone(public)
    # The admin's own server: authoritative for own.test only, no root zone, no recursion.
    with Named({"own.test": zone}, root=False) as own, \
            Named({"foreign.test": zone}) as internet:
        out = subprocess.run(["dig", "-p", str(own.port), "@127.0.0.1", "_dmarc.foreign.test",
                              "TXT"], capture_output=True, text=True).stdout
        check("the own named answers REFUSED outside its zone (dig)", "status: REFUSED" in out,
              out)
        refused_cases(own.port, files)
        if not os.access(UNBOUND, os.X_OK):
            check("unbound installed (setup.sh installs it) for the recipe", False, UNBOUND)
            exim_cases(own.port, None, files)
        else:
            with Unbound(own.port, internet.port) as unbound:
                out = subprocess.run(["dig", "-p", str(unbound.port), "@127.0.0.1",
                                      "_dmarc.foreign.test", "TXT"], capture_output=True,
                                     text=True).stdout
                check("the recipe's unbound answers NOERROR for the same name (dig)",
                      "status: NOERROR" in out, out)
                unbound_cases(unbound.port, files)
                exim_cases(own.port, unbound.port, files)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if FAILURES else 'passed'}: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
