#!/usr/bin/python3
"""`credence report read` end to end: the built binary over tests/data/dmarc-reports/inbox, a
folder mixing every input kind (a .zip, a .xml.gz, a plain .xml, a report message .eml, an
mbox with a duplicate report and a message that is none, a maildir with an RFC 9990 report and
a gzip labelled .zip / application/octet-stream, malformed files), checked against the
corpus's expected.json in JSON, CSV and text; the HTML page rendered in headless Chromium
(the DOM after its script ran, and a screenshot); zip and gzip bombs; PTR names from a BIND
named on 127.0.0.1 (--dns) and from a zone file (--zone); filters and usage errors.

Env: CREDENCE_BIN, CREDENCE_SRC. One PASS/FAIL line per check; exit 1 on any failure. Nothing
is asked of the machine's resolver, and Chromium runs with every host name unresolvable and
its background networking off.
"""
import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import Named  # noqa: E402

BIN = os.environ.get("CREDENCE_BIN", "credence")
SRC = os.environ.get("CREDENCE_SRC", os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(SRC, "tests", "data", "dmarc-reports")
INBOX = os.path.join(DATA, "inbox")
EXPECTED = json.load(open(os.path.join(DATA, "expected.json")))
FAILURES = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": %s" % detail))
    if not ok:
        FAILURES.append(name)
    return ok


def run(args, timeout=120):
    start = time.monotonic()
    p = subprocess.run([BIN, "report", "read"] + args, capture_output=True, timeout=timeout)
    return p, time.monotonic() - start


def test_json():
    p, took = run(["--format", "json", INBOX])
    check("json: exit status 1 (three inputs with problems)", p.returncode == 1, p.returncode)
    out = json.loads(p.stdout)
    check("json: reports counted", out["reports_counted"] == EXPECTED["reports_counted"],
          out["reports_counted"])
    check("json: one duplicate", len(out["duplicates"]) == EXPECTED["duplicates"], out["duplicates"])
    dup = out["duplicates"][0] if out["duplicates"] else {}
    pair = sorted(os.path.relpath(x.split("[")[0], INBOX) for x in dup.values())
    check("json: the duplicate pair is Google's day 1 saved and in the mbox (read first: "
          "directories are read in name order)",
          pair == ["archive/2025-12/dmarc.mbox:2", "google.com!example.org!1764547200!1764633599.zip"]
          and dup["copy_of"].startswith(os.path.join(INBOX, "archive")), pair)
    check("json: problems", len(out["problems"]) == EXPECTED["problems"], out["problems"])
    stderr = p.stderr.decode()
    check("stderr: one line per problem", stderr.count("\n") == EXPECTED["problems"], stderr)
    for what in ("cut-short.xml: not well-formed XML", "record 2: no <count>",
                 "dmarc.mbox:3: not a report"):
        check("stderr names: " + what, what in stderr, stderr)
    domains = {d["domain"]: d for d in out["domains"]}
    check("json: domains", sorted(domains) == sorted(EXPECTED["domains"]), sorted(domains))
    for name, exp in EXPECTED["domains"].items():
        d = domains.get(name)
        if not d:
            continue
        c = d["counts"]
        for key in ("messages", "dmarc_pass", "dmarc_fail", "lost_under_quarantine",
                    "lost_under_reject"):
            check("json %s: %s" % (name, key), c[key] == exp[key], (c[key], exp[key]))
        check("json %s: reports" % name, d["reports"] == exp["reports"], d["reports"])
        got = {s["ip"]: s["counts"]["messages"] for s in d["sources"]}
        check("json %s: sources" % name, got == exp["sources"], got)
        got = {"%s/%s/%s" % (f["domain"], f["selector"], f["result"]): f["messages"]
               for f in d["failing_selectors"]}
        check("json %s: failing selectors" % name, got == exp["failing_selectors"], got)
        got = {x["day"]: [x["pass"], x["fail"]] for x in d["days"]}
        check("json %s: days" % name, got == exp["days"], got)
        got = sorted(r["org_name"] for r in d["reporters"])
        check("json %s: reporters" % name, got == sorted(exp["reporters"]), got)
        check("json %s: rows add up" % name,
              sum(r["messages"] for r in d["rows"]) == exp["messages"])
    formats = sorted({r["format"] for r in out["reports"]})
    check("json: both eras read", formats == ["rfc7489", "rfc9990"], formats)
    print("  json over the corpus: %.2f s" % took)


