// `credence report read`'s library (plugin/reports): the XML parser of both eras and every
// real-world oddity, strictness about counts and source addresses, hostile documents (DTD,
// depth, sizes), the containers (gzip, zip, MIME messages, mbox, maildir, directories), the
// decompression caps, duplicates, the summary and its formats, and the corpus under
// tests/data/dmarc-reports against its expected.json.
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "credence/reports/format.h"
#include "credence/reports/read.h"
#include "credence/reports/report.h"
#include "credence/reports/summary.h"
#include "reports/mime.h"
#include "reports/zip_reader.h"
#include "temp_dir.h"

namespace credence::reports {
namespace {

using testing::TempDir;

const std::string kData = std::string(CREDENCE_TEST_DATA) + "/dmarc-reports";

std::string Record(const std::string& ip, const std::string& count, const std::string& dkim = "pass",
                   const std::string& spf = "pass", const std::string& disp = "none") {
  std::string r = "<record><row>";
  if (!ip.empty()) r += "<source_ip>" + ip + "</source_ip>";
  if (!count.empty()) r += "<count>" + count + "</count>";
  r += "<policy_evaluated><disposition>" + disp + "</disposition><dkim>" + dkim + "</dkim><spf>" +
       spf + "</spf></policy_evaluated></row><identifiers><header_from>example.org</header_from>"
       "</identifiers><auth_results><dkim><domain>example.org</domain><selector>s1</selector>"
       "<result>" + dkim + "</result></dkim><spf><domain>example.org</domain><result>" + spf +
       "</result></spf></auth_results></record>";
  return r;
}

std::string Report(const std::string& records, const std::string& id = "r1",
                   const std::string& org = "rep.example", int64_t begin = 1764547200,
                   const std::string& root_attrs = "", const std::string& domain = "example.org") {
  return "<?xml version=\"1.0\"?><feedback" + root_attrs + "><report_metadata><org_name>" + org +
         "</org_name><email>r@rep.example</email><report_id>" + id +
         "</report_id><date_range><begin>" + std::to_string(begin) + "</begin><end>" +
         std::to_string(begin + 86399) + "</end></date_range></report_metadata>"
         "<policy_published><domain>" + domain + "</domain><p>none</p></policy_published>" +
         records + "</feedback>";
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// RFC 1952 gzip of `data` (zlib, tests only).
std::string Gzip(const std::string& data) {
  z_stream zs{};
  BOOST_REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  BOOST_REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void Le(std::string* s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) *s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A zip archive of stored (uncompressed) files, PKWARE APPNOTE 4.3.7 / 4.3.12 / 4.3.16.
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string local, central;
  for (const auto& [name, data] : files) {
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(data.data()),
                               static_cast<uInt>(data.size()));
    const uint32_t offset = static_cast<uint32_t>(local.size());
    local += "PK\x03\x04";
    Le(&local, 20, 2); Le(&local, 0, 2); Le(&local, 0, 2); Le(&local, 0, 2); Le(&local, 0, 2);
    Le(&local, crc, 4); Le(&local, static_cast<uint32_t>(data.size()), 4);
    Le(&local, static_cast<uint32_t>(data.size()), 4);
    Le(&local, static_cast<uint32_t>(name.size()), 2); Le(&local, 0, 2);
    local += name + data;
    central += "PK\x01\x02";
    Le(&central, 20, 2); Le(&central, 20, 2); Le(&central, 0, 2); Le(&central, 0, 2);
    Le(&central, 0, 2); Le(&central, 0, 2); Le(&central, crc, 4);
    Le(&central, static_cast<uint32_t>(data.size()), 4);
    Le(&central, static_cast<uint32_t>(data.size()), 4);
    Le(&central, static_cast<uint32_t>(name.size()), 2);
    Le(&central, 0, 2); Le(&central, 0, 2); Le(&central, 0, 2); Le(&central, 0, 2);
    Le(&central, 0, 4); Le(&central, offset, 4);
    central += name;
  }
  std::string out = local + central + "PK\x05\x06";
  Le(&out, 0, 2); Le(&out, 0, 2);
  Le(&out, static_cast<uint32_t>(files.size()), 2); Le(&out, static_cast<uint32_t>(files.size()), 2);
  Le(&out, static_cast<uint32_t>(central.size()), 4); Le(&out, static_cast<uint32_t>(local.size()), 4);
  Le(&out, 0, 2);
  return out;
}

std::string Message(const std::string& ctype, const std::string& cte, const std::string& body,
                    const std::string& filename = "report.bin") {
  return "From: r@rep.example\r\nSubject: Report\r\nMIME-Version: 1.0\r\nContent-Type: "
         "multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n"
         "\r\nA report.\r\n--b1\r\nContent-Type: " + ctype + "; name=\"" + filename +
         "\"\r\nContent-Transfer-Encoding: " + cte +
         "\r\nContent-Disposition: attachment; filename=\"" + filename + "\"\r\n\r\n" + body +
         "\r\n--b1--\r\n";
}

std::string Base64(const std::string& data) {
  static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) | static_cast<unsigned char>(data[i + 2]);
    out += k[v >> 18]; out += k[(v >> 12) & 63]; out += k[(v >> 6) & 63]; out += k[v & 63];
    if (out.size() % 78 == 76) out += "\r\n";
  }
  if (i + 1 == data.size()) {
    uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    out += k[v >> 18]; out += k[(v >> 12) & 63]; out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += k[v >> 18]; out += k[(v >> 12) & 63]; out += k[(v >> 6) & 63]; out += '=';
  }
  return out;
}

ReadResult ReadOne(const std::string& bytes, const ReadLimits& limits = {}) {
  ReportReader reader(limits);
  reader.AddBytes("input", bytes);
  return reader.Take();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report_xml)

