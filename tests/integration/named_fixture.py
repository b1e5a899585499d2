"""Throwaway DNS servers on 127.0.0.1 for integration tests (run with /usr/bin/python3).

    from named_fixture import Named, Blackhole, DelayProxy
    with Named({"example.test": ZONE_TEXT}, servfail_zones=["broken.test"]) as ns:
        ns.port            # BIND named, authoritative, on 127.0.0.1:ns.port (UDP and TCP)
    with Blackhole() as port:   # a port where nothing ever answers (UDP and TCP)
        ...
    with DelayProxy(ns.port, delay=0.05) as port:  # forwards to named, every answer delayed
        ...

Zone text may omit SOA/NS: a default SOA and NS are prepended when the text has no SOA.
Unless the caller serves "." itself, an empty root zone is added, so names outside the served
zones answer NXDOMAIN (as the real DNS would) instead of REFUSED.
Every zone in `servfail_zones` is a secondary whose primary is a dead loopback port, so each
query in it answers SERVFAIL. Nothing here ever talks to the machine's own resolver.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time

NAMED = shutil.which("named") or "/usr/sbin/named"


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


DEFAULT_HEAD = """$TTL 300
@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300
@ IN NS ns.{zone}.
ns IN A 127.0.0.1
"""


ROOT_HEAD = """$TTL 300
@ IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300
@ IN NS ns.root.
ns.root. IN A 127.0.0.1
"""


def as_localhost(argv):
    """`argv` run in a UTS namespace of its own whose host name is "localhost" (as root, with
    unshare(1)); `argv` as it is otherwise. For programs that look their own host name up
    (SpamAssassin, dovecot-lda): a machine that does not name itself in /etc/hosts (a minimal
    Debian root does not) would send that question to the system's resolver."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--uts", "sh", "-c", 'hostname localhost && exec "$@"', "_"] + argv
    return argv


