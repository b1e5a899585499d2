// The RFC 7208 record grammar checker (verifier/spf/record.h), driven by the manifest
// tests/data/spf/records.tsv, plus the /0 rewrite libspf2 needs.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "spf/record.h"
#include "spf/session.h"

namespace credence::spf {
namespace {

std::vector<std::string> LoadManifest() {
  std::vector<std::string> lines;
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/spf/records.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    lines.push_back(line);
  }
  return lines;
}

BOOST_AUTO_TEST_SUITE(spf_record)

BOOST_AUTO_TEST_CASE(manifest_loads) { BOOST_TEST(LoadManifest().size() >= 40u); }

BOOST_DATA_TEST_CASE(grammar, boost::unit_test::data::make(LoadManifest()), line) {
  size_t t1 = line.find('\t');
  size_t t2 = line.find('\t', t1 + 1);
  BOOST_REQUIRE(t1 != std::string::npos && t2 != std::string::npos);
  std::string expected = line.substr(0, t1);
  std::string record = line.substr(t1 + 1, t2 - t1 - 1);
  BOOST_REQUIRE(expected == "valid" || expected == "invalid");
  Status s = CheckSpfRecordSyntax(record);
  BOOST_TEST(s.ok() == (expected == "valid"), "'" << record << "': " << s.ToString());
}

// RFC 7208 §4.6.1: only SP separates terms (the manifest is tab-separated, so this is here).
BOOST_AUTO_TEST_CASE(tab_is_not_a_separator) {
  BOOST_TEST(!CheckSpfRecordSyntax("v=spf1 a\t-all").ok());
  BOOST_TEST(CheckSpfRecordSyntax("v=spf1 a -all").ok());
}

BOOST_AUTO_TEST_CASE(is_spf_record) {
  BOOST_TEST(IsSpfRecord("v=spf1"));
  BOOST_TEST(IsSpfRecord("v=spf1 -all"));
  BOOST_TEST(IsSpfRecord("V=SpF1 -all"));
  BOOST_TEST(!IsSpfRecord("v=spf1-all"));
  BOOST_TEST(!IsSpfRecord("v=spf10"));
  BOOST_TEST(!IsSpfRecord("spf2.0/pra -all"));
  BOOST_TEST(!IsSpfRecord(""));
}

BOOST_AUTO_TEST_CASE(check_domain) {
  BOOST_TEST(IsValidCheckDomain("example.com"));
  BOOST_TEST(IsValidCheckDomain("example.com."));
  BOOST_TEST(!IsValidCheckDomain("localhost"));
  BOOST_TEST(!IsValidCheckDomain("a..example.com"));
  BOOST_TEST(!IsValidCheckDomain("[192.0.2.1]"));
  BOOST_TEST(!IsValidCheckDomain(std::string(64, 'a') + ".example.com"));
  BOOST_TEST(IsValidCheckDomain(std::string(63, 'a') + ".example.com"));
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "abcdefghi.";
  BOOST_TEST(!IsValidCheckDomain(long_name + "com"));
}

// Records the targets a rewrite hands out; marker names are "<n>.t" here.
struct Targets {
  std::vector<std::pair<std::string, bool>> kept;  // (spec, ptr)
  AddTarget Add() {
    return [this](std::string_view spec, bool ptr) {
      kept.emplace_back(std::string(spec), ptr);
      return std::to_string(kept.size() - 1) + ".t";
    };
  }
};

std::string Rewrite(std::string_view record, bool v6, Targets* t = nullptr) {
  Targets local;
  return RewriteForLibspf2(record, v6, (t ? t : &local)->Add());
}

BOOST_AUTO_TEST_CASE(rewrite_zero_prefixes) {
  BOOST_TEST(Rewrite("v=spf1 -ip4:192.0.2.1/0", false) ==
             "v=spf1 -ip4:0.0.0.0/1 -ip4:128.0.0.0/1");
  BOOST_TEST(Rewrite("v=spf1 ip6:2001:db8::/0", true) == "v=spf1 ip6:::/1 ip6:8000::/1");
  BOOST_TEST(Rewrite("v=spf1 a/0 -all", false) == "v=spf1 a:0.t" + std::string(kAnyAddressSuffix) +
                                                      " -all");
  BOOST_TEST(Rewrite("v=spf1 a/0 -all", true) == "v=spf1 a:0.t -all");
  BOOST_TEST(Rewrite("v=spf1 mx:example.com/24//0", false) == "v=spf1 mx:0.t/24");
  BOOST_TEST(Rewrite("v=spf1 a/24 foo=bar -all", false) == "v=spf1 a:0.t/24 -all");
}

BOOST_AUTO_TEST_CASE(rewrite_leaves_libspf2_no_macro_and_no_name) {
  Targets t;
  std::string out = Rewrite(
      "v=spf1 exists:%{i}._spf.%{d2} -a:%{l1r-}.x.example.com/24//64 mx ptr ?ptr:%{d} "
      "include:_spf.example.net exp=why.%{d}",
      false, &t);
  BOOST_TEST(out == "v=spf1 exists:0.t -a:1.t/24//64 mx:2.t exists:3.t ?exists:4.t "
                    "include:5.t exp=6.t");
  BOOST_TEST(out.find('%') == std::string::npos);
  BOOST_TEST_REQUIRE(t.kept.size() == 7u);
  BOOST_TEST(t.kept[0].first == "%{i}._spf.%{d2}");
  BOOST_TEST(t.kept[1].first == "%{l1r-}.x.example.com");
  BOOST_TEST(t.kept[2].first == "");  // the current domain
  BOOST_TEST((t.kept[3].first == "" && t.kept[3].second));
  BOOST_TEST((t.kept[4].first == "%{d}" && t.kept[4].second));
  BOOST_TEST(t.kept[5].first == "_spf.example.net");
  BOOST_TEST(t.kept[6].first == "why.%{d}");
  // A '/' delimiter inside a macro is no prefix length.
  Targets slash;
  BOOST_TEST(Rewrite("v=spf1 a:%{or=/}.%{d}//48", true, &slash) == "v=spf1 a:0.t//48");
  BOOST_TEST(slash.kept[0].first == "%{or=/}.%{d}");
}

BOOST_AUTO_TEST_CASE(rewrite_redirect_goes_last_and_yields_to_all) {
  // RFC 7208 §6.1: redirect applies after every mechanism failed; §5.1: ignored with "all".
  BOOST_TEST(Rewrite("v=spf1 redirect=other.example ip4:192.0.2.1", false) ==
             "v=spf1 ip4:192.0.2.1 redirect=0.t");
  BOOST_TEST(Rewrite("v=spf1 redirect=t5.example.com ~all", false) == "v=spf1 ~all");
}

BOOST_AUTO_TEST_CASE(hostile_input_is_bounded) {
  std::string big = "v=spf1";
  for (int i = 0; i < 3000; ++i) big += " a:%{d}";
  BOOST_TEST(!CheckSpfRecordSyntax(big).ok());  // over kMaxRecordBytes
  std::string braces = "v=spf1 exists:" + std::string(1000, '%') + "{";
  BOOST_TEST(!CheckSpfRecordSyntax(braces).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::spf
