#!/usr/bin/python3
"""End-to-end policy test: `credence verify --format json` with an SMTP envelope (SPF, DKIM,
DMARC, Authentication-Results, score) against a real BIND named on 127.0.0.1.

Data: tests/data/policy/cases.json (the named cases and what each must produce),
tests/data/policy/zones/*.zone (zone templates; {RSA2048} {TESTING} {ED25519} become the
public keys of tests/data/policy/keys/*.pem). Messages are built and signed with dkimpy at
test time. broken.test is a SERVFAIL zone. Cross-case checks: the spoofed-From-under-reject
case has the highest score, a failing t=y signature scores like no signature, every
authentication_results value parses with python3-authres, and with a Blackhole DNS server
every method is temperror (never fail) within the deadline.

Env: CREDENCE_BIN (the credence binary), CREDENCE_SRC (source dir). Prints one PASS/FAIL line
per check; exit 1 on any failure. Run with /usr/bin/python3 (Debian's dkim and authres).
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, "/usr/lib/python3/dist-packages")
from named_fixture import Blackhole, Named  # noqa: E402

import authres  # noqa: E402
import dkim  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
SRC = os.environ.get("CREDENCE_SRC", os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(SRC, "tests", "data", "policy")
FAILURES = []
CHECKS = [0]


def check(name, ok, detail=""):
    CHECKS[0] += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        FAILURES.append(name)
    return ok


def public_key(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    if b"\x2b\x65\x70" in der[:16]:  # OID 1.3.101.112: Ed25519, the key is the last 32 bytes
        der = der[-32:]
    return base64.b64encode(der).decode()


def ed25519_seed(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(der[-32:])


def txt(value):
    """A TXT rdata of 200-byte character-strings (a 2048-bit key is over 255 bytes)."""
    return " ".join(f'"{value[i:i + 200]}"' for i in range(0, len(value), 200))


def load_zones(keys):
    zones = {}
    zdir = os.path.join(DATA, "zones")
    for name in sorted(os.listdir(zdir)):
        if not name.endswith(".zone"):
            continue
        text = open(os.path.join(zdir, name)).read()
        for tag, key in keys.items():
            # The template writes p={TAG}" inside one quoted string: split it into several.
            text = text.replace('p={%s}"' % tag, 'p=" ' + txt(key))
        zones[name[:-len(".zone")]] = text
    return zones


def build_message(case, signing_keys):
    headers = list(case.get("extra_headers", []))
    headers += [f"From: {f}" for f in case["from"]]
    headers += ["To: rcpt@example.net", f"Subject: policy case {case['name']}",
                "Date: Tue, 14 Nov 2023 22:13:20 +0000",
                f"Message-ID: <{case['name']}@policy.test>"]
    body = f"Body of the {case['name']} case.\r\n"
    msg = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
    sign = case.get("sign")
    if sign:
        key, algorithm = signing_keys[sign["key"]]
        sig = dkim.sign(msg, sign["selector"].encode(), sign["domain"].encode(), key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                        signature_algorithm=algorithm)
        msg = sig + msg
        if case.get("tamper"):
            msg = msg.replace(b"Body of the", b"Body of THE")
    return msg


def run(files, port, envelope, timeout_ms=1000, extra=()):
    args = [BIN, "verify", "--format", "json", "--quiet", "--dns", f"127.0.0.1:{port}",
            "--dns-timeout", str(timeout_ms), "--jobs", "2"]
    if envelope.get("client_ip"):
        args += ["--client-ip", envelope["client_ip"]]
    if envelope.get("helo"):
        args += ["--helo", envelope["helo"]]
    args += ["--mail-from", envelope.get("mail_from", "")]
    if envelope.get("authserv_id"):
        args += ["--authserv-id", envelope["authserv_id"]]
    start = time.monotonic()
    proc = subprocess.run(args + list(extra) + files, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc, out, elapsed


def run_async(files, port, envelope, timeout_ms=1000, extra=()):
    """Like run() without waiting: (Popen, start time)."""
    args = [BIN, "verify", "--format", "json", "--quiet", "--dns", f"127.0.0.1:{port}",
            "--dns-timeout", str(timeout_ms), "--jobs", "1"]
    for opt, key in (("--client-ip", "client_ip"), ("--helo", "helo"),
                     ("--authserv-id", "authserv_id")):
        if envelope.get(key):
            args += [opt, envelope[key]]
    args += ["--mail-from", envelope.get("mail_from", "")]
    start = time.monotonic()
    return subprocess.Popen(args + list(extra) + files, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True), start


def lookup(obj, path):
    for part in path.split("."):
        if isinstance(obj, list):
            idx = int(part)
            if idx >= len(obj):
                raise KeyError(path)
            obj = obj[idx]
        else:
            obj = obj[part]
    return obj


def close(a, b):
    return isinstance(a, (int, float)) and abs(a - b) < 1e-9


def check_case(case, r):
    name = case["name"]
    for path, want in case.get("expect", {}).items():
        try:
            got = lookup(r, path)
        except (KeyError, IndexError, TypeError, ValueError):
            got = "<missing>"
        ok = close(got, want) if isinstance(want, float) else got == want
        check(f"{name}: {path} == {json.dumps(want)}", ok, f"got {json.dumps(got)}")
    for path, bound in case.get("lt", {}).items():
        check(f"{name}: {path} < {bound}", lookup(r, path) < bound, f"got {lookup(r, path)}")
    for path, bound in case.get("gt", {}).items():
        check(f"{name}: {path} > {bound}", lookup(r, path) > bound, f"got {lookup(r, path)}")
    if "eq_score" in case:
        check(f"{name}: score == {case['eq_score']}", close(r["score"], case["eq_score"]),
              f"got {r['score']}")
    symbols = {s["name"]: s["weight"] for s in r.get("symbols", [])}
    check(f"{name}: score is the sum of the symbol weights",
          close(r["score"], sum(symbols.values())), f"{r['score']} vs {symbols}")
    for sym, weight in case.get("symbols", {}).items():
        check(f"{name}: symbol {sym} = {weight}", sym in symbols and close(symbols[sym], weight),
              f"symbols {symbols}")
    for sym in case.get("no_symbols", []):
        check(f"{name}: no symbol {sym}", sym not in symbols, f"symbols {symbols}")
    ar = r.get("authentication_results", "")
    for needle in case.get("authres", []):
        check(f"{name}: A-R has {needle!r}", needle in ar, ar)


def parse_authres(value):
    return authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value)


def check_authres_parses(name, r):
    """The value parses, its authserv-id is ours, and each method's result is the JSON's."""
    value = r.get("authentication_results", "")
    try:
        header = parse_authres(value)
    except Exception as e:  # noqa: BLE001 - any parser exception is a failure to report
        check(f"{name}: A-R parses with python3-authres", False, f"{e!r}: {value}")
        return
    results = {}
    for res in header.results:
        results.setdefault(res.method, []).append(res.result)
    want_dkim = [d["result"] for d in r["dkim"]] or ["none"]
    ok = (header.authserv_id.lower() == r.get("_authserv_id", "").lower()
          and results.get("dkim") == want_dkim
          and results.get("spf", [None])[0] == r["spf"]["result"]
          and results.get("dmarc") == [r["dmarc"]["result"]])
    check(f"{name}: A-R parses with python3-authres, methods match the JSON", ok,
          f"parsed {results} id={header.authserv_id!r} from {value}")


def main():
    if not os.path.exists(BIN) and "/" in BIN:
        print(f"FAIL credence binary not found: {BIN}")
        return 1
    manifest = json.load(open(os.path.join(DATA, "cases.json")))
    defaults = manifest["defaults"]
    cases = manifest["cases"]
    kdir = os.path.join(DATA, "keys")
    signing_keys = {
        "rsa2048": (open(os.path.join(kdir, "rsa2048.pem"), "rb").read(), b"rsa-sha256"),
        "testing": (open(os.path.join(kdir, "testing.pem"), "rb").read(), b"rsa-sha256"),
        "ed25519": (ed25519_seed(os.path.join(kdir, "ed25519.pem")), b"ed25519-sha256"),
    }
    zones = load_zones({"RSA2048": public_key(os.path.join(kdir, "rsa2048.pem")),
                        "TESTING": public_key(os.path.join(kdir, "testing.pem")),
                        "ED25519": public_key(os.path.join(kdir, "ed25519.pem"))})
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="credence-policy-")
    results = {}
    with Named(zones, servfail_zones=["broken.test"]) as ns:
        # Cases sharing an envelope go through one credence run (several files, --jobs 2).
        groups = {}
        for case in cases:
            env = {k: case.get(k, v) for k, v in defaults.items()}
            path = os.path.join(tmp, case["name"] + ".eml")
            with open(path, "wb") as f:
                f.write(build_message(case, signing_keys))
            groups.setdefault(json.dumps(env, sort_keys=True), []).append((case, path))
        for env_key, members in groups.items():
            env = json.loads(env_key)
            proc, out, elapsed = run([p for _, p in members], ns.port, env)
            if not check(f"credence exit 0 for {[c['name'] for c, _ in members]}",
                         proc.returncode == 0 and len(out) == len(members),
                         f"rc={proc.returncode} stderr={proc.stderr[-500:]}"):
                continue
            for (case, path), r in zip(members, out):
                r["_authserv_id"] = env["authserv_id"]
                check(f"{case['name']}: report is for its file", r.get("file") == path,
                      r.get("file"))
                results[case["name"]] = r
        named_elapsed = time.monotonic() - t0

        for case in cases:
            r = results.get(case["name"])
            if r is None:
                check(f"{case['name']}: evaluated", False, "no report")
                continue
            if os.environ.get("CREDENCE_VERBOSE"):
                print(f"---- {case['name']}: score {r['score']} "
                      f"{[s['name'] for s in r['symbols']]}\n{r['authentication_results']}")
            check_case(case, r)
            check_authres_parses(case["name"], r)

        # Cross-case properties.
        # "highest": no case scores more unless it also carries a failing (non-testing) DKIM
        # signature, which adds CREDENCE_DKIM_FAIL on top of the same DMARC reject.
        highest = [c["name"] for c in cases if c.get("highest")]
        for name in highest:
            if name in results:
                top = results[name]["score"]
                others = {n: r["score"] for n, r in results.items() if n != name and not any(
                    s["name"] == "CREDENCE_DKIM_FAIL" for s in r["symbols"])}
                check(f"{name}: highest score ({top}) of the cases without a DKIM fail",
                      all(s <= top for s in others.values()), f"others {others}")
                # Several From fields score like a DMARC reject (CREDENCE_DMARC_MULTIPLE_FROM).
                lower = [n for n in others if (results[n]["dmarc"]["result"] != "fail"
                         or results[n]["dmarc"]["disposition"] != "reject") and not any(
                             s["name"] == "CREDENCE_DMARC_MULTIPLE_FROM"
                             for s in results[n]["symbols"])]
                check(f"{name}: strictly above every case not under a DMARC reject",
                      all(others[n] < top for n in lower), {n: others[n] for n in lower})
        for case in cases:
            other = case.get("same_score_as")
            if other and case["name"] in results and other in results:
                a, b = results[case["name"]]["score"], results[other]["score"]
                check(f"{case['name']}: score {a} == score of {other} ({b})", close(a, b))

        # Without --authserv-id (and no config) the authserv-id is "localhost" (docs/cli.md).
        env = dict(defaults)
        spoof = next(c for c in cases if c["name"] == "spoofed-from-reject")
        proc, out, _ = run([os.path.join(tmp, "spoofed-from-reject.eml")], ns.port,
                           {**env, "client_ip": spoof["client_ip"], "helo": spoof["helo"],
                            "authserv_id": ""})
        check("no --authserv-id: A-R authserv-id is 'localhost'",
              proc.returncode == 0 and out and out[0]["authentication_results"]
              .startswith(" localhost;"), out and out[0].get("authentication_results"))

    # Everything unreachable: a server that never answers. Every method is temperror, none is
    # fail, nothing adds to the score, and each run ends within its time budget. One message
    # per credence process, the processes run concurrently.
    deadline_ms = 1600  # the floor for --dns-timeout 300: 2 * 300 + 1000 (docs/cli.md)
    config = os.path.join(tmp, "deadline.toml")
    with open(config, "w") as f:
        f.write("[limits]\ndeadline_ms = %d\n" % deadline_ms)
    with Blackhole() as port:
        names = ("aligned-pass-reject", "spoofed-from-reject", "spf-helo-null-sender")
        procs = []
        for n in names:
            case = next(c for c in cases if c["name"] == n)
            env = {k: case.get(k, v) for k, v in defaults.items()}
            procs.append((n, env, run_async([os.path.join(tmp, n + ".eml")], port, env,
                                            timeout_ms=300, extra=["--config", config])))
        for n, env, (proc, start) in procs:
            stdout, stderr = proc.communicate(timeout=60)
            elapsed = time.monotonic() - start
            out = [json.loads(line) for line in stdout.splitlines() if line.strip()]
            name = "blackhole " + n
            if not check(f"{name}: credence exit 0, one report", proc.returncode == 0 and
                         len(out) == 1, f"rc={proc.returncode} stderr={stderr[-300:]}"):
                continue
            r = out[0]
            dk = [d["result"] for d in r["dkim"]]
            check(f"{name}: dkim all temperror", all(x == "temperror" for x in dk), dk)
            check(f"{name}: spf temperror", r["spf"]["result"] == "temperror", r["spf"])
            check(f"{name}: spf_helo temperror", r["spf_helo"]["result"] == "temperror",
                  r["spf_helo"])
            check(f"{name}: dmarc temperror, disposition none",
                  r["dmarc"]["result"] == "temperror" and r["dmarc"]["disposition"] == "none",
                  r["dmarc"])
            symbols = {s["name"]: s["weight"] for s in r["symbols"]}
            check(f"{name}: no fail symbol, score 0",
                  not any(x.endswith(("_FAIL", "_REJECT", "_QUARANTINE", "_SOFTFAIL"))
                          for x in symbols) and close(r["score"], 0), symbols)
            r["_authserv_id"] = env["authserv_id"]
            check_authres_parses(name, r)
            # The CLI's runner first prefetches the planned DKIM/DMARC questions for its batch
            # (bounded by the deadline), then evaluates the message (its own deadline); the
            # prefetch's temporary failures are asked again. So a run may take up to two
            # deadlines, plus process start.
            budget = 2 * deadline_ms / 1000.0 + 0.7
            check(f"{name}: finished in {elapsed:.2f}s (budget {budget:.1f}s)", elapsed < budget)

    total = time.monotonic() - t0
    print(f"{CHECKS[0]} checks, {len(FAILURES)} failed; {len(cases)} cases against named in "
          f"{named_elapsed:.2f}s, total {total:.2f}s")
    if not os.environ.get("CREDENCE_KEEP_TMP"):
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
