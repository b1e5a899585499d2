#!/usr/bin/python3
"""`credence check` end to end: every case of tests/data/check/cases.json (zone files with one
mistake each, a clean one, the admin's setup of issue 13, messages) run through the command
twice, on the zone files (--zone, no network) and served by BIND named on 127.0.0.1 (--dns);
both must give the case's exact problem codes, its ok codes and its exit status. Then: the
admin's checklist line by line, zone files in front of named (--zone with --dns), SERVFAIL
and a silent server (dns.tempfail, within the deadline), usage errors, the JSON shape.

Env: CREDENCE_BIN (the credence binary), CREDENCE_SRC (source dir). Prints one PASS/FAIL line
per check and the time per check; exit 1 on any failure. Nothing is asked of the machine's
resolver: every run has --zone or --dns 127.0.0.1:PORT of the named started here.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import Blackhole, Named  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
SRC = os.environ.get("CREDENCE_SRC", os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(SRC, "tests", "data", "check")
FAILURES = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        FAILURES.append(name)
    return ok


def zone_path(zone):
    return os.path.join(DATA, "zones", zone + ".zone")


def run(args, timeout=60):
    start = time.monotonic()
    p = subprocess.run([BIN, "check"] + args, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - start


def case_args(c):
    args = [c["domain"]]
    for s in c["selectors"]:
        args += ["--selector", s]
    if c["message"]:
        args += ["--message", os.path.join(DATA, "messages", c["message"])]
    return args


def compare(label, c, p):
    try:
        j = json.loads(p.stdout)
    except ValueError:
        return check(label, False, f"no JSON (exit {p.returncode}): {p.stderr.strip()[:300]}")
    problems = sorted(f["code"] for f in j["findings"] if f["severity"] != "ok")
    oks = {f["code"] for f in j["findings"] if f["severity"] == "ok"}
    missing = [x for x in c["present"] if x not in oks]
    ok = problems == c["problems"] and not missing and p.returncode == c["exit"] == j["exit_status"]
    detail = f"problems {problems} want {c['problems']}, missing ok {missing}, exit {p.returncode} want {c['exit']}"
    if not ok:
        detail += "".join(f"\n    {f['code']}: {f['message']}" for f in j["findings"]
                          if f["severity"] != "ok")
    return check(label, ok, detail)


def admin_text(label, out):
    """The checklist the issue asks for, for the admin's setup."""
    lines = out.splitlines()
    want = [
        "  ! _domainkey.example.com has a TXT record (\"t=y;o=~;r=postmaster@example.com\"",
        "    fix: delete it. Testing mode is t=y in a selector's own key record (20160629._domainkey.example.com)",
        "  ! selector 20160629: 1024-bit RSA key",
        "  ✓ selector 20160629: not in testing mode (no t=y in its key record",
        "  ✓ one SPF record at example.com: \"v=spf1 mx -all\"",
        "  ✓ the MX hosts pass SPF for example.com: mail.example.com 192.0.2.10",
        "  ✗ no DMARC record at _dmarc.example.com",
        "    fix: publish a first record in monitoring mode, '_dmarc.example.com. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.com\"'",
    ]
    for w in want:
        check(f"{label}: line '{w[:60]}...'", any(l.startswith(w) for l in lines),
              "\n" + out)
    problems = [i for i, l in enumerate(lines) if l.startswith("  ! ") or l.startswith("  ✗ ")]
    check(f"{label}: exactly three problems", len(problems) == 3, "\n" + out)
    for i in problems:
        following = lines[i + 1:i + 4]
        check(f"{label}: a fix under '{lines[i][:40]}'",
              any(l.startswith("    fix: ") for l in following), "\n" + out)
    check(f"{label}: sections in order",
          [l for l in lines if l in ("SPF", "DKIM", "DMARC", "MX")] == ["SPF", "DKIM", "DMARC", "MX"],
          "\n" + out)
    check(f"{label}: summary", lines[-1] == "1 error, 2 warnings, 8 checks pass (exit status 2)",
          lines[-1])


