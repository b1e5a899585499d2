#!/usr/bin/python3
"""Writes the `credence report read` corpus: DMARC aggregate reports in the shapes the big
receivers send (element order, namespaces, .zip or .xml.gz, the MIME types of their report
messages), made up for credence's tests (no real report is copied), saved as every input kind
the reader takes. Deterministic: run it again and the files are the same bytes.

    python3 tests/data/dmarc-reports/make_corpus.py   # rewrites tests/data/dmarc-reports/inbox/

EXPECTED (below) is what `credence report read` must count over inbox/; the unit and
integration tests read it from expected.json."""
import base64
import gzip
import io
import json
import os
import shutil
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "inbox")
DAY1 = 1764547200  # 2025-12-01T00:00:00Z
DAY = 86400


# ---- the XML of each reporter's shape -------------------------------------------------------

def google_xml(domain, report_id, begin, policy, records):
    """Google-style: RFC 7489 era, no namespace, np in policy_published, auth_results dkim
    with domain, result, selector in that order, spf with domain, result."""
    rows = []
    for r in records:
        dkim = "".join(
            "\n      <dkim>\n        <domain>%s</domain>\n        <result>%s</result>\n"
            "        <selector>%s</selector>\n      </dkim>" % (d, res, s) for d, s, res in r["dkim"])
        rows.append("""  <record>
    <row>
      <source_ip>%s</source_ip>
      <count>%d</count>
      <policy_evaluated>
        <disposition>%s</disposition>
        <dkim>%s</dkim>
        <spf>%s</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>%s</header_from>
    </identifiers>
    <auth_results>%s
      <spf>
        <domain>%s</domain>
        <result>%s</result>
      </spf>
    </auth_results>
  </record>
""" % (r["ip"], r["count"], r["disp"], r["dkim_al"], r["spf_al"], domain, dkim, r["spf"][0], r["spf"][1]))
    return ("""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>%s</report_id>
    <date_range>
      <begin>%d</begin>
      <end>%d</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>%s</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>%s</p>
    <sp>%s</sp>
    <pct>100</pct>
    <np>%s</np>
  </policy_published>
%s</feedback>
""" % (report_id, begin, begin + DAY - 1, domain, policy, policy, policy, "".join(rows))).encode()


def microsoft_xml(domain, report_id, begin, records):
    """Outlook.com-style: <version>, xsd/xsi namespace declarations (no default namespace),
    envelope_to and envelope_from in identifiers, fo in policy_published, end = next midnight."""
    rows = []
    for r in records:
        dkim = "".join(
            "<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>" % (d, s, res)
            for d, s, res in r["dkim"])
        rows.append(
            "<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
            "<disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>"
            "<identifiers><envelope_to>outlook.com</envelope_to><envelope_from>%s</envelope_from>"
            "<header_from>%s</header_from></identifiers><auth_results>%s<spf><domain>%s</domain>"
            "<scope>mfrom</scope><result>%s</result></spf></auth_results></record>"
            % (r["ip"], r["count"], r["disp"], r["dkim_al"], r["spf_al"], r["spf"][0], domain,
               dkim, r["spf"][0], r["spf"][1]))
    return ('<?xml version="1.0"?>\r\n<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><version>1.0</version>'
            '<report_metadata><org_name>Outlook.com</org_name><email>dmarcreport@microsoft.com'
            '</email><report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end>'
            '</date_range></report_metadata><policy_published><domain>%s</domain><adkim>r</adkim>'
            '<aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo></policy_published>%s'
            '</feedback>' % (report_id, begin, begin + DAY, domain, "".join(rows))).encode()


