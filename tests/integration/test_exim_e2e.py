#!/usr/bin/python3
"""End to end: a real Exim (exim4-daemon-heavy) loads exim_credence.so through ${dlfunc} in its
DATA ACL (the shipped snippet plugin/exim/credence_acl.conf), with DNS from BIND named on
loopback. Messages go in over SMTP (`exim4 -C conf -bs -oMa IP -odi`) and are delivered to a
maildir.

Checks: the shim and the snippet are installed by `cmake --install` (into a DESTDIR) exactly
where docs/exim.md's CREDENCE_PLUGIN and CHECK_DATA_LOCAL_ACL_FILE point, and Exim loads them
from there; credence's A-R on top (folded) and a score header on delivered mail; a forged A-R
carrying our authserv-id is removed (another server's is kept); the thresholds documented in
docs/exim.md (read from it) fire on the case docs/scoring.md names and not on the case below
it; CREDENCE_DMARC_ENFORCE = yes refuses a p=reject spoof, = no does not, a bad value is a
loud configuration error; a t=y signature's DMARC pass says "via test-mode key"; each message
is verified once however many calls the ACL makes, and logged with the forged count; the
delivered maildir re-judged by `credence verify --envelope received=HOST --compare-authres`
gives the verdicts recorded at delivery; with DNS down mail is still accepted (temperror
results, no 451, nothing in the paniclog, within the deadline); a typo in the options is the
one ERROR (451, paniclog).

Env: CREDENCE_BUILD (build dir), CREDENCE_SRC (source dir). Run as root (Exim's -C with
-oMa needs it). Prints PASS/FAIL per check; exits 1 on any failure.
"""
import email
import glob
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("CREDENCE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("CREDENCE_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from named_fixture import Named, Blackhole  # noqa: E402

EXIM = shutil.which("exim4") or "/usr/sbin/exim4"
PLUGIN = os.path.join(BUILD, "plugin", "exim", "exim_credence.so")
CREDENCE = os.environ.get("CREDENCE_BIN", os.path.join(BUILD, "plugin", "cli", "credence"))
EXIM_DOC = os.path.join(SRC, "docs", "exim.md")
EXAMPLE = os.path.join(SRC, "tests", "data", "example")
AUTHSERV = "mx.credence.test"
GOOD_IP = "203.0.113.7"    # listed in example.test's SPF record
BAD_IP = "198.51.100.9"    # not listed: SPF fail

failures = 0


def check(name, cond, detail=""):
    global failures
    print(("PASS" if cond else "FAIL") + ": " + name + ("" if cond or not detail else " -- " + detail))
    if not cond:
        failures += 1


def dkim_key_txt():
    """The rsa2048 key's TXT rdata from the example zone (quoted strings)."""
    with open(os.path.join(EXAMPLE, "example.zone")) as f:
        for line in f:
            if line.startswith("rsa2048._domainkey"):
                return line.split("TXT", 1)[1].strip()
    raise RuntimeError("rsa2048 key not in example.zone")


ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
_dmarc IN TXT "v=DMARC1; p=reject"
sel._domainkey IN TXT %s
""" % (GOOD_IP, dkim_key_txt())

# The cases of docs/scoring.md's threshold table, one domain each (BAD_IP is never listed).
SOFT_ZONE = """@ IN TXT "v=spf1 ip4:%s ~all"
_dmarc IN TXT "v=DMARC1; p=reject"
""" % GOOD_IP
QUARANTINE_ZONE = """@ IN TXT "v=spf1 ip4:%s ~all"
_dmarc IN TXT "v=DMARC1; p=quarantine"
""" % GOOD_IP
NONE_ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
_dmarc IN TXT "v=DMARC1; p=none"
""" % GOOD_IP
NODMARC_ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
""" % GOOD_IP
# The same key in testing mode (RFC 6376 §3.6.1 t=y).
TESTKEY_ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
_dmarc IN TXT "v=DMARC1; p=reject"
sel._domainkey IN TXT %s
""" % (GOOD_IP, dkim_key_txt().replace("v=DKIM1;", "v=DKIM1; t=y;", 1))
# p=reject, the key's zone answering SERVFAIL (a broken delegation): DMARC temperror.
LAMEKEY_ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
_dmarc IN TXT "v=DMARC1; p=reject"
""" % GOOD_IP
# The careful spoofer's own envelope domain: SPF passes from BAD_IP (docs/scoring.md).
SPOOFER_ZONE = """@ IN TXT "v=spf1 ip4:%s -all"
""" % BAD_IP
# Two mailing lists credence trusts as ARC sealers ([arc] trusted_sealers): one whose sealing
# key is served, one whose key lookup answers SERVFAIL.
LISTS_ZONE = """arc._domainkey IN TXT %s
""" % dkim_key_txt()
ZONES = {"example.test": ZONE, "soft.test": SOFT_ZONE, "quarantine.test": QUARANTINE_ZONE,
         "none.test": NONE_ZONE, "nodmarc.test": NODMARC_ZONE, "testkey.test": TESTKEY_ZONE,
         "lamekey.test": LAMEKEY_ZONE, "spoofer.test": SPOOFER_ZONE,
         "good-lists.test": LISTS_ZONE, "flaky-lists.test": LISTS_ZONE}
SERVFAIL_ZONES = ["_domainkey.lamekey.test", "_domainkey.flaky-lists.test"]


def documented_macros():
    """The macro lines of docs/exim.md's /etc/exim4/exim4.conf.localmacros block."""
    with open(EXIM_DOC) as f:
        text = f.read()
    block = re.search(r"```\n# /etc/exim4/exim4.conf.localmacros\n(.*?)```", text, re.S)
    if not block:
        raise RuntimeError("docs/exim.md has no exim4.conf.localmacros block")
    macros = {}
    for line in block.group(1).splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)\s*=\s*(.*)$", line)
        if m:
            macros[m.group(1)] = m.group(2)
    return macros