# ---- an independent reader: Python's zipfile, gzip, email, mailbox and ElementTree -------

def _local(tag):
    return tag.rsplit("}", 1)[-1].lower()


def _find(el, path):
    for part in path.split("/"):
        el = next((c for c in el if _local(c.tag) == part), None) if el is not None else None
    return el


def _text(el, path):
    e = _find(el, path)
    return (e.text or "").strip() if e is not None else ""


def _documents(name, data, depth=0):
    """(name, xml bytes) of every report in `data`, opened the way a person would."""
    if depth > 3:
        return []
    if data[:2] == b"\x1f\x8b":
        return _documents(name, gzip.decompress(data), depth + 1)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [d for n in z.namelist() for d in _documents(name + "[" + n + "]", z.read(n), depth + 1)]
    if data.lstrip(b"\xef\xbb\xbf \r\n\t")[:1] == b"<":
        return [(name, data)]
    import email
    msg = email.message_from_bytes(data)
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if payload[:2] == b"\x1f\x8b" or payload[:4] == b"PK\x03\x04" or b"<feedback" in payload[:4096]:
            out += _documents(name, payload, depth + 1)
    return out


def independent_totals():
    import mailbox
    import xml.etree.ElementTree as ET
    docs = []
    for root, dirs, files in sorted(os.walk(INBOX)):
        dirs.sort()
        if os.path.basename(root) in ("cur", "new", "tmp") or "cur" in dirs:
            if "cur" in dirs:
                for sub in ("cur", "new"):
                    for f in sorted(os.listdir(os.path.join(root, sub))) if os.path.isdir(os.path.join(root, sub)) else []:
                        docs += _documents(f, open(os.path.join(root, sub, f), "rb").read())
                dirs[:] = []
            continue
        for f in sorted(files):
            path = os.path.join(root, f)
            data = open(path, "rb").read()
            if data.startswith(b"From "):
                for i, m in enumerate(mailbox.mbox(path)):
                    docs += _documents("%s:%d" % (f, i + 1), m.as_bytes())
            else:
                docs += _documents(f, data)
    seen, totals = set(), {}
    for name, xml in docs:
        try:
            root = ET.fromstring(xml.lstrip(b"\xef\xbb\xbf \r\n\t").rstrip(b"\0"))
        except ET.ParseError:
            continue
        key = (_text(root, "report_metadata/org_name"), _text(root, "report_metadata/report_id"),
               _text(root, "report_metadata/date_range/begin"), _text(root, "report_metadata/date_range/end"))
        if key in seen:
            continue
        seen.add(key)
        dom = _text(root, "policy_published/domain").lower().rstrip(".")
        t = totals.setdefault(dom, {"messages": 0, "dmarc_pass": 0, "sources": {}})
        for rec in (c for c in root if _local(c.tag) == "record"):
            ip, count = _text(rec, "row/source_ip"), _text(rec, "row/count")
            if not ip or not count.isdigit():
                continue  # as credence: a record without both is not counted
            n = int(count)
            t["messages"] += n
            if "pass" in (_text(rec, "row/policy_evaluated/dkim").lower(),
                          _text(rec, "row/policy_evaluated/spf").lower()):
                t["dmarc_pass"] += n
            t["sources"][ip] = t["sources"].get(ip, 0) + n
    return totals


def test_independent_reader():
    p, _ = run(["--format", "json", INBOX])
    out = json.loads(p.stdout)
    ours = {d["domain"]: {"messages": d["counts"]["messages"], "dmarc_pass": d["counts"]["dmarc_pass"],
                          "sources": {s["ip"]: s["counts"]["messages"] for s in d["sources"]}}
            for d in out["domains"]}
    theirs = independent_totals()
    check("an independent Python reader (ElementTree, zipfile, gzip, email, mailbox) gives the "
          "same counts", ours == theirs, (ours, theirs))


