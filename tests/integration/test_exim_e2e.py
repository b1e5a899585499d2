#!/usr/bin/python3
"""End to end: a real Exim (exim4-daemon-heavy) loads exim_credence.so through ${dlfunc} in its
DATA ACL (the shipped snippet plugin/exim/credence_acl.conf), with DNS from BIND named on
loopback. Messages go in over SMTP (`exim4 -C conf -bs -oMa IP -odi`) and are delivered to a
maildir.

Checks: credence's A-R on top and a score header on delivered mail; a forged A-R carrying our
authserv-id is removed (another server's is kept); a message over the reject threshold gets
the ACL's 550; each message is verified once however many calls the ACL makes; with DNS down
mail is still accepted (temperror results, no 451, nothing in the paniclog, within the
deadline); a typo in the options is the one ERROR (451, paniclog).

Env: CREDENCE_BUILD (build dir), CREDENCE_SRC (source dir). Run as root (Exim's -C with
-oMa needs it). Prints PASS/FAIL per check; exits 1 on any failure.
"""
import email
import glob
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
SNIPPET = os.path.join(SRC, "plugin", "exim", "credence_acl.conf")
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


def message(subject, extra_headers=(), sign=True, body_extra="", bottom_headers=()):
    headers = list(extra_headers) + [
        "From: Alice <alice@example.test>",
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
    sig = dkim.sign(msg, b"sel", b"example.test", key,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


class Exim:
    """A throwaway Exim: config, spool, logs and maildir under one temp dir."""

    def __init__(self, dns_port, deadline_ms=3000, extra_options=""):
        self.dir = tempfile.mkdtemp(prefix="credence-exim-")
        os.chmod(self.dir, 0o755)
        ent = pwd.getpwnam("Debian-exim")
        for sub in ("spool", "log", "mail"):
            os.makedirs(os.path.join(self.dir, sub))
            os.chown(os.path.join(self.dir, sub), ent.pw_uid, ent.pw_gid)
        # The plugin and the snippet are installed where Exim's user can read them, as
        # docs/exim.md installs them: a clone in /root (mode 0700 on Debian 12) is out of its
        # reach ("failed to open included configuration file").
        plugin = shutil.copy(PLUGIN, self.dir)
        snippet = shutil.copy(SNIPPET, self.dir)
        self.conf = os.path.join(self.dir, "exim.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
CREDENCE_PLUGIN = {plugin}
CREDENCE_OPTIONS = authserv_id={AUTHSERV} dns=127.0.0.1:{dns_port} dns_timeout_ms=500 deadline_ms={deadline_ms} {extra_options}
CREDENCE_REJECT_SCORE = 30
CREDENCE_TAG_SCORE = 10
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
.include {snippet}
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


def data_reply(replies):
    """The reply to the end of DATA (the line after the 354)."""
    lines = replies.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("354"):
            return lines[i + 1] if i + 1 < len(lines) else ""
    return ""


def header_block(raw):
    return raw.split(b"\n\n", 1)[0].decode(errors="replace")


def main():
    if os.geteuid() != 0:
        print("SKIP: must run as root (exim -C with -oMa)")
        return 0
    if not os.path.exists(PLUGIN):
        print("FAIL: %s not built" % PLUGIN)
        return 1
    if "Expand_dlfunc" not in subprocess.run([EXIM, "-bV"], capture_output=True, text=True).stdout:
        print("FAIL: this Exim has no ${dlfunc} (install exim4-daemon-heavy)")
        return 1

    with Named({"example.test": ZONE}) as ns:
        exim = Exim(ns.port)
        try:
            # 1. A signed message from an SPF-listed IP: DKIM, SPF and DMARC pass.
            replies, _ = exim.smtp(GOOD_IP, "alice@example.test", message("good one"))
            check("good message accepted (250)", data_reply(replies).startswith("250"), replies)
            got = exim.delivered()
            check("good message delivered", len(got) == 1, "%d files" % len(got))
            if got:
                head = header_block(got[-1])
                first = head.splitlines()[0]
                check("A-R is the first header, with our authserv-id",
                      first.startswith("Authentication-Results: %s;" % AUTHSERV), first)
                parsed = email.message_from_bytes(got[-1])
                ar = " ".join(parsed.get_all("Authentication-Results") or [])
                for want in ("dkim=pass", "header.d=example.test", "spf=pass",
                             "smtp.mailfrom=alice@example.test", "dmarc=pass"):
                    check("good A-R has " + want, want in ar, ar)
                score = parsed.get("X-Credence-Score", "")
                check("score header present and negative", score.startswith("-"), score)
                check("no flag header under the tag threshold", "X-Credence-Flag" not in parsed)

            # 2. Forged A-R with our authserv-id: removed; another server's A-R stays.
            forged = message("forged", extra_headers=[
                "Authentication-Results: %s; dkim=pass header.d=paypal.example" % AUTHSERV,
                "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example",
            ])
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
            else:
                check("forged message delivered", False, "%d files" % len(got))

            # 3. Unsigned, From example.test (p=reject) from an unlisted IP: SPF fail + DMARC
            #    reject = 3.0 >= CREDENCE_REJECT_SCORE 30 tenths: the ACL's 550.
            replies, _ = exim.smtp(BAD_IP, "alice@example.test", message("spoofed", sign=False))
            reply = data_reply(replies)
            check("spoofed message refused with 550", reply.startswith("550"), replies)
            check("550 carries the ACL's message", "sender authentication failed" in reply, reply)
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

            # 4. One verification per message, whatever the number of ACL calls.
            mainlog = exim.log("main")
            verified = mainlog.count("credence: score=")
            check("each message verified exactly once (5 messages, 5 log lines)", verified == 5,
                  "%d lines" % verified)
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

    print("%s: %d failure(s)" % ("FAIL" if failures else "PASS", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
