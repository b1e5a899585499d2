#!/usr/bin/python3
"""`credence verify` on damaged and empty archives, and DNS evidence that can be trusted
(issue 17). Uses the keys, zones, signer and runner of test_archive.py. Checks:
  - a truncated gzip mbox: exit 1, every message before the cut judged, the message the cut
    ends an error line ("not judged", the file named, "cut short"), never a verdict;
  - a damaged gzip trailer (CRC-32): every message reported, then an error line for the file
    saying the trailer does not match, exit 1; corrupt data in the middle: the messages
    before it judged, the one it cuts an error line;
  - --record against a dead DNS server: exit 1, stderr says the recording holds temporary
    failures; replaying the file keeps dkim temperror (not permerror/no_key) and DMARC as live;
  - --record is the same file in 5 runs with --jobs 2 (sorted); an unwritable --record path
    is refused before the first message, with the reason (exit 2, nothing on stdout);
  - empty inputs: a 0-byte file, an mbox of only a "From " line, an empty maildir are zero
    messages with a notice on stderr (exit 0); "- -" is a usage error (exit 2);
  - Maildir++: subfolders named on stderr as not read, read with --maildir-subfolders;
    Maildir/cur and Maildir/new given directly are read;
  - box.mbox:N addresses one message (an error past the end); --only failing, --domain D;
  - mbox writers: Python's mailbox and formail (mboxo) read with --mbox-format mboxo, the
    quoting named in the reason of a body hash it broke; mutt's Content-Length mbox fails closed
    read as mboxrd, and reads whole with --mbox-format cl (a hostile length said, not trusted);
  - words: the expiry as a date, an A-R reason that does not repeat itself, "1 message", no
    "postmaster@" sender when SPF was not evaluated, evaluated_at_source (at/received/now).

Env as test_archive.py. Prints PASS/FAIL per check; exit 1 on any failure.
"""
import base64
import csv
import gzip
import io
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_archive as ta  # noqa: E402
from named_fixture import as_localhost  # noqa: E402
from test_archive import check, lines_of, mbox_bytes, run, summary_of, write  # noqa: E402


def verdict_lines(objs):
    return [o for o in objs if "error" not in o]


