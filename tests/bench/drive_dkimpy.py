#!/usr/bin/python3
"""dkimpy (Debian python3-dkim) verifying the benchmark corpus in one in-process loop.

    drive_dkimpy.py EML_DIR --dns 127.0.0.1:PORT

Keys come from the given DNS server (dnspython, UDP, TCP on truncation) through dkim.verify's
`dnsfunc`; answers are memoized per name for the run, as credence's TTL cache does. Prints one
JSON line: {"tool", "messages", "passes", "seconds", "cpu_seconds",
"dns_queries"}. Timing covers reading each
file and verifying it.
"""
import argparse
import json
import os
import sys
import time
from importlib.metadata import version

import dkim
import dns.flags
import dns.message
import dns.query
import dns.rdatatype


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eml_dir")
    ap.add_argument("--dns", required=True, help="HOST:PORT of the benchmark's named")
    args = ap.parse_args()
    host, port = args.dns.rsplit(":", 1)
    port = int(port)
    cache = {}
    queries = [0]

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        if name in cache:
            return cache[name]
        queries[0] += 1
        q = dns.message.make_query(name, dns.rdatatype.TXT)
        r = dns.query.udp(q, host, port=port, timeout=timeout)
        if r.flags & dns.flags.TC:
            r = dns.query.tcp(q, host, port=port, timeout=timeout)
        value = b""
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                value = b"".join(next(iter(rrset)).strings)
                break
        cache[name] = value
        return value

    files = sorted(os.path.join(args.eml_dir, f) for f in os.listdir(args.eml_dir)
                   if f.endswith(".eml"))
    passes = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            if dkim.verify(data, dnsfunc=dnsfunc):
                passes += 1
        except Exception:  # dkimpy raises on malformed input; that is a non-pass here
            pass
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    print(json.dumps({"tool": "dkimpy %s" % version("dkimpy"),
                      "messages": len(files), "passes": passes, "seconds": seconds,
                      "cpu_seconds": cpu_seconds, "dns_queries": queries[0]}))


if __name__ == "__main__":
    sys.exit(main())