def yahoo_xml(domain, report_id, begin, records):
    """Yahoo-style: no selector in auth_results dkim, reason with type and comment."""
    rows = []
    for r in records:
        reason = ""
        if r.get("reason"):
            reason = "<reason><type>%s</type><comment>%s</comment></reason>" % r["reason"]
        dkim = "".join("<dkim><domain>%s</domain><result>%s</result></dkim>" % (d, res)
                       for d, s, res in r["dkim"])
        rows.append("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
                    "<disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf>%s"
                    "</policy_evaluated></row><identifiers><header_from>%s</header_from>"
                    "</identifiers><auth_results>%s<spf><domain>%s</domain><result>%s</result>"
                    "</spf></auth_results></record>\n"
                    % (r["ip"], r["count"], r["disp"], r["dkim_al"], r["spf_al"], reason, domain,
                       dkim, r["spf"][0], r["spf"][1]))
    return ('<?xml version="1.0"?>\n<feedback>\n<report_metadata>\n<org_name>Yahoo</org_name>\n'
            '<email>dmarchelp@yahooinc.com</email>\n<report_id>%s</report_id>\n<date_range>\n'
            '<begin>%d</begin>\n<end>%d</end>\n</date_range>\n</report_metadata>\n'
            '<policy_published>\n<domain>%s</domain>\n<adkim>r</adkim>\n<aspf>r</aspf>\n<p>none</p>\n'
            '<pct>100</pct>\n</policy_published>\n%s</feedback>\n'
            % (report_id, begin, begin + DAY - 1, domain, "".join(rows))).encode()


def rfc9990_xml(domain, report_id, begin, records):
    """RFC 9990: the dmarc-2.0 namespace, version 1.0, generator, np, testing,
    discovery_method, extensions."""
    rows = []
    for r in records:
        dkim = "".join("<dkim><domain>%s</domain><selector>%s</selector><result>%s</result>"
                       "</dkim>" % (d, s, res) for d, s, res in r["dkim"])
        rows.append("""  <record>
    <row><source_ip>%s</source_ip><count>%d</count>
      <policy_evaluated><disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated>
    </row>
    <identifiers><envelope_from>%s</envelope_from><header_from>%s</header_from></identifiers>
    <auth_results>%s<spf><domain>%s</domain><scope>mfrom</scope><result>%s</result></spf></auth_results>
  </record>
""" % (r["ip"], r["count"], r["disp"], r["dkim_al"], r["spf_al"], r["spf"][0], domain, dkim,
       r["spf"][0], r["spf"][1]))
    return ("""<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>Mail Example Net</org_name>
    <email>dmarc-reports@mail.example.net</email>
    <report_id>%s</report_id>
    <date_range><begin>%d</begin><end>%d</end></date_range>
    <generator>examplemta 4.2</generator>
  </report_metadata>
  <policy_published>
    <domain>%s</domain><discovery_method>treewalk</discovery_method>
    <adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><np>reject</np><testing>n</testing>
  </policy_published>
%s  <extensions><x:note xmlns:x="urn:example:ext">unknown to readers</x:note></extensions>
</feedback>
""" % (report_id, begin, begin + DAY - 1, domain, "".join(rows))).encode()


def oddity_xml(domain, report_id, begin):
    """A small receiver's report with the real-world oddities: a UTF-8 BOM and blank lines
    before the declaration, upper- and mixed-case result words, white space around values,
    optional elements left out (no email, no sp/pct, no selector, no auth_results spf), an
    element no schema has, a domain with a trailing dot and capitals."""
    return ("\ufeff\n\n<?xml version='1.0' encoding='utf-8'?>\n<feedback>\n"
            " <report_metadata>\n  <org_name> Small ISP </org_name>\n"
            "  <report_id>\n    small-%s\n  </report_id>\n"
            "  <date_range><begin> %d </begin><end>%d</end></date_range>\n"
            "  <x-mailer-build>7.1</x-mailer-build>\n </report_metadata>\n"
            " <policy_published><domain>%s</domain><p>NONE</p></policy_published>\n"
            " <record><row><source_ip> 192.0.2.10 </source_ip><count> 2 </count>"
            "<policy_evaluated><disposition>None</disposition><dkim>PASS</dkim><spf>Pass</spf>"
            "</policy_evaluated></row><identifiers><header_from>Example.ORG.</header_from>"
            "</identifiers><auth_results><dkim><domain>EXAMPLE.org</domain><result>Pass</result>"
            "</dkim></auth_results></record>\n"
            " <record><row><source_ip>203.0.113.200</source_ip><count>1</count>"
            "<policy_evaluated><disposition>none</disposition><dkim>FAIL</dkim><spf>fail</spf>"
            "</policy_evaluated></row><identifiers><header_from>example.org</header_from>"
            "</identifiers><auth_results><spf><domain>spoof.example</domain><result>SoftFail"
            "</result></spf></auth_results></record>\n</feedback>\n\n"
            % (report_id, begin, begin + DAY - 1, domain.upper() + ".")).encode("utf-8")


