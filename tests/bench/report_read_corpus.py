#!/usr/bin/python3
"""A large corpus for timing `credence report read` (docs/reports.md, "Cost"): a year of daily
aggregate reports from five reporters for one domain (1,825 reports, 40 records each, saved as
.xml.gz and .zip in turn), plus one report of RECORDS records (a big receiver's day for a
large domain). Our own made-up data, like tests/data/dmarc-reports.

    python3 tests/bench/report_read_corpus.py DIR [RECORDS]
    /usr/bin/time -v build/plugin/cli/credence report read --format json DIR > /dev/null
"""
import gzip
import io
import os
import random
import sys
import zipfile

DAY0 = 1733011200  # 2024-12-01T00:00:00Z


def record(rng, i):
    ok = rng.random() < 0.8
    ip = "198.51.%d.%d" % ((i // 250) % 250, i % 250 + 1)
    res = "pass" if ok else "fail"
    return ("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
            "<disposition>none</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated>"
            "</row><identifiers><header_from>example.org</header_from></identifiers>"
            "<auth_results><dkim><domain>example.org</domain><selector>s%d</selector>"
            "<result>%s</result></dkim><spf><domain>example.org</domain><result>%s</result>"
            "</spf></auth_results></record>\n" % (ip, rng.randint(1, 50), res, res, i % 3, res, res))


def report(org, rid, begin, records):
    return ("<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>%s</org_name>"
            "<email>dmarc@%s</email><report_id>%s</report_id><date_range><begin>%d</begin>"
            "<end>%d</end></date_range></report_metadata><policy_published><domain>example.org"
            "</domain><p>none</p></policy_published>\n%s</feedback>\n"
            % (org, org, rid, begin, begin + 86399, "".join(records))).encode()


def main():
    out = sys.argv[1]
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    os.makedirs(out, exist_ok=True)
    rng = random.Random(12)
    n = 0
    for day in range(365):
        for k, org in enumerate(("rep%d.example" % j for j in range(5))):
            data = report(org, "%s-%d" % (org, day), DAY0 + day * 86400,
                          [record(rng, i) for i in range(40)])
            name = os.path.join(out, "%s!example.org!%d" % (org, DAY0 + day * 86400))
            if (day + k) % 2:
                with open(name + ".xml.gz", "wb") as f:
                    f.write(gzip.compress(data, mtime=0))
            else:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                    z.writestr("r.xml", data)
                with open(name + ".zip", "wb") as f:
                    f.write(buf.getvalue())
            n += 1
    data = report("big.example", "big-1", DAY0, [record(rng, i) for i in range(big)])
    with open(os.path.join(out, "big.example!example.org.xml.gz"), "wb") as f:
        f.write(gzip.compress(data, mtime=0))
    print("%d daily reports and one of %d records (%d bytes of XML) in %s" % (n, big, len(data), out))


if __name__ == "__main__":
    main()
