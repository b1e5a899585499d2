#!/usr/bin/python3
"""The systemd unit (issue 15): `systemd-analyze verify` reports nothing for
plugin/serve/credence.service (the source install's) nor for the Debian package's form of it
(plugin/install.cmake: this prefix's binary, no --dns: the system's resolvers), and the unit
keeps its sandbox and its reload. This machine has no systemd as PID 1: starting the unit,
its SystemCallFilter and `systemctl reload` are not exercised here (test_serve_reload.py
checks SIGHUP, which ExecReload sends). PASS/FAIL per check, exit 1 on failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_serve import FAILURES, SRC, check, find_credence  # noqa: E402

GEN = os.path.join(os.environ.get("CREDENCE_BUILD", os.path.join(SRC, "build")), "generated")

HARDENING = ["Documentation=man:credence(1) man:credence.toml(5)", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
             "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
             "SystemCallFilter=@system-service", "RuntimeDirectory=credence",
             "ExecReload=/bin/kill -HUP $MAINPID", "User=credence", "Group=credence"]


def verify(text, d, name):
    """systemd-analyze verify; it runs `man` for each Documentation=man:... page, so the
    generated pages (BUILD/generated) are put on MANPATH as the package installs them."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    man = os.path.join(d, "man")
    for sec, page in (("man1", "credence.1"), ("man5", "credence.toml.5")):
        os.makedirs(os.path.join(man, sec), exist_ok=True)
        if not os.path.exists(os.path.join(man, sec, page)):
            shutil.copy(os.path.join(GEN, page), os.path.join(man, sec, page))
    env = dict(os.environ, MANPATH=man)
    r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                       env=env)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    unit = open(os.path.join(SRC, "plugin/serve/credence.service")).read()
    cred = find_credence()
    source = unit.replace("/usr/local/bin/credence", cred)
    packaged = source.replace(" --dns 127.0.0.1:53", "")
    with tempfile.TemporaryDirectory() as d:
        for name, text in (("source", source), ("packaged", packaged)):
            rc, out = verify(text, d, "credence.service")
            check("systemd-analyze verify: the %s unit is clean" % name, rc == 0 and not out,
                  out)
        rc, out = verify(source.replace("ProtectSystem=", "ProtectSystm="), d, "credence.service")
        check("systemd-analyze verify reports a misspelt key (the check can fail)",
              "Unknown key" in out, out)
    for h in HARDENING:
        check("the unit has %s" % h, re.search("^" + re.escape(h) + "$", unit, re.M), h)
    check("the packaged unit asks the system's resolvers (no --dns)",
          "--dns" not in packaged and "--config /etc/credence/credence.toml" in packaged, "")
    # The ExecStart line parses: the same arguments with --help exit 0.
    args = re.search(r"^ExecStart=\S+ (.*)$", packaged, re.M).group(1).split()
    r = subprocess.run([cred] + args + ["--help"], capture_output=True, text=True)
    check("ExecStart's arguments are credence serve's (%s)" % " ".join(args),
          r.returncode == 0, r.stderr)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