def test_csv():
    p, _ = run(["--format", "csv", INBOX])
    check("csv: exit status 1", p.returncode == 1, p.returncode)
    text = p.stdout.decode()
    check("csv: CRLF rows", "\r\n" in text and "\n" not in text.replace("\r\n", ""))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    header = text.split("\r\n", 1)[0].split(",")
    check("csv: documented columns", header == ["domain", "source_ip", "ptr", "messages", "dmarc",
                                                "disposition", "dkim_aligned", "spf_aligned",
                                                "header_from", "envelope_from", "dkim", "spf",
                                                "reasons"], header)
    for name, exp in EXPECTED["domains"].items():
        mine = [r for r in rows if r["domain"] == name]
        total = sum(int(r["messages"]) for r in mine)
        check("csv %s: messages" % name, total == exp["messages"], total)
        passed = sum(int(r["messages"]) for r in mine if r["dmarc"] == "pass")
        check("csv %s: DMARC pass" % name, passed == exp["dmarc_pass"], passed)
        per_ip = {}
        for r in mine:
            per_ip[r["source_ip"]] = per_ip.get(r["source_ip"], 0) + int(r["messages"])
        check("csv %s: per source" % name, per_ip == exp["sources"], per_ip)
    esp = [r for r in rows if r["source_ip"] == "198.51.100.25"]
    check("csv: raw DKIM and SPF before alignment kept",
          all(r["dkim"] == "pass d=esp.example s=esp1" and
              r["spf"].startswith("pass bounce.esp.example") for r in esp), esp)


def test_text():
    p, _ = run([INBOX])
    text = p.stdout.decode()
    check("text: exit status 1", p.returncode == 1, p.returncode)
    check("text: domain line", "example.org: 351 messages in 7 reports, 2025-12-01 to 2025-12-03"
          in text, text[:400])
    check("text: DMARC line", "DMARC pass 285 (81.2%), fail 66" in text)
    check("text: source row", re.search(r"^\s+198\.51\.100\.25\s+-\s+53\s+0\s+53\s", text, re.M)
          is not None)
    check("text: lost line", "66 messages under p=quarantine, 66 under p=reject" in text)
    check("text: failing selector", re.search(r"example\.org\s+old2023\s+fail\s+4\s+192\.0\.2\.11",
                                              text) is not None)
    check("text: footer", "8 reports counted, 1 duplicate left out, 3 problems" in text)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-default-apps", "--disable-extensions",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                  "--virtual-time-budget=5000"]


def chromium(args, tmp, timeout=90):
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    return subprocess.run([CHROMIUM] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + args,
                          capture_output=True, timeout=timeout)