def main():
    cases = json.load(open(os.path.join(DATA, "cases.json")))
    zones = sorted(f[:-len(".zone")] for f in os.listdir(os.path.join(DATA, "zones"))
                   if f.endswith(".zone"))
    times = {"zone": [], "named": []}

    # 1. On the zone files, before they are published.
    for c in cases:
        args = case_args(c) + ["--format", "json"]
        for z in c["zones"]:
            args += ["--zone", zone_path(z)]
        p, secs = run(args)
        times["zone"].append(secs)
        compare(f"zone {c['name']}", c, p)

    served = {z: open(zone_path(z)).read() for z in zones}
    with Named(served, servfail_zones=["broken.example"]) as ns:
        dns = f"127.0.0.1:{ns.port}"
        # 2. The same zones served by BIND: the same findings.
        for c in cases:
            p, secs = run(case_args(c) + ["--format", "json", "--dns", dns])
            times["named"].append(secs)
            compare(f"named {c['name']}", c, p)

        # 3. The admin's checklist, as text, both ways.
        p, _ = run(["example.com", "--selector", "20160629", "--zone", zone_path("example.com")])
        check("admin --zone exit 2", p.returncode == 2, p.stderr)
        admin_text("admin --zone", p.stdout)
        p, _ = run(["example.com", "--selector", "20160629", "--dns", dns])
        check("admin named exit 2", p.returncode == 2, p.stderr)
        admin_text("admin named", p.stdout)

        # 4. A zone file not yet published, its includes from DNS.
        p, _ = run(["spf-lookups.example", "-s", "s1", "--format", "json", "--zone",
                    zone_path("spf-lookups.example"), "--dns", dns])
        j = json.loads(p.stdout)
        codes = [f["code"] for f in j["findings"]]
        check("zone + dns: the include tree is followed through DNS",
              "spf.lookup_limit" in codes and j["spf"]["lookups"] == 12, codes)
        p, _ = run(["spf-lookups.example", "-s", "s1", "--format", "json", "--zone",
                    zone_path("spf-lookups.example")])
        j = json.loads(p.stdout)
        codes = [f["code"] for f in j["findings"]]
        check("zone alone: includes outside it are not checked, and said so",
              "dns.outside_zones" in codes and "spf.lookup_limit" not in codes
              and p.returncode == 1, codes)
        lookups = [f for f in j["findings"] if f["code"] == "spf.lookups"]
        check("zone alone: the lookup count is a lower bound",
              lookups and lookups[0]["message"].startswith("at least 3 DNS lookups"), lookups)

        # 5. DNS trouble: SERVFAIL is an error where it happened, not a verdict.
        p, _ = run(["x.broken.example", "-s", "s1", "--format", "json", "--dns", dns])
        j = json.loads(p.stdout)
        codes = {f["code"] for f in j["findings"]}
        check("SERVFAIL: dns.tempfail, exit 2, no 'missing' verdicts",
              "dns.tempfail" in codes and p.returncode == 2
              and not codes & {"spf.missing", "dmarc.missing", "dkim.key_missing", "mx.missing"},
              sorted(codes))
    with Blackhole() as port:
        p, secs = run(["example.com", "-s", "20160629", "--format", "json", "--dns",
                       f"127.0.0.1:{port}", "--dns-timeout", "200"], timeout=120)
        j = json.loads(p.stdout)
        codes = {f["code"] for f in j["findings"]}
        check(f"silent server: dns.tempfail, exit 2, {secs:.1f} s (bound 60 s)",
              "dns.tempfail" in codes and p.returncode == 2 and secs < 60, sorted(codes))

    # 6. docs/check.md: the admin's walk from testing mode to p=reject, step by step, and the
    # message sent in step 1 (key in testing mode) and step 2 (out of it).
    steps = json.load(open(os.path.join(DATA, "walkthrough", "steps.json")))
    for st in steps:
        args = ["example.com", "--format", "json", "--zone",
                os.path.join(DATA, "walkthrough", st["step"] + ".zone")]
        for s in st["selectors"]:
            args += ["-s", s]
        p, _ = run(args)
        j = json.loads(p.stdout)
        problems = sorted(f["code"] for f in j["findings"] if f["severity"] != "ok")
        check(f"walkthrough {st['step']}: {problems}, exit {st['exit']}",
              problems == st["problems"] and p.returncode == st["exit"],
              (problems, p.returncode))
    message = os.path.join(DATA, "messages", "example.com-2026a.eml")
    for step, want_code, want_exit in [("step1", "message.dkim_testing", 1),
                                       ("step2", "message.dkim_pass", 1)]:
        p, _ = run(["example.com", "--format", "json", "--message", message, "--client-ip",
                    "192.0.2.10", "--zone", os.path.join(DATA, "walkthrough", step + ".zone")])
        j = json.loads(p.stdout)
        codes = [f["code"] for f in j["findings"] if f["section"] == "message"]
        check(f"walkthrough {step} --message: {want_code}, SPF and DMARC pass",
              codes == [want_code, "message.spf_pass", "message.dmarc_pass"]
              and p.returncode == want_exit and j["dkim"]["selectors"] == ["2026a"],
              (codes, p.returncode, j["dkim"]))

    # 7. Usage errors: exit 2 and a message, no report.
    for label, args in [("not a domain", ["not a domain", "--zone", zone_path("clean.example")]),
                        ("missing zone file", ["clean.example", "--zone", "/nonexistent.zone"]),
                        ("bad format", ["clean.example", "--format", "xml", "--zone", zone_path("clean.example")]),
                        ("bad --dns", ["clean.example", "--dns", "not-an-address"]),
                        ("domain in no zone file", ["other.example", "--zone", zone_path("clean.example")]),
                        ("missing message", ["clean.example", "--zone", zone_path("clean.example"),
                                             "--message", "/nonexistent.eml"]),
                        ("a directory as the message", ["clean.example", "--zone",
                                                        zone_path("clean.example"), "--message", DATA]),
                        ("a client IP that is no address", ["clean.example", "--zone",
                                                            zone_path("clean.example"),
                                                            "--client-ip", "notanip"]),
                        ("a name that is no domain, with --zone", ["exa mple.example", "--zone",
                                                                   zone_path("clean.example")])]:
        p, _ = run(args)
        check(f"usage: {label}: exit 2 with a message", p.returncode == 2 and p.stderr.strip()
              and not p.stdout, (p.returncode, p.stderr, p.stdout[:200]))

    # 8. The JSON shape monitoring depends on.
    p, _ = run(["clean.example", "-s", "s1", "--format", "json", "--zone", zone_path("clean.example"),
                "--zone", zone_path("mailer.example")])
    j = json.loads(p.stdout)
    check("json: top-level keys",
          sorted(j) == ["counts", "dkim", "dmarc", "dns_queries", "domain", "exit_status",
                        "findings", "spf", "status"], sorted(j))
    check("json: finding keys",
          all(sorted(f) == ["code", "details", "fix", "message", "section", "severity", "subject"]
              for f in j["findings"]), j["findings"][:1])
    check("json: clean is status ok, exit 0", j["status"] == "ok" and p.returncode == 0, j["counts"])
    check("json: spf facts", j["spf"]["lookups"] == 2 and j["spf"]["terms"][1]["term"]
          == "include:_spf.mailer.example", j["spf"])

    for mode, t in times.items():
        t = sorted(t)
        print(f"time per check, {mode}: median {t[len(t) // 2] * 1000:.0f} ms, "
              f"max {t[-1] * 1000:.0f} ms over {len(t)} checks")
    print(f"{len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
