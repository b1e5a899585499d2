#!/usr/bin/python3
"""DNS transport as the RFCs say (issue 10): answers over 512 octets over UDP with EDNS(0)
(RFC 6891, a 1232-octet payload as DNS flag day 2020 and RFC 9715 advise) and over TCP after a
truncated UDP reply (RFC 7766 §5), against BIND named.

Three records that real domains publish and that do not fit RFC 1035's 512 octets: a 4096-bit
DKIM key split over several strings (also behind a two-link CNAME chain), an SPF record of
~450 octets in a TXT RRset that exceeds 512 with its neighbours (site-verification tokens),
and a DMARC record among many TXT records (one RRset under 1232 octets, one over). Signed
messages go through `credence verify` against:
  1. named as usual (EDNS): every query advertises 1232; answers up to 1232 come over UDP,
     the larger one over TCP after a truncated (TC) UDP reply;
  2. named with `max-udp-size 512` (truncation forced): every answer over 512 over TCP;
  3. a UDP-only path (TCP refused, as behind a firewall that drops TCP/53): what EDNS alone
     can carry.
named records every query and reply with dnstap (protocol, size, TC flag, the OPT record's
payload size), which is what the transport checks read.

c-ares cases that named never produces, from a small fake server on loopback: a reply whose
question does not match is ignored (the real answer that follows is taken, a forged one
alone ends in a timeout), a reply with another ID is ignored, a FORMERR without OPT makes
c-ares retry that question without EDNS but the next batch advertises EDNS again, and a TC
reply without its question (c-ares 1.18 drops it) ends as a bounded timeout.

Env: CREDENCE_BIN (credence), CREDENCE_TOOLS (the directory with tool_dnsquery). Prints one
line per check and the measured transport; exit 1 on any failure.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_fixture import DelayProxy, Named, free_port  # noqa: E402

import dkim  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
TOOL = os.path.join(os.environ.get("CREDENCE_TOOLS", ""), "tool_dnsquery")
FAILURES = []

CLIENT_IP = "192.0.2.25"
KEY = "k4096._domainkey.edns.test"
CHAIN = "chain._domainkey.edns.test"
SPF = "edns.test"
DMARC = "_dmarc.edns.test"
DMARC_BIG = "_dmarc.big.edns.test"


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {str(detail)[:1500]}"))
    if not ok:
        FAILURES.append(name)


def strings(value, size=250):
    """TXT RDATA in zone syntax: `value` cut into character-strings of `size` octets."""
    return " ".join('"%s"' % value[i:i + size] for i in range(0, len(value), size))


def rsa4096(tmp):
    path = os.path.join(tmp, "rsa4096.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096",
                    "-out", path], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return open(path, "rb").read(), base64.b64encode(der).decode()


def spf_record():
    """An SPF record of ~450 octets that passes CLIENT_IP (ip4 terms need no DNS)."""
    terms = ["ip4:%s" % CLIENT_IP] + ["ip4:198.51.100.%d" % i for i in range(1, 200)]
    record = "v=spf1"
    for t in terms:
        if len(record) + len(t) + 6 > 450:
            break
        record += " " + t
    return record + " -all"


def zone_text(public_key):
    key = "v=DKIM1; k=rsa; p=" + public_key
    spf = spf_record()
    neighbours = [
        "google-site-verification=" + "Xq3" * 14 + "a",
        "MS=ms" + "31415926",
        "facebook-domain-verification=" + "k2" * 15,
        "apple-domain-verification=" + "Zz9" * 6,
        "docusign=" + "0123abcd-" * 4,
    ]
    junk = ["verification-token-%02d=%s" % (i, "t%02d" % i * 18) for i in range(40)]
    lines = [
        "k4096._domainkey IN TXT %s" % strings(key),
        "chain._domainkey IN CNAME hop1.keys.edns.test.",
        "hop1.keys IN CNAME hop2.keys.edns.test.",
        "hop2.keys IN TXT %s" % strings(key),
        "@ IN TXT %s" % strings(spf),
    ] + ['@ IN TXT "%s"' % n for n in neighbours] + [
        '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@edns.test"',
    ] + ['_dmarc IN TXT "%s"' % j for j in junk[:10]] + [
        '_dmarc.big IN TXT "v=DMARC1; p=reject"',
    ] + ['_dmarc.big IN TXT "%s"' % j for j in junk]
    return "\n".join(lines) + "\n", key, spf


def message(n, from_domain):
    return (f"From: Sender <sender@{from_domain}>\r\nTo: rcpt@example.net\r\n"
            f"Subject: transport {n}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            f"Message-ID: <transport-{n}@edns.test>\r\n\r\nBody {n}.\r\n").encode()


def sign(msg, selector, key):
    return dkim.sign(msg, selector.encode(), b"edns.test", key,
                     canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def verify(files, port):
    proc = subprocess.run([BIN, "verify", "--format", "json", "-q", "-j", "1", "--dns",
                           f"127.0.0.1:{port}", "--dns-timeout", "1000", "--client-ip", CLIENT_IP,
                           "--helo", "mail.edns.test", "--mail-from", "bounce@edns.test"] + files,
                          capture_output=True, timeout=120)
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


def verdicts(result):
    return ([d.get("result") for d in result.get("dkim", [])], result.get("spf", {}).get("result"),
            result.get("dmarc", {}).get("result"))


def traffic(messages, name):
    """named's dnstap record of one name: [(direction, protocol, size, tc, edns_udp)]."""
    return [(m["direction"], m["protocol"], m["size"], "tc" in m["flags"], m["edns_udp"])
            for m in messages if m["name"] == name and m["type"] == "TXT"]