def test_html(tmp):
    page = os.path.join(tmp, "report.html")
    p, _ = run(["--format", "html", "--output", page, "--title", "Reports for example.org", INBOX])
    check("html: exit status 1", p.returncode == 1, p.returncode)
    html = open(page, encoding="utf-8").read()
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    check("html: self-contained (no URL but the SVG namespace)",
          urls <= {"http://www.w3.org/2000/svg"}, urls)
    check("html: no external script, style or image",
          not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html))
    if not CHROMIUM:
        print("SKIP html in chromium: chromium is not installed (setup.sh installs it)")
        return
    p = chromium(["--dump-dom", "file://" + page], tmp)
    dom = p.stdout.decode()
    check("chromium: rendered the page", p.returncode == 0 and "<svg" in dom, p.stderr[-500:])
    check("chromium: the page's script ran", 'data-ready="yes"' in dom)
    m = re.search(r'data-bars="(\d+)"', dom)
    bars = int(m.group(1)) if m else 0
    rects = len(re.findall(r'<rect class="bar (?:pass|fail)"', dom))
    check("chromium: the script counted the chart's bars", bars == rects and bars > 0,
          (bars, rects))
    org = re.search(r'<section class="domain" data-domain="example.org">(.*?)</section>', dom, re.S)
    check("chromium: example.org's section", org is not None)
    if not org:
        return
    sec = org.group(1)
    m = re.search(r'class="total-messages" data-v="(\d+)">([\d,]+)<', sec)
    check("chromium: total messages shown", m and m.group(1) == "351" and m.group(2) == "351",
          m and m.groups())
    m = re.search(r'class="total-lost-reject" data-v="(\d+)"', sec)
    check("chromium: lost under p=reject shown", m and m.group(1) == "66", m and m.group(1))
    day_bars = re.findall(r'<rect class="bar (pass|fail)" data-day="([\d-]+)" data-count="(\d+)"', sec)
    got = {}
    for kind, day, n in day_bars:
        got.setdefault(day, [0, 0])[0 if kind == "pass" else 1] += int(n)
    check("chromium: a pass and a fail bar per day, with the day's counts",
          got == EXPECTED["domains"]["example.org"]["days"], got)
    src_bars = re.findall(r'<rect class="bar (pass|fail)" data-source="([^"]+)" data-count="(\d+)"', sec)
    per_src = {}
    for kind, ip, n in src_bars:
        per_src[ip] = per_src.get(ip, 0) + int(n)
    check("chromium: a bar per source", per_src == EXPECTED["domains"]["example.org"]["sources"],
          per_src)
    check("chromium: a source IP in the sources table",
          re.search(r"<td>198\.51\.100\.25</td><td></td><td[^>]*>53</td>", sec) is not None)
    check("chromium: the failing selector in its table", "<td>old2023</td>" in sec)
    # The picture: a screenshot large enough to hold the charts.
    shot = os.path.join(tmp, "report.png")
    p = chromium(["--screenshot=" + shot, "--window-size=1280,1600", "file://" + page], tmp)
    ok = os.path.exists(shot) and open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    check("chromium: screenshot taken", ok, p.stderr[-500:])
    if ok:
        size = os.path.getsize(shot)
        check("chromium: screenshot is not blank (%d bytes)" % size, size > 20000, size)
        keep = os.environ.get("CREDENCE_KEEP_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)


def test_bombs(tmp):
    big = 200 << 20  # 200 MiB of zeros: ~200 KiB compressed
    zpath = os.path.join(tmp, "bomb.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("report.xml", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(big >> 20):
                f.write(chunk)
    gpath = os.path.join(tmp, "bomb.xml.gz")
    with gzip.GzipFile(gpath, "wb", mtime=0) as g:
        chunk = b" " * (1 << 20)
        for _ in range(big >> 20):
            g.write(chunk)
    ok_report = os.path.join(INBOX, "google.com!example.net!1764547200!1764633599.xml")
    for path, size in ((zpath, os.path.getsize(zpath)), (gpath, os.path.getsize(gpath))):
        p, took = run(["--format", "json", path, ok_report])
        out = json.loads(p.stdout) if p.stdout else {}
        probs = out.get("problems", [])
        check("bomb %s (%d bytes): refused at the cap, exit 1" % (os.path.basename(path), size),
              p.returncode == 1 and len(probs) == 1 and probs[0]["code"] == "too_large" and
              "67108864" in probs[0]["message"], (p.returncode, probs))
        check("bomb %s: the other input still counted" % os.path.basename(path),
              out.get("reports_counted") == 1)
        print("  %s: %.2f s" % (os.path.basename(path), took))


def test_detail_budget(tmp):
    """Reports whose every record is a new source, row and failing selector (the hostile case
    for memory: tests/bench/report_distinct.py): past --max-detail-mib the detail tables count
    new entries under "(other)", every total stays exact, each format says so; peak RSS printed."""
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import peak_rss
    gen = os.path.join(SRC, "tests", "bench", "report_distinct.py")
    paths, total = [], 0
    for seed in (1, 2):
        path = os.path.join(tmp, "distinct%d.xml.gz" % seed)
        out = subprocess.run([sys.executable, gen, path, "20000", str(seed)], check=True,
                             capture_output=True, text=True).stdout.split()
        total += int(out[1])
        paths.append(path)
    for detail, cut in (("1", True), ("64", False)):
        r = peak_rss.run([BIN, "report", "read", "--format", "json", "--max-detail-mib", detail] +
                         paths, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        dom = (out.get("domains") or [{}])[0]
        sources = dom.get("sources", [])
        other = [s for s in sources if s["ip"] == "(other)"]
        check("distinct records, --max-detail-mib %s: exit 0, total exact (%d messages)"
              % (detail, total), r.returncode == 0 and dom.get("counts", {}).get("messages") == total,
              (r.returncode, r.stderr[-300:], dom.get("counts")))
        check("distinct records, --max-detail-mib %s: detail_cut %s" % (detail, cut),
              out.get("detail_cut") is cut and (dom.get("other_records", 0) > 0) is cut and
              bool(other) is cut, (out.get("detail_cut"), dom.get("other_records"), len(sources)))
        check("distinct records, --max-detail-mib %s: every message in some source" % detail,
              sum(s["counts"]["messages"] for s in sources) == total)
        print("  --max-detail-mib %s: %d sources kept, %d records under (other), %.2f s, peak RSS "
              "%.0f MB" % (detail, len(sources) - len(other), dom.get("other_records", 0),
                          r.seconds, r.max_rss_kib / 1024.0))
    p = subprocess.run([BIN, "report", "read", "--max-detail-mib", "1"] + paths,
                       capture_output=True, text=True, timeout=300)
    check("text: the note names --max-detail-mib and (other)",
          "(--max-detail-mib)" in p.stdout and "counted together under (other)" in p.stdout,
          p.stdout[:600])


REVERSE_ZONE = """
10 IN PTR mail.example.org.
11 IN PTR old-mail.example.org.
"""
REVERSE6_ZONE = """
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR mail6.example.org.
"""


def test_dns(tmp):
    zones = {"2.0.192.in-addr.arpa": REVERSE_ZONE,
             "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa": REVERSE6_ZONE}
    with Named(zones) as ns:
        p, took = run(["--format", "json", "--dns", "127.0.0.1:%d" % ns.port, INBOX])
    out = json.loads(p.stdout)
    ptr = {s["ip"]: s["ptr"] for d in out["domains"] for s in d["sources"]}
    check("--dns: PTR names from named", ptr.get("192.0.2.10") == "mail.example.org" and
          ptr.get("192.0.2.11") == "old-mail.example.org" and
          ptr.get("2001:db8::25") == "mail6.example.org", ptr)
    check("--dns: no name where there is none", ptr.get("198.51.100.25") == "", ptr)
    print("  --dns over the corpus: %.2f s" % took)
    zone = os.path.join(tmp, "reverse.zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 300\n@ IN SOA ns.example. h.example. 1 1 1 1 1\n"
                + REVERSE_ZONE)
    p, _ = run(["--zone", zone, INBOX])
    check("--zone: PTR in the text table", re.search(r"192\.0\.2\.10\s+mail\.example\.org\s+271",
                                                    p.stdout.decode()) is not None)
    p, _ = run(["--format", "csv", "--zone", zone, INBOX])
    check("--zone: PTR in the csv", ",192.0.2.10,mail.example.org," in p.stdout.decode())


def test_filters_and_usage():
    p, _ = run(["--format", "json", "--domain", "EXAMPLE.net", INBOX])
    out = json.loads(p.stdout)
    check("--domain keeps one domain", [d["domain"] for d in out["domains"]] == ["example.net"] and
          out["reports_counted"] == 1 and len(out["reports"]) == 1, out["reports_counted"])
    p, _ = run(["--format", "json", "--since", "2025-12-02", "--until", "2025-12-02", INBOX])
    out = json.loads(p.stdout)
    org = [d for d in out["domains"] if d["domain"] == "example.org"]
    check("--since/--until keep one day", len(org) == 1 and
          org[0]["counts"]["messages"] == 132 and [x["day"] for x in org[0]["days"]] == ["2025-12-02"],
          org and org[0]["counts"]["messages"])
    clean = [os.path.join(INBOX, n) for n in ("google-day2.eml",
             "google.com!example.org!1764547200!1764633599.zip")]
    p, _ = run(clean)
    check("clean inputs: exit status 0", p.returncode == 0 and p.stderr == b"", p.stderr)
    for args, what in ((["--since", "yesterday", INBOX], "not a date"),
                       (["--format", "pdf", INBOX], "pdf"),
                       (["--dns", "127.0.0.1:53", "--zone", "x", INBOX], "excludes"),
                       (["-", "-"], "once"),
                       ([], "INPUT is required")):
        p, _ = run(args)
        check("usage: %s -> exit 2" % " ".join(args[:2]), p.returncode == 2 and
              what in p.stderr.decode(), (p.returncode, p.stderr[-300:]))
    p = subprocess.run([BIN, "report", "read", "--format", "json", "-"],
                       input=open(os.path.join(INBOX, "google-day2.eml"), "rb").read(),
                       capture_output=True, timeout=60)
    check("stdin: a report message", p.returncode == 0 and
          json.loads(p.stdout)["reports_counted"] == 1, p.stderr)
    p = subprocess.run([BIN, "report", "--help"], capture_output=True, timeout=60)
    check("credence report --help names read", p.returncode == 0 and b"read" in p.stdout)


def main():
    tmp = tempfile.mkdtemp(prefix="credence-report-read-")
    try:
        test_json()
        test_independent_reader()
        test_csv()
        test_text()
        test_html(tmp)
        test_bombs(tmp)
        test_detail_budget(tmp)
        test_dns(tmp)
        test_filters_and_usage()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES) if FAILURES else "all passed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
