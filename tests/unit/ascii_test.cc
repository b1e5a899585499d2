// credence/ascii.h: ASCII-only classes and case folding, whatever the locale.
#include <clocale>
#include <string>

#include <boost/test/unit_test.hpp>

#include "credence/ascii.h"

namespace credence {
namespace {

BOOST_AUTO_TEST_SUITE(ascii)

BOOST_AUTO_TEST_CASE(classes_are_ascii_only) {
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    BOOST_CHECK_EQUAL(IsAsciiDigit(c), b >= '0' && b <= '9');
    BOOST_CHECK_EQUAL(IsAsciiAlpha(c), (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'));
    BOOST_CHECK_EQUAL(IsAsciiAlnum(c), IsAsciiDigit(c) || IsAsciiAlpha(c));
    BOOST_CHECK_EQUAL(IsAsciiUpper(c), b >= 'A' && b <= 'Z');
  }
}

BOOST_AUTO_TEST_CASE(folding_leaves_non_ascii_bytes_alone) {
  // Latin-1 'À' (0xC0) and UTF-8 lead bytes must not fold, even under a Latin-1 locale.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  BOOST_CHECK_EQUAL(AsciiLower('\xC0'), '\xC0');
  BOOST_CHECK_EQUAL(ToLower("Example.COM\xC3\x80"), "example.com\xC3\x80");
  BOOST_CHECK(EqualsIgnoreCase("DKIM-Signature", "dkim-signature"));
  BOOST_CHECK(!EqualsIgnoreCase("\xC0", "\xE0"));
  BOOST_CHECK(!EqualsIgnoreCase("a", "ab"));
  BOOST_CHECK(!EqualsIgnoreCase("[", "{"));  // '[' + 32 is '{': only letters fold
  std::setlocale(LC_CTYPE, "C");
}

static_assert(EqualsIgnoreCase("From", "FROM"));
static_assert(AsciiLower('Z') == 'z' && AsciiLower('@') == '@');

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
