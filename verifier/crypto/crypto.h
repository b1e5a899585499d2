// The one door to OpenSSL: SHA-256 (incremental), RSA and Ed25519 public keys, signature
// verification. Nothing outside verifier/crypto includes an OpenSSL header.
#ifndef CREDENCE_CRYPTO_CRYPTO_H_
#define CREDENCE_CRYPTO_CRYPTO_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "credence/status.h"

namespace credence::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256. Update() may be called any number of times, then Final() once.
// Allocation-free: the state lives in the object (OpenSSL's SHA256_CTX, a plain struct).
class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;

  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Sha256Digest Final();

  // One-shot convenience.
  static Sha256Digest Hash(std::string_view data);

 private:
  alignas(8) unsigned char state_[112];  // a SHA256_CTX (crypto.cc checks the size)
};

enum class KeyType { kRsa, kEd25519 };

// A decoded public key. Its value never changes once made; safe to share between threads for
// verification.
class PublicKey {
 public:
  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;

  KeyType type() const { return type_; }
  // RSA modulus size in bits; 256 for Ed25519.
  unsigned bits() const { return bits_; }

  // RSA: DER SubjectPublicKeyInfo (RFC 6376 §3.6.1 "p="), or a PKCS#1 RSAPublicKey (which
  // many signers publish and many verifiers accept). kInvalidInput when neither decodes to RSA.
  static Result<std::shared_ptr<const PublicKey>> DecodeRsa(std::string_view der);
  // Ed25519: the raw 32-byte public key (RFC 8463 §4). kInvalidInput for any other length.
  static Result<std::shared_ptr<const PublicKey>> DecodeEd25519(std::string_view raw);

  // Verifies `signature` over a SHA-256 `digest` of the signed data:
  //  - RSA: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 §3.3.1 / RFC 8017 §8.2);
  //  - Ed25519: PureEdDSA over the 32 digest bytes (RFC 8463 §3).
  // Returns true only when the signature verifies.
  bool VerifyDigest(const Sha256Digest& digest, std::string_view signature) const;

  // Heap bytes this key holds inside OpenSSL once it has verified a signature: the decoded
  // key plus what its first verification adds. What the DKIM key cache charges for it.
  size_t HeapBytes() const { return DecodedBytes(type_, bits_) + FirstVerifyBytes(type_, bits_); }

  // The decoded key: OpenSSL 3's EVP_PKEY with its RSA or Ed25519 key. Fitted to the heap
  // growth glibc reports (mallinfo2): about 1,650 bytes plus a quarter of a byte per RSA bit,
  // about 500 for Ed25519 (tests/unit/dkim_key_cache_test.cc compares a full cache entry).
  static constexpr size_t DecodedBytes(KeyType type, unsigned bits) {
    return type == KeyType::kEd25519 ? 512 : 1664 + bits / 4;
  }
  // What the first verification adds to the key and keeps for the calls after: for RSA
  // OpenSSL's Montgomery form of the modulus, about three bytes per eight bits; nothing for
  // Ed25519. tests/unit/crypto_key_test.cc measures it with mallinfo2: 522, 907 and 1,668
  // bytes for RSA-1024, 2048 and 4096, 0 for Ed25519 (what the first Ed25519 verification
  // of a process sets up is OpenSSL's, once, not per key).
  static constexpr size_t FirstVerifyBytes(KeyType type, unsigned bits) {
    return type == KeyType::kEd25519 ? 0 : 160 + 3 * (bits / 8);
  }

 private:
  PublicKey(KeyType type, unsigned bits, void* pkey);
  KeyType type_;
  unsigned bits_;
  void* pkey_;        // EVP_PKEY*, owned
  void* verify_ctx_;  // RSA: EVP_PKEY_CTX* set up once for PKCS#1 v1.5 + SHA-256 verification
                      // (never used directly, only duplicated per call); nullptr for Ed25519
};

}  // namespace credence::crypto

#endif  // CREDENCE_CRYPTO_CRYPTO_H_
