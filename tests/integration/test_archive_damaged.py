#!/usr/bin/python3
"""`credence verify` on archives a red-team damaged: every file is judged or named, never
passed over in silence. Uses the keys, zones, signer and runner of test_archive.py. Checks:
  - a 0-byte file in a maildir (sorted first or in the middle) is an error line ("an empty
    file"), exit 1, and every other file of the maildir and its subfolders is still judged;
  - maildir folders that cannot be read (new/ chmod 000 and an unreadable Maildir++ subfolder,
    as nobody; cur/ a symbolic link loop; a dangling link inside cur/) are error lines, exit 1;
  - an mbox after an empty line (LF, CRLF) or a UTF-8 byte order mark: every message judged,
    a notice on stderr;
  - --mbox-format cl on a CRLF mboxcl2: every message read by its Content-Length;
  - --at received with --envelope received=HOST: the date of the field trusted, not of a
    foreign one on top (then now, and the envelope note says so);
  - xz, bzip2 and zstd files: an error line naming the format and the command that reads it,
    exit 1; that command (`xz -dc FILE | credence verify -`) judges every message;
  - CSV writes an invalid UTF-8 file name as JSON does (U+FFFD);
  - the jq recipes of docs/archive.md, run literally on output that holds an error line.

Env as test_archive.py. Prints PASS/FAIL per check; exit 1 on any failure.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_archive as ta  # noqa: E402
from test_archive import check, lines_of, mbox_bytes, run, summary_of, write  # noqa: E402


def messages():
    return [m[1] for m in ta.message_set()]


def check_maildir_empty_file(tmp, zone):
    msgs = messages()
    md = os.path.join(tmp, "f1", "Maildir")
    write(os.path.join(md, "cur", "1700000001.a:2,S"), msgs[0])
    write(os.path.join(md, "cur", "1700000002.b:2,S"), b"")
    write(os.path.join(md, "cur", "1700000003.c:2,S"), msgs[1])
    write(os.path.join(md, "new", "1700000004.d"), msgs[3])
    write(os.path.join(md, ".Archive", "cur", "1.z"), msgs[6])
    base = ["--format", "json", "--at", str(ta.T_AT), "--maildir-subfolders"] + zone
    rc, out, err, _ = run(base + [md])
    objs = lines_of(out)
    files = [o.get("file") for o in objs]
    check("maildir: a 0-byte file in the middle is an error line, the files after it judged",
          rc == 1 and files == [f"{md}/cur/1700000001.a:2,S", f"{md}/cur/1700000002.b:2,S",
                                f"{md}/cur/1700000003.c:2,S", f"{md}/new/1700000004.d",
                                f"{md}/.Archive/cur/1.z"] and
          "an empty file (0 bytes)" in objs[1].get("error", "") and
          [summary_of(o)[2] for o in objs] == ["pass", None, "pass", "pass", "pass"],
          f"rc={rc} {files} {objs[1:2]} {err[-300:]}")
    write(os.path.join(md, "cur", "1600000000.empty:2,S"), b"")
    rc, out, err, _ = run(base + [md])
    objs = lines_of(out)
    check("maildir: a 0-byte file sorted first no longer hides the whole maildir",
          rc == 1 and len(objs) == 6 and "error" in objs[0] and
          "summary: 6 messages (2 unreadable)" in err, f"rc={rc} {len(objs)} {err[-300:]}")


def check_maildir_unreadable(tmp, zone):
    msgs = messages()
    root = os.path.join(tmp, "f2")
    md = os.path.join(root, "MD")
    write(os.path.join(md, "cur", "1700000001.a:2,S"), msgs[0])
    write(os.path.join(md, "new", "1700000002.b"), msgs[1])
    write(os.path.join(md, ".Locked", "cur", "1700000003.c:2,S"), msgs[3])
    zcopy = []
    for i, a in enumerate(zone):
        zcopy.append(shutil.copy(a, os.path.join(root, os.path.basename(a))) if i % 2 else a)
    os.chmod(tmp, 0o755)
    for dirpath, dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)
    os.chmod(os.path.join(md, "new"), 0)
    os.chmod(os.path.join(md, ".Locked"), 0)
    base = ["--format", "json", "--at", str(ta.T_AT)] + zcopy
    if os.geteuid() == 0 and shutil.which("runuser"):
        def as_nobody(args):
            p = subprocess.run(["runuser", "-u", "nobody", "--", ta.BIN, "verify"] + args,
                               capture_output=True, timeout=120)
            return p.returncode, p.stdout.decode("utf-8", "replace"), \
                p.stderr.decode("utf-8", "replace")
        rc, out, err = as_nobody(base + ["--maildir-subfolders", md])
        objs = lines_of(out)
        errors = {o["file"]: o["error"] for o in objs if "error" in o}
        check("maildir as nobody: new/ without permission and .Locked/ are error lines, exit 1",
              rc == 1 and set(errors) == {f"{md}/new", f"{md}/.Locked"} and
              "Permission denied" in errors.get(f"{md}/new", "") and
              len(objs) == 3 and summary_of(objs[0])[2] == "pass",
              f"rc={rc} {objs} {err[-300:]}")
        rc, out, err = as_nobody(base + [md])
        check("maildir as nobody without --maildir-subfolders: .Locked/ still named",
              rc == 1 and f'"file":"{md}/.Locked"' in out, f"rc={rc} {out[-400:]}")
        rc, out, err = as_nobody(base + [os.path.join(md, "new")])
        check("maildir as nobody: MD/new alone without permission is an error line, exit 1",
              rc == 1 and "cannot be listed" in out and "0 messages" not in err,
              f"rc={rc} {out} {err[-200:]}")
        rc, out, err = as_nobody(base + [os.path.join(md, ".Locked")])
        check("maildir as nobody: MD/.Locked alone says it cannot be looked into, exit 1",
              rc == 1 and "cannot be looked into (Permission denied)" in out,
              f"rc={rc} {out} {err[-200:]}")
    else:
        print("SKIP maildir as nobody: needs root and runuser")
    os.chmod(os.path.join(md, "new"), 0o755)
    os.chmod(os.path.join(md, ".Locked"), 0o755)

    loop = os.path.join(tmp, "f2b", "MDL")
    write(os.path.join(loop, "new", "1.x"), msgs[0])
    os.symlink("cur2", os.path.join(loop, "cur"))
    os.symlink("cur", os.path.join(loop, "cur2"))
    rc, out, err, _ = run(base + [loop])
    objs = lines_of(out)
    check("maildir: cur/ a symbolic link loop is an error line, new/ still judged, exit 1",
          rc == 1 and len(objs) == 2 and objs[0].get("file") == f"{loop}/cur" and
          "Too many levels of symbolic links" in objs[0].get("error", "") and
          summary_of(objs[1])[2] == "pass", f"rc={rc} {objs}")
    dangling = os.path.join(tmp, "f2c", "MD")
    write(os.path.join(dangling, "cur", "1.a"), msgs[0])
    os.symlink("/nonexistent/message", os.path.join(dangling, "cur", "2.b"))
    rc, out, err, _ = run(base + [dangling])
    objs = lines_of(out)
    check("maildir: a dangling symbolic link in cur/ is an error line, exit 1",
          rc == 1 and len(objs) == 2 and objs[1].get("file") == f"{dangling}/cur/2.b" and
          "leads nowhere" in objs[1].get("error", ""), f"rc={rc} {objs}")


def check_mbox_leading_junk(tmp, zone):
    box = mbox_bytes(messages()[:5])
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, err, _ = run(base + [write(os.path.join(tmp, "f3", "ref.mbox"), box)])
    want = [summary_of(o) for o in lines_of(out)]
    check("mbox reference: 5 messages", rc == 0 and len(want) == 5, f"{want}")
    for label, lead in (("an LF empty line", b"\n"), ("a CRLF empty line", b"\r\n"),
                        ("a UTF-8 byte order mark", b"\xef\xbb\xbf")):
        path = write(os.path.join(tmp, "f3", "lead.mbox"), lead + box)
        rc, out, err, _ = run(base + [path])
        got = [summary_of(o) for o in lines_of(out)]
        check(f"mbox after {label}: the 5 messages judged, a notice on stderr",
              rc == 0 and got == want and f"{path}: " in err and
              "before the first 'From ' line: skipped" in err,
              f"rc={rc} {got} {err[-300:]}")


def check_cl_crlf(tmp, zone):
    msgs = messages()[:3]
    out_lf, out_crlf = bytearray(), bytearray()
    for i, m in enumerate(msgs):
        head, body = m.split(b"\r\n\r\n", 1)
        for out, nl in ((out_lf, b"\n"), (out_crlf, b"\r\n")):
            b = body.replace(b"\r\n", nl)
            out += b"From sender%d@example.test Tue Nov 14 22:13:20 2023" % i + nl
            out += head.replace(b"\r\n", nl) + nl + b"Content-Length: %d" % len(b) + nl + nl
            out += b + nl
    base = ["--format", "json", "--at", str(ta.T_AT), "--mbox-format", "cl"] + zone
    rc, lf, err_lf, _ = run(base + [write(os.path.join(tmp, "f5", "lf.mbox"), bytes(out_lf))])
    rc2, crlf, err, _ = run(base + [write(os.path.join(tmp, "f5", "crlf.mbox"), bytes(out_crlf))])
    got = [summary_of(o) for o in lines_of(crlf)]
    check("--mbox-format cl on a CRLF mbox: every Content-Length followed, as with LF",
          rc2 == 0 and got == [summary_of(o) for o in lines_of(lf)] and len(got) == 3 and
          got[0] == ("pass", "", "pass") and "does not land" not in err,
          f"rc={rc2} {got} {err[-400:]}")


def check_at_received_trusted(tmp, zone):
    # x= expired on 2023-11-16; the foreign field on top claims 2023-11-15 (before x=), ours
    # below it says 2023-11-20 (after): only ours may be believed.
    signed = ta.sign(ta.message(400, "dom7.test", "Expiring.\r\n"), "dom7.test", "rsa",
                     expire=ta.X_EXPIRE)
    ours = (b"Received: from [192.0.2.10] (helo=mail.dom7.test)\r\n\tby mx.example.org with "
            b"esmtp; Mon, 20 Nov 2023 10:00:00 +0000\r\n")
    foreign = b"Received: from x by relay.evil.test; Wed, 15 Nov 2023 10:00:00 +0000\r\n"
    top_foreign = write(os.path.join(tmp, "f7", "foreign.eml"), foreign + ours + signed)
    top_ours = write(os.path.join(tmp, "f7", "ours.eml"), ours + signed)
    base = ["--format", "json", "--at", "received", "--envelope", "received=mx.example.org"] + zone
    rc, out, err, _ = run(base + [top_foreign, top_ours])
    objs = lines_of(out)
    check("--at received with --envelope received=HOST: a foreign top field's date not used",
          rc == 0 and len(objs) == 2 and objs[0].get("evaluated_at_source") == "now" and
          summary_of(objs[0])[1] == "expired" and
          "--at received: judged now" in objs[0].get("envelope", {}).get("note", ""),
          f"{objs[:1]}")
    check("--at received with --envelope received=HOST: the trusted field's date used",
          len(objs) == 2 and objs[1].get("evaluated_at_source") == "received" and
          objs[1].get("evaluated_at") == 1700474400 and summary_of(objs[1])[1] == "expired",
          f"{objs[1:]}")
    rc, out, err, _ = run(["--format", "json", "--at", "received"] + zone + [top_foreign])
    objs = lines_of(out)
    check("--at received without --envelope: the topmost field, as documented",
          len(objs) == 1 and objs[0].get("evaluated_at") == 1700042400 and
          summary_of(objs[0]) == ("pass", "", "pass"), f"{objs}")


def check_other_compression(tmp, zone):
    box = mbox_bytes(messages()[:5])
    plain = write(os.path.join(tmp, "f4", "box.mbox"), box)
    base = ["--format", "json", "--at", str(ta.T_AT)] + zone
    rc, out, err, _ = run(base + [plain])
    want = [summary_of(o) for o in lines_of(out)]
    for tool, ext, name in (("xz", "xz", "xz"), ("bzip2", "bz2", "bzip2"), ("zstd", "zst", "zstd")):
        if not shutil.which(tool):
            print(f"SKIP {tool} not installed")
            continue
        packed = subprocess.run([tool, "-c", plain], capture_output=True, check=True).stdout
        path = write(os.path.join(tmp, "f4", f"box.mbox.{ext}"), packed)
        rc, out, err, _ = run(base + [path])
        objs = lines_of(out)
        check(f"{name} file: an error line naming it and the command that reads it, exit 1",
              rc == 1 and len(objs) == 1 and objs[0].get("file") == path and
              objs[0].get("error") == f"cannot read: {name}-compressed (credence decompresses "
              f"gzip only): decompress it first, e.g. `{tool} -dc {path} | credence verify -`",
              f"rc={rc} {objs}")
        pipe = subprocess.run(f"{tool} -dc '{path}' | '{ta.BIN}' verify " +
                              " ".join(base) + " -", shell=True, capture_output=True)
        got = [summary_of(o) for o in lines_of(pipe.stdout.decode())]
        check(f"{name}: the command the error line gives judges every message",
              pipe.returncode == 0 and got == want, f"{got} {pipe.stderr[-200:]}")
        md = os.path.join(tmp, "f4", f"md-{ext}")
        write(os.path.join(md, "cur", "1.a:2,S"),
              subprocess.run([tool, "-c"], input=messages()[0], capture_output=True).stdout)
        rc, out, err, _ = run(base + [md])
        check(f"{name}: a Dovecot zlib-plugin maildir file is an error line, exit 1",
              rc == 1 and f"{name}-compressed" in out, f"rc={rc} {out[:300]}")


def check_csv_names(tmp, zone):
    msg = messages()[0]
    bad = os.path.join(tmp, "f13").encode() + b"/\xff\xfebad.eml"
    os.makedirs(os.path.join(tmp, "f13"), exist_ok=True)
    with open(bad, "wb") as f:
        f.write(msg)
    args = [a.encode() for a in ["--at", str(ta.T_AT)] + zone]
    outs = {}
    for fmt in ("csv", "json"):
        p = subprocess.run([ta.BIN.encode(), b"verify", b"--format", fmt.encode()] + args + [bad],
                           capture_output=True)
        outs[fmt] = p.stdout
    try:
        rows = list(csv.reader(io.StringIO(outs["csv"].decode("utf-8"), newline="")))
        csv_name = rows[1][0]
    except (UnicodeDecodeError, IndexError) as e:
        csv_name = f"<{e}>"
    json_name = json.loads(outs["json"])["file"]
    check("CSV: an invalid UTF-8 file name written as JSON writes it (U+FFFD)",
          csv_name == json_name and "\ufffd" in csv_name, f"{csv_name!r} {json_name!r}")


def check_doc_jq(tmp, zone):
    """The jq recipes of docs/archive.md, as written there, on output with an error line."""
    if not shutil.which("jq"):
        print("SKIP jq not installed")
        return
    box = write(os.path.join(tmp, "f12", "box.mbox"), mbox_bytes(messages()))
    rc, out, err, _ = run(["--format", "json", "--at", str(ta.T_AT)] + zone +
                          [box, os.path.join(tmp, "f12", "missing.mbox")])
    results = write(os.path.join(tmp, "f12", "r.jsonl"), out.encode())
    check("jq recipes: the output holds an error line", '"error"' in out, out[-200:])
    doc = open(os.path.join(ta.SRC, "docs", "archive.md")).read()
    # Each recipe: an indented block that starts with "jq " and runs to the next blank line.
    recipes, block = [], None
    for line in doc.splitlines() + [""]:
        if block is not None and line.startswith("    ") and line.strip():
            block.append(line.strip())
            continue
        if block is not None:
            recipes.append("\n".join(block))
            block = None
        if line.startswith("    ") and line.lstrip().startswith("jq "):
            block = [line.strip()]
    check("jq recipes: found in docs/archive.md", len(recipes) >= 7, recipes)
    for r in recipes:
        p = subprocess.run(["bash", "-o", "pipefail", "-c", r], cwd=os.path.dirname(results),
                           capture_output=True)
        check(f"jq recipe runs on output with an error line: {r[:60]!r}",
              p.returncode == 0 and p.stderr == b"", p.stderr.decode()[-200:])


def check_all(tmp):
    zone = ta.zone_file(tmp)
    check_maildir_empty_file(tmp, zone)
    check_maildir_unreadable(tmp, zone)
    check_mbox_leading_junk(tmp, zone)
    check_cl_crlf(tmp, zone)
    check_at_received_trusted(tmp, zone)
    check_other_compression(tmp, zone)
    check_csv_names(tmp, zone)
    check_doc_jq(tmp, zone)


def main():
    return ta.run_suite("test_archive_damaged", check_all)


if __name__ == "__main__":
    sys.exit(main())
