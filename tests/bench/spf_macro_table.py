#!/usr/bin/python3
"""Issue 10's table: which name does each macro term make the checker ask?

For every term, BIND named on 127.0.0.1 serves example.com with the record
"v=spf1 exists:TERM.x.example.com -all" and an A record only at the name RFC 7208 §7.3
gives for it; the checker answers pass when it asked that name and fail when it asked another.
credence (`credence spf --dns`) and pyspf (pointed at the same named only) are both run.

    CREDENCE_BIN=build/plugin/cli/credence /usr/bin/python3 tests/bench/spf_macro_table.py
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from named_fixture import Named  # noqa: E402
import spf_pyspf  # noqa: E402

CREDENCE = os.environ.get("CREDENCE_BIN", "build/plugin/cli/credence")
MAIL_FROM = "someuser@example.com"
IP4 = "192.0.2.1"
IP6 = "2001:db8::cb01"

# (term, client ip, the name RFC 7208 §7.3 asks, without ".x.example.com")
CASES = [
    ("%{d2}", IP4, "example.com"),
    ("%{l1}", IP4, "someuser"),
    ("%{l1r}", IP4, "someuser"),
    ("%{l2}", IP4, "someuser"),
    ("%{d1}", IP4, "com"),
    ("%{lr}", IP4, "someuser"),
    ("%{ir}", IP4, "1.2.0.192"),
    ("%{i1}", IP4, "1"),
    ("%{l-}", IP4, "someuser"),
    ("%{d3}", IP4, "example.com"),
    ("%{d9r}", IP4, "com.example"),
    ("%{i2r}", IP4, "0.192"),
    ("%{o2}", IP4, "example.com"),
    ("%{s1}", IP4, "com"),
    ("%{ir}.%{v}", IP4, "1.2.0.192.in-addr"),
    ("%{ir}.%{v}", IP6, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6"),
    ("%{i8}", IP6, "0.0.0.0.c.b.0.1"),
]


def credence(port, ip):
    out = subprocess.run([CREDENCE, "spf", "--dns", "127.0.0.1:%d" % port, "--ip", ip,
                          "--helo", "mx.example.net", "--mail-from", MAIL_FROM,
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)["result"]


def main():
    rows = []
    for term, ip, want in CASES:
        zone = ('@ IN TXT "v=spf1 exists:%s.x.example.com -all"\n' % term +
                "%s.x.example.com. IN A 127.0.0.2\n" % want)
        with Named({"example.com": zone}) as ns:
            c = credence(ns.port, ip)
            p = spf_pyspf.check(ns.port, ip, MAIL_FROM, "mx.example.net")[0]
        rows.append((term, ip, want, c, p))
    print("| term (client) | RFC 7208 asks | credence | pyspf |")
    print("|---|---|---|---|")
    right = 0
    for term, ip, want, c, p in rows:
        ok = c == "pass"
        right += ok
        print("| `exists:%s.x.example.com` (%s) | `%s.x.example.com` | %s | %s |" % (
            term, ip, want, "right" if ok else c, "right" if p == "pass" else p))
    print("\ncredence right on %d of %d terms" % (right, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