BOOST_AUTO_TEST_CASE(rfc7489_report_without_namespace) {
  Result<AggregateReport> r = ParseAggregateReport(
      Report(Record("192.0.2.1", "12") + Record("2001:DB8:0:0::1", "3", "fail", "fail")));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK(r->era == ReportEra::kRfc7489);
  BOOST_CHECK_EQUAL(r->org_name, "rep.example");
  BOOST_CHECK_EQUAL(r->report_id, "r1");
  BOOST_CHECK_EQUAL(r->begin, 1764547200);
  BOOST_CHECK_EQUAL(r->end, 1764547200 + 86399);
  BOOST_CHECK_EQUAL(r->policy.domain, "example.org");
  BOOST_REQUIRE_EQUAL(r->records.size(), 2u);
  BOOST_CHECK_EQUAL(r->records[0].source_ip, "192.0.2.1");
  BOOST_CHECK_EQUAL(r->records[0].count, 12u);
  BOOST_CHECK(r->records[0].DmarcPass());
  BOOST_CHECK_EQUAL(r->records[1].source_ip, "2001:db8::1");  // inet_ntop's form
  BOOST_CHECK(!r->records[1].DmarcPass());
  BOOST_CHECK_EQUAL(r->records[0].dkim.at(0).selector, "s1");
  BOOST_CHECK_EQUAL(r->MessageCount(), 15u);
  BOOST_CHECK(r->problems.empty());
}

// A date range past the year 9999 has no day to count the report under (the HTML page cut
// its day label and failed whole): the report is refused and named, the others still count.
BOOST_AUTO_TEST_CASE(dates_after_the_year_9999_are_refused) {
  const int64_t last = 253402300799;  // 9999-12-31T23:59:59Z
  BOOST_TEST(ParseAggregateReport(Report(Record("192.0.2.1", "1"), "ok", "rep.example",
                                         last - 86399)).ok());
  Result<AggregateReport> r =
      ParseAggregateReport(Report(Record("192.0.2.1", "1"), "late", "rep.example", last - 86398));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("is after the year 9999") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rfc9990_report_with_namespace) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"><version>1.0</version>"
      "<report_metadata><org_name>Mail Example</org_name><email>d@mail.example</email>"
      "<report_id>x-1</report_id><date_range><begin>100</begin><end>200</end></date_range>"
      "<generator>examplemta 4.2</generator></report_metadata><policy_published>"
      "<domain>example.org</domain><discovery_method>psl</discovery_method><p>reject</p>"
      "<sp>quarantine</sp><np>reject</np><testing>y</testing></policy_published>" +
      Record("198.51.100.7", "4", "fail", "pass", "quarantine") +
      "<extensions><e:x xmlns:e=\"urn:e\">1</e:x></extensions></feedback>";
  Result<AggregateReport> r = ParseAggregateReport(xml);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK(r->era == ReportEra::kRfc9990);
  BOOST_CHECK_EQUAL(r->version, "1.0");
  BOOST_CHECK_EQUAL(r->generator, "examplemta 4.2");
  BOOST_CHECK_EQUAL(r->policy.np, "reject");
  BOOST_CHECK_EQUAL(r->policy.testing, "y");
  BOOST_CHECK_EQUAL(r->policy.discovery_method, "psl");
  BOOST_REQUIRE_EQUAL(r->records.size(), 1u);
  BOOST_CHECK_EQUAL(r->records[0].disposition, "quarantine");
  BOOST_CHECK(r->records[0].DmarcPass());  // SPF aligned
}

BOOST_AUTO_TEST_CASE(other_namespace_and_prefixed_elements) {
  Result<AggregateReport> r = ParseAggregateReport(Report(
      Record("192.0.2.1", "1"), "r1", "rep.example", 1764547200,
      " xmlns=\"http://dmarc.org/dmarc-xml/0.1\""));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK(r->era == ReportEra::kOther);
  const std::string prefixed =
      "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\"><d:report_metadata><d:org_name>o"
      "</d:org_name><d:report_id>i</d:report_id><d:date_range><d:begin>1</d:begin><d:end>2"
      "</d:end></d:date_range></d:report_metadata><d:policy_published><d:domain>example.org"
      "</d:domain></d:policy_published><d:record><d:row><d:source_ip>192.0.2.9</d:source_ip>"
      "<d:count>5</d:count></d:row></d:record></d:feedback>";
  r = ParseAggregateReport(prefixed);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK(r->era == ReportEra::kRfc9990);
  BOOST_CHECK_EQUAL(r->MessageCount(), 5u);
}

