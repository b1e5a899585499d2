#!/usr/bin/python3
"""The Debian packages from a clean checkout to a purge (issue 15). As root, on Debian 12
with the packages of setup.sh (exim4-daemon-heavy, rspamd, spamassassin) and debhelper,
lintian, dpkg-dev, fakeroot:

  1. `git clone` of this checkout's HEAD into a temp dir, then
     `DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -b -us -uc` there (timed);
  2. lintian on the result: no error (tags below E: fail the run; warnings are printed);
  3. `dpkg -i` of the six packages on this machine, then what an administrator relies on:
     the command and its version, `credence config check` on the shipped file, the
     conffiles, the user and group, the host users in the socket's group, the unit through
     `systemd-analyze verify`, the man pages, pkg-config and a C program against
     libcredence, `rspamadm configtest` and `spamassassin --lint` with the installed files;
  4. Exim end to end against the installed paths in Debian's split configuration: a copy of
     /etc/exim4 with dc_use_split_config='true' and one macro, CREDENCE_ENABLE = yes (plus
     the test's DNS server and Exim's own lookups pinned, in 000_localmacros),
     `update-exim4.conf` unchanged, then `exim4 -bh` with a signed message (250, credence's
     A-R) and a p=reject spoof (550). DNS: BIND on loopback (tests/integration/named_fixture.py);
  5. `dpkg --purge`: every file the packages listed is gone, /etc/credence too, the user and
     group removed, _rspamd and debian-spamd out of the group.

Not part of ctest (it installs packages on the machine and takes a package build):
`python3 tests/debian/test_packages.py [--debs DIR]` (--debs: skip 1, test the .deb files in
DIR). PASS/FAIL per check, the times at the end, exit 1 on any failure.
"""
import argparse
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from named_fixture import Named  # noqa: E402
import test_exim_e2e as e2e  # noqa: E402

PACKAGES = ["credence", "libcredence0", "libcredence-dev", "credence-exim", "credence-rspamd",
            "credence-spamassassin"]
AUTHSERV = "mx.credence.test"
WANTS = "/etc/systemd/system/multi-user.target.wants/credence.service"
failures = []
times = {}


def check(name, cond, detail=""):
    print(("PASS" if cond else "FAIL") + ": " + name +
          ("" if cond or not detail else " -- " + str(detail)[-1500:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)
    return cond


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def version_of_tree():
    for line in open(os.path.join(SRC, "CMakeLists.txt")):
        if line.startswith("project(credence VERSION "):
            return line.split()[2]
    return "?"


def build(out):
    head = run(["git", "-C", SRC, "rev-parse", "HEAD"]).stdout.strip()
    tree = os.path.join(out, "credence")
    subprocess.run(["git", "clone", "-q", "--no-checkout", SRC, tree], check=True)
    subprocess.run(["git", "-C", tree, "checkout", "-q", head], check=True)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 1))
    t0 = time.monotonic()
    with open(os.path.join(out, "build.log"), "w") as log:
        p = subprocess.run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=tree, env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    times["dpkg-buildpackage -b (nocheck)"] = time.monotonic() - t0
    check("dpkg-buildpackage -b -us -uc from a clean clone of %s" % head[:10], p.returncode == 0,
          open(os.path.join(out, "build.log")).read()[-2000:])
    return out


def lintian(debs):
    changes = glob.glob(os.path.join(debs, "credence_*.changes"))
    target = changes or sorted(glob.glob(os.path.join(debs, "*.deb")))
    t0 = time.monotonic()
    p = run(["lintian", "--no-tag-display-limit"] + target)
    times["lintian"] = time.monotonic() - t0
    tags = [l for l in (p.stdout + p.stderr).splitlines() if l[:2] in ("E:", "W:", "I:")]
    for t in tags:
        print("    lintian " + t)
    errors = [t for t in tags if t.startswith("E:")]
    check("lintian: no errors (%d warnings)" % sum(t.startswith("W:") for t in tags),
          not errors, errors)


def members(group):
    out = run(["getent", "group", group]).stdout.strip()
    return out.split(":")[3].split(",") if out.count(":") == 3 and out.split(":")[3] else []


