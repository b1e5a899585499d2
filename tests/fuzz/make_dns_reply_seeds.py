#!/usr/bin/python3
"""Writes the seed corpus of fuzz_dns_reply (tests/fuzz/corpus/dns_reply/): hand-made DNS
replies in wire format (RFC 1035 §4.1), good and hostile. Run after editing:
    /usr/bin/python3 tests/fuzz/make_dns_reply_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns_reply")
QNAME = 12  # offset of the question name


def name(n):
    """Wire labels of a dotted name (labels given as bytes or str; "" is the root)."""
    out = b""
    for label in ([] if n in ("", b"") else (n.split(b".") if isinstance(n, bytes) else n.split("."))):
        label = label if isinstance(label, bytes) else label.encode()
        out += bytes([len(label)]) + label
    return out + b"\0"


def header(flags=0x8180, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", 0x1234, flags, qd, an, ns, ar)


def question(n, qtype):
    return name(n) + struct.pack(">HH", qtype, 1)


def rr(owner, rtype, ttl, rdata):
    """A record; `owner` is wire bytes (a name or a pointer)."""
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def ptr(offset):
    return struct.pack(">H", 0xC000 | offset)


def txt(*strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


def soa(mname, rname, serial=1, refresh=3600, retry=600, expire=86400, minimum=60):
    return name(mname) + name(rname) + struct.pack(">IIIII", serial, refresh, retry, expire,
                                                   minimum)


def seeds():
    s = {}
    q = question("sel._domainkey.example.test", 16)
    s["txt_two_strings"] = header(an=1) + q + rr(ptr(QNAME), 16, 300, txt(b"v=DKIM1; ", b"p=AB"))
    # alias.example.test CNAME target.example.test (pointer into the CNAME's RDATA) TXT.
    q = question("alias.example.test", 16)
    body = header(an=2) + q
    target_off = len(body) + 12
    body += rr(ptr(QNAME), 5, 50, b"\x06target" + ptr(QNAME + 6))
    body += rr(ptr(target_off), 16, 200, txt(b"v=spf1 -all"))
    s["cname_chain"] = body
    q = question("nx.example.test", 16)
    s["nxdomain_soa"] = header(flags=0x8183, ns=1) + q + rr(
        ptr(QNAME + 3), 6, 300, soa("ns.example.test", "hm.example.test", minimum=30))
    s["nodata_soa"] = header(ns=1) + q + rr(ptr(QNAME + 3), 6, 20, soa("", "", minimum=900))
    q = question("example.test", 15)
    s["mx_special_and_null"] = header(an=3) + q + \
        rr(ptr(QNAME), 15, 300, b"\0\x0a" + name(b"mx;1(x).a b\".example.test")) + \
        rr(ptr(QNAME), 15, 300, b"\0\0" + b"\0") + \
        rr(ptr(QNAME), 15, 300, b"\0\x14" + b"\x03\x00\xff\\" + ptr(QNAME))
    q = question(b"a;b(c)\"d.\x00\xff\x20.evil.test", 16)
    s["special_question"] = header(an=1) + q + rr(ptr(QNAME), 16, 60, txt(b"found"))
    q = question("www.example.test", 1)
    s["a_records"] = header(an=2) + q + rr(ptr(QNAME), 1, 300, bytes([192, 0, 2, 1])) + \
        rr(ptr(QNAME), 1, 0x80000000, bytes([192, 0, 2, 2]))
    q = question("www.example.test", 28)
    s["aaaa_record"] = header(an=1) + q + rr(ptr(QNAME), 28, 300, bytes(range(16)))
    q = question("1.2.0.192.in-addr.arpa", 12)
    s["ptr_record"] = header(an=1) + q + rr(ptr(QNAME), 12, 300, name("host.example.test"))
    q = question("example.test", 6)
    s["soa_big_numbers"] = header(an=1) + q + rr(
        ptr(QNAME), 6, 300, soa("ns.example.test", "h\\m.example.test", 0xFFFFFFFF, 0xFFFFFFFF,
                                0x80000000, 0xFFFFFFFF, 0xFFFFFFFF))
    q = question("x.example.test", 16)
    loop_off = len(header() + q)
    s["compression_loop"] = header(an=1) + q + ptr(loop_off) + struct.pack(">HHIH", 16, 1, 1, 0)
    s["forward_pointer"] = header(an=1) + q + rr(ptr(200), 16, 1, txt(b"x"))
    s["pointer_chain"] = header(an=1) + q + rr(ptr(QNAME + 2), 16, 1, txt(b"x"))
    s["truncated_rdata"] = (header(an=1) + q + rr(ptr(QNAME), 16, 1, txt(b"abcdef")))[:-3]
    s["huge_counts"] = header(an=65535, ns=65535, ar=65535) + q + rr(ptr(QNAME), 16, 1, txt(b"x"))
    s["servfail"] = header(flags=0x8182) + q
    s["truncated_flag"] = header(flags=0x8380) + q
    s["not_a_response"] = header(flags=0x0100) + q
    s["long_txt"] = header(an=1) + q + rr(ptr(QNAME), 16, 300,
                                          txt(*[bytes([65 + i % 26]) * 255 for i in range(15)]))
    s["other_type"] = header(an=1) + question("x.example.test", 99) + \
        rr(ptr(QNAME), 99, 300, b"v=spf1 \x00\xff")
    s["cname_loop"] = header(an=2) + question("a.example.test", 16) + \
        rr(ptr(QNAME), 5, 1, name("b.example.test")) + \
        rr(name("b.example.test"), 5, 1, name("a.example.test"))
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for n, data in sorted(seeds().items()):
        with open(os.path.join(OUT, n), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), OUT))


if __name__ == "__main__":
    main()
