#!/usr/bin/python3
"""credence's SPF against pyspf (Debian python3-spf), both asking one BIND named on loopback.

1. A fixed-seed generated run (spf_differential.py, 300 cases): no unexplained disagreement,
   and pyspf never tried a server other than the test's named.
2. Named cases, one per documented pyspf departure from RFC 7208 (docs/conformance.md):
   credence gives the RFC's answer, plain pyspf still gives its own (if pyspf changes, the
   case says so and the list in docs/conformance.md shrinks).
3. Issue 11 item 6: loopback clients get what the record says (libspf2 alone said pass).

Run: CREDENCE_BIN=build/plugin/cli/credence /usr/bin/python3 tests/integration/test_spf_differential.py
Prints one PASS/FAIL line per check; exits 1 if any failed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_fixture import Named  # noqa: E402
import spf_differential as diff  # noqa: E402
import spf_pyspf  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "build/plugin/cli/credence")
failures = 0


def check(name, ok, info=""):
    global failures
    print(("PASS" if ok else "FAIL") + ": " + name + ("" if ok else "  -- " + str(info)[:1500]))
    if not ok:
        failures += 1


class Fixed:
    """A hand-written case: the records, who connects, and what each checker must say."""

    def __init__(self, name, rfc, ip, mail_from, records, credence, pyspf):
        self.name, self.rfc, self.ip, self.mail_from = name, rfc, ip, mail_from
        self.helo = "mx.helo.test"
        self.records = records
        self.want_credence, self.want_pyspf = credence, pyspf


LONG = ".".join(["%{o}"] * 30)  # 30 x "trunc.test" = 329 octets before §7.3 truncation


def long_name():
    name = ".".join(["trunc.test"] * 30) + ".trunc.test"
    while len(name) > 253:
        name = name[name.index(".") + 1:]
    return name


FIXED = [
    Fixed("§7.3: parts are rejoined with '.' (%{d-} of a-b.test)", "RFC 7208 §7.3",
          "192.0.2.10", "u@a-b.test",
          {"a-b.test": [("TXT", "v=spf1 exists:%{d-}.x.a-b.test -all")],
           "a.b.test.x.a-b.test": [("A", "127.0.0.2")]},
          "pass", "fail"),
    Fixed("§7.3: labels removed from the left until 253 octets", "RFC 7208 §7.3",
          "192.0.2.11", "u@trunc.test",
          {"trunc.test": [("TXT", "v=spf1 exists:%s.trunc.test -all" % LONG)],
           long_name(): [("A", "127.0.0.2")]},
          "pass", "not pass"),
    Fixed("§7.1: 'R' is the reversal transformer (%{dR})", "RFC 7208 §7.1, RFC 5234 §2.3",
          "192.0.2.12", "u@r.test",
          {"r.test": [("TXT", "v=spf1 exists:%{dR}.x.r.test -all")],
           "test.r.x.r.test": [("A", "127.0.0.2")]},
          "pass", "fail"),
    Fixed("§4.6.2: an earlier match decides before a self-include is reached",
          "RFC 7208 §4.6.2", "192.0.2.13", "u@self.test",
          {"self.test": [("TXT", "v=spf1 ip4:192.0.2.13 include:%{d} -all")]},
          "pass", "permerror"),
    Fixed("§5.3: the implicit domain of 'a' is a name, not a macro-string",
          "RFC 7208 §5.3", "192.0.2.14", "u@imp.test",
          {"imp.test": [("TXT", "v=spf1 redirect=%-q.imp.test")],
           "%20q.imp.test": [("TXT", "v=spf1 a -all"), ("A", "192.0.2.14")]},
          "pass", "permerror"),
    Fixed("§5.1/§6.1: redirect ignored when the record has 'all' (suite "
          "redirect-after-mechanisms1)", "RFC 7208 §5.1", "192.0.2.15", "u@t5.test",
          {"t5.test": [("TXT", "v=spf1 redirect=t5.test ~all")]},
          "softfail", "softfail"),
    Fixed("§5.5: ptr evaluated by credence (validated name under the domain)",
          "RFC 7208 §5.5", "192.0.2.16", "u@ptr.test",
          {"ptr.test": [("TXT", "v=spf1 ptr -all")],
           "16.2.0.192.in-addr.arpa": [("PTR", "mail.ptr.test.")],
           "mail.ptr.test": [("A", "192.0.2.16")]},
          "pass", "pass"),
    Fixed("§7.3: %{p} of a validated name in a domain-spec", "RFC 7208 §7.3",
          "192.0.2.17", "u@p.test",
          {"p.test": [("TXT", "v=spf1 exists:%{p}.allow.p.test -all")],
           "17.2.0.192.in-addr.arpa": [("PTR", "host.p.test.")],
           "host.p.test": [("A", "192.0.2.17")],
           "host.p.test.allow.p.test": [("A", "127.0.0.2")]},
          "pass", "pass"),
    Fixed("issue 11.6: 127.0.0.1 against -all", "RFC 7208 §4 (no loopback rule)",
          "127.0.0.1", "u@lo.test", {"lo.test": [("TXT", "v=spf1 -all")]}, "fail", "fail"),
    Fixed("issue 11.6: ::1 against -all", "RFC 7208 §4 (no loopback rule)",
          "::1", "u@lo.test", {"lo.test": [("TXT", "v=spf1 -all")]}, "fail", "fail"),
    Fixed("issue 11.6: 127.0.0.1 against ip4:127.0.0.1", "RFC 7208 §5.6",
          "127.0.0.1", "u@lo4.test",
          {"lo4.test": [("TXT", "v=spf1 ip4:127.0.0.1 -all")]}, "pass", "pass"),
    Fixed("issue 11.6: ::1 against ip6:::1", "RFC 7208 §5.6",
          "::1", "u@lo6.test", {"lo6.test": [("TXT", "v=spf1 ip6:::1 -all")]}, "pass", "pass"),
    Fixed("issue 11.6: 127.0.0.2 against ip4:127.0.0.1 -all", "RFC 7208 §5.6",
          "127.0.0.2", "u@lo4.test",
          {"lo4.test": [("TXT", "v=spf1 ip4:127.0.0.1 -all")]}, "fail", "fail"),
]


class _Holder:
    def __init__(self, records):
        self.records = records


def fixed_cases():
    with Named({".": diff.zone_text([_Holder(f.records) for f in FIXED])},
               extra_options="check-names primary ignore;") as ns:
        for f in FIXED:
            c = diff.run_credence(BIN, ns.port, f)
            diff.set_corrections(())
            p = diff.run_pyspf(ns.port, f)
            check("%s: credence %s" % (f.name, f.want_credence), c[0] == f.want_credence, c)
            if f.want_pyspf.startswith("not "):
                ok = p[0] != f.want_pyspf[4:]
            else:
                ok = p[0] == f.want_pyspf
            check("%s: plain pyspf %s (%s)" % (f.name, f.want_pyspf, f.rfc), ok, p)


def generated():
    before = len(spf_pyspf.questions)
    stats = diff.run(BIN, 300, 20240611)
    diff.report(stats, show=5)
    check("300 generated cases: no unexplained disagreement with pyspf",
          not stats["unexplained"], len(stats["unexplained"]))
    check("generated cases: credence and pyspf agree outright on most (%d of 300)"
          % stats["agree"], stats["agree"] >= 240, stats["agree"])
    check("pyspf asked only the test's named (%d questions, %d elsewhere)"
          % (len(spf_pyspf.questions) - before, len(spf_pyspf.refused)),
          len(spf_pyspf.questions) > before and not spf_pyspf.refused)


def main():
    if not os.access(BIN, os.X_OK):
        print("FAIL: credence not found at %r (set CREDENCE_BIN)" % BIN)
        return 1
    fixed_cases()
    generated()
    print("%d passed, %d failed" % (2 * len(FIXED) + 3 - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