def installed_checks(version):
    cred = "/usr/bin/credence"
    check("credence --version says %s" % version,
          run([cred, "--version"]).stdout.strip() == "credence " + version,
          run([cred, "--version"]).stdout)
    p = run([cred, "config", "check"])
    check("credence config check: the shipped /etc/credence/credence.toml is valid and gives "
          "the defaults", p.returncode == 0 and 'authserv_id = "localhost"' in p.stdout and
          "/etc/credence/credence.toml: valid" in p.stdout, p.stdout[:300] + p.stderr)
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}\n"] + PACKAGES).stdout
    for f in ("/etc/credence/credence.toml", "/etc/exim4/conf.d/main/05_credence_macros",
              "/etc/rspamd/local.d/credence.conf", "/etc/rspamd/modules.d/credence.conf",
              "/etc/spamassassin/credence.cf", "/etc/spamassassin/credence.pre"):
        check("conffile " + f, f in conffiles, conffiles)
    check("system user credence (no login, no home)",
          run(["getent", "passwd", "credence"]).stdout.strip().endswith(":/nonexistent:"
                                                                        "/usr/sbin/nologin"),
          run(["getent", "passwd", "credence"]).stdout)
    m = members("credence")
    check("_rspamd and debian-spamd in group credence (%s)" % ",".join(m),
          "_rspamd" in m and "debian-spamd" in m, m)
    p = run(["systemd-analyze", "verify", "/lib/systemd/system/credence.service"])
    check("systemd-analyze verify /lib/systemd/system/credence.service: clean",
          p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr)
    unit = open("/lib/systemd/system/credence.service").read()
    check("the unit runs /usr/bin/credence with the system's resolvers (no --dns)",
          "ExecStart=/usr/bin/credence serve " in unit and "--dns" not in unit, unit)
    check("credence.service enabled at install (deb-systemd-helper's multi-user.target.wants "
          "link; not started: no systemd as PID 1 here)", os.path.islink(WANTS), WANTS)
    for page in ("credence", "credence.toml"):
        check("man page %s" % page, run(["man", "-w", page]).returncode == 0,
              run(["man", "-w", page]).stderr)
    p = run(["pkg-config", "--modversion", "credence"])
    check("pkg-config credence: %s" % p.stdout.strip(), p.stdout.strip() == version, p.stderr)
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "v.c")
        with open(c, "w") as f:
            f.write('#include <stdio.h>\n#include <credence/credence.h>\n'
                    'int main(void) { puts(credence_version()); return 0; }\n')
        flags = run(["pkg-config", "--cflags", "--libs", "credence"]).stdout.split()
        p = run(["cc", c, "-o", os.path.join(d, "v")] + flags)
        r = run([os.path.join(d, "v")]) if p.returncode == 0 else p
        check("a C program built with pkg-config's flags runs against libcredence.so.0",
              r.returncode == 0 and r.stdout.strip() == version, p.stderr + r.stderr)
    plugin = "/usr/lib/x86_64-linux-gnu/credence/exim_credence.so"
    macros = open("/etc/exim4/conf.d/main/05_credence_macros").read()
    check("05_credence_macros names the installed shim and snippet",
          plugin in macros and os.path.isfile(plugin) and
          "/usr/share/credence/exim/credence_acl.conf" in macros, macros[-400:])
    link = "/etc/rspamd/plugins.d/credence.lua"
    check("rspamd: plugins.d/credence.lua links to the packaged module",
          os.path.islink(link) and os.path.isfile(os.path.realpath(link)), link)
    p = run(["rspamadm", "configtest"], timeout=120)
    check("rspamadm configtest with the installed files", p.returncode == 0,
          p.stdout + p.stderr)
    p = run(["spamassassin", "-L", "--lint"], timeout=120)
    check("spamassassin --lint with the installed credence.pre and credence.cf",
          p.returncode == 0, p.stdout + p.stderr)