BOOST_AUTO_TEST_CASE(real_world_oddities) {
  // A BOM and blank lines before the declaration, white space around values, upper-case
  // words, unknown elements, optional elements left out, trailing NUL padding.
  const std::string xml =
      "\xEF\xBB\xBF\r\n\n  <?xml version='1.0'?>\n<feedback><report_metadata><org_name> Small ISP "
      "</org_name><report_id>\n  id-7\n</report_id><date_range><begin> 100 </begin><end>\n200\n"
      "</end></date_range><x-build>7</x-build></report_metadata><policy_published><domain>"
      "EXAMPLE.Org.</domain><p>NONE</p></policy_published><record><row><source_ip> 192.0.2.10 "
      "</source_ip><count> 2 </count><policy_evaluated><disposition>None</disposition><dkim>PASS"
      "</dkim><spf>Fail</spf><reason><type>Forwarded</type></reason></policy_evaluated></row>"
      "<identifiers><header_from>Example.ORG.</header_from></identifiers><auth_results><dkim>"
      "<domain>EXAMPLE.org</domain><result>Pass</result><human_result>ok</human_result></dkim>"
      "<unknown><deep>1</deep></unknown></auth_results></record></feedback>\n\n" +
      std::string(3, '\0');
  Result<AggregateReport> r = ParseAggregateReport(xml);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK_EQUAL(r->org_name, "Small ISP");
  BOOST_CHECK_EQUAL(r->report_id, "id-7");
  BOOST_CHECK_EQUAL(r->begin, 100);
  BOOST_CHECK_EQUAL(r->end, 200);
  BOOST_CHECK_EQUAL(r->policy.domain, "example.org");
  BOOST_CHECK_EQUAL(r->policy.p, "none");
  BOOST_REQUIRE_EQUAL(r->records.size(), 1u);
  const ReportRecord& rec = r->records[0];
  BOOST_CHECK_EQUAL(rec.source_ip, "192.0.2.10");
  BOOST_CHECK_EQUAL(rec.count, 2u);
  BOOST_CHECK_EQUAL(rec.disposition, "none");
  BOOST_CHECK_EQUAL(rec.dkim_aligned, "pass");
  BOOST_CHECK_EQUAL(rec.spf_aligned, "fail");
  BOOST_CHECK_EQUAL(rec.reasons.at(0).type, "forwarded");
  BOOST_CHECK_EQUAL(rec.header_from, "example.org");
  BOOST_REQUIRE_EQUAL(rec.dkim.size(), 1u);
  BOOST_CHECK_EQUAL(rec.dkim[0].domain, "example.org");
  BOOST_CHECK_EQUAL(rec.dkim[0].selector, "");
  BOOST_CHECK_EQUAL(rec.dkim[0].result, "pass");
  BOOST_CHECK(rec.spf.empty());
  BOOST_CHECK(r->email.empty());
}

BOOST_AUTO_TEST_CASE(utf16_document) {
  const std::string utf8 = Report(Record("192.0.2.1", "1"));
  std::string utf16 = "\xFF\xFE";
  for (char c : utf8) {
    utf16 += c;
    utf16 += '\0';
  }
  Result<AggregateReport> r = ParseAggregateReport(utf16);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK_EQUAL(r->MessageCount(), 1u);
}

BOOST_AUTO_TEST_CASE(records_without_count_or_address_are_reported_not_guessed) {
  Result<AggregateReport> r = ParseAggregateReport(Report(
      Record("192.0.2.1", "5") + Record("", "3") + Record("192.0.2.2", "") +
      Record("not-an-ip", "1") + Record("192.0.2.3", "-4") + Record("192.0.2.4", "1e3") +
      Record("192.0.2.5", "99999999999999999999") + Record("192.0.2.6", "7")));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_REQUIRE_EQUAL(r->records.size(), 2u);
  BOOST_CHECK_EQUAL(r->MessageCount(), 12u);
  BOOST_REQUIRE_EQUAL(r->problems.size(), 6u);
  BOOST_CHECK_EQUAL(r->problems[0], "record 2: no <source_ip> (record left out)");
  BOOST_CHECK_EQUAL(r->problems[1], "record 3: no <count> (record left out)");
  BOOST_CHECK(r->problems[2].find("'not-an-ip' is not an IP address") != std::string::npos);
  BOOST_CHECK(r->problems[3].find("'-4' is not a whole number") != std::string::npos);
  BOOST_CHECK(r->problems[4].find("record 6") == 0);
  BOOST_CHECK(r->problems[5].find("record 7") == 0);
}

BOOST_AUTO_TEST_CASE(missing_metadata_is_an_error) {
  struct Case {
    std::string xml;
    std::string expect;
  };
  const std::string rec = Record("192.0.2.1", "1");
  const Case cases[] = {
      {"<feedback><report_metadata><org_name>o</org_name><date_range><begin>1</begin><end>2</end>"
       "</date_range></report_metadata><policy_published><domain>d.example</domain>"
       "</policy_published></feedback>", "no report_metadata/report_id"},
      {"<feedback><report_metadata><org_name>o</org_name><report_id>i</report_id>"
       "</report_metadata><policy_published><domain>d.example</domain></policy_published>"
       "</feedback>", "no report_metadata/date_range (begin and end)"},
      {"<feedback><report_metadata><org_name>o</org_name><report_id>i</report_id><date_range>"
       "<begin>1</begin><end>2</end></date_range></report_metadata></feedback>",
       "no policy_published/domain"},
      {"<feedback><report_metadata><org_name>o</org_name><report_id>i</report_id><date_range>"
       "<begin>yesterday</begin><end>2</end></date_range></report_metadata><policy_published>"
       "<domain>d.example</domain></policy_published></feedback>", "date_range/begin 'yesterday'"},
      {"<feedback><report_metadata><org_name>o</org_name><report_id>i</report_id><date_range>"
       "<begin>5</begin><end>2</end></date_range></report_metadata><policy_published>"
       "<domain>d.example</domain></policy_published></feedback>", "ends before it begins"},
      {"<report><x/></report>", "the root element is <report>, not <feedback>"},
      {"<feedback><report_metadata>", "not well-formed XML at line 1"},
      {"", "empty document"},
      {"   \n\xEF\xBB\xBF", "not well-formed"},
  };
  for (const Case& c : cases) {
    Result<AggregateReport> r = ParseAggregateReport(c.xml);
    BOOST_REQUIRE(!r.ok());
    BOOST_CHECK_MESSAGE(r.status().message().find(c.expect) != std::string::npos,
                        r.status().message() + " (expected: " + c.expect + ")");
  }
}

