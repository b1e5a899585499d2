#!/usr/bin/python3
"""A DNS server that must never be asked: test.sh runs the test suite with /etc/resolv.conf
naming it (a private mount namespace), so a command that falls back to the system's resolver
(credence's default since issue 15) asks this instead of the machine's real one. Every
question (UDP or TCP) is appended to LOG as "proto qname qtype" and answered REFUSED at once,
so nothing hangs. test.sh fails when LOG is not empty.

    dns_sentinel.py ADDR LOG     (port 53; stops on SIGTERM)
"""
import socket
import struct
import sys
import threading


def parse(q):
    labels, i = [], 12
    while i < len(q) and q[i] != 0 and len(labels) < 128:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if i + 3 <= len(q) else 0
    return ".".join(labels) or ".", qtype


def refused(q):
    if len(q) < 12:
        return b""
    flags = struct.unpack("!H", q[2:4])[0]
    out = q[:2] + struct.pack("!H", 0x8000 | (flags & 0x7900) | 5) + q[4:6] + b"\0" * 6
    return out + q[12:]


def main():
    addr, log_path = sys.argv[1], sys.argv[2]
    lock = threading.Lock()

    def record(proto, q):
        name, qtype = parse(q)
        with lock, open(log_path, "a") as f:
            f.write("%s %s %d\n" % (proto, name, qtype))

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((addr, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, 53))
    tcp.listen(16)

    def serve_tcp():
        while True:
            c, _ = tcp.accept()
            c.settimeout(2)
            try:
                n = struct.unpack("!H", c.recv(2))[0]
                q = c.recv(n)
                record("tcp", q)
                r = refused(q)
                c.sendall(struct.pack("!H", len(r)) + r)
            except (OSError, struct.error):
                pass
            finally:
                c.close()

    threading.Thread(target=serve_tcp, daemon=True).start()
    print("dns_sentinel: listening on %s:53" % addr, flush=True)
    while True:
        q, peer = udp.recvfrom(65535)
        record("udp", q)
        udp.sendto(refused(q), peer)


if __name__ == "__main__":
    main()
