#!/usr/bin/python3
"""Builds the benchmark corpus (run with /usr/bin/python3: needs Debian's python3-cryptography).

    make_corpus.py OUTDIR [--messages 2000] [--domains 100] [--body-bytes 9500] [--no-eml]

Writes into OUTDIR:
  bench.zone      zone "bench.test": for each domain dNN.bench.test an RSA-2048 key at
                  s2048._domainkey.dNN (several quoted strings), _dmarc.dNN "v=DMARC1; p=none"
                  and an SPF record; SOA and NS included, so named and `credence --zone`
                  load the same text.
  keys/dNN.pem    the private keys, reused by later runs (RSA key generation is slow).
  keys.json       {"s2048._domainkey.dNN.bench.test": "v=DKIM1; ..."}: the same TXT data,
                  for drivers that answer DNS from memory.
  corpus.mbox     every message, mboxrd "From " separators, LF line ends.
  eml/NNNNN.eml   every message, CRLF line ends (not with --no-eml: the 100,000-message
                  pipeline corpus of bench_pipeline.py reads the mbox only).

Each message is ~10 KB with one DKIM-Signature: a=rsa-sha256, c=relaxed/relaxed, from the
message's domain (message i is signed by domain i % domains). Signing uses OpenSSL (through
`cryptography`) directly: the message is built already in relaxed canonical form (single
spaces, no trailing whitespace, CRLF, one final CRLF) so only the header canonicalization of
RFC 6376 §3.4.2 is needed here. The body never has a line starting with "From ", so the mbox
needs no quoting.
"""
import argparse
import base64
import hashlib
import json
import multiprocessing
import os
import random
import re
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ZONE = "bench.test"
SELECTOR = "s2048"
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu invoice shipment meeting agenda report quarterly budget review schedule "
         "attached please confirm thanks regards update status project deadline").split()
SIGNED = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"]


def relaxed_header(name, value):
    # RFC 6376 §3.4.2: lowercase name, unfold, collapse WSP runs, trim around the colon.
    value = re.sub(r"\r\n", "", value)
    value = re.sub(r"[ \t]+", " ", value).strip()
    return name.lower() + ":" + value


def txt_strings(value, size=250):
    return " ".join('"%s"' % value[i:i + size] for i in range(0, len(value), size))