BOOST_AUTO_TEST_CASE(doctype_and_entities_refused) {
  const std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
      "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><feedback>&lol2;</feedback>";
  Result<AggregateReport> r = ParseAggregateReport(laughs);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().message().find("DOCTYPE: refused") != std::string::npos);
  const std::string external =
      "<?xml version=\"1.0\"?><!DOCTYPE feedback SYSTEM \"http://192.0.2.1/x.dtd\"><feedback/>";
  r = ParseAggregateReport(external);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().message().find("DOCTYPE") != std::string::npos);
  // An entity used without a declaration is an XML error, never a fetch.
  r = ParseAggregateReport("<feedback>&ext;</feedback>");
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().message().find("undefined entity") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bounds) {
  XmlLimits limits;
  limits.max_depth = 10;
  std::string deep = "<feedback>";
  for (int i = 0; i < 20; ++i) deep += "<a>";
  Result<AggregateReport> r = ParseAggregateReport(deep, limits);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().code() == StatusCode::kTooLarge);
  BOOST_CHECK(r.status().message().find("nested deeper than 10") != std::string::npos);

  limits = XmlLimits();
  limits.max_text_bytes = 100;
  r = ParseAggregateReport(Report(Record("192.0.2.1", "1"), std::string(200, 'x')), limits);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().message().find("longer than 100 bytes") != std::string::npos);

  limits = XmlLimits();
  limits.max_records = 2;
  r = ParseAggregateReport(Report(Record("192.0.2.1", "1") + Record("192.0.2.1", "1") +
                                  Record("192.0.2.1", "1")), limits);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().message().find("more than 2 records") != std::string::npos);

  limits = XmlLimits();
  limits.max_bytes = 50;
  r = ParseAggregateReport(Report(""), limits);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.status().code() == StatusCode::kTooLarge);

  // Text between many records is not one element's text.
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "\n  " + Record("192.0.2.1", "1") + "\n";
  r = ParseAggregateReport(Report(many), XmlLimits{.max_text_bytes = 1000});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  BOOST_CHECK_EQUAL(r->MessageCount(), 3000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_inputs)

BOOST_AUTO_TEST_CASE(duplicates_counted_once) {
  ReportReader reader;
  const std::string a = Report(Record("192.0.2.1", "10"));
  reader.AddBytes("a.xml", a);
  reader.AddBytes("b.xml.gz", Gzip(a));
  reader.AddBytes("c.xml", Report(Record("192.0.2.1", "10"), "r1", "rep.example", 1764547200 + 86400));
  reader.AddBytes("d.xml", Report(Record("192.0.2.1", "10"), "r1", "other.example"));
  ReadResult res = reader.Take();
  BOOST_CHECK_EQUAL(res.reports.size(), 3u);
  BOOST_REQUIRE_EQUAL(res.duplicates.size(), 1u);
  BOOST_CHECK_EQUAL(res.duplicates[0].source, "b.xml.gz");
  BOOST_CHECK_EQUAL(res.duplicates[0].first_source, "a.xml");
  BOOST_CHECK_EQUAL(res.documents, 4u);
  BOOST_CHECK(res.problems.empty());
}

// Date ranges a report cannot have: one ending days from now, one spanning months (either
// would stand as the latest published policy and spread over the summary's days).
BOOST_AUTO_TEST_CASE(implausible_date_ranges_are_problems) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  ReportReader reader;
  reader.AddBytes("future.xml", Report(Record("192.0.2.1", "5"), "f1", "rep.example", now + 5 * 86400));
  std::string months = Report(Record("192.0.2.1", "5"), "m1");
  const std::string end = "<end>" + std::to_string(1764547200 + 86399) + "</end>";
  BOOST_REQUIRE(months.find(end) != std::string::npos);
  months.replace(months.find(end), end.size(),
                 "<end>" + std::to_string(1764547200 + 90 * 86400) + "</end>");
  reader.AddBytes("months.xml", months);
  reader.AddBytes("today.xml", Report(Record("192.0.2.1", "5"), "t1", "rep.example", now - 86400));
  ReadResult res = reader.Take();
  BOOST_REQUIRE_EQUAL(res.reports.size(), 1u);
  BOOST_CHECK_EQUAL(res.reports[0].source, "today.xml");
  BOOST_REQUIRE_EQUAL(res.problems.size(), 2u);
  BOOST_CHECK(res.problems[0].error.message().find("future") != std::string::npos);
  BOOST_CHECK(res.problems[1].error.message().find("spans 90 days") != std::string::npos);
}

// A mail with more report parts than the MIME limit: the parts read are counted, and the
// input is a problem (exit 1), not a silent drop of the rest.
BOOST_AUTO_TEST_CASE(parts_past_the_mime_limit_are_a_problem) {
  std::string mail = "From: r@rep.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                     "boundary=\"b1\"\r\n\r\n";
  for (int i = 0; i < 300; ++i) {
    mail += "--b1\r\nContent-Type: text/xml\r\n\r\n" +
            Report(Record("192.0.2.1", "1"), "r" + std::to_string(i)) + "\r\n";
  }
  mail += "--b1--\r\n";
  ReportReader reader;
  reader.AddBytes("many.eml", mail);
  ReadResult res = reader.Take();
  BOOST_CHECK(!res.reports.empty());
  BOOST_CHECK_LT(res.reports.size(), 300u);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.message().find("too many parts") != std::string::npos);
}

