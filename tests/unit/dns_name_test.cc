// The normalised name spelling every part of the DNS layer keys and compares on
// (verifier/dns/dns_name.h), and its two other spellings: zone file text and c-ares input.
#include <boost/test/unit_test.hpp>

#include "dns/dns_name.h"

namespace credence {
namespace {

using dns_internal::CheckName;
using dns_internal::NameWithoutDecimalEscapes;
using dns_internal::NormalizeName;
using dns_internal::ZoneFileName;

BOOST_AUTO_TEST_SUITE(dns_name)

BOOST_AUTO_TEST_CASE(one_spelling_per_name) {
  BOOST_TEST(NormalizeName("Example.COM.") == "example.com");
  BOOST_TEST(NormalizeName(".") == "");
  BOOST_TEST(NormalizeName("") == "");
  // RFC 1035 §5.1: "\X" is X and "\DDD" the octet DDD; both spellings are one name.
  BOOST_TEST(NormalizeName("a\\;b.test") == "a;b.test");
  BOOST_TEST(NormalizeName("a\\059b.test") == "a;b.test");
  BOOST_TEST(NormalizeName("A\\066c.test") == "abc.test");  // \066 is "B": lower-cased too
  // Octets outside 0x21..0x7e are written \DDD, whichever way they came.
  BOOST_TEST(NormalizeName("a b.test") == "a\\032b.test");
  BOOST_TEST(NormalizeName("a\\ b.test") == "a\\032b.test");
  BOOST_TEST(NormalizeName(std::string("a\x01\xff.test")) == "a\\001\\255.test");
  BOOST_TEST(NormalizeName(std::string("nul\0x.test", 10)) == "nul\\000x.test");
  // "." and "\" inside a label stay escaped; so does a final escaped dot.
  BOOST_TEST(NormalizeName("a\\.b.test") == "a\\.b.test");
  BOOST_TEST(NormalizeName("a\\046b.test") == "a\\.b.test");
  BOOST_TEST(NormalizeName("a\\\\b.test.") == "a\\\\b.test");
  BOOST_TEST(NormalizeName("a\\092b.test") == "a\\\\b.test");
  BOOST_TEST(NormalizeName("end\\.") == "end\\.");
  BOOST_TEST(NormalizeName("end\\\\.") == "end\\\\");
  // Idempotent.
  for (std::string n : {"a;b(c)\"d.evil.test", "x\\032y.test", "a\\.b.c", "$@.test"}) {
    BOOST_TEST(NormalizeName(NormalizeName(n)) == NormalizeName(n), n);
  }
}

BOOST_AUTO_TEST_CASE(invalid_escapes_kept_for_check_name) {
  BOOST_TEST(NormalizeName("a\\") == "a\\");
  BOOST_TEST(NormalizeName("a\\25x.Test") == "a\\25x.Test");
  BOOST_TEST(NormalizeName("a\\256.test") == "a\\256.test");
  BOOST_TEST(CheckName(NormalizeName("a\\")) == "dangling backslash");
  BOOST_TEST(CheckName(NormalizeName("a\\25x.test")) == "bad \\DDD escape");
  BOOST_TEST(CheckName(NormalizeName("a\\256.test")) == "bad \\DDD escape");
  // A label of 63 octets written with escapes is still 63 octets.
  std::string label;
  for (int i = 0; i < 63; ++i) label += "\\032";
  BOOST_TEST(CheckName(NormalizeName(label + ".test")) == "");
  BOOST_TEST(CheckName(NormalizeName(label + "x.test")) == "label longer than 63 octets");
}

BOOST_AUTO_TEST_CASE(zone_file_spelling_escapes_what_a_zone_file_reads) {
  BOOST_TEST(ZoneFileName("a;b(c)\"d.evil.test") == "a\\;b\\(c\\)\\\"d.evil.test");
  BOOST_TEST(ZoneFileName("$x.@.test") == "\\$x.\\@.test");
  BOOST_TEST(ZoneFileName("a\\032b\\.c\\\\d.test") == "a\\032b\\.c\\\\d.test");
  BOOST_TEST(ZoneFileName("*.plain-name_1.test") == "*.plain-name_1.test");
}

BOOST_AUTO_TEST_CASE(c_ares_spelling_has_no_decimal_escapes) {
  std::string out;
  BOOST_TEST(NameWithoutDecimalEscapes("a\\032b.test", &out));
  BOOST_TEST(out == "a b.test");
  BOOST_TEST(NameWithoutDecimalEscapes("a;b\\.c\\\\d.test", &out));
  BOOST_TEST(out == "a;b\\.c\\\\d.test");
  BOOST_TEST(NameWithoutDecimalEscapes("x\\255.test", &out));
  BOOST_TEST(out == std::string("x\xff.test"));
  BOOST_TEST(!NameWithoutDecimalEscapes("nul\\000.test", &out));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