def load_or_make_key(path):
    """RSA-2048 key cached as PEM: key generation is most of the corpus time on a busy host."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path + ".tmp", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.replace(path + ".tmp", path)
    return key


def make_body(rng, target):
    lines = []
    total = 0
    while total < target:
        n = rng.randint(6, 14)
        line = " ".join(rng.choices(WORDS, k=n))
        line = line[0].upper() + line[1:] + "."
        lines.append(line)
        total += len(line) + 2
        if rng.random() < 0.12:
            lines.append("")
            total += 2
    while lines and not lines[-1]:
        lines.pop()  # RFC 6376 §3.4.4: trailing empty lines are not part of the canonical body
    return "".join(l + "\r\n" for l in lines)


_WORKER = {}


def make_message(i):
    """Message i (CRLF bytes), signed by domain i % domains (keys shared by fork)."""
    args, keys = _WORKER["args"], _WORKER["keys"]
    rng = random.Random(args.seed * 1000003 + i)
    d = i % args.domains
    domain = "d%02d.%s" % (d, ZONE)
    headers = [
        ("From", "Sender %d <user%d@%s>" % (i, i, domain)),
        ("To", "Recipient <rcpt@example.org>"),
        ("Subject", "Benchmark message %d %s %s" % (i, rng.choice(WORDS), rng.choice(WORDS))),
        ("Date", "Tue, 14 Nov 2023 22:13:%02d +0000" % (i % 60)),
        ("Message-ID", "<bench.%d@%s>" % (i, domain)),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=us-ascii"),
    ]
    body = make_body(rng, args.body_bytes)
    bh = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    sig_value = ("v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s; t=1700000000; "
                 "h=%s; bh=%s; b=" % (domain, SELECTOR, ":".join(SIGNED), bh))
    signed = "".join(relaxed_header(n, v) + "\r\n" for n, v in headers)
    signed += relaxed_header("DKIM-Signature", sig_value)  # RFC 6376 §3.7: no final CRLF
    b = keys[d].sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    sig = "DKIM-Signature: " + sig_value + base64.b64encode(b).decode()
    text = sig + "\r\n" + "".join("%s: %s\r\n" % hv for hv in headers) + "\r\n" + body
    return text.encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--domains", type=int, default=100)
    ap.add_argument("--body-bytes", type=int, default=9500)
    ap.add_argument("--key-cache", help="directory of cached dNN.pem keys (default OUTDIR/keys)")
    ap.add_argument("--seed", type=int, default=6376)
    ap.add_argument("--no-eml", action="store_true", help="write corpus.mbox only")
    ap.add_argument("--procs", type=int, default=os.cpu_count(),
                    help="processes making messages (the corpus does not depend on it)")
    args = ap.parse_args()
    t0 = time.time()
    eml_dir = os.path.join(args.outdir, "eml")
    os.makedirs(eml_dir, exist_ok=True)
    for name in os.listdir(eml_dir):  # a previous, larger corpus must not linger
        if name.endswith(".eml"):
            os.unlink(os.path.join(eml_dir, name))

    keys = []
    zone = ["$ORIGIN %s." % ZONE, "$TTL 3600",
            "@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300" % (ZONE, ZONE),
            "@ IN NS ns.%s." % ZONE, "ns IN A 127.0.0.1"]
    txt = {}
    key_dir = args.key_cache or os.path.join(args.outdir, "keys")
    os.makedirs(key_dir, exist_ok=True)
    for d in range(args.domains):
        key = load_or_make_key(os.path.join(key_dir, "d%02d.pem" % d))
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
        label = "d%02d" % d
        keys.append(key)
        zone.append("%s._domainkey.%s IN TXT %s" % (SELECTOR, label, txt_strings(record)))
        zone.append('_dmarc.%s IN TXT "v=DMARC1; p=none"' % label)
        zone.append('%s IN TXT "v=spf1 -all"' % label)
        txt["%s._domainkey.%s.%s" % (SELECTOR, label, ZONE)] = record
        txt["_dmarc.%s.%s" % (label, ZONE)] = "v=DMARC1; p=none"
    with open(os.path.join(args.outdir, "bench.zone"), "w") as f:
        f.write("\n".join(zone) + "\n")
    with open(os.path.join(args.outdir, "keys.json"), "w") as f:
        json.dump(txt, f, indent=0)
    t_keys = time.time() - t0

    # Messages are made by a pool of processes (--procs); each has its own generator seeded
    # from (--seed, message number), so the corpus is the same whatever the pool size.
    global _WORKER
    _WORKER = {"args": args, "key_dir": key_dir, "keys": keys}
    mbox = open(os.path.join(args.outdir, "corpus.mbox"), "wb")
    total_bytes = 0
    procs = max(1, args.procs)
    if procs == 1:
        made = map(make_message, range(args.messages))
    else:
        pool = multiprocessing.get_context("fork").Pool(procs)
        made = pool.imap(make_message, range(args.messages), chunksize=64)
    for i, data in enumerate(made):
        total_bytes += len(data)
        if not args.no_eml:
            with open(os.path.join(args.outdir, "eml", "%05d.eml" % i), "wb") as f:
                f.write(data)
        mbox.write(b"From bench@bench.test Tue Nov 14 22:13:20 2023\n")
        mbox.write(data.replace(b"\r\n", b"\n"))
        mbox.write(b"\n")
    mbox.close()
    if procs > 1:
        pool.close()
        pool.join()
    print("corpus: %d messages (avg %d bytes), %d domains, RSA-2048 relaxed/relaxed; "
          "keys %.1fs, total %.1fs" % (args.messages, total_bytes // max(args.messages, 1),
                                      args.domains, t_keys, time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
