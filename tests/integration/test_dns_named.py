#!/usr/bin/python3
"""The c-ares resolver against a real BIND named on loopback (tests/tools/tool_dnsquery).

Run: CREDENCE_TOOLS=<build>/tests /usr/bin/python3 tests/integration/test_dns_named.py
Prints one PASS/FAIL line per check; exits 1 if any check failed.
"""
import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_fixture import Blackhole, DelayProxy, Named  # noqa: E402

TOOLS = os.environ.get("CREDENCE_TOOLS", "")
TOOL = os.path.join(TOOLS, "tool_dnsquery")
failures = 0


def check(name, ok, info=""):
    global failures
    print(("PASS" if ok else "FAIL") + ": " + name + ("" if ok else "  -- " + str(info)[:800]))
    if not ok:
        failures += 1


def query(port, *pairs, timeout=1000, tries=2, deadline=20000):
    args = [TOOL, "--dns", "127.0.0.1:%d" % port, "--timeout", str(timeout), "--tries", str(tries),
            "--deadline", str(deadline)]
    for name, qtype in pairs:
        args += [name, qtype]
    start = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    if out.returncode != 0:
        raise RuntimeError("tool_dnsquery failed: %s" % out.stderr)
    return [json.loads(line) for line in out.stdout.splitlines()], elapsed


def rsa4096_public_b64():
    """A real 4096-bit RSA public key (SubjectPublicKeyInfo, base64) as a DKIM p= value."""
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=key,
                         capture_output=True, check=True).stdout
    return base64.b64encode(der).decode()