def check_gzip(tmp, zone):
    # 200 signed messages, all passing, each with an unsigned field of random bytes on top so
    # that the compressed size grows evenly with the messages (a cut at 2/3 of the file lands
    # near message 133, not in the first few).
    rng = random.Random(17)
    msgs = [b"X-Pad: " + base64.b64encode(rng.randbytes(300)) + b"\r\n" + m
            for m in ta.dedup_messages()]
    raw = mbox_bytes(msgs)
    gz = gzip.compress(raw)
    base = ["--format", "json", "--at", str(ta.T_AT), "--jobs", "2"] + zone

    cut = write(os.path.join(tmp, "gz", "truncated.mbox.gz"), gz[:len(gz) * 2 // 3])
    rc, out, err, _ = run(base + [cut])
    objs = lines_of(out)
    judged = verdict_lines(objs)
    check("truncated gz: exit 1", rc == 1, f"rc={rc} {err[-300:]}")
    check("truncated gz: every message before the cut judged (and passes)",
          len(judged) > 100 and len(judged) == len(objs) - 1 and
          all(summary_of(o) == ("pass", "", "pass") for o in judged),
          f"{len(judged)} judged of {len(objs)}: {[summary_of(o) for o in judged][-3:]}")
    last = objs[-1] if objs else {}
    check("truncated gz: the cut message is an error line naming it, not judged",
          last.get("file") == f"{cut}:{len(objs)}" and "not judged" in last.get("error", "") and
          "cut short" in last.get("error", "") and cut in last.get("error", ""), last)
    check("truncated gz: the summary counts it unreadable",
          f"summary: {len(objs)} messages (1 unreadable)" in err, err[-400:])

    bad_crc = bytearray(gz)
    bad_crc[-8] ^= 0x55  # RFC 1952 §2.3.1: the trailer's CRC32
    crc = write(os.path.join(tmp, "gz", "crc.mbox.gz"), bytes(bad_crc))
    rc, out, err, _ = run(base + [crc])
    objs = lines_of(out)
    check("damaged gz trailer: all 200 messages reported, then one error line for the file",
          rc == 1 and len(objs) == 201 and len(verdict_lines(objs)) == 200 and
          objs[-1].get("file") == crc, f"rc={rc} lines={len(objs)} last={objs[-1:]}")
    check("damaged gz trailer: the error names the file and says what is wrong",
          objs and crc in objs[-1].get("error", "") and
          "trailer does not match" in objs[-1].get("error", ""), objs[-1:])

    # Corrupt bytes that inflate itself rejects (not only the trailer's CRC): found with
    # Python's zlib from the middle of the file on.
    corrupt = None
    for start in range(len(gz) // 2, len(gz) - 100, 97):
        attempt = bytearray(gz)
        for i in range(start, start + 64):
            attempt[i] = 0xFF
        try:
            zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bytes(attempt))
        except zlib.error as e:
            if "check" not in str(e):
                corrupt = attempt
                break
    check("corrupt gz data: an offset that inflate rejects was found", corrupt is not None)
    corrupt = corrupt or bytearray(gz)
    mid = write(os.path.join(tmp, "gz", "corrupt.mbox.gz"), bytes(corrupt))
    rc, out, err, _ = run(base + [mid])
    objs = lines_of(out)
    judged = verdict_lines(objs)
    check("corrupt gz data: the messages before it judged, the one it cuts an error line",
          rc == 1 and len(judged) == len(objs) - 1 and len(judged) > 50 and
          all(summary_of(o) == ("pass", "", "pass") for o in judged) and
          "damaged gzip data" in objs[-1].get("error", ""),
          f"rc={rc} judged={len(judged)} last={objs[-1:]}")


def dead_port():
    """A loopback UDP port where nothing listens (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_dead_dns(tmp):
    msgs = [m[1] for m in ta.message_set()[:2]]
    box = write(os.path.join(tmp, "dead", "box.mbox"), mbox_bytes(msgs))
    rec = os.path.join(tmp, "dead", "dead.zone")
    rc, out, err, secs = run(["--format", "json", "--at", str(ta.T_AT), "--dns",
                              f"127.0.0.1:{dead_port()}", "--dns-timeout", "200", "--record", rec,
                              box])
    live = lines_of(out)
    check("dead DNS --record: exit 1", rc == 1, f"rc={rc} {err[-300:]}")
    check("dead DNS --record: stderr says the recording cannot reproduce the run",
          "temporary failure" in err and rec in err, err[-500:])
    check("dead DNS --record: live verdicts are temperror",
          [summary_of(o)[0] for o in live] == ["temperror", "temperror"] and
          all(o["dmarc"]["result"] == "temperror" for o in live),
          [summary_of(o) for o in live])
    text = open(rec).read() if os.path.exists(rec) else ""
    check("dead DNS --record: the file marks the failures for replay",
          "TYPE65281" in text and "; tempfail" in text, text[:400])
    rc, out, err, _ = run(["--format", "json", "--at", str(ta.T_AT), "--zone", rec, box])
    replay = lines_of(out)
    check("dead DNS replay: temperror stays temperror (not permerror/no_key), DMARC too",
          rc == 0 and [summary_of(o) for o in replay] == [summary_of(o) for o in live] and
          [o["dmarc"]["result"] for o in replay] == [o["dmarc"]["result"] for o in live],
          f"rc={rc} live={[summary_of(o) for o in live]} replay={[summary_of(o) for o in replay]}")
    print(f"  info: dead DNS run {secs:.2f} s")


def check_record_file(tmp, zone):
    box = write(os.path.join(tmp, "rec", "many.mbox"),
                mbox_bytes(ta.dedup_messages() + [m[1] for m in ta.message_set()]))
    texts = []
    for i in range(5):
        rec = os.path.join(tmp, "rec", f"run{i}.zone")
        rc, _, err, _ = run(["--format", "json", "--at", str(ta.T_AT), "--jobs", "2", "-q",
                             "--record", rec] + zone + [box])
        texts.append(open(rec).read() if rc == 0 and os.path.exists(rec) else f"rc={rc} {err}")
    check("--record: 5 runs with --jobs 2 write the same file", len(set(texts)) == 1,
          [t[:80] for t in texts])
    owners = [line.split()[0] for line in texts[0].splitlines()
              if line and not line.startswith(";")]
    check("--record: records sorted by name", owners == sorted(owners) and len(owners) > 10,
          owners[:10])
    leftovers = [f for f in os.listdir(os.path.join(tmp, "rec")) if ".zone." in f]
    check("--record: no temporary file left beside the recording", not leftovers, leftovers)

    for label, path, reason in (
            ("a missing directory", os.path.join(tmp, "no", "such", "dir", "r.zone"),
             "No such file or directory"),
            ("a directory", os.path.join(tmp, "rec"), "is a directory")):
        start = time.monotonic()
        rc, out, err, _ = run(["--format", "json", "--record", path] + zone + [box])
        check(f"--record into {label}: refused before the first message with the reason",
              rc == 2 and out == "" and reason in err and path in err and
              "summary" not in err, f"rc={rc} out={out[:100]!r} err={err[-300:]}")
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro, exist_ok=True)
    os.chmod(ro, 0o555)
    if os.geteuid() != 0:  # root writes anywhere
        rc, out, err, _ = run(["--record", os.path.join(ro, "r.zone")] + zone + [box])
        check("--record into a read-only directory: refused first (Permission denied)",
              rc == 2 and out == "" and "Permission denied" in err, f"rc={rc} {err[-300:]}")


def check_empty(tmp, zone):
    empty = write(os.path.join(tmp, "empty", "zero.mbox"), b"")
    from_only = write(os.path.join(tmp, "empty", "from-only.mbox"),
                      b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n")
    maildir = os.path.join(tmp, "empty", "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    for label, path, what in (("a 0-byte file", empty, "empty file"),
                              ("an mbox of only a From line", from_only, "mbox with no message"),
                              ("an empty maildir", maildir, "maildir with no message")):
        rc, out, err, _ = run(["--format", "json"] + zone + [path])
        check(f"empty input, {label}: exit 0, no line, '0 messages' said on stderr",
              rc == 0 and out == "" and f"{path}: 0 messages" in err and what in err and
              "summary: 0 messages" in err, f"rc={rc} out={out[:100]!r} err={err[-300:]}")
    eml = os.path.join(tmp, "empty", "one.eml")
    write(eml, ta.message_set()[0][1])
    rc, out, err, _ = run(["--format", "json", "--at", str(ta.T_AT)] + zone + [empty, eml])
    check("empty input beside a message: exit 0, the message judged",
          rc == 0 and len(lines_of(out)) == 1 and summary_of(lines_of(out)[0])[0] == "pass",
          f"rc={rc} {err[-200:]}")
    rc, out, err, _ = run(zone + ["-", "-"], stdin=b"")
    check("'- -': usage error at parse time (exit 2)",
          rc == 2 and out == "" and "only once" in err, f"rc={rc} {err[-200:]}")
    rc, out, err, _ = run(zone + ["-"], stdin=b"")
    check("empty standard input: 0 messages, exit 0", rc == 0 and out == "" and
          "0 messages" in err, f"rc={rc} {err[-200:]}")


def check_maildir(tmp, zone):
    msgs = [m[1] for m in ta.message_set()]
    md = os.path.join(tmp, "md", "Maildir")
    write(os.path.join(md, "cur", "1700000001.a:2,S"), msgs[0])
    write(os.path.join(md, "new", "1700000002.b"), msgs[1])
    write(os.path.join(md, ".Archive", "cur", "1700000003.c:2,S"), msgs[2])
    write(os.path.join(md, ".Archive", "new", "1700000004.d"), msgs[3])
    write(os.path.join(md, ".Sent", "cur", "1700000005.e:2,S"), msgs[6])
    os.makedirs(os.path.join(md, ".Empty", "cur"), exist_ok=True)
    os.makedirs(os.path.join(md, ".not-a-maildir"), exist_ok=True)
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, err, _ = run(base + [md])
    names = [o.get("file") for o in lines_of(out)]
    check("Maildir++: without --maildir-subfolders only the maildir's own messages",
          rc == 0 and names == [f"{md}/cur/1700000001.a:2,S", f"{md}/new/1700000002.b"], names)
    check("Maildir++: each subfolder not read is named on stderr, with the option that reads it",
          all(f"{md}/.{f}: a Maildir++ subfolder, not read (--maildir-subfolders" in err
              for f in ("Archive", "Sent", "Empty")) and ".not-a-maildir" not in err, err[-500:])
    rc, out, err, _ = run(base + ["--quiet", md])
    check("Maildir++: --quiet keeps the notices (it drops only the progress line and summary)",
          all(f"{md}/.{f}: a Maildir++ subfolder, not read" in err
              for f in ("Archive", "Sent", "Empty")) and "summary" not in err, err[-500:])
    rc, out, err, _ = run(base + ["--maildir-subfolders", md])
    objs = lines_of(out)
    names = [o.get("file") for o in objs]
    want = [f"{md}/cur/1700000001.a:2,S", f"{md}/new/1700000002.b",
            f"{md}/.Archive/cur/1700000003.c:2,S", f"{md}/.Archive/new/1700000004.d",
            f"{md}/.Sent/cur/1700000005.e:2,S"]
    check("Maildir++: --maildir-subfolders reads them after the maildir, sorted, cur/ then new/",
          rc == 0 and names == want and "not read" not in err, f"{names} {err[-300:]}")
    check("Maildir++: verdicts of the subfolder messages",
          len(objs) == 5 and summary_of(objs[2]) == ("fail", "body_hash_mismatch", "fail"),
          [summary_of(o) for o in objs])
    for part, want_names in (("cur", [f"{md}/cur/1700000001.a:2,S"]),
                             ("new", [f"{md}/new/1700000002.b"]),
                             ("cur/", [f"{md}/cur//1700000001.a:2,S"])):
        rc, out, err, _ = run(base + [os.path.join(md, part)])
        names = [o.get("file") for o in lines_of(out)]
        check(f"Maildir/{part} given directly: its messages read", rc == 0 and names == want_names,
              f"rc={rc} {names} {err[-200:]}")
    plain = os.path.join(tmp, "md", "plain-dir")
    write(os.path.join(plain, "x.eml"), msgs[0])
    rc, out, err, _ = run(base + [plain])
    check("a directory that is neither a maildir nor its cur/ or new/: an error line, exit 1",
          rc == 1 and "not a maildir" in out, f"rc={rc} {out[:200]}")


def check_words(tmp, zone):
    body = "This signature expires on Thu, 16 Nov 2023 00:00:00 UTC.\r\n"
    signed = ta.sign(ta.message(300, "dom7.test", body), "dom7.test", "rsa", expire=ta.X_EXPIRE)
    path = write(os.path.join(tmp, "words", "expiring.eml"), signed)
    rc, out, err, _ = run(["--at", "2023-11-20", "--summary"] + zone + [path])
    check("words: the expiry is shown as a date, next to x=",
          "x=1700092800 (2023-11-16 00:00:00 UTC)" in out, out)
    authres = [line for line in out.splitlines() if "Authentication-Results" in line]
    check("words: the A-R reason does not repeat itself",
          authres and "signature expired: x=1700092800 (2023-11-16 00:00:00 UTC)" in authres[0]
          and "expired: signature expired" not in authres[0], authres)
    check("words: '1 message' in the summary", "summary: 1 message (0 unreadable)" in err and
          "1 signature: " in err and "0 messages unsigned" in err, err)
    rc, out, _, _ = run(["--format", "json", "--at", "2023-11-20"] + zone + [path])
    o = lines_of(out)[0]
    check("words: no 'postmaster@' sender when SPF was not evaluated (no HELO)",
          o["spf"]["sender"] == "" and o["spf"]["result"] == "none", o.get("spf"))
    check("words: evaluated_at_source 'at' with --at", o.get("evaluated_at_source") == "at", o)
    rcvd = write(os.path.join(tmp, "words", "received.eml"),
                 b"Received: from a.example (a.example [192.0.2.1])\r\n\tby mx.example; "
                 b"Wed, 15 Nov 2023 10:00:00 +0000\r\n" + signed)
    rc, out, _, _ = run(["--format", "json", "--at", "received"] + zone + [rcvd, path])
    objs = lines_of(out)
    check("words: evaluated_at_source 'received' from the Received date, 'now' without one",
          [o.get("evaluated_at_source") for o in objs] == ["received", "now"] and
          objs[0].get("evaluated_at") == 1700042400, [(o.get("evaluated_at_source"),
                                                       o.get("evaluated_at")) for o in objs])
    rc, out, _, _ = run(["--format", "json"] + zone + [path])
    check("words: evaluated_at_source 'now' without --at",
          lines_of(out)[0].get("evaluated_at_source") == "now", out[:200])


ONE_LINER = ("import mailbox, re, sys; b = mailbox.mbox(sys.argv[1]).get_bytes(int(sys.argv[2]) - 1); "
             "sys.stdout.buffer.write(re.sub(rb'(?m)^>(>*From )', rb'\\1', b))")


def check_writers(tmp, zone):
    """Issue 17 item 5: archives written by real mbox writers, read as docs/archive.md says."""
    msgs = ta.message_set()
    datas = [m[1] for m in msgs]
    expected = [m[2] for m in msgs]
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    # m1's body holds a line that starts ">From ": an mboxo writer stores it as it is, so no
    # reader can tell it from a quoted "From " line.
    ambiguous = [i for i, d in enumerate(datas) if b"\n>From " in d.replace(b"\r\n", b"\n")]
    check("writers: one test message has a body line starting '>From '", ambiguous == [0], ambiguous)

    def verdicts(path, fmt):
        rc, out, err, _ = run(base + ["--mbox-format", fmt, path])
        objs = lines_of(out)
        return rc, objs, [summary_of(o) for o in objs]

    def hinted(o):
        return any("mbox quoting changed the body, not the sender" in d.get("detail", "")
                   for d in o.get("dkim", []))

    import mailbox
    py = os.path.join(tmp, "writers", "python.mbox")
    os.makedirs(os.path.dirname(py), exist_ok=True)
    box = mailbox.mbox(py)
    for d in datas:
        box.add(d)
    box.flush()
    box.close()
    raw = open(py, "rb").read()
    check("Python mailbox writes mboxo: '^From ' quoted, '>From ' left as it is",
          b"\n>From the start" in raw and b"\n>From a line already quoted" in raw and
          b"\n>>From a line already" not in raw, raw[:0])
    formail = shutil.which("formail")
    writers = [("Python mailbox", py)]
    if formail:
        fm = os.path.join(tmp, "writers", "formail.mbox")
        with open(fm, "wb") as f:
            for d in datas:
                f.write(subprocess.run([formail], input=d.replace(b"\r\n", b"\n"),
                                       capture_output=True, check=True).stdout)
        fraw = open(fm, "rb").read()
        check("formail writes mboxo too", b"\n>From the start" in fraw and
              b"\n>From a line already quoted" in fraw, "")
        writers.append(("formail", fm))
    else:
        print("SKIP formail (procmail) not installed: its archive is not tested")
    for label, path in writers:
        rc, objs, got = verdicts(path, "mboxo")
        want = [e for i, e in enumerate(expected) if i not in ambiguous]
        check(f"{label} + --mbox-format mboxo: every unambiguous message as from .eml files",
              rc == 0 and [g for i, g in enumerate(got) if i not in ambiguous] == want,
              f"{got} != {want}")
        check(f"{label} + mboxo: the '>From ' message fails, and its reason blames the quoting",
              len(objs) == len(datas) and got[0][:2] == ("fail", "body_hash_mismatch") and
              hinted(objs[0]), objs[0].get("dkim") if objs else out)
        check(f"{label} + mboxo: the A-R reason= carries the quoting hint too",
              len(objs) == len(datas) and
              "mbox quoting changed the body" in objs[0].get("authentication_results", ""),
              objs[0].get("authentication_results") if objs else out)
        check(f"{label}: the tampered message (m3) is not blamed on quoting",
              len(objs) > 2 and got[2][:2] == ("fail", "body_hash_mismatch") and
              not hinted(objs[2]), objs[2].get("dkim") if len(objs) > 2 else "")
        rc, objs_rd, got_rd = verdicts(path, "mboxrd")
        bad = [i for i, g in enumerate(got_rd) if g != expected[i]]
        check(f"{label} read as mboxrd (wrong): each message it breaks says quoting",
              bad and all(got_rd[i][1] == "body_hash_mismatch" and hinted(objs_rd[i]) for i in bad),
              f"{bad} {got_rd}")

    # docs/archive.md's one-liner on an mboxrd file gives the message credence read as box:N.
    mboxrd = write(os.path.join(tmp, "writers", "rd.mbox"), mbox_bytes(datas))
    rc, out, _, _ = run(base + [mboxrd])
    whole = [summary_of(o) for o in lines_of(out)]
    same = []
    for n in range(1, len(datas) + 1):
        one = subprocess.run(["/usr/bin/python3", "-c", ONE_LINER, mboxrd, str(n)],
                             capture_output=True, check=True).stdout
        rc, out, _, _ = run(base + ["-"], stdin=one)
        same.append(lines_of(out) and summary_of(lines_of(out)[0]) == whole[n - 1])
    check("docs one-liner: each message extracted and piped to 'credence verify -' keeps its "
          "verdict", all(same) and len(same) == 7, same)

    mutt = shutil.which("mutt")
    if not mutt:
        print("SKIP mutt not installed: its archive is not tested")
        return
    md = os.path.join(tmp, "writers", "mutt-src")
    for i, d in enumerate(datas):
        write(os.path.join(md, "cur", f"{1700000000 + i}.m{i}:2,S"), d)
    os.makedirs(os.path.join(md, "new"), exist_ok=True)
    os.makedirs(os.path.join(md, "tmp"), exist_ok=True)
    out_box = os.path.join(tmp, "writers", "mutt.mbox")
    # mutt runs with a home of its own that has the Mail folder: without one (a new machine)
    # it first asks "~/Mail does not exist. Create it?", and that question eats the keys
    # pushed below. $hostname is set so that it does not ask DNS for this host's name.
    mutt_home = os.path.join(tmp, "writers", "mutt-home")
    os.makedirs(os.path.join(mutt_home, "Mail"), exist_ok=True)
    rc_file = write(os.path.join(tmp, "writers", "muttrc"),
                    b"set mbox_type=mbox\nset confirmcreate=no\nset confirmappend=no\n"
                    b"set delete=no\nset move=no\nset quit=yes\nset sort=mailbox-order\n"
                    b"set hostname=localhost.localdomain\n")
    cmd = (f"mutt -n -F {rc_file} -f {md} -e 'push <tag-pattern>~A<enter><tag-prefix>"
           f"<copy-message>{out_box}<enter><quit>'")
    subprocess.run(["script", "-qc", cmd, "/dev/null"],
                   env=dict(os.environ, TERM="xterm", HOME=mutt_home),
                   capture_output=True, timeout=30)
    mraw = open(out_box, "rb").read() if os.path.exists(out_box) else b""
    check("mutt (mbox_type=mbox) writes no quoting but Content-Length (and body 'From ' lines "
          "as they are, after an empty line too)",
          b"\nContent-Length: " in mraw and b"\nFrom the start" in mraw and
          b"\n\nFrom again" in mraw.replace(b"\r\n", b"\n"), mraw[:300])
    rc, out, err, _ = run(base + ["--mbox-format", "mboxrd", out_box])
    got = [summary_of(o) for o in lines_of(out)]
    check("mutt archive read as mboxrd: a message cut at a body 'From ' line never passes "
          "(fail closed)", len(got) > len(datas) and got[0][0] != "pass", got)
    check("mutt archive read as mboxrd: stderr says once that it looks like a Content-Length "
          "mbox and names --mbox-format cl",
          err.count("the file looks like a Content-Length mbox") == 1 and
          f"{out_box}:1: its Content-Length" in err and "--mbox-format cl reads it" in err,
          err[-400:])
    rc, out, err, _ = run(base + ["--mbox-format", "cl", out_box])
    got = [summary_of(o) for o in lines_of(out)]
    check("mutt archive read with --mbox-format cl: every message whole, each verdict as "
          "signed (the body 'From ' lines included)", rc == 0 and got == expected,
          (got, expected, err[-300:]))
    check("--mbox-format cl: a Content-Length holding a line like an mbox separator is said "
          "on stderr (m7's body 'From again' after an empty line)",
          f"{out_box}:7: its Content-Length" in err and "1 line that looks like the start of "
          "another mbox message" in err, err[-400:])
    # A hostile length: the first message's Content-Length made to swallow the next message,
    # landing nowhere: split at 'From ' lines instead, and said.
    first = mraw.index(b"Content-Length: ")
    end = mraw.index(b"\n", first)
    hostile = mraw[:first] + b"Content-Length: 400" + mraw[end:]
    hb = write(os.path.join(tmp, "writers", "mutt-hostile.mbox"), hostile)
    rc, out, err, _ = run(base + ["--mbox-format", "cl", hb])
    got = [summary_of(o) for o in lines_of(out)]
    check("--mbox-format cl: a Content-Length that lands off a 'From ' line is not trusted: "
          "split at 'From ' lines, said on stderr, the next messages still judged",
          "does not land on the next message's 'From ' line" in err and
          got[0][0] != "pass" and got[-5:] == expected[-5:], (got, err[-400:]))


def check_dovecot(tmp, zone):
    """Dovecot's mbox storage: dovecot-lda (no daemon) delivers each test message into an mbox
    (mail_location=mbox:...), run as `nobody` (as root it needs an auth daemon for -d)."""
    lda = "/usr/lib/dovecot/dovecot-lda"
    if not os.access(lda, os.X_OK) or not shutil.which("runuser"):
        print("SKIP dovecot-lda not installed: Dovecot's mbox is not tested")
        return
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP not root (runuser, unshare --uts): Dovecot's mbox is not tested")
        return
    msgs = ta.message_set()
    datas = [m[1] for m in msgs]
    expected = [m[2] for m in msgs]
    d = os.path.join(tmp, "dovecot")
    os.makedirs(os.path.join(d, "mail"), exist_ok=True)
    conf = write(os.path.join(d, "dovecot.conf"),
                 f"ssl = no\nmail_location = mbox:{d}/mail:INBOX={d}/inbox\n"
                 f"log_path = {d}/log\nfirst_valid_uid = 0\nbase_dir = {d}/run\n"
                 f"state_dir = {d}/state\n".encode())
    for root, dirs, files in os.walk(tmp):
        os.chmod(root, 0o755)
    subprocess.run(["chown", "-R", "nobody", d], check=True)
    rcs = []
    for i, data in enumerate(datas):
        # In a UTS namespace of its own named "localhost": dovecot-lda looks its host name up,
        # and a machine that does not name itself in /etc/hosts (a minimal Debian root does
        # not) would send that question to the system's resolver (here, with the host name
        # out of /etc/hosts, test.sh's sentinel caught 28 for the 7 deliveries; 0 with this).
        p = subprocess.run(as_localhost(["runuser", "-u", "nobody", "--", "env", f"HOME={d}",
                                         lda, "-c", conf, "-f", f"sender{i}@example.test"]),
                           input=data.replace(b"\r\n", b"\n"), capture_output=True, timeout=30)
        rcs.append(p.returncode)
    box = os.path.join(d, "inbox")
    raw = open(box, "rb").read() if os.path.exists(box) else b""
    check("dovecot-lda delivered every message into an mbox",
          rcs == [0] * len(datas) and raw.count(b"\nX-UID: ") + raw.startswith(b"X-UID") ==
          len(datas), (rcs, raw[:200]))
    check("Dovecot writes no quoting, a Content-Length, and X-UID/Status/X-Keywords fields "
          "(X-IMAPbase on the first)",
          b"\nFrom the start" in raw and b"\n>From the start" not in raw and
          b"\n>From a line already quoted" in raw and
          raw.count(b"\nContent-Length: ") == len(datas) and b"\nX-IMAPbase: " in raw and
          b"\nStatus: " in raw and b"\nX-Keywords: " in raw, raw[:400])
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, err, _ = run(base + ["--mbox-format", "cl", box])
    got = [summary_of(o) for o in lines_of(out)]
    check("Dovecot mbox read with --mbox-format cl: every verdict as signed (its added fields "
          "are not signed, so DKIM passes)", rc == 0 and got == expected, (got, err[-300:]))
    rc, out, err, _ = run(base + [box])
    got = [summary_of(o) for o in lines_of(out)]
    check("Dovecot mbox read as mboxrd (wrong): cut at body 'From ' lines, never a pass for a "
          "cut message, and stderr names --mbox-format cl",
          len(got) > len(datas) and got[0][0] != "pass" and "--mbox-format cl reads it" in err,
          (got, err[-300:]))


def check_thunderbird(tmp, zone):
    """Thunderbird's mbox store: Thunderbird itself (headless, a fresh profile) adds each test
    message to a Local Folders folder through AutoConfig (tests/integration/thunderbird/),
    installed beside its binary for this run only and removed after."""
    app = "/usr/lib/thunderbird"
    if not shutil.which("thunderbird") or not os.access(os.path.join(app, "defaults", "pref"),
                                                        os.W_OK):
        print("SKIP thunderbird not installed (or its directory not writable): its mbox is not "
              "tested")
        return
    # Thunderbird asks DNS at start (update, telemetry and location services) whatever it is
    # told: it runs in a network namespace of its own with no interface up, so no question can
    # leave it (the machine's resolver must never be asked), and offline.
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        print("SKIP thunderbird needs root and unshare(1) to run without network: not tested")
        return
    msgs = ta.message_set()
    datas = [m[1] for m in msgs]
    expected = [m[2] for m in msgs]
    d = os.path.join(tmp, "thunderbird")
    src = os.path.join(d, "in")
    os.makedirs(src, exist_ok=True)
    os.makedirs(os.path.join(d, "profile"), exist_ok=True)
    for i, data in enumerate(datas):
        write(os.path.join(src, f"{i:03d}.eml"), data)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "thunderbird")
    installed = [(os.path.join(here, "credence-autoconfig.js"),
                  os.path.join(app, "defaults", "pref", "credence-autoconfig.js")),
                 (os.path.join(here, "credence-test.cfg"), os.path.join(app, "credence-test.cfg"))]
    log = os.path.join(d, "log.txt")
    try:
        for a, b in installed:
            shutil.copyfile(a, b)
        env = dict(os.environ, HOME=d, CREDENCE_TB_IN=src, CREDENCE_TB_LOG=log)
        p = subprocess.run([unshare, "--net", "--", "thunderbird", "--headless", "-offline",
                            "-no-remote", "-profile", os.path.join(d, "profile")], env=env,
                           capture_output=True, timeout=120)
    finally:
        for _, b in installed:
            if os.path.exists(b):
                os.remove(b)
    text = open(log).read() if os.path.exists(log) else ""
    box = os.path.join(d, "profile", "Mail", "Local Folders", "credence")
    raw = open(box, "rb").read() if os.path.exists(box) else b""
    version = subprocess.run([unshare, "--net", "--", "thunderbird", "--version"],
                             capture_output=True, text=True).stdout
    check(f"Thunderbird ({version.strip()}) added every message to its mbox store",
          text.count("added ") == len(datas) and "done" in text and raw.count(b"From - ") ==
          len(datas), (p.returncode, text[-300:], p.stderr[-300:]))
    check("Thunderbird writes mboxrd: '^From ' and '^>From ' each get one more '>', "
          "separator 'From - DATE'",
          b"\n>From the start" in raw and b"\n>>From a line already quoted" in raw and
          raw.startswith(b"From - "), raw[:300])
    assert not os.path.exists(installed[0][1]) and not os.path.exists(installed[1][1])
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, err, _ = run(base + [box])
    got = [summary_of(o) for o in lines_of(out)]
    check("Thunderbird mbox read as mboxrd (the default): every verdict as signed",
          rc == 0 and got == expected, (got, err[-300:]))
    rc, out, err, _ = run(base + ["--mbox-format", "mboxo", box])
    got = [summary_of(o) for o in lines_of(out)]
    check("Thunderbird mbox read as mboxo (wrong): the messages with quoted lines fail, never pass",
          got != expected and all(g[0] != "pass" for g, e in zip(got, expected) if g != e),
          got)


def check_addressing(tmp, zone):
    """`box.mbox:N` re-checks one message; --only failing and --domain filter what is printed."""
    datas = [m[1] for m in ta.message_set()]
    box = write(os.path.join(tmp, "addr", "box.mbox"), mbox_bytes(datas))
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, _, _ = run(base + [box])
    whole = lines_of(out)
    rc, out, err, _ = run(base + [f"{box}:3", f"{box}:6"])
    got = lines_of(out)
    check("box.mbox:N: exactly those messages, with the same JSON as in the whole run",
          rc == 0 and got == [whole[2], whole[5]], f"rc={rc} {[o.get('file') for o in got]}")
    rc, out, err, _ = run(base + [f"{box}:8"])
    check("box.mbox:N past the end: an error line that says so, exit 1",
          rc == 1 and lines_of(out) == [{"error": f"cannot read: no message 8 in {box}",
                                         "file": f"{box}:8"}], out)
    md = os.path.join(tmp, "addr", "Maildir")
    name = os.path.join(md, "cur", "1700000001.host:2,S")
    write(name, datas[0])
    rc, out, _, _ = run(base + [name])
    check("a maildir file name with ':2,S' is the file itself",
          rc == 0 and [o.get("file") for o in lines_of(out)] == [name], out[:200])
    rc, out, err, _ = run(base + ["--only", "failing", box])
    check("--only failing: the messages with an error, a non-pass signature or a DMARC failure",
          rc == 0 and [o["file"] for o in lines_of(out)] == [f"{box}:{n}" for n in (3, 5, 6)] and
          "summary: 7 messages" in err, f"{[o.get('file') for o in lines_of(out)]} {err[-200:]}")
    rc, out, err, _ = run(base + ["--domain", "DOM1.test", "--domain", "dom5.test.", box,
                                  f"{box}:9"])
    check("--domain D (repeatable, any case): From domain or DKIM d= at or below D; errors kept",
          rc == 1 and [o["file"] for o in lines_of(out)] == [f"{box}:2", f"{box}:6", f"{box}:9"],
          [o.get("file") for o in lines_of(out)])
    # --format csv: the documented columns, one row per message (and error), as the JSON says.
    rc, out, err, _ = run(["--format", "csv", "--at", str(ta.T_AT), "-q"] + zone + [box, f"{box}:9"])
    rows = list(csv.reader(io.StringIO(out, newline="")))
    header = ["file", "error", "evaluated_at", "evaluated_at_source", "from_domain", "dmarc",
              "disposition", "dkim", "spf", "score", "dkim_cause"]
    as_json = [(o["file"], o["dmarc"]["domain"], o["dmarc"]["result"],
                "; ".join(f"{d['result']} d={d['domain']} s={d['selector']}" +
                          (f" {d['reason']}" if d["reason"] else "") for d in o["dkim"]))
               for o in whole]
    check("--format csv: header, one row per message as the JSON says, the error row, CRLF",
          rc == 1 and rows and rows[0] == header and len(rows) == 9 and
          [(r[0], r[4], r[5], r[7]) for r in rows[1:8]] == as_json and
          rows[1][2] == "2023-11-14T22:15:00Z" and rows[1][3] == "at" and
          rows[8][:2] == [f"{box}:9", f"cannot read: no message 9 in {box}"] and
          out.count("\r\n") == 9, f"rc={rc} {rows[:3]} {as_json[:2]}")
    rc, out, err, _ = run(base + ["--only", "passing", box])
    check("--only with anything but 'failing': exit 2", rc == 2 and out == "", err[-200:])


def check_all(tmp):
    zone = ta.zone_file(tmp)
    check_gzip(tmp, zone)
    check_dead_dns(tmp)
    check_record_file(tmp, zone)
    check_empty(tmp, zone)
    check_maildir(tmp, zone)
    check_words(tmp, zone)
    check_writers(tmp, zone)
    check_dovecot(tmp, zone)
    check_thunderbird(tmp, zone)
    check_addressing(tmp, zone)


def main():
    return ta.run_suite("test_archive_evidence", check_all)


if __name__ == "__main__":
    sys.exit(main())
