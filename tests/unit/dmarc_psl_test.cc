// The libpsl door (policy/common/psl.h) against Debian's publicsuffix examples
// (tests/data/dmarc/psl_test_psl.txt), and the OpenDMARC alignment table with the PSL method.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "common/psl.h"
#include "credence/policy/dmarc.h"

namespace credence {
namespace {

constexpr const char* kPslFile = "/usr/share/publicsuffix/public_suffix_list.dat";

BOOST_AUTO_TEST_SUITE(dmarc_psl)

BOOST_AUTO_TEST_CASE(debian_test_psl_examples) {
  Result<std::unique_ptr<PublicSuffixList>> psl = PublicSuffixList::Load(kPslFile);
  BOOST_TEST_REQUIRE(psl.ok(), psl.status().ToString());
  std::ifstream in(CREDENCE_TEST_DATA "/dmarc/psl_test_psl.txt");
  std::regex re(R"(^checkPublicSuffix\((null|'([^']*)'), (null|'([^']*)')\);)");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    if (m[1] == "null") continue;  // a null input has no C++ counterpart
    std::string domain = m[2];
    std::string expect = m[3] == "null" ? "" : std::string(m[4]);
    BOOST_TEST((*psl)->RegistrableDomain(domain) == expect, domain);
    ++checked;
  }
  BOOST_TEST(checked >= 70);
}

BOOST_AUTO_TEST_CASE(public_suffix_checks) {
  Result<std::unique_ptr<PublicSuffixList>> psl = PublicSuffixList::Load(kPslFile);
  BOOST_TEST_REQUIRE(psl.ok());
  BOOST_TEST((*psl)->IsPublicSuffix("com"));
  BOOST_TEST((*psl)->IsPublicSuffix("co.uk"));
  BOOST_TEST(!(*psl)->IsPublicSuffix("example.com"));
  BOOST_TEST((*psl)->RegistrableDomain("") == "");
  BOOST_TEST((*psl)->RegistrableDomain("www.Example.CO.UK.") == "example.co.uk");
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error) {
  BOOST_TEST(!PublicSuffixList::Load("/nonexistent/psl.dat").ok());
  DmarcOptions o;
  o.org_domain_method = OrgDomainMethod::kPsl;
  o.psl_file = "/nonexistent/psl.dat";
  BOOST_TEST(!DmarcEvaluator::Create(o).ok());
}

// OpenDMARC test_alignment.c rows, relaxed = same PSL organizational domain, strict = equal.
// Differences: OpenDMARC strips leading/trailing/repeated dots (".mac.com." aligned with
// "mac.com"); credence refuses names with empty labels, so those rows are "not aligned".
BOOST_AUTO_TEST_CASE(opendmarc_alignment_table_with_psl) {
  DmarcOptions o;
  o.org_domain_method = OrgDomainMethod::kPsl;
  Result<std::unique_ptr<DmarcEvaluator>> ev = DmarcEvaluator::Create(o);
  BOOST_TEST_REQUIRE(ev.ok());
  ZoneResolver no_dns;
  Deadline deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::ifstream in(CREDENCE_TEST_DATA "/dmarc/opendmarc/alignment.tsv");
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string a, b, mode, expect;
    std::istringstream f(line);
    std::getline(f, a, '\t');
    std::getline(f, b, '\t');
    std::getline(f, mode, '\t');
    std::getline(f, expect, '\t');
    bool want = expect == "0";
    if (a.find("..") != std::string::npos || a.front() == '.' || a.back() == '.') want = false;
    bool got;
    if (mode == "DMARC_RECORD_A_STRICT") {
      Result<std::string> x = (*ev)->OrgDomain(a, no_dns, deadline);
      got = x.ok() && ToLower(a) == ToLower(b);
    } else {
      Result<std::string> x = (*ev)->OrgDomain(a, no_dns, deadline);
      Result<std::string> y = (*ev)->OrgDomain(b, no_dns, deadline);
      got = x.ok() && y.ok() && *x == *y;
    }
    BOOST_TEST(got == want, a << " vs " << b << " " << mode);
    ++rows;
  }
  BOOST_TEST(rows == 10);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