def partial_xml(domain, begin):
    """One whole record and one without <count>: the second is reported, not guessed."""
    return ("""<?xml version="1.0"?>
<feedback><report_metadata><org_name>partial.example</org_name><report_id>p-1</report_id>
<date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>
<policy_published><domain>%s</domain><p>none</p></policy_published>
<record><row><source_ip>192.0.2.10</source_ip><count>1</count><policy_evaluated>
<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>%s</header_from></identifiers><auth_results><dkim><domain>%s</domain>
<selector>mail2025</selector><result>pass</result></dkim></auth_results></record>
<record><row><source_ip>198.51.100.99</source_ip><policy_evaluated><disposition>none
</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers>
<header_from>%s</header_from></identifiers><auth_results></auth_results></record>
</feedback>
""" % (begin, begin + DAY - 1, domain, domain, domain, domain)).encode()


# ---- the records ----------------------------------------------------------------------------

def rec(ip, count, dkim_al, spf_al, dkim, spf, disp="none", reason=None):
    return {"ip": ip, "count": count, "dkim_al": dkim_al, "spf_al": spf_al, "dkim": dkim,
            "spf": spf, "disp": disp, "reason": reason}


OWN = [("example.org", "mail2025", "pass")]
ESP = [("esp.example", "esp1", "pass")]

GOOGLE_DAY1 = google_xml("example.org", "12866342987318459230", DAY1, "none", [
    rec("192.0.2.10", 120, "pass", "pass", OWN, ("example.org", "pass")),
    rec("198.51.100.25", 40, "fail", "fail", ESP, ("bounce.esp.example", "pass")),
    rec("203.0.113.77", 3, "fail", "fail", [("example.org", "mail2025", "fail")],
        ("example.org", "softfail")),
])
GOOGLE_DAY2 = google_xml("example.org", "4021569771100322281", DAY1 + DAY, "none", [
    rec("192.0.2.10", 95, "pass", "pass", OWN, ("example.org", "pass")),
    rec("2001:db8::25", 10, "pass", "pass", OWN, ("example.org", "pass")),
    rec("203.0.113.200", 7, "fail", "fail", [], ("spoof.example", "fail")),
])
GOOGLE_NET = google_xml("example.net", "9388120512202671113", DAY1, "reject", [
    rec("203.0.113.200", 6, "fail", "fail", [], ("example.net", "fail"), disp="reject"),
])
MICROSOFT_DAY1 = microsoft_xml("example.org", "b2c8a1f7e3d94a6c8e0f1a2b3c4d5e6f", DAY1, [
    rec("192.0.2.10", 30, "pass", "pass", OWN, ("example.org", "pass")),
    rec("192.0.2.11", 4, "pass", "pass", OWN + [("example.org", "old2023", "fail")],
        ("example.org", "pass")),
    rec("198.51.100.25", 12, "fail", "fail", ESP, ("bounce.esp.example", "pass")),
])
YAHOO_DAY2 = yahoo_xml("example.org", "1764633600.448195", DAY1 + DAY, [
    rec("192.0.2.10", 18, "pass", "pass", OWN, ("example.org", "pass")),
    rec("203.0.113.77", 2, "fail", "fail", [("example.org", "", "fail")],
        ("forwarder.example", "pass"), reason=("forwarded", "looks forwarded")),
])
RFC9990_DAY3 = rfc9990_xml("example.org", "mx1.mail.example.net-20251203-0001", DAY1 + 2 * DAY, [
    rec("192.0.2.10", 5, "pass", "pass", OWN, ("example.org", "pass")),
    rec("198.51.100.25", 1, "fail", "fail", ESP, ("bounce.esp.example", "pass")),
])
ODDITY_DAY3 = oddity_xml("example.org", "20251203", DAY1 + 2 * DAY)
PARTIAL_DAY3 = partial_xml("example.org", DAY1 + 2 * DAY)