// A report about another domain with the same org, id and dates is another report (a hostile
// reporter must not make a genuine one look like its copy); the same identity with other
// numbers is no copy: a problem, not counted.
BOOST_AUTO_TEST_CASE(duplicates_are_the_same_report_only) {
  ReportReader reader;
  reader.AddBytes("forged.xml", Report(Record("192.0.2.9", "1"), "r1", "rep.example", 1764547200,
                                       "", "attacker.example"));
  reader.AddBytes("genuine.xml", Report(Record("192.0.2.1", "1000")));
  reader.AddBytes("changed.xml", Report(Record("192.0.2.1", "7")));
  ReadResult res = reader.Take();
  BOOST_REQUIRE_EQUAL(res.reports.size(), 2u);
  BOOST_CHECK_EQUAL(res.reports[1].source, "genuine.xml");
  BOOST_CHECK_EQUAL(res.reports[1].messages, 1000u);
  BOOST_CHECK(res.duplicates.empty());
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK_EQUAL(res.problems[0].source, "changed.xml");
  BOOST_CHECK(res.problems[0].error.message().find("other numbers") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gzip_zip_and_gzip_named_zip) {
  const std::string xml = Report(Record("192.0.2.1", "3"));
  ReadResult res = ReadOne(StoredZip({{"dir/", ""}, {"r.xml", xml}}));
  BOOST_REQUIRE_EQUAL(res.reports.size(), 1u);
  BOOST_CHECK_EQUAL(res.reports[0].source, "input[r.xml]");
  res = ReadOne(Gzip(xml));
  BOOST_REQUIRE_EQUAL(res.reports.size(), 1u);
  // A zip whose entry is gzip, and a message whose ".zip" attachment is gzip.
  res = ReadOne(StoredZip({{"r.xml.gz", Gzip(xml)}}));
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
  res = ReadOne(Message("application/zip", "base64", Base64(Gzip(xml)), "r.zip"));
  BOOST_REQUIRE_EQUAL(res.reports.size(), 1u);
  BOOST_CHECK_EQUAL(res.reports[0].source, "input[r.zip]");
}

BOOST_AUTO_TEST_CASE(report_messages_whatever_the_mime_type) {
  const std::string xml = Report(Record("192.0.2.1", "3"));
  const std::pair<std::string, std::string> kinds[] = {
      {"application/gzip", Base64(Gzip(xml))},
      {"application/x-gzip", Base64(Gzip(xml))},
      {"application/zip", Base64(StoredZip({{"r.xml", xml}}))},
      {"application/octet-stream", Base64(Gzip(xml))},
      {"text/xml", Base64(xml)},
      {"text/plain", Base64(StoredZip({{"r.xml", xml}}))},
  };
  for (const auto& [type, body] : kinds) {
    ReadResult res = ReadOne(Message(type, "base64", body));
    BOOST_CHECK_MESSAGE(res.reports.size() == 1 && res.problems.empty(), type);
  }
  // 7bit and quoted-printable XML.
  ReadResult res = ReadOne(Message("text/xml", "7bit", xml));
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
  std::string qp;
  for (char c : xml) qp += c == '=' ? std::string("=3D") : std::string(1, c);
  res = ReadOne(Message("application/xml", "quoted-printable", qp));
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
  // A single-part message whose body is the report.
  res = ReadOne("From: a@b.example\r\nContent-Type: application/gzip\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + Base64(Gzip(xml)) + "\r\n");
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
  // A forwarded report: multipart inside message/rfc822.
  res = ReadOne("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
                "--outer\r\nContent-Type: message/rfc822\r\n\r\n" +
                Message("application/gzip", "base64", Base64(Gzip(xml))) + "\r\n--outer--\r\n");
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
}

BOOST_AUTO_TEST_CASE(malformed_inputs_are_problems) {
  struct Case {
    std::string bytes, expect;
  };
  const std::string xml = Report(Record("192.0.2.1", "3"));
  const std::string gz = Gzip(xml);
  const Case cases[] = {
      {"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n", "not a report"},
      {std::string("\x1f\x8b\x08\x00garbage", 12), "gzip"},
      {gz.substr(0, gz.size() / 2), "cut short"},
      {"PK\x03\x04 this is not a zip", "not a readable zip archive"},
      {StoredZip({}), "an empty zip archive"},
      {std::string("\x00\x01\x02 binary", 10), "not a report"},
      {"", "empty"},
      {"<html><body>hi</body></html>", "root element is <html>"},
  };
  for (const Case& c : cases) {
    ReadResult res = ReadOne(c.bytes);
    BOOST_CHECK(res.reports.empty());
    BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
    BOOST_CHECK_MESSAGE(res.problems[0].error.message().find(c.expect) != std::string::npos,
                        res.problems[0].error.message() + " (expected: " + c.expect + ")");
  }
  // A damaged zip entry (CRC): the entry is a problem, the archive's other entries are read.
  std::string zip = StoredZip({{"a.xml", xml}, {"b.xml", Report(Record("192.0.2.2", "1"), "r2")}});
  zip[zip.find("192.0.2.1")] = '7';
  ReadResult res = ReadOne(zip);
  BOOST_CHECK_EQUAL(res.reports.size(), 1u);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK_EQUAL(res.problems[0].source, "input[a.xml]");
  // ... and the damaged entry holds none of its bytes (fuzz_zip_reader's first finding: the
  // bytes read before a failing read were kept).
  Result<std::vector<ZipEntry>> entries = ReadZip(zip);
  BOOST_REQUIRE(entries.ok());
  BOOST_REQUIRE_EQUAL(entries->size(), 2u);
  BOOST_CHECK(!(*entries)[0].error.ok());
  BOOST_CHECK((*entries)[0].bytes.empty());
  BOOST_CHECK((*entries)[1].error.ok());
  const std::string seed = Slurp(std::string(CREDENCE_TEST_DATA) +
                                 "/../fuzz/corpus/zip_reader/regression-damaged-entry-bytes");
  BOOST_REQUIRE(!seed.empty());
  entries = ReadZip(seed);
  if (entries.ok()) {
    for (const ZipEntry& e : *entries) BOOST_CHECK(e.error.ok() || e.bytes.empty());
  }
}

BOOST_AUTO_TEST_CASE(decompression_caps) {
  const std::string xml = Report(Record("192.0.2.1", "3"));
  // A gzip bomb in miniature: 8 MiB of zeros compress to ~8 KiB.
  const std::string bomb = Gzip(std::string(8u << 20, '\0'));
  ReadLimits limits;
  limits.max_decompressed_bytes = 1u << 20;
  ReadResult res = ReadOne(bomb, limits);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.code() == StatusCode::kTooLarge);
  BOOST_CHECK(res.problems[0].error.message().find("decompresses to more than 1048576") !=
              std::string::npos);
  // The same cap on a zip entry (stored: the archive says its size, which is not trusted).
  res = ReadOne(StoredZip({{"big.xml", std::string(2u << 20, ' ')}}), limits);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.code() == StatusCode::kTooLarge);
  // The run's total: two reports of ~1 KB fit in 3 KB, the third does not.
  limits = ReadLimits();
  limits.max_total_decompressed = xml.size() * 2 + 10;
  ReportReader reader(limits);
  reader.AddBytes("1", Gzip(xml));
  reader.AddBytes("2", Gzip(Report(Record("192.0.2.1", "3"), "r2")));
  reader.AddBytes("3", Gzip(Report(Record("192.0.2.1", "3"), "r3")));
  res = reader.Take();
  BOOST_CHECK_EQUAL(res.reports.size(), 2u);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.message().find("decompressed total") != std::string::npos);
  // Too many zip entries.
  limits = ReadLimits();
  limits.max_zip_entries = 2;
  res = ReadOne(StoredZip({{"a", xml}, {"b", xml}, {"c", xml}}), limits);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.message().find("more than 2 files") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nesting_bounded) {
  const std::string xml = Report(Record("192.0.2.1", "3"));
  std::string inner = xml;
  for (int i = 0; i < 3; ++i) inner = Gzip(inner);
  BOOST_CHECK_EQUAL(ReadOne(inner).reports.size(), 1u);  // 3 containers: the default bound
  inner = Gzip(inner);
  ReadResult res = ReadOne(inner);
  BOOST_CHECK(res.reports.empty());
  BOOST_REQUIRE_EQUAL(res.problems.size(), 1u);
  BOOST_CHECK(res.problems[0].error.message().find("nested deeper than 3") != std::string::npos);
  // Zip in zip in zip in zip.
  std::string z = xml;
  for (int i = 0; i < 5; ++i) z = StoredZip({{"x", z}});
  res = ReadOne(z);
  BOOST_CHECK(res.reports.empty());
  BOOST_CHECK_EQUAL(res.problems.size(), 1u);
}

