"""A small milter client (the MTA's side of the Sendmail milter protocol, version 6) for tests.

It plays one SMTP transaction to a milter (rspamd's proxy worker in milter mode) the way
Postfix or Sendmail would: option negotiation, connect, HELO, MAIL, RCPT, the header fields,
end of headers, the body, end of message; and it collects what the milter asks of the MTA
(add, insert, change or delete a header field, ...) until its final answer.

    from milter_client import milter_transaction, apply_header_actions
    reply = milter_transaction(("127.0.0.1", port), message, ip="192.0.2.7",
                               helo="mx.example.test", mail_from="alice@example.test",
                               rcpts=["bob@credence.test"])
    reply.final          # "accept", "continue", "reject", "tempfail", "discard", "replycode"
    reply.actions        # [("chgheader", 1, "Authentication-Results", ""), ("insheader", 0, n, v), ...]
    apply_header_actions(headers, reply.actions)   # the header list the MTA would deliver

Protocol: 4-byte big-endian length (command byte included), one command byte, data.
Strings are NUL-terminated. We offer every action and the "no reply" flags (a command the
milter chose not to answer is sent without waiting), never a flag that skips a stage.
"""
import socket
import struct

VERSION = 6
ACTIONS_ALL = 0x1FF  # add/change headers, body, recipients, quarantine, change from, ...
# The "no reply" flags we accept (the milter may choose them: rspamd asks for all of them and
# answers only the end of the message). No flags that skip a stage, no leading-space mode.
NR_HDR, NR_CONN, NR_HELO, NR_MAIL, NR_RCPT, NR_DATA, NR_UNKN, NR_EOH, NR_BODY = (
    0x80, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000)
PROTOCOL_OFFER = (NR_HDR | NR_CONN | NR_HELO | NR_MAIL | NR_RCPT | NR_DATA | NR_UNKN | NR_EOH
                  | NR_BODY)
NO_REPLY = {b"C": NR_CONN, b"H": NR_HELO, b"M": NR_MAIL, b"R": NR_RCPT, b"T": NR_DATA,
            b"L": NR_HDR, b"N": NR_EOH, b"B": NR_BODY}

FINAL = {b"a": "accept", b"c": "continue", b"r": "reject", b"t": "tempfail",
         b"d": "discard", b"y": "replycode"}


class MilterError(Exception):
    pass


class MilterReply:
    def __init__(self):
        self.final = None
        self.reply_text = ""
        self.actions = []
        self.trace = []  # (stage, response letter) of every response, for failure messages

    def __repr__(self):
        return "MilterReply(final=%r, actions=%r)" % (self.final, self.actions)


def _packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def _z(*parts):
    return b"".join((p.encode() if isinstance(p, str) else p) + b"\0" for p in parts)


