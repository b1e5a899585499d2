// credence/ascii.h: ASCII-only classes and case folding, whatever the locale.
#include <clocale>
#include <cstring>
#include <random>
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

BOOST_AUTO_TEST_CASE(word_folding_matches_byte_folding) {
  // Every byte value in every lane, with neighbours that could carry into it.
  for (int lane = 0; lane < 8; ++lane) {
    for (int b = 0; b < 256; ++b) {
      for (unsigned char fill : {0x00, 0x40, 0x5a, 0x7f, 0x80, 0xff}) {
        char bytes[8];
        std::memset(bytes, fill, 8);
        bytes[lane] = static_cast<char>(b);
        char want[8];
        for (int i = 0; i < 8; ++i) want[i] = AsciiLower(bytes[i]);
        const uint64_t got = AsciiLower8(LoadWord(bytes, 8));
        BOOST_TEST_REQUIRE(std::memcmp(&got, want, 8) == 0, "lane " << lane << " byte " << b);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(equality_and_hash_by_words_match_the_byte_rule) {
  std::mt19937 rng(7);
  const std::string alphabet = "aZz.-_@[{`\x7f" "\x80" "\xc3" "A0";
  for (int round = 0; round < 20000; ++round) {
    std::string a(rng() % 70, 'x');
    for (char& c : a) c = alphabet[rng() % alphabet.size()];
    std::string b = a;
    for (char& c : b) {
      if (rng() % 3 == 0) c = IsAsciiUpper(c) ? AsciiLower(c) : static_cast<char>(std::toupper(c));
    }
    if (!a.empty() && rng() % 2 == 0) b[rng() % b.size()] = alphabet[rng() % alphabet.size()];
    bool want = a.size() == b.size();
    for (size_t i = 0; want && i < a.size(); ++i) want = AsciiLower(a[i]) == AsciiLower(b[i]);
    BOOST_TEST_REQUIRE(EqualsIgnoreCase(a, b) == want, a << " / " << b);
    if (want) BOOST_TEST_REQUIRE(AsciiCaseHash(a) == AsciiCaseHash(b), a << " / " << b);
  }
  BOOST_TEST(AsciiCaseHash("_dmarc.example.com") != AsciiCaseHash("_dmarc.example.org"));
  BOOST_TEST(AsciiCaseHash("a") != AsciiCaseHash(std::string("a\0", 2)));  // length counts
  BOOST_TEST(AsciiCaseHash("a", 1) != AsciiCaseHash("a", 2));
}

static_assert(EqualsIgnoreCase("From", "FROM"));
static_assert(EqualsIgnoreCase("_dmarc.Example.COM", "_DMARC.example.com"));
static_assert(AsciiLower8(0x5a41405b7a616080ull) == 0x7a61405b7a616080ull);
static_assert(AsciiLower('Z') == 'z' && AsciiLower('@') == '@');

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