BOOST_AUTO_TEST_CASE(files_mbox_maildir_directories) {
  TempDir dir;
  const std::string a = Report(Record("192.0.2.1", "1"), "a");
  const std::string b = Report(Record("192.0.2.1", "2"), "b");
  const std::string c = Report(Record("192.0.2.1", "4"), "c");
  const std::string d = Report(Record("192.0.2.1", "8"), "d");
  dir.Write("in/a.xml", a);
  dir.Write("in/sub/b.xml.gz", Gzip(b));
  dir.Write("in/box.mbox", "From x@y Mon Dec  1 00:00:00 2025\n" +
                               Message("application/gzip", "base64", Base64(Gzip(c))) +
                               "\nFrom x@y Mon Dec  1 00:00:01 2025\nSubject: no report\n\nhi\n");
  dir.Write("in/md/cur/1.x:2,S", Message("text/xml", "7bit", d));
  dir.Write("in/md/new/2.x", Message("text/xml", "7bit", d));  // a duplicate
  dir.Write("in/.hidden.xml", "junk");
  ReportReader reader;
  reader.AddPath((dir.path / "in").string());
  reader.AddPath((dir.path / "missing.xml").string());
  ReadResult res = reader.Take();
  uint64_t total = 0;
  for (const SourcedReport& s : res.reports) total += s.report.MessageCount();
  BOOST_CHECK_EQUAL(res.reports.size(), 4u);
  BOOST_CHECK_EQUAL(total, 15u);
  BOOST_CHECK_EQUAL(res.duplicates.size(), 1u);
  BOOST_REQUIRE_EQUAL(res.problems.size(), 2u);  // the message without a report, missing.xml
  BOOST_CHECK(res.problems[0].source.ends_with("box.mbox:2"));
  BOOST_CHECK(res.problems[1].error.code() == StatusCode::kNotFound);
}

BOOST_AUTO_TEST_CASE(mime_leaves) {
  bool truncated = false;
  std::vector<MimeLeaf> leaves = MimeLeaves(
      Message("Application/GZIP", "BASE64", Base64("hello"), "r.xml.gz"), MimeLimits{}, &truncated);
  BOOST_REQUIRE_EQUAL(leaves.size(), 2u);
  BOOST_CHECK_EQUAL(leaves[0].content_type, "text/plain");
  BOOST_CHECK_EQUAL(leaves[1].content_type, "application/gzip");
  BOOST_CHECK_EQUAL(leaves[1].filename, "r.xml.gz");
  BOOST_CHECK_EQUAL(leaves[1].bytes, "hello");
  BOOST_CHECK(!truncated);
  // Nesting past the bound is not opened.
  std::string m = "x";
  for (int i = 0; i < 12; ++i) {
    m = "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
        std::to_string(i) + "\r\n" + m + "\r\n--b" + std::to_string(i) + "--\r\n";
  }
  leaves = MimeLeaves(m, MimeLimits{}, &truncated);
  BOOST_CHECK(truncated);
  BOOST_CHECK_EQUAL(DecodeBase64("aGVs\r\nbG8=\r\n"), "hello");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_summary)

