// crypto::PublicKey: one decoded RSA key verifies from many threads at once, and a call that
// fails leaves nothing behind that changes the next call's answer (the key keeps its
// verification contexts between calls).
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"

namespace credence {
namespace {

using crypto::PublicKey;
using crypto::Sha256;
using crypto::Sha256Digest;

// The key, text and signature made by tests/data/dkim/generate.sh (openssl dgst -sha256 -sign).
std::string ReadKeyFile(const std::string& name) {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/signed/keys/" + name,
                   std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Sample {
  std::shared_ptr<const PublicKey> key;
  Sha256Digest digest;
  std::string signature;
  std::string flipped;      // the signature with one bit changed
  Sha256Digest other{};     // the digest of another text
};

Sample Load() {
  Sample s;
  auto key = PublicKey::DecodeRsa(ReadKeyFile("rsa2048.pub.der"));
  BOOST_TEST_REQUIRE(key.ok());
  s.key = *key;
  s.digest = Sha256::Hash(ReadKeyFile("rsa2048.sample.txt"));
  s.signature = ReadKeyFile("rsa2048.sample.sig");
  BOOST_TEST_REQUIRE(s.signature.size() == 256u);
  s.flipped = s.signature;
  s.flipped[100] = static_cast<char>(s.flipped[100] ^ 0x10);
  s.other = Sha256::Hash("another text");
  return s;
}

BOOST_AUTO_TEST_SUITE(crypto_key)

BOOST_AUTO_TEST_CASE(failures_leave_the_next_call_unchanged) {
  const Sample s = Load();
  BOOST_TEST(s.key->bits() == 2048u);
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST(s.key->VerifyDigest(s.digest, s.signature));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.flipped));
    BOOST_TEST(!s.key->VerifyDigest(s.other, s.signature));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.signature.substr(0, 255)));  // short
    BOOST_TEST(!s.key->VerifyDigest(s.digest, ""));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.signature + '\0'));  // long
  }
}

BOOST_AUTO_TEST_CASE(one_key_verifies_from_many_threads) {
  const Sample s = Load();
  constexpr int kThreads = 24;  // more than the key keeps between calls
  constexpr int kRounds = 40;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        // Each thread mixes passing and failing calls in its own order.
        const int kind = (i + t) % 3;
        const bool ok = kind == 0   ? s.key->VerifyDigest(s.digest, s.signature)
                        : kind == 1 ? s.key->VerifyDigest(s.digest, s.flipped)
                                    : s.key->VerifyDigest(s.other, s.signature);
        (ok == (kind == 0) ? right : wrong)++;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(right.load() == kThreads * kRounds);
  BOOST_TEST(s.key->VerifyDigest(s.digest, s.signature));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