class _Conn:
    def __init__(self, where, timeout):
        self.sock = socket.create_connection(where, timeout=timeout)
        self.buf = b""

    def send(self, cmd, data=b""):
        self.sock.sendall(_packet(cmd, data))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MilterError("milter closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        (length,) = struct.unpack(">I", self._read(4))
        if length < 1 or length > 1 << 24:
            raise MilterError("bad packet length %d" % length)
        body = self._read(length)
        return body[:1], body[1:]

    def close(self):
        self.sock.close()


def _split_z(data):
    parts = data.split(b"\0")
    return [p.decode("utf-8", "replace") for p in parts[:-1]] if parts else []


def _record_action(reply, cmd, data):
    """Adds a modification request to reply.actions; returns True when it was one."""
    if cmd == b"h":  # SMFIR_ADDHEADER: name, value
        name, value = _split_z(data)[:2]
        reply.actions.append(("addheader", None, name, value))
    elif cmd == b"i":  # SMFIR_INSHEADER: index, name, value
        (idx,) = struct.unpack(">I", data[:4])
        name, value = _split_z(data[4:])[:2]
        reply.actions.append(("insheader", idx, name, value))
    elif cmd == b"m":  # SMFIR_CHGHEADER: index, name, value (empty value: delete)
        (idx,) = struct.unpack(">I", data[:4])
        name, value = _split_z(data[4:])[:2]
        reply.actions.append(("chgheader", idx, name, value))
    elif cmd in (b"+", b"-", b"e", b"b", b"q", b"2"):
        reply.actions.append((cmd.decode(), None, "", data.decode("utf-8", "replace")))
    elif cmd == b"p":  # SMFIR_PROGRESS: keep waiting
        pass
    else:
        return False
    return True


def _step(conn, reply, stage, cmd, data=b"", protocol=0):
    """Sends one command and reads until a final answer for it. Returns that answer
    ("continue" at once for a command the milter said it does not answer)."""
    conn.send(cmd, data)
    if protocol & NO_REPLY.get(cmd, 0):
        return "continue"
    while True:
        rcmd, rdata = conn.recv()
        reply.trace.append((stage, rcmd.decode("latin-1")))
        if _record_action(reply, rcmd, rdata):
            continue
        if rcmd in FINAL:
            if rcmd == b"y":
                reply.reply_text = rdata.rstrip(b"\0").decode("utf-8", "replace")
            return FINAL[rcmd]
        raise MilterError("unexpected response %r at %s" % (rcmd, stage))


def split_message(message):
    """(headers as [(name, value)], body bytes) of an RFC 5322 message (CRLF or LF). Values
    keep their folding (CRLF + WSP) and lose the one space after the colon, as MTAs pass them
    to milters."""
    text = message.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\r\n" + line.decode("utf-8", "replace"))
            continue
        name, _, value = line.partition(b":")
        headers.append((name.decode("utf-8", "replace"),
                        value[1:].decode("utf-8", "replace") if value.startswith(b" ")
                        else value.decode("utf-8", "replace")))
    return headers, body.replace(b"\n", b"\r\n")


def milter_transaction(where, message, ip, helo, mail_from, rcpts=("postmaster@localhost",),
                       queue_id="4XyZ1Credence", timeout=60):
    """Plays one transaction; returns a MilterReply. Stops early if the milter answers
    anything but "continue" before the end of the message (as an MTA would)."""
    reply = MilterReply()
    headers, body = split_message(message)
    conn = _Conn(where, timeout)
    try:
        conn.send(b"O", struct.pack(">III", VERSION, ACTIONS_ALL, PROTOCOL_OFFER))
        cmd, data = conn.recv()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad option negotiation reply %r" % cmd)
        version, actions, protocol = struct.unpack(">III", data[:12])
        if protocol & ~PROTOCOL_OFFER:
            raise MilterError("milter asked for protocol flags we did not offer: 0x%x"
                              % (protocol & ~PROTOCOL_OFFER))

        steps = []
        family, port = (b"6", 25) if ":" in ip else (b"4", 25)
        steps.append(("connect", b"C", _z(helo) + family + struct.pack(">H", port) + _z(ip)))
        steps.append(("helo", b"H", _z(helo)))
        conn.send(b"D", b"M" + _z("i", queue_id))  # macros get no reply
        steps.append(("mail", b"M", _z("<%s>" % mail_from)))
        for r in rcpts:
            steps.append(("rcpt", b"R", _z("<%s>" % r)))
        steps.append(("data", b"T", b""))
        for name, value in headers:
            steps.append(("header", b"L", _z(name, value)))
        steps.append(("eoh", b"N", b""))
        for i in range(0, len(body), 65535):
            steps.append(("body", b"B", body[i:i + 65535]))
        for stage, cmd, data in steps:
            answer = _step(conn, reply, stage, cmd, data, protocol)
            if answer != "continue":
                reply.final = answer
                return reply
        reply.final = _step(conn, reply, "eom", b"E", b"", protocol)
        conn.send(b"Q")
        return reply
    finally:
        conn.close()


def apply_header_actions(headers, actions, shifting=False):
    """The header list an MTA delivers after `actions`. A header's index in chgheader counts
    fields of that name, 1 = the first. Sendmail keeps a deleted field's place for later
    indices (shifting=False); an MTA that drops it at once renumbers the rest
    (shifting=True). insheader index 0 puts the field first; addheader appends."""
    fields = [[n, v, True] for n, v in headers]  # name, value, alive
    for kind, idx, name, value in actions:
        if kind == "chgheader":
            seen = 0
            for f in fields:
                if f[0].lower() != name.lower() or (shifting and not f[2]):
                    continue
                seen += 1
                if seen == idx:
                    if value == "":
                        f[2] = False
                    else:
                        f[1] = value
                    break
        elif kind == "insheader":
            fields.insert(min(idx, len(fields)), [name, value, True])
        elif kind == "addheader":
            fields.append([name, value, True])
    return [(n, v) for n, v, alive in fields if alive]
