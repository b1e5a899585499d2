#!/usr/bin/python3
"""docs/serve.md, docs/rspamd.md and docs/spamassassin.md followed as written (issue 18, item 4).

As root, in a private mount namespace (`unshare -m`), over overlays of this machine's Debian
/etc, /usr/local, /var/log, /var/lib/rspamd and /var/lib/spamassassin and an empty /run (what
a fresh boot has): nothing the blocks write reaches the real system. The fenced blocks whose
first line is `# test_host_install: NAME` run with `bash -e`, from the source tree, in this
order: service, service-without-systemd, rspamd, spamassassin. Then rspamd and spamd start the
way their Debian units start them (User=, RuntimeDirectory=, EnvironmentFile=, ExecStart=), a
p=reject spoof and a signed message go through rspamc and spamc, and the service is reloaded
with SIGHUP and stopped.

What cannot run as written here, and what runs instead:
  - `apt-get install PKG` (no network): `dpkg -s PKG`, the package must be installed;
  - `systemctl ...` (no systemd): daemon-reload nothing; `enable --now credence` the
    service-without-systemd block, which the test checks does what the unit says (ExecStart,
    User, Group, RuntimeDirectory, RuntimeDirectoryMode); `restart rspamd` / `restart spamd`
    start them as their units do;
  - `--dns 127.0.0.1:53` becomes the port of the test's BIND (unbound's port on a real host);
  - environment settings added before the blocks, none of them an install step: rspamd's DNS
    pinned to that BIND, fuzzy_check off (it resolves names with the system resolver) and
    loopback ports of its own; SpamAssassin `dns_available no`, an X-Spam-Credence-AR header
    to look at; spamd with -L and a loopback port.
PASS/FAIL per check, exit 1 on failure.
"""
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import Named, free_port  # noqa: E402
from test_serve import CLIENT_BAD, CLIENT_GOOD, SRC, MailFixture, check  # noqa: E402
import test_serve  # noqa: E402

BLOCKS = [("docs/serve.md", "service"), ("docs/serve.md", "service-without-systemd"),
          ("docs/rspamd.md", "rspamd"), ("docs/spamassassin.md", "spamassassin")]
OVERLAID = ["/etc", "/usr/local", "/var/log", "/var/lib/rspamd", "/var/lib/spamassassin"]
AUTHSERV = "mx.example.com"  # what the service block writes into credence.toml
SOCKET = "/run/credence/credence.sock"


def doc_block(doc, name):
    """The fenced block of `doc` whose first line is `# test_host_install: NAME`."""
    with open(os.path.join(SRC, doc)) as f:
        text = f.read()
    m = re.search(r"```sh\n# test_host_install: %s\n(.*?)```" % re.escape(name), text, re.S)
    return m.group(1) if m else None


def runnable(block, ns_port, build):
    """The block with the substitutions the docstring lists; the rest as written."""
    out = []
    for line in block.splitlines():
        s = line.strip()
        if s.startswith("apt-get install"):
            pkgs = [w for w in s.split("#")[0].split()[2:] if not w.startswith("-")]
            out.append("dpkg -s %s >/dev/null  # here instead of: %s" % (" ".join(pkgs), s))
        elif s.startswith("systemctl "):
            out.append("true  # no systemd here: " + s)
        else:
            line = line.replace("127.0.0.1:53", "127.0.0.1:%d" % ns_port)
            if build != os.path.join(SRC, "build"):
                line = line.replace("cmake --install build", "cmake --install " + shlex.quote(build))
            out.append(line)
    return "\n".join(out) + "\n"


def unit_fields(path):
    fields = {}
    with open(path) as f:
        for line in f.read().replace("\\\n", " ").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                fields.setdefault(k.strip(), v.strip())
    return fields


def env_file(path):
    env = {}
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r'^([A-Z_]+)="?(.*?)"?\s*$', line)
            if m:
                env[m.group(1)] = m.group(2)
    return env


