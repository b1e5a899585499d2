#!/usr/bin/python3
"""`credence verify --format json` against a real BIND named on 127.0.0.1.

Keys are made fresh (openssl) and messages signed with dkimpy at test time. Checks: RSA-2048,
a 4096-bit RSA key split over several TXT character-strings (the reply is over 512 bytes: it
comes over UDP with EDNS, test_dns_transport.py has the transport cases), Ed25519, a revoked key (permerror key_revoked), NXDOMAIN
(permerror no_key), a SERVFAIL zone (temperror key_dns_error), a blackhole server (temperror
within the timeout), and one resolver with a cache for the whole run (one query for three
messages with the same key, counted by a DelayProxy).

Env: CREDENCE_BIN (the credence binary), CREDENCE_SRC (source dir). Prints one line per
check; exit 1 on any failure.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_fixture import Blackhole, DelayProxy, Named  # noqa: E402

import dkim  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
FAILURES = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        FAILURES.append(name)


def openssl_der(args):
    return subprocess.run(["openssl"] + args + ["-outform", "DER"], check=True,
                          capture_output=True).stdout


def make_rsa(tmp, bits):
    path = os.path.join(tmp, f"rsa{bits}.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    f"rsa_keygen_bits:{bits}", "-out", path], check=True, capture_output=True)
    public = base64.b64encode(openssl_der(["pkey", "-in", path, "-pubout"])).decode()
    return open(path, "rb").read(), public


def make_ed25519(tmp):
    path = os.path.join(tmp, "ed25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path], check=True,
                   capture_output=True)
    seed = base64.b64encode(openssl_der(["pkey", "-in", path])[-32:])
    public = base64.b64encode(openssl_der(["pkey", "-in", path, "-pubout"])[-32:]).decode()
    return seed, public


def txt(value):
    parts = [value[i:i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join(f'"{p}"' for p in parts)


def message(n, domain):
    return (f"From: Sender <sender@{domain}>\r\nTo: rcpt@example.net\r\n"
            f"Subject: named test {n}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            f"Message-ID: <named-{n}@{domain}>\r\n\r\nBody of message {n}.\r\n").encode()


def sign(msg, selector, domain, key, algorithm=b"rsa-sha256"):
    return dkim.sign(msg, selector.encode(), domain.encode(), key,
                     canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                     signature_algorithm=algorithm) + msg


def run(files, port, timeout_ms=2000):
    start = time.monotonic()
    proc = subprocess.run([BIN, "verify", "--format", "json", "--dns", f"127.0.0.1:{port}",
                           "--dns-timeout", str(timeout_ms)] + files,
                          capture_output=True, timeout=120)
    elapsed = time.monotonic() - start
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return proc.returncode, results, elapsed, proc.stderr.decode(errors="replace")


def main():
    tmp = tempfile.mkdtemp(prefix="credence-verify-named-")
    rsa2048, rsa2048_pub = make_rsa(tmp, 2048)
    rsa4096, rsa4096_pub = make_rsa(tmp, 4096)
    ed_seed, ed_pub = make_ed25519(tmp)
    zone = "\n".join([
        f"rsa2048._domainkey IN TXT {txt('v=DKIM1; k=rsa; p=' + rsa2048_pub)}",
        f"big._domainkey IN TXT {txt('v=DKIM1; k=rsa; p=' + rsa4096_pub)}",
        f"ed._domainkey IN TXT \"v=DKIM1; k=ed25519; p={ed_pub}\"",
        "revoked._domainkey IN TXT \"v=DKIM1; k=rsa; p=\"",
    ]) + "\n"
    cases = {  # file -> (message bytes, expected result, expected reason, key_bits or None)
        "rsa2048": (sign(message(1, "example.test"), "rsa2048", "example.test", rsa2048),
                    "pass", "", 2048),
        "rsa4096-split-txt": (sign(message(2, "example.test"), "big", "example.test", rsa4096),
                              "pass", "", 4096),
        "ed25519": (sign(message(3, "example.test"), "ed", "example.test", ed_seed,
                         b"ed25519-sha256"), "pass", "", 256),
        "revoked": (sign(message(4, "example.test"), "revoked", "example.test", rsa2048),
                    "permerror", "key_revoked", None),
        "nxdomain": (sign(message(5, "example.test"), "nosuch", "example.test", rsa2048),
                     "permerror", "no_key", None),
        "servfail": (sign(message(6, "broken.test"), "rsa2048", "broken.test", rsa2048),
                     "temperror", "key_dns_error", None),
    }
    paths = {}
    for name, (data, _, _, _) in cases.items():
        paths[name] = os.path.join(tmp, name + ".eml")
        open(paths[name], "wb").write(data)

    with Named({"example.test": zone}, servfail_zones=["broken.test"]) as ns:
        names = list(cases)
        code, results, elapsed, err = run([paths[n] for n in names], ns.port)
        check("named: exit code 0", code == 0, f"exit {code}: {err}")
        check("named: one JSON line per file", len(results) == len(names), str(results))
        for name, obj in zip(names, results):
            _, result, reason, bits = cases[name]
            sigs = obj.get("dkim", [])
            got = sigs[0] if len(sigs) == 1 else {}
            ok = got.get("result") == result and got.get("reason") == reason and (
                bits is None or got.get("key_bits") == bits)
            check(f"named: {name} -> {result}{'/' + reason if reason else ''}"
                  f"{f' ({bits}-bit key)' if bits else ''}", ok, json.dumps(obj))
        print(f"     ({len(names)} messages in {elapsed:.2f}s)")

        # One resolver and one cache for the whole run: three messages, one key, one query.
        same = []
        for i in range(3):
            p = os.path.join(tmp, f"same-{i}.eml")
            open(p, "wb").write(sign(message(10 + i, "example.test"), "rsa2048",
                                     "example.test", rsa2048))
            same.append(p)
        proxy = DelayProxy(ns.port, delay=0.02)
        with proxy as proxy_port:
            code, results, elapsed, err = run(same, proxy_port)
        check("cache: three messages with one key all pass",
              code == 0 and [r["dkim"][0]["result"] for r in results] == ["pass"] * 3,
              json.dumps(results))
        # Every question (the key, the DMARC tree walk) is asked once for the whole run.
        keys = [q for q in proxy.questions if "._domainkey." in q[0]]
        check(f"cache: one key query for three messages (saw {len(keys)})", len(keys) == 1,
              str(proxy.questions))
        check("cache: no question asked twice in one run",
              len(set(proxy.questions)) == len(proxy.questions), str(proxy.questions))

    with Blackhole() as port:
        code, results, elapsed, err = run([paths["rsa2048"]], port, timeout_ms=300)
        sig = results[0]["dkim"][0] if results and results[0].get("dkim") else {}
        check("blackhole: temperror/key_dns_error",
              code == 0 and sig.get("result") == "temperror" and
              sig.get("reason") in ("key_dns_error", "deadline"), json.dumps(results))
        # Two tries of 300 ms each plus process start: well under 3 s.
        check(f"blackhole: answered within the timeout ({elapsed:.2f}s < 3s)", elapsed < 3.0,
              f"{elapsed:.2f}s")

    print(f"{'FAILED' if FAILURES else 'passed'}: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