def show(label, messages, names):
    for name in names:
        print("     %s %-28s %s" % (label, name, " ".join(
            "%s/%s:%d%s" % ("Q" if d == "query" else "R", p, s, "+TC" if tc else "")
            for d, p, s, tc, _ in traffic(messages, name))))


def udp_only(t):
    """One UDP query and one complete UDP reply, no TCP. (dnstap-read lists messages in the
    order named's threads wrote them, not always the order they happened: compared as sets.)"""
    return sorted((d, p, tc) for d, p, _, tc, _ in t) == [("query", "UDP", False),
                                                          ("reply", "UDP", False)]


def tcp_after_tc(t):
    """A UDP query answered by a truncated (TC) UDP reply, then the question over TCP and its
    complete reply. (c-ares opens TCP for a question only after a TC reply to it.)"""
    return sorted((d, p, tc) for d, p, _, tc, _ in t) == [
        ("query", "TCP", False), ("query", "UDP", False), ("reply", "TCP", False),
        ("reply", "UDP", True)]


def size_of(t, protocol):
    """The size of the reply that came over `protocol` (0 if none)."""
    return next((s for d, p, s, _, _ in t if d == "reply" and p == protocol), 0)


def named_cases(zone, files, key, spf):
    names = [KEY, CHAIN, SPF, DMARC, DMARC_BIG]
    all_pass = (["pass"], "pass", "pass")

    # 1. named as usual: EDNS carries everything up to 1232 octets over UDP.
    with Named({"edns.test": zone}, dnstap=True) as ns:
        results = verify(files, ns.port)
        ns.stop()
        tap = ns.dnstap_messages()
    for name, r in zip(["4096-bit key", "key behind a 2-link CNAME chain",
                        "DMARC RRset over 1232 octets"], results):
        check(f"EDNS: {name}: dkim, spf, dmarc pass", verdicts(r) == all_pass, r)
    asked = [m for m in tap if m["direction"] == "query" and m["type"] != "SOA"]
    check(f"EDNS: each of credence's {len(asked)} queries advertises a 1232-octet payload",
          asked and all(m["edns_udp"] == 1232 for m in asked), asked)
    show("EDNS", tap, names)
    for name in (KEY, CHAIN, SPF, DMARC):
        t = traffic(tap, name)
        size = size_of(t, "UDP")
        check(f"EDNS: {name} answered over UDP in one {size}-octet reply (> 512)",
              udp_only(t) and 512 < size <= 1232, t)
    t = traffic(tap, DMARC_BIG)
    size = size_of(t, "TCP")
    check(f"EDNS: {DMARC_BIG} ({size} octets > 1232): TC over UDP, then TCP",
          tcp_after_tc(t) and size > 1232, t)

    # 2. Truncation forced: every answer over 512 octets comes over TCP.
    with Named({"edns.test": zone}, dnstap=True, max_udp_size=512) as ns:
        results = verify(files, ns.port)
        ns.stop()
        tap = ns.dnstap_messages()
    for name, r in zip(["4096-bit key", "key behind a 2-link CNAME chain",
                        "DMARC RRset over 1232 octets"], results):
        check(f"max-udp-size 512: {name}: dkim, spf, dmarc pass", verdicts(r) == all_pass, r)
    show("TC  ", tap, names)
    for name in names:
        t = traffic(tap, name)
        size = size_of(t, "TCP")
        check(f"max-udp-size 512: {name}: TC over UDP, then TCP ({size} octets)",
              tcp_after_tc(t) and size > 512, t)

    # 3. UDP only (TCP refused): EDNS alone carries the key, the SPF and the DMARC RRsets.
    # One message per run: c-ares fails every query in flight when a TCP connection is
    # refused, so the one question that needs TCP would take its neighbours with it.
    with Named({"edns.test": zone}) as ns, DelayProxy(ns.port, delay=0) as udp_port:
        results = [verify([f], udp_port)[0] for f in files]
    check("UDP only: 4096-bit key: dkim, spf, dmarc pass", verdicts(results[0]) == all_pass,
          results[0])
    check("UDP only: key behind a CNAME chain: dkim, spf, dmarc pass",
          verdicts(results[1]) == all_pass, results[1])
    check("UDP only: DMARC RRset over 1232 octets needs TCP: dmarc temperror (not fail/none)",
          verdicts(results[2])[2] == "temperror", results[2])