BOOST_AUTO_TEST_CASE(counts_lost_and_selectors) {
  std::vector<SourcedReport> reports;
  Result<AggregateReport> r = ParseAggregateReport(Report(
      Record("192.0.2.1", "10") + Record("192.0.2.2", "4", "fail", "fail") +
      Record("192.0.2.2", "3", "fail", "fail", "quarantine") +
      Record("192.0.2.3", "2", "fail", "fail", "reject")));
  BOOST_REQUIRE(r.ok());
  reports.push_back({"a", *r});
  Summary s = Summarize(reports);
  BOOST_REQUIRE_EQUAL(s.domains.size(), 1u);
  const DomainSummary& d = s.domains[0];
  BOOST_CHECK_EQUAL(d.counts.messages, 19u);
  BOOST_CHECK_EQUAL(d.counts.dmarc_pass, 10u);
  BOOST_CHECK_EQUAL(d.counts.dmarc_fail, 9u);
  BOOST_CHECK_EQUAL(d.counts.lost_quarantine, 4u);  // failed and delivered
  BOOST_CHECK_EQUAL(d.counts.lost_reject, 7u);      // ... and the quarantined ones
  BOOST_CHECK_EQUAL(d.counts.quarantine, 3u);
  BOOST_CHECK_EQUAL(d.counts.reject, 2u);
  BOOST_REQUIRE_EQUAL(d.sources.size(), 3u);
  BOOST_CHECK_EQUAL(d.sources[0].ip, "192.0.2.1");
  BOOST_CHECK_EQUAL(d.sources[1].ip, "192.0.2.2");
  BOOST_CHECK_EQUAL(d.sources[1].counts.messages, 7u);
  BOOST_REQUIRE_EQUAL(d.failing_selectors.size(), 1u);
  BOOST_CHECK_EQUAL(d.failing_selectors[0].selector, "s1");
  BOOST_CHECK_EQUAL(d.failing_selectors[0].messages, 9u);
  BOOST_CHECK_EQUAL(d.rows.size(), 4u);
  BOOST_REQUIRE_EQUAL(d.days.size(), 1u);
  BOOST_CHECK_EQUAL(FormatDay(d.days[0].day), "2025-12-01");
}