class UnitProcess:
    """A Debian unit's service started as systemd would (User=, RuntimeDirectory=,
    EnvironmentFile=, ExecStart=), with `extra` arguments for this test's environment."""

    def __init__(self, unit, extra, log_path):
        f = unit_fields(unit)
        user = f.get("User")
        if f.get("RuntimeDirectory"):
            d = os.path.join("/run", f["RuntimeDirectory"])
            os.makedirs(d, exist_ok=True)
            os.chmod(d, int(f.get("RuntimeDirectoryMode", "0755"), 8))
            if user:
                pw = pwd.getpwnam(user)
                os.chown(d, pw.pw_uid, pw.pw_gid)
        env = env_file(f.get("EnvironmentFile", "").lstrip("-"))
        expanded = []  # "$OPTIONS" as systemd expands it: split on white space
        for a in shlex.split(f["ExecStart"]):
            expanded += shlex.split(env.get(a[1:], "")) if a.startswith("$") else [a]
        self.argv = (["runuser", "-u", user, "--"] if user else []) + expanded + extra
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        # runuser waits for its child and passes SIGTERM on; both are ours.
        for pid in children(self.proc.pid) + [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def proc_status(pid, key):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def mount_overlays(tmp):
    for i, path in enumerate(OVERLAID):
        upper, work = os.path.join(tmp, "upper%d" % i), os.path.join(tmp, "work%d" % i)
        os.makedirs(upper)
        os.makedirs(work)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=%s,upperdir=%s,workdir=%s" % (path, upper, work), path],
                       check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)


def environment_settings(ns_port, ports):
    """This test machine's settings (not install steps): DNS pinned to the test's BIND, no
    names for the system resolver, loopback ports of our own."""
    od = "/etc/rspamd/override.d"
    os.makedirs(od, exist_ok=True)
    files = {
        "options.inc": 'dns {\n  nameserver = ["127.0.0.1:%d"];\n  timeout = 1s;\n'
                       '  retransmits = 1;\n}\n' % ns_port,
        "fuzzy_check.conf": "enabled = false;\n",
        "worker-normal.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % ports["normal"],
        "worker-controller.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % ports["controller"],
        "worker-proxy.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % ports["proxy"],
    }
    for name, text in files.items():
        with open(os.path.join(od, name), "w") as f:
            f.write(text)
    with open("/etc/spamassassin/zz-credence-test.cf", "w") as f:
        f.write("dns_available no\ntrusted_networks 127.0.0.1/32\ninternal_networks 127.0.0.1/32\n"
                "add_header all Credence-AR _CREDENCEAR_\n")
    rs = pwd.getpwnam("_rspamd")
    os.makedirs("/var/log/rspamd", exist_ok=True)
    for d in ("/var/log/rspamd", "/var/lib/rspamd"):
        os.chown(d, rs.pw_uid, rs.pw_gid)


def run_block(doc, name, ns_port, build, tail=""):
    block = doc_block(doc, name)
    if not check("%s has the block `test_host_install: %s`" % (doc, name), block is not None):
        return None
    script = runnable(block, ns_port, build) + tail
    # Output to a file, not a pipe: a process the block starts in the background keeps its
    # stdout open, and reading a pipe to its end would wait for that process to exit.
    with tempfile.TemporaryFile(mode="w+") as out:
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-x", "-c", script], cwd=SRC,
                           stdout=out, stderr=subprocess.STDOUT, timeout=600)
        out.seek(0)
        text = out.read()
    check("%s, block %s: every command succeeds as written" % (doc, name), r.returncode == 0,
          text[-2500:])
    return block


def check_unit_matches_by_hand(by_hand):
    """The unit file the service block installed does what the by-hand block does."""
    try:
        f = unit_fields("/etc/systemd/system/credence.service")
    except OSError as e:
        check("the service block installed /etc/systemd/system/credence.service", False, e)
        return
    m = re.search(r"install -d -o (\S+) -g (\S+) -m (\S+) /run/(\S+)", by_hand)
    run = re.search(r"runuser -u (\S+) -- (.*?)\s*2>>", by_hand.replace("\\\n", " "), re.S)
    check("credence.service runs what the by-hand block runs (ExecStart, User, Group, "
          "RuntimeDirectory, RuntimeDirectoryMode)",
          m is not None and run is not None and
          (f.get("User"), f.get("Group"), f.get("RuntimeDirectoryMode"), f.get("RuntimeDirectory"))
          == m.groups() and run.group(1) == f.get("User") and
          shlex.split(run.group(2)) == shlex.split(f.get("ExecStart", "")),
          (f, m and m.groups(), run and run.group(2)))