def main():
    if not os.access(TOOL, os.X_OK):
        print("FAIL: tool_dnsquery not found at %r (set CREDENCE_TOOLS)" % TOOL)
        return 1
    p = rsa4096_public_b64()
    dkim = "v=DKIM1; k=rsa; p=" + p
    chunks = [dkim[i:i + 250] for i in range(0, len(dkim), 250)]
    big_txt = " ".join('"%s"' % c for c in chunks)
    names50 = "".join("n%d IN A 192.0.2.%d\n" % (i, i + 1) for i in range(50))
    zone = (
        "www IN A 192.0.2.1\n"
        "www IN AAAA 2001:db8::1\n"
        "@ IN MX 10 mail\n@ IN MX 20 backup.example.test.\n"
        "mail IN A 192.0.2.25\n"
        "sel._domainkey IN TXT %s\n" % big_txt +
        'spf IN TXT "v=spf1 ip4:192.0.2.0/24 " "-all"\n'
        'quoted IN TXT "a\\"b;c"\n'
        "alias IN CNAME spf\n"
        + names50
        + "".join('bigset IN TXT "record %d %s"\n' % (i, "x" * 200) for i in range(8))
    )
    reverse = "1 IN PTR www.example.test.\n"
    with Named({"example.test": zone, "2.0.192.in-addr.arpa": reverse},
               servfail_zones=["broken.test"]) as ns:
        port = ns.port
        ans, _ = query(port, ("sel._domainkey.example.test", "TXT"))
        a = ans[0]
        got = a["records"][0]["data"] if a["records"] else None
        check("4096-bit DKIM key split over %d strings is joined" % len(chunks),
              a["outcome"] == "ok" and got == dkim and len(a["records"]) == 1, a)
        check("answer larger than 512 bytes (%d-byte TXT) arrives complete" % len(dkim),
              len(dkim) > 512 and got == dkim, a)

        ans, _ = query(port, ("www.example.test", "A"), ("WWW.Example.Test.", "AAAA"),
                       ("example.test", "MX"), ("1.2.0.192.in-addr.arpa", "PTR"),
                       ("spf.example.test", "TXT"), ("quoted.example.test", "TXT"),
                       ("alias.example.test", "TXT"))
        check("A", ans[0]["outcome"] == "ok" and [r["data"] for r in ans[0]["records"]] == ["192.0.2.1"]
              and ans[0]["ttl"] == 300, ans[0])
        check("AAAA (mixed-case name, trailing dot)",
              [r["data"] for r in ans[1]["records"]] == ["2001:db8::1"], ans[1])
        mx = sorted((r["preference"], r["data"]) for r in ans[2]["records"])
        check("MX with preferences", mx == [(10, "mail.example.test"), (20, "backup.example.test")], ans[2])
        check("PTR", [r["data"] for r in ans[3]["records"]] == ["www.example.test"], ans[3])
        check("TXT of two strings joined with nothing between",
              [r["data"] for r in ans[4]["records"]] == ["v=spf1 ip4:192.0.2.0/24 -all"], ans[4])
        check("TXT with escaped quote and semicolon", [r["data"] for r in ans[5]["records"]] == ['a"b;c'], ans[5])
        check("CNAME followed to TXT", [r["data"] for r in ans[6]["records"]] == ["v=spf1 ip4:192.0.2.0/24 -all"],
              ans[6])

        ans, _ = query(port, ("nope.example.test", "TXT"), ("www.example.test", "TXT"),
                       ("_domainkey.example.test", "TXT"))
        check("NXDOMAIN with negative TTL from SOA", ans[0]["outcome"] == "nxdomain" and ans[0]["ttl"] == 300, ans[0])
        check("NODATA for a name with other types", ans[1]["outcome"] == "nodata", ans[1])
        check("NODATA for an empty non-terminal", ans[2]["outcome"] == "nodata", ans[2])

        ans, _ = query(port, ("x.broken.test", "TXT"))
        check("SERVFAIL -> tempfail", ans[0]["outcome"] == "tempfail" and ans[0]["detail"] == "SERVFAIL", ans[0])

        qs = [("n%d.example.test" % i, "A") for i in range(50)]
        ans, elapsed = query(port, *qs)
        ok = len(ans) == 50 and all(a["outcome"] == "ok" and a["records"][0]["data"] == "192.0.2.%d" % (i + 1)
                                    for i, a in enumerate(ans))
        check("batch of 50 questions answered (%.0f ms)" % (elapsed * 1000), ok, ans[:3])

        with DelayProxy(port, delay=0.2) as slow:
            ans, elapsed = query(slow, *qs, timeout=3000, tries=1)
            ok = all(a["outcome"] == "ok" for a in ans)
            check("50 questions through a 200 ms proxy go out in parallel (%.2f s, serial would be 10 s)"
                  % elapsed, ok and elapsed < 3.0, (elapsed, ans[:2]))
            # The proxy forwards UDP only. EDNS (1232 octets) brings the 4096-bit key over
            # UDP; an answer over 1232 octets comes truncated and must be asked again over
            # TCP, which fails there, while small answers through the same proxy work.
            # (Asked one at a time: c-ares fails every query in flight to a server whose TCP
            # connection was refused.)
            key, _ = query(slow, ("sel._domainkey.example.test", "TXT"), timeout=500, tries=1)
            big, _ = query(slow, ("bigset.example.test", "TXT"), timeout=500, tries=1)
            small, _ = query(slow, ("www.example.test", "A"), timeout=500, tries=1)
            check("4096-bit key over UDP alone (EDNS, no TCP through a UDP-only proxy)",
                  key[0]["outcome"] == "ok" and key[0]["records"][0]["data"] == dkim, key)
            check("answer over 1232 octets is retried over TCP (UDP-only proxy cannot serve it)",
                  big[0]["outcome"] == "tempfail" and small[0]["outcome"] == "ok", (big, small))

        ans, _ = query(port, ("x" * 64 + ".example.test", "A"))
        check("invalid name (64-octet label) answered without asking", ans[0]["outcome"] == "nxdomain", ans[0])

    with Blackhole() as hole:
        ans, elapsed = query(hole, ("a.example.test", "TXT"), ("b.example.test", "A"), timeout=300, tries=2)
        ok = all(a["outcome"] == "tempfail" and a["detail"] == "timeout" for a in ans)
        check("blackhole -> tempfail 'timeout' within timeout x tries (%.2f s for 2 x 0.3 s)" % elapsed,
              ok and 0.5 <= elapsed < 1.0, (elapsed, ans))
        ans, elapsed = query(hole, ("a.example.test", "TXT"), timeout=5000, tries=2, deadline=400)
        check("deadline ends the wait (%.2f s for a 0.4 s deadline)" % elapsed,
              ans[0]["outcome"] == "tempfail" and ans[0]["detail"] == "deadline" and elapsed < 1.5,
              (elapsed, ans))

    print("%s: %d failure(s)" % ("FAIL" if failures else "PASS", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