class FakeServer:
    """A UDP DNS server on loopback answering each query through `respond(query, send)`,
    where send(message_or_bytes) sends one datagram back. Records every query it saw."""

    def __init__(self, respond):
        self.respond = respond
        self.queries = []

    def __enter__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.1)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def _serve(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            q = dns.message.from_wire(data)
            self.queries.append(q)

            def send(m, addr=addr):
                self.sock.sendto(m if isinstance(m, bytes) else m.to_wire(), addr)
            self.respond(q, send)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join(2)
        self.sock.close()
        return False


def answer(q, name=None, text="real", rcode=None, edns=True):
    """A reply to `q` (for `name` when given: another question), one TXT record."""
    if name is not None:
        other = dns.message.make_query(name, "TXT")
        other.id = q.id
        r = dns.message.make_response(other)
    else:
        r = dns.message.make_response(q)
    if rcode is not None:
        r.set_rcode(rcode)
    else:
        qname = r.question[0].name
        r.answer.append(dns.rrset.from_text(qname, 60, "IN", "TXT", '"%s"' % text))
    if not edns:
        r.use_edns(False)
    return r


def query(port, *names, batches=None, timeout=300, tries=2):
    args = [TOOL, "--dns", f"127.0.0.1:{port}", "--timeout", str(timeout), "--tries", str(tries)]
    for i, batch in enumerate(batches or [names]):
        if i > 0:
            args.append("--")
        for n in batch:
            args += [n, "TXT"]
    start = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()], time.monotonic() - start