def exim_split_config():
    """Debian's split configuration, with CREDENCE_ENABLE in 000_localmacros, built by an
    unchanged update-exim4.conf from a copy of /etc/exim4 (nothing in /etc is changed)."""
    tmp = tempfile.mkdtemp(prefix="credence-pkg-exim-")
    try:
        os.chmod(tmp, 0o755)
        confdir = os.path.join(tmp, "exim4")
        shutil.copytree("/etc/exim4", confdir, symlinks=True)
        ue = os.path.join(confdir, "update-exim4.conf.conf")
        text = open(ue).read().replace("dc_use_split_config='false'",
                                       "dc_use_split_config='true'")
        with open(ue, "w") as f:
            f.write(text)
        spool = os.path.join(tmp, "spool")
        os.makedirs(spool)
        ent = pwd.getpwnam("Debian-exim")
        os.chown(spool, ent.pw_uid, ent.pw_gid)
        with Named(e2e.ZONES) as ns:
            with open(os.path.join(confdir, "conf.d", "main", "000_localmacros"), "w") as f:
                f.write("CREDENCE_ENABLE = yes\n"
                        # The test's DNS server, never the machine's resolver.
                        "CREDENCE_OPTIONS = authserv_id=%s dns=127.0.0.1:%d deadline_ms=3000\n"
                        "CREDENCE_DMARC_ENFORCE = yes\n"
                        "SPOOLDIR = %s\nMAIN_HOST_LOOKUP =\nDISABLE_DKIM_VERIFY = true\n"
                        "MAIN_HARDCODE_PRIMARY_HOSTNAME = %s\n"
                        % (AUTHSERV, ns.port, spool, AUTHSERV))
            conf = os.path.join(tmp, "exim4.conf")
            p = run(["update-exim4.conf", "-d", confdir, "-o", conf])
            check("update-exim4.conf (unchanged) builds the split configuration",
                  p.returncode == 0, p.stderr)
            if p.returncode != 0:
                return
            built = open(conf).read()
            check("the built configuration names the packaged snippet and shim",
                  "CHECK_DATA_LOCAL_ACL_FILE = /usr/share/credence/exim/credence_acl.conf" in built
                  and "CREDENCE_PLUGIN = /usr/lib/x86_64-linux-gnu/credence/exim_credence.so"
                  in built, "")

            def bh(ip, msg):
                dialogue = ("EHLO mail.example.test\r\nMAIL FROM:<alice@example.test>\r\n"
                            "RCPT TO:<postmaster@localhost>\r\nDATA\r\n").encode()
                dialogue += msg + b"\r\n.\r\nQUIT\r\n"
                r = subprocess.run([e2e.EXIM, "-C", conf, "-bh", ip], input=dialogue,
                                   capture_output=True, timeout=60)
                return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

            out, err = bh(e2e.GOOD_IP, e2e.message("package good"))
            check("installed Exim shim: a signed message is accepted with credence's A-R",
                  e2e.data_reply(out).startswith("250") and
                  "Authentication-Results: %s;" % AUTHSERV in err and "dmarc=pass" in err,
                  (out + err)[-1500:])
            out, err = bh(e2e.BAD_IP, e2e.message("package spoof", sign=False))
            check("installed Exim shim: a p=reject spoof is refused (550)",
                  e2e.data_reply(out).startswith("550"), (out + err)[-800:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def purge_checks(listed, rspamd_dir_was_there):
    t0 = time.monotonic()
    p = run(["dpkg", "--purge"] + PACKAGES)
    times["dpkg --purge"] = time.monotonic() - t0
    check("dpkg --purge of the six packages", p.returncode == 0, p.stdout + p.stderr)
    left = [f for f in listed if os.path.lexists(f) and not os.path.isdir(f)]
    check("no file of the packages is left (%d listed)" % len(listed), not left, left[:10])
    dirs = ["/etc/credence", "/usr/share/credence", "/usr/lib/x86_64-linux-gnu/credence",
            "/usr/include/credence", "/usr/share/doc/credence"]
    if not rspamd_dir_was_there:
        dirs.append("/etc/rspamd/plugins.d")
    if os.path.lexists(WANTS):
        dirs.append(WANTS)
    left = [d for d in dirs if os.path.lexists(d)]
    check("no directory of the packages is left (/etc/credence included)", not left, left)
    check("user and group credence removed on purge",
          run(["getent", "passwd", "credence"]).returncode != 0 and
          run(["getent", "group", "credence"]).returncode != 0, "")
    st = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package}\n"] + PACKAGES).stdout
    check("dpkg knows none of them any more", all(not l.strip() or l.startswith("un")
                                                  for l in st.splitlines()), st)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--debs", help="test these built packages instead of building")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: must run as root (installs packages)")
        return 0
    version = version_of_tree()
    changelog = run(["dpkg-parsechangelog", "-l", os.path.join(SRC, "debian", "changelog"),
                     "-S", "Version"]).stdout.strip()
    check("debian/changelog's version is the tree's (%s)" % version,
          changelog.split("-")[0] == version, changelog)
    # A run that stopped half way leaves them installed: start clean.
    run(["dpkg", "--purge"] + PACKAGES)
    check("before: no user credence, no /etc/credence",
          run(["getent", "passwd", "credence"]).returncode != 0 and
          not os.path.exists("/etc/credence"), "")
    out = tempfile.mkdtemp(prefix="credence-debs-")
    try:
        debs = a.debs or build(out)
        files = [sorted(glob.glob(os.path.join(debs, "%s_*.deb" % p)))[-1:] for p in PACKAGES]
        files = [f[0] for f in files if f]
        if not check("six packages built (%s)" % " ".join(os.path.basename(f) for f in files),
                     len(files) == 6, files):
            return 1
        for f in files:
            print("    %s: %d KiB" % (os.path.basename(f), os.path.getsize(f) // 1024))
        lintian(debs)
        rspamd_dir_was_there = os.path.isdir("/etc/rspamd/plugins.d")
        t0 = time.monotonic()
        p = run(["dpkg", "-i"] + files)
        times["dpkg -i"] = time.monotonic() - t0
        if not check("dpkg -i of the six packages", p.returncode == 0, p.stdout + p.stderr):
            return 1
        listed = []
        for pkg in PACKAGES:
            listed += run(["dpkg", "-L", pkg]).stdout.split()
        try:
            installed_checks(version)
            exim_split_config()
        finally:
            purge_checks(listed, rspamd_dir_was_there)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for k, v in times.items():
        print("time: %s %.1f s" % (k, v))
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