def install(destdir):
    """`cmake --install` of the build into DESTDIR (as docs/exim.md installs); returns the
    documented plugin and snippet paths under it."""
    env = dict(os.environ, DESTDIR=destdir)
    p = subprocess.run(["cmake", "--install", BUILD], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cmake --install failed: " + p.stderr[-500:])
    macros = documented_macros()
    return (destdir + macros["CREDENCE_PLUGIN"], destdir + macros["CHECK_DATA_LOCAL_ACL_FILE"],
            macros)


def message(subject, extra_headers=(), sign=True, body_extra="", bottom_headers=(),
            domain="example.test"):
    headers = list(extra_headers) + [
        "From: Alice <alice@%s>" % domain,
        "To: Bob <bob@credence.test>",
        "Subject: " + subject,
        "Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "Message-ID: <%s@example.test>" % re.sub(r"\W", "-", subject),
    ] + list(bottom_headers)
    body = "Hello Bob,\r\n\r\nThis is %s.\r\n" % subject + body_extra
    msg = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
    if not sign:
        return msg
    import dkim
    with open(os.path.join(EXAMPLE, "keys", "rsa2048.pem"), "rb") as f:
        key = f.read()
    sig = dkim.sign(msg, b"sel", domain.encode(), key,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


class Exim:
    """A throwaway Exim: config, spool, logs and maildir under one temp dir."""

    def __init__(self, dns_port, deadline_ms=3000, extra_options="", macros=None):
        """`macros`: the threshold and enforcement macros (default: docs/exim.md's)."""
        self.dir = tempfile.mkdtemp(prefix="credence-exim-")
        os.chmod(self.dir, 0o755)
        ent = pwd.getpwnam("Debian-exim")
        for sub in ("spool", "log", "mail"):
            os.makedirs(os.path.join(self.dir, sub))
            os.chown(os.path.join(self.dir, sub), ent.pw_uid, ent.pw_gid)
        # Installed as docs/exim.md says, under a DESTDIR Exim's user can read (a checkout in
        # /root, mode 0700 on Debian 12, is out of its reach).
        self.plugin, self.snippet, documented = install(os.path.join(self.dir, "destdir"))
        if macros is None:
            macros = {k: v for k, v in documented.items()
                      if k in ("CREDENCE_DMARC_ENFORCE", "CREDENCE_TAG_SCORE",
                               "CREDENCE_REJECT_SCORE")}
        threshold_lines = "".join("%s = %s\n" % kv for kv in macros.items())
        self.conf = os.path.join(self.dir, "exim.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
CREDENCE_PLUGIN = {self.plugin}
CREDENCE_OPTIONS = authserv_id={AUTHSERV} dns=127.0.0.1:{dns_port} dns_timeout_ms=500 deadline_ms={deadline_ms} {extra_options}
{threshold_lines}
primary_hostname = {AUTHSERV}
qualify_domain = credence.test
spool_directory = {self.dir}/spool
log_file_path = {self.dir}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
deliver_drop_privilege = true
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
smtp_enforce_sync = false
keep_environment =
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
  # Exim's own DKIM verifier would ask the machine's resolver for keys: off.
  accept
    control = dkim_disable_verify

acl_data:
.include {self.snippet}
  accept

begin routers
local:
  driver = accept
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {self.dir}/mail
  maildir_format
  user = Debian-exim
  group = Debian-exim
  create_directory
  # As Debian's local delivery transports: the envelope recorded at delivery.
  delivery_date_add
  envelope_to_add
  return_path_add
""")

    def smtp(self, client_ip, mail_from, msg, helo="mail.example.test", address_space_mb=0):
        """Runs one SMTP session (under an address-space limit when given); returns (replies
        text, seconds)."""
        dialogue = (f"EHLO {helo}\r\nMAIL FROM:<{mail_from}>\r\nRCPT TO:<bob@credence.test>\r\n"
                    "DATA\r\n").encode()
        data = msg.replace(b"\r\n.", b"\r\n..")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        dialogue += data + b".\r\nQUIT\r\n"
        t0 = time.monotonic()
        limit = ["prlimit", "--as=%d" % (address_space_mb << 20)] if address_space_mb else []
        p = subprocess.run(limit + [EXIM, "-C", self.conf, "-bs", "-oMa", client_ip, "-odi"],
                           input=dialogue, capture_output=True, timeout=60)
        return p.stdout.decode(errors="replace"), time.monotonic() - t0

    def delivered(self):
        files = sorted(glob.glob(os.path.join(self.dir, "mail", "new", "*")), key=os.path.getmtime)
        out = []
        for path in files:
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def log(self, name):
        path = os.path.join(self.dir, "log", name + "log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def exim_features():
    """`exim4 -bV`'s output. With the system's configuration (no primary_hostname) Exim looks
    up this machine's host name in the system's resolver, which tests must never ask: it gets
    a configuration that names one."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as bv:
        bv.write("primary_hostname = %s\n" % AUTHSERV)
        bv.flush()
        return subprocess.run([EXIM, "-C", bv.name, "-bV"], capture_output=True,
                              text=True).stdout


def data_reply(replies):
    """The reply to the end of DATA (the line after the 354)."""
    lines = replies.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("354"):
            return lines[i + 1] if i + 1 < len(lines) else ""
    return ""


def header_block(raw):
    return raw.split(b"\n\n", 1)[0].decode(errors="replace")


def delivered_headers(raw):
    return email.message_from_bytes(raw)


def run_case(exim, name, ip, domain, sign, want_reply, want_flag, want_score=None,
             mail_from=None):
    """Sends one message; checks the reply code (and, when delivered, the flag and score)."""
    before = len(exim.delivered())
    replies, _ = exim.smtp(ip, mail_from or "alice@" + domain,
                           message(name, sign=sign, domain=domain))
    reply = data_reply(replies)
    check("%s: %s" % (name, want_reply), reply.startswith(want_reply[:3]) and
          want_reply[4:] in reply, reply)
    got = exim.delivered()
    if not reply.startswith("250"):
        check("%s: not delivered" % name, len(got) == before)
        return reply
    if len(got) != before + 1:
        check("%s: delivered" % name, False, "%d files" % len(got))
        return reply
    parsed = delivered_headers(got[-1])
    score = parsed.get("X-Credence-Score", "")
    if want_score is not None:
        check("%s: score %s" % (name, want_score), score.startswith(want_score + " "), score)
    flagged = parsed.get("X-Credence-Flag") == "YES"
    check("%s: %s" % (name, "flagged" if want_flag else "not flagged"), flagged == want_flag,
          score)
    return reply


def list_post(sealer):
    """example.test's signed message as a mailing list passes it on: a subject tag and a footer
    break the author's signature; the list's A-R (everything passed at the list) and its ARC
    set, sealed by `sealer` with the example key."""
    import dkim
    msg = message("list post via " + sealer)
    msg = msg.replace(b"Subject: list post", b"Subject: [list] list post", 1)
    msg += b"-- \r\nthe list's footer\r\n"
    srv = sealer.encode()
    msg = (b"Authentication-Results: " + srv + b"; dkim=pass header.d=example.test; "
           b"spf=pass smtp.mailfrom=alice@example.test; dmarc=pass header.from=example.test"
           b"\r\n" + msg)
    with open(os.path.join(EXAMPLE, "keys", "rsa2048.pem"), "rb") as f:
        key = f.read()
    return b"".join(dkim.arc_sign(msg, b"arc", srv, key, srv)) + msg


def check_trusted_list_dns_fault(dns_port):
    """A trusted list's post of a p=reject author (DMARC fails after the list's changes): with
    the list's sealing key served, the override delivers it; with the key lookup failing
    (SERVFAIL), the chain cannot be checked, and ENFORCE defers it (451) rather than refusing
    real mail for a passing DNS fault (docs/arc.md)."""
    conf_dir = tempfile.mkdtemp(prefix="credence-exim-conf-")
    os.chmod(conf_dir, 0o755)
    conf = os.path.join(conf_dir, "credence.toml")
    with open(conf, "w") as f:
        f.write('[arc]\ntrusted_sealers = ["good-lists.test", "flaky-lists.test"]\n')
    os.chmod(conf, 0o644)
    exim = Exim(dns_port, extra_options="config=" + conf)
    try:
        for sealer, want in (("good-lists.test", "250"), ("flaky-lists.test", "451")):
            before = len(exim.delivered())
            replies, _ = exim.smtp(BAD_IP, "bounce@" + sealer, list_post(sealer))
            reply = data_reply(replies)
            check("trusted list %s: %s" % (sealer, want), reply.startswith(want) and
                  (want == "250" or "try again later" in reply) and
                  len(exim.delivered()) == before + (want == "250"), reply)
        got = exim.delivered()
        score = delivered_headers(got[-1]).get("X-Credence-Score", "") if got else ""
        check("the good list's post carries CREDENCE_ARC_TRUSTED", "CREDENCE_ARC_TRUSTED" in score,
              score)
    finally:
        exim.cleanup()
        shutil.rmtree(conf_dir, ignore_errors=True)


def rejudge(exim, dns_port):
    """credence verify on the delivered maildir, with and without the recorded envelope."""
    maildir = os.path.join(exim.dir, "mail")
    base = [CREDENCE, "verify", "--format", "json", "--quiet", "--dns", "127.0.0.1:%d" % dns_port,
            "--at", "received", "--authserv-id", AUTHSERV, "--compare-authres", maildir]
    out = {}
    for label, extra in (("recorded envelope", ["--envelope", "received=" + AUTHSERV]),
                         ("no envelope", [])):
        p = subprocess.run(base[:2] + extra + base[2:], capture_output=True, text=True,
                           timeout=120)
        check("re-judge (%s): exit 0" % label, p.returncode == 0, p.stderr[-300:])
        out[label] = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return out


def debian_walk(dns_port):
    """docs/exim.md followed on this machine's own Debian configuration: a copy of /etc/exim4
    with the documented exim4.conf.localmacros block (paths under a DESTDIR install, the
    test's DNS server, a temp spool), built by update-exim4.conf, run with `exim4 -bh` (every
    ACL, no delivery). Exim's own lookups are kept off the system resolver with the macros the
    page documents (MAIN_HOST_LOOKUP, MAIN_HARDCODE_PRIMARY_HOSTNAME, DISABLE_DKIM_VERIFY)."""
    if not os.path.exists("/etc/exim4/exim4.conf.template") or not shutil.which(
            "update-exim4.conf"):
        print("SKIP: Debian walk (no /etc/exim4/exim4.conf.template)")
        return
    tmp = tempfile.mkdtemp(prefix="credence-debian-")
    try:
        os.chmod(tmp, 0o755)
        confdir = os.path.join(tmp, "exim4")
        shutil.copytree("/etc/exim4", confdir, symlinks=True)
        ent = pwd.getpwnam("Debian-exim")
        spool = os.path.join(tmp, "spool")
        os.makedirs(spool)
        os.chown(spool, ent.pw_uid, ent.pw_gid)
        destdir = os.path.join(tmp, "destdir")
        plugin, snippet, macros = install(destdir)
        lines = []
        for name, value in macros.items():
            if name in ("CREDENCE_PLUGIN", "CHECK_DATA_LOCAL_ACL_FILE"):
                value = destdir + value
            elif name == "CREDENCE_OPTIONS":
                value = "authserv_id=%s dns=127.0.0.1:%d deadline_ms=3000" % (AUTHSERV, dns_port)
            lines.append("%s = %s" % (name, value))
        lines += ["SPOOLDIR = " + spool, "MAIN_HOST_LOOKUP =",
                  "MAIN_HARDCODE_PRIMARY_HOSTNAME = " + AUTHSERV]
        localmacros = "\n".join(lines) + "\n"
        with open(os.path.join(confdir, "exim4.conf.localmacros"), "w") as f:
            f.write(localmacros)
        # update-exim4.conf reads DIR/exim4.conf.localmacros only when
        # /etc/exim4/exim4.conf.localmacros exists (it tests the fixed path), and then writes
        # it in front of the template: do that to the copy's template instead.
        template = os.path.join(confdir, "exim4.conf.template")
        with open(template) as f:
            text = f.read()
        with open(template, "w") as f:
            f.write(localmacros + text)
        conf = os.path.join(tmp, "exim4.conf")
        p = subprocess.run(["update-exim4.conf", "-d", confdir, "-o", conf],
                           capture_output=True, text=True)
        check("Debian walk: update-exim4.conf builds the configuration", p.returncode == 0,
              p.stderr[-300:])
        if p.returncode != 0:
            return

        def bh(ip, mail_from, msg, helo="mail.example.test"):
            dialogue = (f"EHLO {helo}\r\nMAIL FROM:<{mail_from}>\r\n"
                        "RCPT TO:<postmaster@localhost>\r\nDATA\r\n").encode()
            dialogue += msg + b"\r\n.\r\nQUIT\r\n"
            r = subprocess.run([EXIM, "-C", conf, "-bh", ip], input=dialogue,
                               capture_output=True, timeout=60)
            return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

        out, err = bh(GOOD_IP, "alice@example.test", message("debian good"))
        check("Debian walk: a good message is accepted after DATA",
              data_reply(out).startswith("250"), (out + err)[-800:])
        check("Debian walk: the snippet ran (credence's A-R added)",
              "Authentication-Results: %s;" % AUTHSERV in err and "dmarc=pass" in err,
              err[-1500:])
        out, err = bh(BAD_IP, "alice@example.test", message("debian spoof", sign=False))
        check("Debian walk: a p=reject spoof is refused (CREDENCE_DMARC_ENFORCE = yes)",
              data_reply(out).startswith("550") and "DMARC policy" in data_reply(out),
              (out + err)[-800:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        print("SKIP: must run as root (exim -C with -oMa)")
        return 0
    if not os.path.exists(PLUGIN):
        print("FAIL: %s not built" % PLUGIN)
        return 1
    if "Expand_dlfunc" not in exim_features():
        print("FAIL: this Exim has no ${dlfunc} (install exim4-daemon-heavy)")
        return 1

    # 0. The install story (docs/exim.md, README): the documented paths are where
    #    `cmake --install build` puts the files, and the thresholds documented are those of
    #    the "credence is the only filter" table in docs/scoring.md.
    documented = documented_macros()
    check("docs/exim.md: CREDENCE_PLUGIN under setup.sh's prefix /usr/local",
          documented.get("CREDENCE_PLUGIN", "").startswith("/usr/local/"), str(documented))
    check("docs/exim.md: the documented thresholds (ENFORCE yes, TAG 15, REJECT 30)",
          (documented.get("CREDENCE_DMARC_ENFORCE"), documented.get("CREDENCE_TAG_SCORE"),
           documented.get("CREDENCE_REJECT_SCORE")) == ("yes", "15", "30"), str(documented))
    with tempfile.TemporaryDirectory() as destdir:
        plugin, snippet, _ = install(destdir)
        check("cmake --install puts the shim at CREDENCE_PLUGIN", os.path.isfile(plugin), plugin)
        check("cmake --install puts the snippet at CHECK_DATA_LOCAL_ACL_FILE",
              os.path.isfile(snippet), snippet)
        if os.path.isfile(snippet):
            with open(snippet) as f, open(os.path.join(SRC, "plugin", "exim",
                                                       "credence_acl.conf")) as g:
                check("installed snippet is the shipped one", f.read() == g.read())

    with Named(ZONES, servfail_zones=SERVFAIL_ZONES) as ns:
        exim = Exim(ns.port)
        try:
            # 1. A signed message from an SPF-listed IP: DKIM, SPF and DMARC pass.
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", message("good one"))
            check("good message accepted (250)", data_reply(replies).startswith("250"), replies)
            got = exim.delivered()
            check("good message delivered", len(got) == 1, "%d files" % len(got))
            if got:
                head = header_block(got[-1])
                ours = [l for l in head.splitlines() if l.startswith("Authentication-Results:")]
                check("A-R above Received, with our authserv-id",
                      ours and ours[0].startswith("Authentication-Results: %s;" % AUTHSERV) and
                      head.index("Authentication-Results:") < head.index("Received:"), head[:400])
                parsed = email.message_from_bytes(got[-1])
                ar = " ".join(parsed.get_all("Authentication-Results") or [])
                for want in ("dkim=pass", "header.d=example.test", "spf=pass",
                             "smtp.mailfrom=alice@example.test", "dmarc=pass"):
                    check("good A-R has " + want, want in ar, ar)
                score = parsed.get("X-Credence-Score", "")
                check("score header -0.9 (DKIM, SPF, DMARC pass)", score.startswith("-0.9 "), score)
                check("no flag header under the tag threshold", "X-Credence-Flag" not in parsed)

            # 2. Forged A-R with our authserv-id: removed; another server's A-R stays.
            forged = message("forged", extra_headers=[
                "Authentication-Results: %s; dkim=pass header.d=paypal.example" % AUTHSERV,
                "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example",
            ])
            # White space before the colon (RFC 5322 obsolete syntax): still an A-R field.
            # (Added after signing: python3-dkim refuses to parse such a field.)
            forged = ("Authentication-Results \t: %s; dmarc=pass header.from=bank.example\r\n"
                      % AUTHSERV).encode() + forged
            # The id in DNS's absolute form (a trailing dot): a reader that drops the dot
            # would take it for ours, so it goes too.
            forged = ("Authentication-Results: %s.; dmarc=pass header.from=dotted.example\r\n"
                      % AUTHSERV).encode() + forged
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", forged)
            check("forged message accepted (250)", data_reply(replies).startswith("250"), replies)
            got = exim.delivered()
            if len(got) == 2:
                parsed = email.message_from_bytes(got[-1])
                ars = parsed.get_all("Authentication-Results") or []
                ours = [a for a in ars if a.strip().startswith(AUTHSERV)]
                check("forged A-R removed, ours added (one A-R with our id)", len(ours) == 1, str(ars))
                check("our A-R is the real one", "paypal" not in " ".join(ours), str(ours))
                check("other server's A-R kept", any("other.example" in a for a in ars), str(ars))
                head = header_block(got[-1])
                check("forged A-R written 'Authentication-Results \\t:' removed too",
                      "bank.example" not in head, head[:600])
                check("forged A-R with the id and a trailing dot removed too",
                      "dotted.example" not in head, head[:600])
            else:
                check("forged message delivered", False, "%d files" % len(got))

            # 3. Unsigned, From example.test (p=reject) from an unlisted IP: SPF fail + DMARC
            #    reject = 3.0. The documented CREDENCE_DMARC_ENFORCE = yes refuses it first.
            replies, _ = exim.smtp(BAD_IP, "alice@example.test", message("spoofed", sign=False))
            reply = data_reply(replies)
            check("spoofed message refused with 550", reply.startswith("550"), replies)
            check("550 carries the DMARC deny's message", "DMARC policy" in reply, reply)
            check("spoofed message not delivered", len(exim.delivered()) == 2)

            # 3b. Limits fail closed (docs/security.md): the same spoof with a 70 KiB body line
            #     is still judged (it was "not a message", status=error, score 0 before).
            long_line = "x" * (70 << 10) + "\r\n"
            replies, _ = exim.smtp(BAD_IP, "alice@example.test",
                                   message("spoofed long line", sign=False, body_extra=long_line))
            check("spoof with a 70 KiB body line refused with 550",
                  data_reply(replies).startswith("550"), replies[-300:])

            # 3c. A real message with 1,200 fields above From, a forged A-R of ours after them
            #     and a long body line: judged (CREDENCE_LIMIT), delivered, the forgery removed,
            #     our A-R folded with every line within RFC 5322's 998.
            junk = ["X-Junk-%d: %d" % (i, i) for i in range(1200)]
            busy = message("busy", extra_headers=junk, body_extra=long_line, bottom_headers=[
                "Authentication-Results: %s; dmarc=pass header.from=paypal.example" % AUTHSERV])
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", busy)
            check("1,200 fields + forged A-R + long line: accepted (250)",
                  data_reply(replies).startswith("250"), replies[-300:])
            got = exim.delivered()
            if len(got) == 3:
                parsed = email.message_from_bytes(got[-1])
                ars = parsed.get_all("Authentication-Results") or []
                ours = [a for a in ars if a.strip().startswith(AUTHSERV)]
                check("forged A-R past the field limit removed", len(ours) == 1 and
                      "paypal" not in ours[0], str(ars)[:300])
                score = parsed.get("X-Credence-Score", "")
                check("score names CREDENCE_LIMIT", "CREDENCE_LIMIT" in score, score)
                head = header_block(got[-1])
                ar_lines = []
                for line in head.splitlines():
                    if line.startswith("Authentication-Results: " + AUTHSERV):
                        ar_lines = [line]
                    elif ar_lines and line[:1] in (" ", "\t"):
                        ar_lines.append(line)
                    elif ar_lines:
                        break
                check("our A-R is folded (%d lines), none over 998 bytes" % len(ar_lines),
                      len(ar_lines) > 1 and max(len(l) for l in ar_lines) <= 998, str(ar_lines)[:300])
            else:
                check("busy message delivered", False, "%d files" % len(got))

            # 3c'. Loopback is not trusted by SPF (issue 11 item 6: libspf2 passed every 127/8
            #      and ::1 client against -all, and DMARC then passed through SPF): the same
            #      spoof from 127.0.0.1 and ::1 is refused as from any unlisted address.
            for loop_ip in ("127.0.0.1", "::1"):
                before = len(exim.delivered())
                replies, _ = exim.smtp(loop_ip, "alice@example.test",
                                       message("loopback spoof", sign=False))
                check("spoof from %s against -all refused with 550 (SPF fail, DMARC reject)"
                      % loop_ip, data_reply(replies).startswith("550") and
                      len(exim.delivered()) == before, replies[-300:])

            # 3d. The documented thresholds (docs/scoring.md's table) with ENFORCE = yes: a
            #     p=reject spoof whose SPF ends ~all (2.0) is refused by DMARC enforcement; a
            #     p=quarantine spoof (1.5) is delivered, tagged.
            run_case(exim, "p=reject ~all spoof (2.0), ENFORCE yes", BAD_IP, "soft.test", False,
                     "550 DMARC policy", None)
            run_case(exim, "p=quarantine spoof (1.5)", BAD_IP, "quarantine.test", False,
                     "250", True, "1.5")

            # 3d'. The careful spoofer (MAIL FROM at their own domain, SPF pass: 2.0, under
            #      CREDENCE_REJECT_SCORE) with a From field that cannot be authenticated:
            #      two From fields, or nine From domains. No policy applies (permerror,
            #      disposition none), but ENFORCE refuses it like the reject it would be.
            for name, top in (("two From fields", ["From: CEO <ceo@example.test>"]),
                              ("nine From domains", ["From: " + ", ".join(
                                  "ceo@d%d.example.test" % i for i in range(9))])):
                before = len(exim.delivered())
                extra = top if name.startswith("two") else []
                msg = message("careful " + name, sign=False, domain="spoofer.test",
                              extra_headers=extra)
                if not extra:
                    msg = msg.replace(b"From: Alice <alice@spoofer.test>", top[0].encode(), 1)
                replies, _ = exim.smtp(BAD_IP, "alice@spoofer.test", msg)
                reply = data_reply(replies)
                check("careful spoof, %s: refused with 550 (From cannot be authenticated)" % name,
                      reply.startswith("550") and "From field cannot be authenticated" in reply
                      and len(exim.delivered()) == before, reply)
            # A genuine signed message of the p=reject domain replayed by the careful spoofer
            # with a new Subject above the signed one: DKIM and DMARC pass on the signed part,
            # but the pass rests on a signature that leaves the shown Subject unsigned
            # (CREDENCE_DMARC_PARTIAL_REJECT): refused like the reject it is.
            before = len(exim.delivered())
            replay = b"Subject: Your account is locked\r\n" + message("genuine newsletter")
            replies, _ = exim.smtp(BAD_IP, "alice@spoofer.test", replay)
            reply = data_reply(replies)
            check("careful replay with a Subject on top: refused with 550 (DMARC policy)",
                  reply.startswith("550") and "DMARC policy" in reply and
                  len(exim.delivered()) == before, reply)
            # A signature of the p=reject domain whose key answers SERVFAIL, sent by the
            # careful spoofer (2.0): DMARC temperror, the reject policy not cleared: deferred.
            run_case(exim, "careful spoof, aligned key SERVFAIL (2.0), ENFORCE yes: deferred",
                     BAD_IP, "lamekey.test", True, "451 try again later", None,
                     mail_from="x@spoofer.test")

            # 3e. t=y (docs/scoring.md "t=y and DMARC"): signed with a testing-mode key of a
            #     p=reject domain from an unlisted host: DMARC passes through the testing
            #     signature, and the A-R says so; the same message unsigned is refused.
            run_case(exim, "t=y signed, unlisted host", BAD_IP, "testkey.test", True, "250",
                     False, "0.5")
            got = exim.delivered()
            ar = " ".join(email.message_from_bytes(got[-1]).get_all("Authentication-Results")
                          or [])
            check("t=y: A-R says dmarc=pass (via test-mode key", re.search(
                r"dmarc=pass\s+\(via test-mode key", ar) is not None, ar)
            run_case(exim, "t=y domain unsigned, unlisted host (3.0)", BAD_IP, "testkey.test",
                     False, "550", None)

            # 3f. Re-judging the delivered maildir as it was received (docs/archive.md): with
            #     the envelope from our Received field every message gets the verdicts recorded
            #     at delivery; without it SPF is none, the recorded A-R is compared (not listed
            #     as forged), and a message whose DMARC pass came from SPF alone now differs.
            run_case(exim, "unsigned from a listed host (DMARC pass by SPF)", GOOD_IP,
                     "example.test", False, "250", False, "-0.7")
            runs = rejudge(exim, ns.port)
            delivered = len(exim.delivered())
            recorded = runs["recorded envelope"]
            check("re-judge: one result per delivered message (%d)" % delivered,
                  len(recorded) == delivered == len(runs["no envelope"]), str(len(recorded)))
            same = [r for r in recorded if r.get("compare_authres", {}).get("same")]
            check("re-judge with the recorded envelope: every verdict as at delivery (%d of %d)"
                  % (len(same), len(recorded)), len(same) == len(recorded) > 0,
                  json.dumps([r.get("compare_authres") for r in recorded
                              if r not in same])[:800])
            check("re-judge: envelope taken from our Received field",
                  all(r.get("envelope", {}).get("found") and
                      r["envelope"]["client_ip"] in (GOOD_IP, BAD_IP) and
                      r["envelope"]["helo"] == "mail.example.test" for r in recorded),
                  json.dumps([r.get("envelope") for r in recorded])[:400])
            check("re-judge: the recorded A-R is not listed as forged",
                  all(r["forged_authentication_results"] == [] for r in recorded),
                  json.dumps([r["forged_authentication_results"] for r in recorded]))
            spf_only = [r for r in runs["no envelope"] if r["dmarc"]["domain"] == "example.test"
                        and not r["dkim"]]
            check("re-judge without the envelope: the SPF-only DMARC pass now differs",
                  len(spf_only) == 1 and {"method": "dmarc", "identity":
                                          "header.from=example.test", "then": "pass",
                                          "now": "fail"} in
                  spf_only[0]["compare_authres"]["differences"],
                  json.dumps([r.get("compare_authres") for r in spf_only])[:600])

            # 4. One verification per message, whatever the number of ACL calls.
            mainlog = exim.log("main")
            verified = mainlog.count("credence: score=")
            sent = 16  # 1-3c (4), the two loopback spoofs, 3d-3f (6), 3d' (4)
            check("each message verified exactly once (%d messages, %d log lines)"
                  % (sent, verified), verified == sent)
            check("the log line counts the forged A-R and names the limits",
                  "forged=1" in mainlog and "limits=" in mainlog, mainlog[-600:])

            # 4b. Memory runs out inside the shim: still OK (never 451), the message accepted
            #     unverified, the forged A-R of ours removed all the same. The address-space
            #     limit is found for this machine: the smallest 10 MB step at which a small
            #     message is verified, plus 10 MB; a 40 MB message needs 80 MB more there.
            limit = 0
            for mb in range(40, 400, 10):
                replies, _ = exim.smtp(GOOD_IP, "alice@example.test", message("probe %d" % mb),
                                       address_space_mb=mb)
                m = re.search(r"^250 OK id=(\S+)", data_reply(replies))
                if m and (m.group(1) + " credence: score=") in exim.log("main"):
                    limit = mb + 10
                    break
            check("an address-space limit where a small message is verified (%d MB)" % limit,
                  limit > 0)
            if limit:
                before = len(exim.delivered())
                big = message("too big for memory", bottom_headers=[
                    "Authentication-Results: %s; dmarc=pass header.from=paypal.example" % AUTHSERV],
                    body_extra=("y" * 998 + "\r\n") * (40 * 1024))
                replies, _ = exim.smtp(GOOD_IP, "alice@example.test", big,
                                       address_space_mb=limit)
                check("out of memory in the shim: accepted (250, never 451)",
                      data_reply(replies).startswith("250"), replies[-300:])
                check("out of memory: logged as not verified",
                      "credence: not verified: out of memory" in exim.log("main"),
                      exim.log("main")[-400:])
                got = exim.delivered()
                if len(got) == before + 1:
                    ars = email.message_from_bytes(got[-1]).get_all("Authentication-Results") or []
                    check("out of memory: forged A-R removed, ours is '%s; none'" % AUTHSERV,
                          [a.strip() for a in ars] == ["%s; none" % AUTHSERV], str(ars)[:300])
                else:
                    check("out of memory: delivered", False, "%d files" % len(got))
                check("out of memory: nothing in the paniclog", exim.log("panic") == "",
                      exim.log("panic"))
            check("no paniclog after normal operation", exim.log("panic") == "", exim.log("panic"))
            check("Exim's own DKIM verifier stayed off (no DNS to the host resolver)",
                  "DKIM:" not in mainlog, mainlog)
        finally:
            exim.cleanup()

        # 7. The thresholds alone, with CREDENCE_DMARC_ENFORCE = no: the value matters (it was
        #    `.ifdef`: "no" enforced). Each documented threshold fires on its case and not on
        #    the case below it.
        macros = dict(documented_macros())
        off = {"CREDENCE_DMARC_ENFORCE": "no", "CREDENCE_TAG_SCORE": macros["CREDENCE_TAG_SCORE"],
               "CREDENCE_REJECT_SCORE": macros["CREDENCE_REJECT_SCORE"]}
        exim = Exim(ns.port, macros=off)
        try:
            run_case(exim, "ENFORCE no: p=reject -all spoof (3.0) refused by the score", BAD_IP,
                     "example.test", False, "550 sender authentication failed", None)
            run_case(exim, "ENFORCE no: p=reject ~all spoof (2.0) delivered, tagged", BAD_IP,
                     "soft.test", False, "250", True, "2.0")
            run_case(exim, "ENFORCE no: p=quarantine spoof (1.5) tagged", BAD_IP,
                     "quarantine.test", False, "250", True, "1.5")
            run_case(exim, "ENFORCE no: p=none spoof (1.1) not tagged", BAD_IP, "none.test",
                     False, "250", False, "1.1")
            run_case(exim, "ENFORCE no: SPF fail, no DMARC (1.0) not tagged", BAD_IP,
                     "nodmarc.test", False, "250", False, "1.0")
            # A signature whose key cannot be fetched (SERVFAIL) and an SPF fail under
            # p=reject: DMARC temperror, scored as the fail (3.0): deferred, not refused.
            run_case(exim, "ENFORCE no: DMARC temperror over the threshold (3.0) deferred", BAD_IP,
                     "lamekey.test", True, "451 try again later", None)
            check("ENFORCE no: nothing in the paniclog", exim.log("panic") == "",
                  exim.log("panic"))
        finally:
            exim.cleanup()

        # 7b. A trusted list's post whose sealing key cannot be fetched: deferred, not refused.
        check_trusted_list_dns_fault(ns.port)

        # 9. docs/exim.md on this machine's Debian configuration.
        debian_walk(ns.port)

        # 8. ENFORCE undefined is off too; a value that is neither yes nor no is a loud
        #    configuration error (451 + paniclog), never a silent choice.
        exim = Exim(ns.port, macros={})
        try:
            run_case(exim, "no macros: p=reject -all spoof (3.0) delivered, untagged", BAD_IP,
                     "example.test", False, "250", False, "3.0")
        finally:
            exim.cleanup()
        exim = Exim(ns.port, macros={"CREDENCE_DMARC_ENFORCE": "maybe"})
        try:
            replies, _ = exim.smtp(BAD_IP, "alice@example.test", message("bad enforce",
                                                                         sign=False))
            check("ENFORCE = maybe: 451", data_reply(replies).startswith("451"), replies)
            check("ENFORCE = maybe: the mainlog says why",
                  'unrecognised boolean value "maybe"' in exim.log("main"),
                  exim.log("main")[-300:])
        finally:
            exim.cleanup()

    # 5. DNS down: nothing answers. Accepted with temperror, no 451, paniclog empty.
    with Blackhole() as port:
        exim = Exim(port, deadline_ms=2000)
        try:
            replies, seconds = exim.smtp(GOOD_IP, "alice@example.test", message("dns down"))
            reply = data_reply(replies)
            check("DNS down: accepted (250, no 451)", reply.startswith("250"), replies)
            check("DNS down: within the deadline (%.1f s)" % seconds, seconds < 10)
            got = exim.delivered()
            check("DNS down: delivered", len(got) == 1)
            if got:
                parsed = email.message_from_bytes(got[-1])
                ar = " ".join(parsed.get_all("Authentication-Results") or [])
                check("DNS down: dkim=temperror", "dkim=temperror" in ar, ar)
                check("DNS down: spf=temperror", "spf=temperror" in ar, ar)
                check("DNS down: score header present", parsed.get("X-Credence-Score") is not None)
            check("DNS down: nothing in the paniclog", exim.log("panic") == "", exim.log("panic"))
        finally:
            exim.cleanup()

    # 6. A configuration mistake (a typo in OPTIONS) is the one case that is an ERROR: Exim
    #    answers 451 and the paniclog names the problem.
    with Blackhole() as port:
        exim = Exim(port, extra_options="deadlin_ms=5")
        try:
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", message("typo"))
            check("bad OPTIONS: 451 (admin-fixable error)", data_reply(replies).startswith("451"),
                  replies)
            panic = exim.log("panic")
            check("bad OPTIONS: paniclog names the option",
                  "unknown option 'deadlin_ms'" in panic, panic)
        finally:
            exim.cleanup()
        # A host name where an address belongs: said once (it was "DNS server 'localhost':
        # DNS server 'localhost': ...").
        exim = Exim(port, extra_options="dns=localhost")
        try:
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", message("dns name"))
            panic = exim.log("panic")
            check("dns=localhost: 451, the paniclog says why, once",
                  data_reply(replies).startswith("451") and
                  panic.count("DNS server 'localhost'") == 1 and
                  "is not an IP address" in panic, panic)
        finally:
            exim.cleanup()

    print("%s: %d failure(s)" % ("FAIL" if failures else "PASS", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
