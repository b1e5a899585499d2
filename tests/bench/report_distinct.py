#!/usr/bin/python3
"""A hostile aggregate report for `credence report read`'s memory (docs/reports.md, "Cost" and
"Limits"): RECORDS records in one gzip file, every one a new source IP, a new result row and a
new failing DKIM selector, so the summary's detail tables grow by all three each record.
Our own made-up data.

    python3 tests/bench/report_distinct.py OUT.xml.gz RECORDS [SEED]
    /usr/bin/time -f "%e s %M KiB" build/plugin/cli/credence report read OUT.xml.gz > /dev/null

Prints the XML size and the message total (the sum of the counts).
"""
import gzip
import random
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(seed)
    parts = ['<?xml version="1.0"?>\n<feedback><report_metadata><org_name>big.example</org_name>'
             '<email>r@big.example</email><report_id>distinct-%d</report_id><date_range>'
             '<begin>1764979200</begin><end>1765065599</end></date_range></report_metadata>'
             '<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>'
             '<p>reject</p><sp>reject</sp><pct>100</pct></policy_published>\n' % seed]
    total = 0
    for i in range(n):
        count = rng.randrange(1, 5)
        total += count
        ip = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        parts.append(
            '<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>'
            '<disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf>'
            '</policy_evaluated></row><identifiers><header_from>example.com</header_from>'
            '<envelope_from>s%d.example.net</envelope_from></identifiers><auth_results><dkim>'
            '<domain>d%d.example.org</domain><selector>s%d</selector><result>fail</result></dkim>'
            '<spf><domain>s%d.example.net</domain><result>fail</result></spf></auth_results>'
            '</record>\n' % (ip, count, i, i, i, i))
    parts.append('</feedback>\n')
    data = "".join(parts).encode()
    with gzip.open(out, "wb") as f:
        f.write(data)
    print(len(data), total)


if __name__ == "__main__":
    main()
