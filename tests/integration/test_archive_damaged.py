#!/usr/bin/python3
"""`credence verify` on archives a red-team damaged: every file is judged or named, never
passed over in silence. Uses the keys, zones, signer and runner of test_archive.py. Checks:
  - a 0-byte file in a maildir (sorted first or in the middle) is an error line ("an empty
    file"), exit 1, and every other file of the maildir and its subfolders is still judged;

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


def check_all(tmp):
    zone = ta.zone_file(tmp)
    check_maildir_empty_file(tmp, zone)


def main():
    return ta.run_suite("test_archive_damaged", check_all)


if __name__ == "__main__":
    sys.exit(main())