// Past max_detail_bytes, a record with a new source, row or selector is counted under
// "(other)" in that table; totals, days and the entries already there stay exact. Without a
// budget the same reports give every source its row.
BOOST_AUTO_TEST_CASE(detail_tables_bounded_in_bytes) {
  std::string records;
  for (int i = 0; i < 200; ++i) records += Record("192.0.2." + std::to_string(i), "2", "fail", "fail");
  std::vector<SourcedReport> reports;
  reports.push_back({"a", *ParseAggregateReport(Report(records))});
  reports.push_back({"b", *ParseAggregateReport(Report(Record("192.0.2.0", "5"), "r2"))});
  Summary whole = Summarize(reports);
  BOOST_REQUIRE_EQUAL(whole.domains.size(), 1u);
  BOOST_CHECK(!whole.detail_cut);
  BOOST_CHECK_EQUAL(whole.domains[0].sources.size(), 200u);
  BOOST_CHECK_EQUAL(whole.domains[0].other_records, 0u);

  SummaryOptions o;
  o.max_detail_bytes = 20000;
  Summary s = Summarize(reports, o);
  BOOST_REQUIRE_EQUAL(s.domains.size(), 1u);
  const DomainSummary& d = s.domains[0];
  BOOST_CHECK(s.detail_cut);
  BOOST_CHECK_EQUAL(s.max_detail_bytes, 20000u);
  BOOST_CHECK_EQUAL(d.counts.messages, 405u);  // exact: 200 x 2 + 5
  BOOST_CHECK_EQUAL(d.counts.dmarc_fail, 400u);
  BOOST_REQUIRE_EQUAL(d.days.size(), 1u);
  BOOST_CHECK_EQUAL(d.days[0].fail, 400u);
  BOOST_CHECK(d.sources.size() < 200u);
  BOOST_CHECK(d.other_records > 0u);
  // 2 a record of the first report, 5 the second's (its source known, its row new).
  BOOST_CHECK_EQUAL(d.other_messages, 2 * d.other_records + 3);
  uint64_t in_sources = 0, in_rows = 0;
  const SourceSummary* other = nullptr;
  for (const SourceSummary& x : d.sources) {
    in_sources += x.counts.messages;
    if (x.ip == kOtherEntry) other = &x;
  }
  uint64_t rows_pass = 0;
  for (const ResultRow& x : d.rows) {
    in_rows += x.messages;
    if (x.dkim_aligned == "pass" || x.spf_aligned == "pass") rows_pass += x.messages;
  }
  BOOST_CHECK_EQUAL(in_sources, 405u);  // every message in some source, "(other)" included
  BOOST_CHECK_EQUAL(in_rows, 405u);
  // "(other)" rows keep the alignment results: the rows' DMARC split is still exact (the
  // second report's 5 passing messages are under "(other)").
  BOOST_CHECK_EQUAL(rows_pass, d.counts.dmarc_pass);
  BOOST_CHECK_EQUAL(d.counts.dmarc_pass, 5u);
  BOOST_REQUIRE(other != nullptr);
  // Of those records, the ones whose source was new (not the second report's, and not one
  // whose source still fitted when its row did not).
  BOOST_CHECK(other->counts.messages > 0u);
  BOOST_CHECK(other->counts.messages + 5 <= d.other_messages);
  // The first source (in the table before the budget ran out) keeps its own count: 2 + 5.
  BOOST_CHECK(std::any_of(d.sources.begin(), d.sources.end(), [](const SourceSummary& x) {
    return x.ip == "192.0.2.0" && x.counts.messages == 7;
  }));
  // The formats say so.
  ReadResult read;
  const std::string text = FormatText(s, read);
  BOOST_CHECK(text.find("is counted together under (other)") != std::string::npos);
  BOOST_CHECK(FormatText(whole, read).find("(other)") == std::string::npos);
  BOOST_CHECK(FormatHtml(s, read, "t").find("is counted together under (other)") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(filters_and_days) {
  std::vector<SourcedReport> reports;
  for (int i = 0; i < 3; ++i) {
    reports.push_back({"r", *ParseAggregateReport(Report(Record("192.0.2.1", "1"),
                                                         "id" + std::to_string(i), "o",
                                                         1764547200 + i * 86400))});
  }
  reports.push_back({"n", *ParseAggregateReport(Report(Record("192.0.2.1", "5"), "n", "o",
                                                       1764547200, "", "example.net"))});
  SummaryOptions o;
  o.domains = {"example.org"};
  o.since = 1764547200 + 86400;
  Summary s = Summarize(reports, o);
  BOOST_REQUIRE_EQUAL(s.domains.size(), 1u);
  BOOST_CHECK_EQUAL(s.reports, 2u);
  BOOST_CHECK_EQUAL(s.domains[0].days.size(), 2u);
  o = SummaryOptions();
  o.until = 1764547200;
  s = Summarize(reports, o);
  BOOST_CHECK_EQUAL(s.domains.size(), 2u);
  BOOST_CHECK_EQUAL(s.reports, 2u);
  // A report from 22:00 to 22:00 counts on the day most of it lies in.
  AggregateReport late;
  late.begin = 1764547200 - 7200;
  late.end = late.begin + 86400;
  BOOST_CHECK_EQUAL(FormatDay(ReportDay(late)), "2025-12-01");
}

BOOST_AUTO_TEST_CASE(formats_escape_reporter_text) {
  std::vector<SourcedReport> reports;
  Result<AggregateReport> r = ParseAggregateReport(Report(
      Record("192.0.2.1", "1234567"), "r", "&lt;script&gt;alert(1)&lt;/script&gt;"));
  BOOST_REQUIRE(r.ok());
  reports.push_back({"a", *r});
  ReadResult read;
  Summary s = Summarize(reports);
  const std::string html = FormatHtml(s, read, "T <b>");
  BOOST_CHECK(html.find("<script>alert") == std::string::npos);
  BOOST_CHECK(html.find("&lt;script&gt;alert(1)") != std::string::npos);
  BOOST_CHECK(html.find("T &lt;b&gt;") != std::string::npos);
  BOOST_CHECK(html.find("class=\"bar pass\"") != std::string::npos);
  BOOST_CHECK(html.find("http://") == std::string::npos ||
              html.find("http://www.w3.org/2000/svg") != std::string::npos);
  BOOST_CHECK(html.find("src=") == std::string::npos);
  const std::string text = FormatText(s, read);
  BOOST_CHECK(text.find("example.org: 1,234,567 messages in 1 report") != std::string::npos);
  const std::string csv = FormatCsv(s);
  BOOST_CHECK(csv.starts_with(std::string(kCsvHeader) + "\r\n"));
  BOOST_CHECK(csv.find("example.org,192.0.2.1,,1234567,pass,none,pass,pass,example.org,,"
                       "pass d=example.org s=s1,pass example.org,\r\n") != std::string::npos);
  BOOST_CHECK_EQUAL(Grouped(0), "0");
  BOOST_CHECK_EQUAL(Grouped(1000), "1,000");
}

BOOST_AUTO_TEST_CASE(corpus_matches_expected) {
  ReportReader reader;
  reader.AddPath(kData + "/inbox");
  ReadResult read = reader.Take();
  const nlohmann::json expected = nlohmann::json::parse(Slurp(kData + "/expected.json"));
  Summary s = Summarize(read.reports);
  BOOST_CHECK_EQUAL(s.reports, expected["reports_counted"].get<size_t>());
  BOOST_CHECK_EQUAL(read.duplicates.size(), expected["duplicates"].get<size_t>());
  for (const InputProblem& p : read.problems) BOOST_TEST_MESSAGE(p.source + ": " + p.error.message());
  BOOST_CHECK_EQUAL(read.problems.size(), expected["problems"].get<size_t>());
  BOOST_REQUIRE_EQUAL(s.domains.size(), expected["domains"].size());
  for (const DomainSummary& d : s.domains) {
    const nlohmann::json& e = expected["domains"][d.domain];
    BOOST_TEST_CONTEXT(d.domain) {
      BOOST_CHECK_EQUAL(d.counts.messages, e["messages"].get<uint64_t>());
      BOOST_CHECK_EQUAL(d.counts.dmarc_pass, e["dmarc_pass"].get<uint64_t>());
      BOOST_CHECK_EQUAL(d.counts.dmarc_fail, e["dmarc_fail"].get<uint64_t>());
      BOOST_CHECK_EQUAL(d.counts.lost_quarantine, e["lost_under_quarantine"].get<uint64_t>());
      BOOST_CHECK_EQUAL(d.counts.lost_reject, e["lost_under_reject"].get<uint64_t>());
      BOOST_CHECK_EQUAL(d.reports, e["reports"].get<size_t>());
      BOOST_CHECK_EQUAL(d.sources.size(), e["sources"].size());
      for (const SourceSummary& src : d.sources) {
        BOOST_CHECK_EQUAL(src.counts.messages, e["sources"].value(src.ip, uint64_t{0}));
      }
      BOOST_CHECK_EQUAL(d.failing_selectors.size(), e["failing_selectors"].size());
      for (const SelectorFailure& f : d.failing_selectors) {
        BOOST_CHECK_EQUAL(f.messages, e["failing_selectors"].value(
                                          f.domain + "/" + f.selector + "/" + f.result, uint64_t{0}));
      }
      BOOST_CHECK_EQUAL(d.days.size(), e["days"].size());
      for (const DaySummary& x : d.days) {
        BOOST_CHECK_EQUAL(x.pass, e["days"][FormatDay(x.day)][0].get<uint64_t>());
        BOOST_CHECK_EQUAL(x.fail, e["days"][FormatDay(x.day)][1].get<uint64_t>());
      }
      std::vector<std::string> orgs;
      for (const ReporterSummary& rep : d.reporters) orgs.push_back(rep.org_name);
      BOOST_CHECK(orgs == e["reporters"].get<std::vector<std::string>>());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credence::reports