def _query_ok(port, name):
    """True once the server answers (any rcode) a UDP query for `name` SOA."""
    import struct
    q = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 0)
    for label in [l for l in name.rstrip(".").split(".") if l]:
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(q, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return data[:2] == b"\x12\x34"
    except OSError:
        return False
    finally:
        s.close()


class Named:
    """`max_udp_size` is the largest UDP reply named sends (512..4096: 512 truncates every
    larger answer, EDNS or not); `edns_udp_size` the payload size named advertises in its
    replies. `root=False` serves no root zone, so names outside the served zones answer
    REFUSED (an authoritative-only server, as named is when not configured to recurse).
    `dnstap=True` makes named record every query and reply it handles (transport, size, flags,
    the whole message) in `dnstap_path`; `dnstap_messages()` reads them back."""

    def __init__(self, zones, servfail_zones=(), port=None, max_udp_size=4096,
                 edns_udp_size=4096, root=True, dnstap=False, extra_options=""):
        self.zones = dict(zones)
        self.extra_options = extra_options  # appended to the options { } block
        if root and "." not in self.zones and "" not in self.zones:
            self.zones["."] = ""
        self.servfail_zones = list(servfail_zones)
        self.port = port or free_port()
        self.max_udp_size = max_udp_size
        self.edns_udp_size = edns_udp_size
        self.dnstap = dnstap
        self.dnstap_path = None
        self.dir = None
        self.proc = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="credence-named-")
        os.chmod(self.dir, 0o755)
        dnstap = ""
        if self.dnstap:
            self.dnstap_path = os.path.join(self.dir, "dnstap.out")
            # Written as frames arrive (flush timeout 1 s), so a running server can be read.
            dnstap = (' dnstap { all; }; dnstap-output file "%s";'
                      ' fstrm-set-flush-timeout 1;' % self.dnstap_path)
        conf = [
            'options { directory "%s"; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };'
            ' pid-file "%s/named.pid"; recursion no; dnssec-validation no;'
            ' notify no; max-udp-size %d; edns-udp-size %d;%s %s };'
            % (self.dir, self.port, self.dir, self.max_udp_size, self.edns_udp_size, dnstap,
               self.extra_options),
            "controls { };",
            'logging { channel q { file "%s/named.log"; severity info; }; category default { q; }; };' % self.dir,
        ]
        for zone, text in self.zones.items():
            zone = zone.rstrip(".")
            fname = os.path.join(self.dir, (zone or "root") + ".zone")
            origin = zone + "." if zone else "."
            if "SOA" not in text:
                text = ROOT_HEAD if not zone else DEFAULT_HEAD.format(zone=zone) + text
            with open(fname, "w") as f:
                f.write("$ORIGIN %s\n" % origin + text + "\n")
            conf.append('zone "%s" { type primary; file "%s"; };' % (zone or ".", fname))
        for zone in self.servfail_zones:
            zone = zone.rstrip(".")
            conf.append('zone "%s" { type secondary; primaries { 127.0.0.1 port 9; };'
                        ' file "%s/%s.sec"; };' % (zone, self.dir, zone))
        conf_path = os.path.join(self.dir, "named.conf")
        with open(conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        try:
            bind = pwd.getpwnam("bind")
            for root, dirs, files in os.walk(self.dir):
                os.chown(root, bind.pw_uid, bind.pw_gid)
                for n in files:
                    os.chown(os.path.join(root, n), bind.pw_uid, bind.pw_gid)
            user = ["-u", "bind"]
        except KeyError:
            user = []
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([NAMED, "-g", "-4", "-c", conf_path] + user,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        probe = next((z for z in self.zones if z not in (".", "")), None) or \
            (self.servfail_zones or ["."])[0]
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if _query_ok(self.port, probe):
                return self
            time.sleep(0.1)
        out = open(os.path.join(self.dir, "stderr.log")).read()
        self.__exit__(None, None, None)
        raise RuntimeError("named did not start:\n" + out[-3000:])

    def stop(self):
        """Stops named; its files stay until the with-block ends (dnstap is complete then)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def dnstap_messages(self):
        """What named recorded (dnstap=True), read once it has stopped (stop()): one dict per
        query and reply, in order: {"direction": "query"/"reply", "protocol": "UDP"/"TCP",
        "name" (lower case, no trailing dot), "type", "size" (octets), "flags" (set: "qr",
        "tc", "rd", ...), "edns_udp" (the OPT record's payload size, None without OPT),
        "rcode" ("NOERROR", "REFUSED", ...), "port" (the client's port)}."""
        import yaml
        out = subprocess.run(["dnstap-read", "-y", self.dnstap_path], capture_output=True,
                             text=True, check=True).stdout
        messages = []
        for doc in yaml.safe_load_all(out):
            m = (doc or {}).get("message") or {}
            kind = str(m.get("type", ""))
            data = m.get("query_message_data") or m.get("response_message_data") or {}
            question = (data.get("QUESTION_SECTION") or ["? IN ?"])[0].split()
            edns = ((data.get("OPT_PSEUDOSECTION") or {}).get("EDNS") or {})
            messages.append({
                "direction": "reply" if kind.endswith("RESPONSE") else "query",
                "protocol": m.get("socket_protocol"),
                "name": question[0].rstrip(".").lower(),
                "type": question[-1],
                "size": int(str(m.get("message_size", "0")).rstrip("b")),
                "flags": set(str(data.get("flags") or "").split()),
                "edns_udp": edns.get("udp"),
                "rcode": data.get("status"),
                "port": m.get("query_port"),
            })
        return messages

    def __exit__(self, *exc):
        self.stop()
        if self.dir and not os.environ.get("CREDENCE_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


class Blackhole:
    """A loopback port (UDP and TCP) that receives and never answers."""

    def __enter__(self):
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(64)
        return self.port

    def __exit__(self, *exc):
        self.udp.close()
        self.tcp.close()
        return False


def _question_of(packet):
    """(name, qtype) of a DNS query packet; ("?", 0) when it does not parse."""
    try:
        i, labels = 12, []
        while packet[i]:
            n = packet[i]
            labels.append(packet[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return ".".join(labels).lower(), int.from_bytes(packet[i + 1:i + 3], "big")
    except (IndexError, ValueError):
        return "?", 0


class DelayProxy:
    """UDP forwarder to 127.0.0.1:upstream that delays every answer by `delay` seconds.
    Queries are handled concurrently (one thread each), so latency is per query, not serial.
    Counts the queries it forwarded in `.count`. Queries for names at or under one of
    `stall` (suffixes) are never answered: a name server that has stopped responding."""

    def __init__(self, upstream, delay=0.05, stall=()):
        self.upstream = upstream
        self.delay = delay
        self.stall = tuple(s.lower().rstrip(".") for s in stall)
        self.count = 0
        self.questions = []  # (name, qtype) of every query forwarded, in arrival order
        self._lock = threading.Lock()
        self._stop = False

    def __enter__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self.port

    def _handle(self, data, addr):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(5)
        try:
            up.sendto(data, ("127.0.0.1", self.upstream))
            answer, _ = up.recvfrom(65535)
            time.sleep(self.delay)
            self.sock.sendto(answer, addr)
        except OSError:
            pass
        finally:
            up.close()

    def _serve(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            name, _ = _question_of(data)
            with self._lock:
                self.count += 1
                self.questions.append((name, _))
            if any(name == s or name.endswith("." + s) for s in self.stall):
                continue
            threading.Thread(target=self._handle, args=(data, addr), daemon=True).start()

    def __exit__(self, *exc):
        self._stop = True
        self.thread.join(2)
        self.sock.close()
        return False


if __name__ == "__main__":  # self-check: python3 named_fixture.py
    with Named({"example.test": "www IN A 192.0.2.1\n"}, servfail_zones=["broken.test"]) as ns:
        print("named on port", ns.port)
        out = subprocess.run(["dig", "+short", "-p", str(ns.port), "@127.0.0.1", "www.example.test", "A"],
                             capture_output=True, text=True).stdout.strip()
        assert out == "192.0.2.1", out
        out = subprocess.run(["dig", "-p", str(ns.port), "@127.0.0.1", "x.broken.test", "TXT"],
                             capture_output=True, text=True).stdout
        assert "SERVFAIL" in out, out
        out = subprocess.run(["dig", "-p", str(ns.port), "@127.0.0.1", "_dmarc.test", "TXT"],
                             capture_output=True, text=True).stdout
        assert "NXDOMAIN" in out, out
        with DelayProxy(ns.port, 0.05) as p:
            t = time.time()
            out = subprocess.run(["dig", "+short", "-p", str(p), "@127.0.0.1", "www.example.test", "A"],
                                 capture_output=True, text=True).stdout.strip()
            assert out == "192.0.2.1" and time.time() - t >= 0.05, out
    print("named_fixture: ok")
