#!/usr/bin/python3
"""Differential test: credence vs dkimpy on the corpus in tests/data/corpus.

Both verify every signature of every corpus message with keys from the same zone file
(credence through `verify --zone`, dkimpy through a dnsfunc that reads the zone with
dnspython). Per signature the two must agree on pass / non-pass; the few expected
disagreements are listed in EXPECTED_DISAGREEMENTS with their reason (also in
docs/differential.md). Both are also checked against the verdict the corpus generator
intended (manifest.tsv); a signature where credence differs from that expectation fails too.

Env: CREDENCE_BIN (the credence binary), CREDENCE_SRC (source dir; default: this repo).
Run with /usr/bin/python3 (Debian's dkim and dns modules). Prints one line per disagreement
and a summary; exit 1 on any unexplained disagreement.
"""
import fnmatch
import json
import os
import subprocess
import sys
import time

import dkim
import dns.name
import dns.rdatatype
import dns.zone

SRC = os.environ.get("CREDENCE_SRC",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("CREDENCE_BIN", os.path.join(SRC, "build", "plugin", "cli", "credence"))
CORPUS = os.path.join(SRC, "tests", "data", "corpus")

# (file glob, signature index or None for all, who passes, reason). Keep in step with
# docs/differential.md.
EXPECTED_DISAGREEMENTS = [
    ("messages/rsa-sha1.*", None, "dkimpy",
     "RFC 8301 §3.1: verifiers MUST NOT treat rsa-sha1 signatures as valid; dkimpy 1.1.4 "
     "still verifies them"),
    ("messages/key-sha1only.eml", None, "dkimpy",
     "RFC 6376 §3.6.1: a key h= that does not list the signature's hash makes the key "
     "unusable; dkimpy ignores the key h= tag"),
    ("messages/key-strict-subdomain.eml", None, "dkimpy",
     "RFC 6376 §3.6.1: key t=s forbids an i= in a subdomain of d=; dkimpy ignores t=s"),
    ("messages/tamper-from-added-on-top.*", None, "credence",
     "a From field added above the signed one: RFC 6376 §5.4.2 signs the bottom-most "
     "instance, so the signature verifies (credence); dkimpy deliberately also hashes any "
     "extra From (its bug #644046) and fails. Either is defensible; DMARC rejects multi-From "
     "mail anyway (RFC 9989)"),
]


def load_zone():
    zone = dns.zone.from_file(os.path.join(CORPUS, "corpus.zone"), origin="corpus.test.",
                              relativize=False)

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        rdataset = zone.get_rdataset(dns.name.from_text(name), dns.rdatatype.TXT)
        if not rdataset:
            return None
        return b"".join(rdataset[0].strings)
    return dnsfunc


def dkimpy_verdicts(data, dnsfunc):
    # dkimpy is given CRLF line ends: credence's contract treats bare LF as CRLF (as MTAs do),
    # and that normalisation is not what this test compares.
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    d = dkim.DKIM(data)
    count = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
    verdicts = []
    for i in range(count):
        try:
            ok = dkim.DKIM(data).verify(idx=i, dnsfunc=dnsfunc)
        except Exception:  # dkimpy raises on several kinds of bad signature/key
            ok = False
        verdicts.append("pass" if ok else "fail")
    return verdicts


def explained(file, index, who_passes):
    for pattern, idx, who, reason in EXPECTED_DISAGREEMENTS:
        if fnmatch.fnmatch(file, pattern) and (idx is None or idx == index) and who == who_passes:
            return reason
    return None


def main():
    manifest = []
    with open(os.path.join(CORPUS, "manifest.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            file, expect, desc = line.rstrip("\n").split("\t")
            manifest.append((file, expect.split(), desc))

    files = [os.path.join(CORPUS, m[0]) for m in manifest]
    start = time.monotonic()
    proc = subprocess.run([BIN, "verify", "--format", "json", "--zone",
                           os.path.join(CORPUS, "corpus.zone")] + files,
                          capture_output=True, timeout=300)
    credence_seconds = time.monotonic() - start
    if proc.returncode != 0:
        print(f"FAIL credence exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        return 1
    lines = proc.stdout.decode().splitlines()
    if len(lines) != len(manifest):
        print(f"FAIL credence printed {len(lines)} lines for {len(manifest)} files")
        return 1

    dnsfunc = load_zone()
    failures = 0
    signatures = 0
    agreements = 0
    explained_count = 0
    start = time.monotonic()
    for (file, expect, desc), line in zip(manifest, lines):
        obj = json.loads(line)
        if "error" in obj:
            print(f"FAIL {file}: credence error {obj['error']}")
            failures += 1
            continue
        ours = ["pass" if s["result"] == "pass" else "fail" for s in obj["dkim"]]
        theirs = dkimpy_verdicts(open(os.path.join(CORPUS, file), "rb").read(), dnsfunc)
        if not (len(ours) == len(theirs) == len(expect)):
            print(f"FAIL {file}: signature counts credence={len(ours)} dkimpy={len(theirs)} "
                  f"manifest={len(expect)}")
            failures += 1
            continue
        for i, (a, b, e) in enumerate(zip(ours, theirs, expect)):
            signatures += 1
            sig = obj["dkim"][i]
            what = f"{file}[{i}] ({desc}): credence={sig['result']}"
            if sig["reason"]:
                what += f"/{sig['reason']}"
            what += f" dkimpy={b} expected={e}"
            if a == b:
                agreements += 1
                if a != e and e != "any":
                    print(f"FAIL both disagree with the corpus expectation: {what}")
                    failures += 1
                continue
            reason = explained(file, i, "credence" if a == "pass" else "dkimpy")
            if reason and (a == e or e == "any"):
                explained_count += 1
                print(f"ok   expected disagreement: {what} -- {reason}")
            else:
                print(f"FAIL disagreement: {what}")
                failures += 1
    dkimpy_seconds = time.monotonic() - start
    print(f"{len(manifest)} messages, {signatures} signatures: {agreements} agree, "
          f"{explained_count} expected disagreements, {failures} failures "
          f"(credence {credence_seconds:.2f}s, dkimpy {dkimpy_seconds:.2f}s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
