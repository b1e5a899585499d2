// crypto::Sha256: FIPS 180-4 test vectors, and the same digest however the input is cut
// into Update calls (the body hasher feeds it in buffer-sized pieces).
#include <cstdint>
#include <string>

#include <boost/test/unit_test.hpp>

#include "crypto/crypto.h"

namespace credence {
namespace {

std::string Hex(const crypto::Sha256Digest& d) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

BOOST_AUTO_TEST_SUITE(crypto_sha256)

// FIPS 180-4 examples (NIST CSRC "Cryptographic Standards and Guidelines" example values).
BOOST_AUTO_TEST_CASE(fips_180_vectors) {
  BOOST_TEST(Hex(crypto::Sha256::Hash("")) ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(Hex(crypto::Sha256::Hash("abc")) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(Hex(crypto::Sha256::Hash(
                 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  BOOST_TEST(Hex(crypto::Sha256::Hash(million)) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(pieces_give_the_one_shot_digest) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += static_cast<char>('a' + (i * 7) % 26);
  const crypto::Sha256Digest whole = crypto::Sha256::Hash(text);
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    crypto::Sha256 h;
    for (size_t i = 0; i < text.size(); i += step) h.Update(text.substr(i, step));
    h.Update(nullptr, 0);  // an empty piece changes nothing
    BOOST_TEST(Hex(h.Final()) == Hex(whole), "pieces of " << step);
  }
  crypto::Sha256 first;
  first.Update(text.substr(0, 100));
  crypto::Sha256 moved = std::move(first);  // the state moves with the object
  moved.Update(text.substr(100));
  BOOST_TEST(Hex(moved.Final()) == Hex(whole));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