def fake_cases():
    # A forged reply for another question, with the right ID, arrives first: ignored; the
    # real reply 50 ms later is the answer.
    def forged_then_real(q, send):
        send(answer(q, name="evil.edns.test", text="forged"))
        time.sleep(0.05)
        send(answer(q))
    with FakeServer(forged_then_real) as srv:
        ans, _ = query(srv.port, KEY)
    check("a reply whose question does not match is ignored, the real one taken",
          ans[0]["outcome"] == "ok" and [r["data"] for r in ans[0]["records"]] == ["real"], ans)

    def forged_only(q, send):
        send(answer(q, name="evil.edns.test", text="forged"))
    with FakeServer(forged_only) as srv:
        ans, elapsed = query(srv.port, KEY)
    check(f"only mismatched replies: tempfail 'timeout' after the tries ({elapsed:.2f} s), "
          "never the forged data", ans[0]["outcome"] == "tempfail" and
          ans[0]["detail"] == "timeout" and not ans[0]["records"] and elapsed < 3, ans)

    def wrong_id_then_real(q, send):
        r = answer(q, text="forged")
        r.id = (q.id + 1) & 0xFFFF
        send(r)
        time.sleep(0.05)
        send(answer(q))
    with FakeServer(wrong_id_then_real) as srv:
        ans, _ = query(srv.port, KEY)
    check("a reply with another ID is ignored, the real one taken",
          [r["data"] for r in ans[0]["records"]] == ["real"], ans)

    # RFC 4343: names compare case-insensitively; a resolver that echoes the question in
    # other case (0x20 randomisation) is answering the same question.
    def other_case(q, send):
        r = answer(q)
        r.question[0].name = dns.name.from_text(str(q.question[0].name).upper())
        send(r)
    with FakeServer(other_case) as srv:
        ans, _ = query(srv.port, KEY)
    check("the question echoed in other case is the same question",
          [r["data"] for r in ans[0]["records"]] == ["real"], ans)

    # RFC 6891 §7: a server that does not know EDNS answers FORMERR without an OPT record.
    # c-ares 1.18 asks that question again without EDNS and clears EDNS on its channel for
    # good; credence replaces such a channel after the batch, so the next one advertises
    # 1232 again.
    def formerr_for_old(q, send):
        if str(q.question[0].name).startswith("old.") and q.edns >= 0:
            send(answer(q, rcode=dns.rcode.FORMERR, edns=False))
        else:
            send(answer(q))
    with FakeServer(formerr_for_old) as srv:
        ans, _ = query(srv.port, batches=[["a.edns.test"], ["old.edns.test"], ["b.edns.test"],
                                          ["c.edns.test"]])
        seen = [(str(q.question[0].name).rstrip("."), q.payload if q.edns >= 0 else None)
                for q in srv.queries]
    print("     FORMERR fallback, queries seen:", seen)
    check("FORMERR without OPT: that question asked again without EDNS, and answered",
          seen[1:3] == [("old.edns.test", 1232), ("old.edns.test", None)] and
          ans[1]["outcome"] == "ok", (seen, ans))
    check("FORMERR without OPT: the following batches advertise 1232 again",
          seen[3:] == [("b.edns.test", 1232), ("c.edns.test", 1232)] and
          all(a["outcome"] == "ok" for a in ans), seen)

    # c-ares 1.18 compares the question of every reply, a truncated one included, and drops
    # a TC reply that carries none (QDCOUNT 0) instead of retrying over TCP: the question
    # ends as a timeout within timeout x tries (a temporary error, never a verdict).
    def tc_without_question(q, send):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.TC
        wire = bytearray(r.to_wire())
        header = bytes(wire[:4]) + b"\x00\x00" + bytes(wire[6:12])
        send(header)
    with FakeServer(tc_without_question) as srv:
        ans, elapsed = query(srv.port, KEY, timeout=300, tries=2)
    check(f"TC reply without its question (c-ares drops it): tempfail 'timeout' in "
          f"{elapsed:.2f} s (2 x 0.3 s)", ans[0]["outcome"] == "tempfail" and
          ans[0]["detail"] == "timeout" and elapsed < 2.0, ans)


def main():
    if not os.access(TOOL, os.X_OK):
        print("FAIL: tool_dnsquery not found at %r (set CREDENCE_TOOLS)" % TOOL)
        return 1
    tmp = tempfile.mkdtemp(prefix="credence-transport-")
    private, public = rsa4096(tmp)
    zone, key, spf = zone_text(public)
    print(f"     DKIM key record {len(key)} octets in {len(strings(key).split(chr(34))) // 2} "
          f"strings; SPF record {len(spf)} octets")
    check("the SPF record is near 450 octets", 430 <= len(spf) <= 460, len(spf))
    files = []
    for n, (from_domain, selector) in enumerate([("edns.test", "k4096"), ("edns.test", "chain"),
                                                 ("big.edns.test", "k4096")]):
        path = os.path.join(tmp, f"m{n}.eml")
        open(path, "wb").write(sign(message(n, from_domain), selector, private))
        files.append(path)
    named_cases(zone, files, key, spf)
    fake_cases()
    print(f"{'FAILED' if FAILURES else 'passed'}: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