# ---- containers -----------------------------------------------------------------------------

def zip_bytes(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name, date_time=(2025, 12, 2, 6, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
    return buf.getvalue()


def gzip_bytes(data, name=None):
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name or "", mode="wb", fileobj=buf, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def b64_lines(data):
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def report_message(sender, subject, date, msgid, filename, ctype, data, encoding="base64",
                   disposition=True, boundary="----=_Part_0_1000.1764650000000"):
    """An RFC 7489 §7.2.1.1 report message: a short text part and the report attachment."""
    if encoding == "base64":
        body = b64_lines(data)
    else:
        body = data.decode()
    disp = ('Content-Disposition: attachment;\r\n\tfilename="%s"\r\n' % filename) if disposition else ""
    return ("From: %s\r\nTo: dmarc-rua@example.org\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; \r\n\tboundary=\"%s\"\r\n\r\n"
            "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            "This is an aggregate report from %s.\r\n\r\n--%s\r\n"
            "Content-Type: %s;\r\n\tname=\"%s\"\r\nContent-Transfer-Encoding: %s\r\n%s\r\n"
            "%s\r\n--%s--\r\n"
            % (sender, subject, date, msgid, boundary, boundary, sender.split("@")[-1].rstrip(">"),
               boundary, ctype, filename, encoding, disp, body, boundary)).encode()


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# What `credence report read` must count over inbox/ (worked out by hand from the records
# above; the tests compare).
EXPECTED = {
    "reports_counted": 8,
    "duplicates": 1,      # Google's day 1, again in the mbox
    "problems": 3,        # cut-short.xml, the record without <count>, the message with no report
    "domains": {
        "example.org": {
            "messages": 351, "dmarc_pass": 285, "dmarc_fail": 66, "reports": 7,
            "lost_under_quarantine": 66, "lost_under_reject": 66,
            "sources": {"192.0.2.10": 271, "198.51.100.25": 53, "2001:db8::25": 10,
                        "203.0.113.200": 8, "203.0.113.77": 5, "192.0.2.11": 4},
            "failing_selectors": {"example.org/mail2025/fail": 3, "example.org/old2023/fail": 4,
                                  "example.org//fail": 2},
            "days": {"2025-12-01": [154, 55], "2025-12-02": [123, 9], "2025-12-03": [8, 2]},
            "reporters": ["Mail Example Net", "Outlook.com", "Small ISP", "Yahoo", "google.com",
                          "partial.example"],
        },
        "example.net": {
            "messages": 6, "dmarc_pass": 0, "dmarc_fail": 6, "reports": 1,
            "lost_under_quarantine": 0, "lost_under_reject": 0,
            "sources": {"203.0.113.200": 6},
            "failing_selectors": {},
            "days": {"2025-12-01": [0, 6]},
            "reporters": ["google.com"],
        },
    },
}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=1, sort_keys=True)
        f.write("\n")
    g1_name = "google.com!example.org!%d!%d" % (DAY1, DAY1 + DAY - 1)
    g1_zip = zip_bytes(g1_name + ".xml", GOOGLE_DAY1)
    # 1. Google's day 1 as the .zip attachment saved to disk.
    write(g1_name + ".zip", g1_zip)
    # 2. Google's day 2 as the whole report message (application/zip, base64).
    g2_name = "google.com!example.org!%d!%d" % (DAY1 + DAY, DAY1 + 2 * DAY - 1)
    write("google-day2.eml", report_message(
        "noreply-dmarc-support@google.com", "Report domain: example.org Submitter: google.com "
        "Report-ID: 4021569771100322281", "Wed, 03 Dec 2025 06:12:40 -0800",
        "4021569771100322281@google.com", g2_name + ".zip", "application/zip",
        zip_bytes(g2_name + ".xml", GOOGLE_DAY2)))
    # 3. Outlook.com's day 1 as the .xml.gz saved to disk.
    ms_name = "enterprise.protection.outlook.com!example.org!%d!%d.xml.gz" % (DAY1, DAY1 + DAY)
    write(ms_name, gzip_bytes(MICROSOFT_DAY1, ms_name[:-3]))
    # 4. An mbox: Yahoo's day 2 (application/gzip), a second copy of Google's day 1
    #    (application/zip: counted once), and a message that is not a report.
    yahoo_msg = report_message(
        "Yahoo DMARC <noreply@dmarc.yahoo.com>", "Report Domain: example.org Submitter: "
        "yahoo.com Report-ID: <1764633600.448195>", "Thu, 04 Dec 2025 01:02:03 +0000",
        "1764633600.448195@dmarc.yahoo.com",
        "yahoo.com!example.org!%d!%d.xml.gz" % (DAY1 + DAY, DAY1 + 2 * DAY - 1),
        "application/gzip", gzip_bytes(YAHOO_DAY2), boundary="_----yahoo-0001")
    dup_msg = report_message(
        "noreply-dmarc-support@google.com", "Report domain: example.org Submitter: google.com "
        "Report-ID: 12866342987318459230", "Tue, 02 Dec 2025 06:10:00 -0800",
        "12866342987318459230@google.com", g1_name + ".zip", "application/zip", g1_zip)
    note = (b"From: postmaster@example.org\r\nTo: dmarc-rua@example.org\r\nSubject: test\r\n"
            b"Date: Tue, 02 Dec 2025 10:00:00 +0000\r\nMessage-ID: <note@example.org>\r\n\r\n"
            b"Just checking the mailbox works.\r\n")
    mbox = b""
    for env, msg in (("noreply@dmarc.yahoo.com Thu Dec  4 01:02:05 2025", yahoo_msg),
                     ("noreply-dmarc-support@google.com Tue Dec  2 14:10:02 2025", dup_msg),
                     ("postmaster@example.org Tue Dec  2 10:00:01 2025", note)):
        mbox += b"From " + env.encode() + b"\n" + msg.replace(b"\r\n", b"\n") + b"\n"
    write("archive/2025-12/dmarc.mbox", mbox)
    # 5. A maildir: the RFC 9990 report (text/xml, quoted-printable-free 7bit XML) and the
    #    oddity report as gzip inside a file named .zip, labelled application/octet-stream.
    write("Maildir/cur/1764740000.M1P1.mx:2,S", report_message(
        "dmarc-reports@mail.example.net", "Report Domain: example.org Submitter: "
        "mail.example.net Report-ID: mx1.mail.example.net-20251203-0001",
        "Thu, 04 Dec 2025 00:05:00 +0000", "r1@mail.example.net",
        "mail.example.net!example.org!%d!%d.xml" % (DAY1 + 2 * DAY, DAY1 + 3 * DAY - 1),
        "text/xml", RFC9990_DAY3, encoding="7bit"))
    write("Maildir/new/1764740100.M2P2.mx", report_message(
        "dmarc@smallisp.example", "DMARC report for example.org", "Thu, 04 Dec 2025 00:06:00 +0000",
        "r2@smallisp.example", "smallisp.example!example.org!20251203.zip",
        "application/octet-stream", gzip_bytes(ODDITY_DAY3), disposition=False))
    os.makedirs(os.path.join(OUT, "Maildir", "tmp"), exist_ok=True)
    write("Maildir/tmp/.keep", b"")
    # 6. The parked domain's report as plain XML.
    write("google.com!example.net!%d!%d.xml" % (DAY1, DAY1 + DAY - 1), GOOGLE_NET)
    # 7. Malformed: a report cut in the middle of a record; a report with a record without
    #    <count> (gzip).
    write("broken/cut-short.xml", GOOGLE_DAY2[: len(GOOGLE_DAY2) // 2])
    write("broken/partial.example!example.org.xml.gz", gzip_bytes(PARTIAL_DAY3))


if __name__ == "__main__":
    main()
