// crypto::PublicKey: one decoded RSA key verifies from many threads at once, a call that
// fails leaves nothing behind that changes the next call's answer, and what a key keeps from
// its first verification is what the DKIM key cache counts (PublicKey::HeapBytes).
#include <malloc.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"

namespace credence {
namespace {

using crypto::KeyType;
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

Sample Load(unsigned bits = 2048) {
  Sample s;
  const std::string name = "rsa" + std::to_string(bits);
  auto key = PublicKey::DecodeRsa(ReadKeyFile(name + ".pub.der"));
  BOOST_TEST_REQUIRE(key.ok());
  s.key = *key;
  s.digest = Sha256::Hash(ReadKeyFile("sample.txt"));
  s.signature = ReadKeyFile(name + ".sample.sig");
  BOOST_TEST_REQUIRE(s.signature.size() == bits / 8);
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
  constexpr int kThreads = 24;
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

// An Ed25519 signature (openssl pkeyutl -rawin) over the same digest: PureEdDSA over the 32
// digest bytes, as RFC 8463 signs.
Sample LoadEd25519() {
  Sample s;
  const std::string der = ReadKeyFile("ed25519.pub.der");  // SubjectPublicKeyInfo: 12 + 32
  BOOST_TEST_REQUIRE(der.size() == 44u);
  auto key = PublicKey::DecodeEd25519(der.substr(12));
  BOOST_TEST_REQUIRE(key.ok());
  s.key = *key;
  s.digest = Sha256::Hash(ReadKeyFile("sample.txt"));
  s.signature = ReadKeyFile("ed25519.sample.sig");
  BOOST_TEST_REQUIRE(s.signature.size() == 64u);
  s.flipped = s.signature;
  s.flipped[10] = static_cast<char>(s.flipped[10] ^ 0x10);
  s.other = Sha256::Hash("another text");
  return s;
}

BOOST_AUTO_TEST_CASE(ed25519_failures_leave_the_next_call_unchanged) {
  const Sample s = LoadEd25519();
  BOOST_TEST((s.key->type() == KeyType::kEd25519));
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST(s.key->VerifyDigest(s.digest, s.signature));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.flipped));
    BOOST_TEST(!s.key->VerifyDigest(s.other, s.signature));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.signature.substr(0, 63)));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, ""));
    BOOST_TEST(!s.key->VerifyDigest(s.digest, s.signature + '\0'));
  }
}

// What a key gains with its first verification (for RSA OpenSSL's Montgomery form of the
// modulus; nothing for Ed25519), and that later calls add nothing. The DKIM key cache counts
// it (PublicKey::HeapBytes) as PublicKey::FirstVerifyBytes, which must not be less, nor much
// more.
void CheckFirstVerifyGrowth(const Sample& s,
                            const std::function<std::shared_ptr<const PublicKey>()>& decode,
                            const std::string& name) {
  // One key verifies first, so what a process sets up once (OpenSSL fetching the algorithm)
  // is outside the measure.
  const size_t at_start = mallinfo2().uordblks;
  BOOST_TEST_REQUIRE(decode()->VerifyDigest(s.digest, s.signature));
  BOOST_TEST_MESSAGE(name << ": one key decoded and verified (freed after): the heap grew "
                          << mallinfo2().uordblks - at_start << " bytes");
  std::vector<std::shared_ptr<const PublicKey>> keys;
  for (int i = 0; i < 200; ++i) keys.push_back(decode());
  const size_t counted = PublicKey::FirstVerifyBytes(keys[0]->type(), keys[0]->bits());
  const size_t before = mallinfo2().uordblks;
  for (const auto& k : keys) BOOST_TEST_REQUIRE(k->VerifyDigest(s.digest, s.signature));
  const size_t after_one = mallinfo2().uordblks;
  for (const auto& k : keys) BOOST_TEST_REQUIRE(k->VerifyDigest(s.digest, s.signature));
  const size_t after_two = mallinfo2().uordblks;
  const size_t grew = (after_one - before) / keys.size();
  BOOST_TEST_MESSAGE(name << ": the first verification adds " << grew << " bytes a key; counted "
                          << counted);
  BOOST_TEST(grew <= counted, name);
  BOOST_TEST(grew * 2 >= counted, name);
  BOOST_TEST(after_two <= after_one + 4096, name);  // 200 keys: nothing more each
  BOOST_TEST(keys[0]->HeapBytes() ==
                 PublicKey::DecodedBytes(keys[0]->type(), keys[0]->bits()) + counted,
             name);
}

BOOST_AUTO_TEST_CASE(a_verified_key_grows_once) {
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("skipped under AddressSanitizer");
#else
  for (unsigned bits : {1024u, 2048u, 4096u}) {
    const std::string der = ReadKeyFile("rsa" + std::to_string(bits) + ".pub.der");
    CheckFirstVerifyGrowth(
        Load(bits), [&] { return *PublicKey::DecodeRsa(der); }, "RSA-" + std::to_string(bits));
  }
  const std::string raw = ReadKeyFile("ed25519.pub.der").substr(12);
  CheckFirstVerifyGrowth(
      LoadEd25519(), [&] { return *PublicKey::DecodeEd25519(raw); }, "Ed25519");
#endif
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