def wait_for(predicate, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def rspamc(port, path, ip, helo, mail_from):
    r = subprocess.run(["rspamc", "-h", "127.0.0.1:%d" % port, "-i", ip, "--helo", helo, "-F",
                        mail_from, "-j", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
    syms = {k: v.get("score") for k, v in doc.get("symbols", {}).items() if k.startswith("CREDENCE")}
    ar = doc.get("milter", {}).get("add_headers", {}).get("Authentication-Results", {})
    return syms, (ar.get("value") if isinstance(ar, dict) else "") or ""


def spamc(port, message):
    r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port)], input=message,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    m = re.search(r"^X-Spam-Status: (Yes|No),.*?tests=(.*?)(?:\s+autolearn=|\s+version=)", out,
                  re.S | re.M)
    tests = set(re.split(r"[,\s]+", m.group(2).strip())) if m else set()
    ar = re.search(r"^X-Spam-Credence-AR:(.*(?:\n[ \t].*)*)", out, re.M)
    return (m.group(1) if m else None), tests, (re.sub(r"\s+", " ", ar.group(1)).strip() if ar else "")


def inside(tmp, ns_port, build):
    """Runs in the private mount namespace."""
    mount_overlays(tmp)
    ports = {"normal": free_port(), "controller": free_port(), "proxy": free_port()}
    environment_settings(ns_port, ports)
    spoof = open(os.path.join(tmp, "spoof.eml"), "rb").read()
    signed_path = os.path.join(tmp, "signed.eml")
    spoof_path = os.path.join(tmp, "spoof.eml")
    spoof_smtp = open(os.path.join(tmp, "spoof-smtp.eml"), "rb").read()
    started = []
    service_pid = None
    try:
        run_block("docs/serve.md", "service", ns_port, build)
        by_hand = run_block("docs/serve.md", "service-without-systemd", ns_port, build,
                            tail="echo $! > %s\n" % shlex.quote(os.path.join(tmp, "runuser.pid")))
        if by_hand:
            check_unit_matches_by_hand(by_hand)
        try:
            runuser_pid = int(open(os.path.join(tmp, "runuser.pid")).read())
            wait_for(lambda: children(runuser_pid), 10)
            service_pid = (children(runuser_pid) or [None])[0]
        except (OSError, ValueError):
            runuser_pid = None
        up = wait_for(lambda: os.path.exists(SOCKET), 20)
        which = subprocess.run(["bash", "-lc", "command -v credence; credence --version"],
                               stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
        check("`credence` on root's PATH is /usr/local/bin/credence (%s)" % which[1:2],
              which[0] == "/usr/local/bin/credence" and which[1].startswith("credence "), which)
        cred = grp.getgrnam("credence") if up else None
        if check("the service runs as user credence with its socket %s" % SOCKET,
                 up and service_pid and proc_status(service_pid, "Uid")[:1] ==
                 [str(pwd.getpwnam("credence").pw_uid)], (up, service_pid)):
            st, dst = os.stat(SOCKET), os.stat(os.path.dirname(SOCKET))
            check("socket 0660 and directory 0750, both group credence (nothing world-writable)",
                  stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == cred.gr_gid and
                  stat.S_IMODE(dst.st_mode) == 0o750 and dst.st_gid == cred.gr_gid,
                  (oct(st.st_mode), st.st_gid, oct(dst.st_mode), dst.st_gid))

        run_block("docs/rspamd.md", "rspamd", ns_port, build)
        run_block("docs/spamassassin.md", "spamassassin", ns_port, build)
        members = grp.getgrnam("credence").gr_mem if cred else []
        check("_rspamd and debian-spamd are in group credence (%s)" % members,
              {"_rspamd", "debian-spamd"} <= set(members), members)

        rspamd = UnitProcess("/lib/systemd/system/rspamd.service", [],
                             os.path.join(tmp, "rspamd.out"))
        started.append(rspamd)
        spamd_port = free_port()
        spamd = UnitProcess("/lib/systemd/system/spamd.service",
                            ["-L", "--listen=127.0.0.1:%d" % spamd_port, "--syslog=stderr"],
                            os.path.join(tmp, "spamd.out"))
        started.append(spamd)

        def rspamd_up():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % ports["normal"],
                                            timeout=1) as r:
                    return r.read().strip() == b"pong"
            except OSError:
                return False
        check("rspamd started as its unit starts it (%s)" % " ".join(rspamd.argv[4:]),
              wait_for(rspamd_up, 300), open(os.path.join(tmp, "rspamd.out")).read()[-1500:])
        check("spamd started as its unit starts it, with /etc/default/spamd's OPTIONS (%s)"
              % " ".join(spamd.argv[1:]),
              wait_for(lambda: subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(spamd_port),
                                               "-K"], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL).returncode == 0, 300),
              open(os.path.join(tmp, "spamd.out")).read()[-1500:])

        syms, ar = rspamc(ports["normal"], spoof_path, CLIENT_BAD, "evil.test", "alice@example.test")
        check("rspamd reaches the socket through group credence: p=reject spoof gets "
              "CREDENCE_DMARC_REJECT %s, no CREDENCE_UNAVAILABLE" % syms.get("CREDENCE_DMARC_REJECT"),
              syms.get("CREDENCE_DMARC_REJECT") == 2.0 and "CREDENCE_UNAVAILABLE" not in syms and
              ar.startswith(AUTHSERV + ";"), (syms, ar[:200]))
        flag, tests, sa_ar = spamc(spamd_port, spoof_smtp)
        check("spamd's children reach the same socket: CREDENCE_DMARC_REJECT, X-Spam-Status: %s"
              % flag, flag == "Yes" and "CREDENCE_DMARC_REJECT" in tests and
              "CREDENCE_UNAVAILABLE" not in tests and sa_ar.startswith(AUTHSERV + ";"),
              (flag, sorted(tests), sa_ar[:200]))

        # SIGHUP (the unit's ExecReload): a new authserv-id is used from the next message on.
        with open("/etc/credence/credence.toml", "a") as f:
            f.write("\n")
        text = open("/etc/credence/credence.toml").read().replace(AUTHSERV, "mx2.example.com")
        with open("/etc/credence/credence.toml", "w") as f:
            f.write(text)
        if service_pid:
            os.kill(service_pid, signal.SIGHUP)
        log = lambda: open("/var/log/credence.log").read()  # noqa: E731
        reloaded = wait_for(lambda: "SIGHUP, reloaded" in log(), 10)
        syms, ar = rspamc(ports["normal"], signed_path, CLIENT_GOOD, "mx.example.test",
                          "alice@example.test")
        check("SIGHUP reloads /etc/credence/credence.toml: the next A-R says mx2.example.com, "
              "the socket stays", reloaded and ar.startswith("mx2.example.com;") and
              os.path.exists(SOCKET) and "CREDENCE_DKIM_PASS" in syms, (ar[:100], log()[-800:]))
        uids = {pwd.getpwnam(u).pw_uid for u in ("_rspamd", "debian-spamd")}
        seen = {int(u) for u in re.findall(r"outcome=verdict .*?peer=uid:(\d+) .*?timeout_ms=7000", log())}
        check("the request log has a verdict line from each host, with timeout_ms=7000 (peers %s)"
              % sorted(seen), uids <= seen, log()[-1500:])
    finally:
        for p in started:
            p.stop()
        if service_pid:
            try:
                os.kill(service_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            gone = wait_for(lambda: not os.path.exists("/proc/%d" % service_pid), 20)
            check("SIGTERM: the service exits and removes its socket file",
                  gone and not os.path.exists(SOCKET))
    print("%d check(s) failed" % len(test_serve.FAILURES) if test_serve.FAILURES
          else "all checks passed")
    return 1 if test_serve.FAILURES else 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        return inside(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    if os.geteuid() != 0:
        print("SKIP: test_host_install.py needs root (mount namespace, adduser, daemons)")
        return 0
    build = os.environ.get("CREDENCE_BUILD") or os.path.join(SRC, "build")
    # The service block runs `cmake --install build`, which needs every installed target
    # built (./setup.sh and test.sh build them all; `ninja credence` alone does not).
    with tempfile.TemporaryDirectory() as prefix:
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
    if not check("`cmake --install %s` works (every installed target is built: ninja -C %s)"
                 % (build, build), r.returncode == 0, r.stdout[-800:]):
        return 1
    fx = MailFixture()
    tmp = tempfile.mkdtemp(prefix="credence-install-")
    os.chmod(tmp, 0o755)
    try:
        for name, msg in (("signed.eml", fx.signed), ("spoof.eml", fx.spoofed)):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(msg)
        import test_spamassassin
        with open(os.path.join(tmp, "spoof-smtp.eml"), "wb") as f:
            f.write(test_spamassassin.with_envelope(fx.spoofed, CLIENT_BAD, "evil.test",
                                                    "alice@example.test"))
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), 0o644)
        with Named({"example.test": fx.zone, "test": ""}) as ns:
            r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                                os.path.abspath(__file__), "--inside", tmp, str(ns.port), build],
                               timeout=1200)
        return r.returncode
    finally:
        fx.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
