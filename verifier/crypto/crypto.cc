// OpenSSL 3 behind credence::crypto. The only file that includes OpenSSL headers.
#include "crypto/crypto.h"

// The RSA ASN.1 decoders used by PublicKey::DecodeRsa and the SHA256_* functions are deprecated
// in OpenSSL 3.0 (see there).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

namespace credence::crypto {
namespace {

// Fetched once: implicit fetching on every EVP_DigestInit costs a lock and a lookup.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

// SHA-256 through OpenSSL's SHA256_* functions: the same assembly as EVP's SHA-256 (SHA-NI
// where the CPU has it), without EVP's context allocations (three per hash object, two per
// one-shot hash) or its provider dispatch. They are deprecated in 3.0, not removed.
static_assert(sizeof(SHA256_CTX) <= 112 && alignof(SHA256_CTX) <= 8,
              "Sha256::state_ must hold a SHA256_CTX");

namespace {
SHA256_CTX* Ctx(unsigned char* state) { return reinterpret_cast<SHA256_CTX*>(state); }
}  // namespace

Sha256::Sha256() { SHA256_Init(Ctx(state_)); }

void Sha256::Update(const void* data, size_t size) {
  if (size != 0) SHA256_Update(Ctx(state_), data, size);
}

Sha256Digest Sha256::Final() {
  Sha256Digest out{};
  SHA256_Final(out.data(), Ctx(state_));
  return out;
}

// Not OpenSSL's one-shot SHA256(): in OpenSSL 3 that fetches the algorithm by name on every
// call (EVP_Q_digest: a lock, a lookup and a context allocation), 0.8 us against 0.5 us for
// a 700-byte header block here.
Sha256Digest Sha256::Hash(std::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Final();
}

namespace {

// An RSA verification context with the padding and digest set, made once per key: setting
// one up costs a provider fetch and several parameter calls, duplicating it a copy.
EVP_PKEY_CTX* NewRsaVerifyCtx(EVP_PKEY* pkey) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pkey, nullptr);
  if (ctx == nullptr) return nullptr;
  if (EVP_PKEY_verify_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx, Sha256Md()) != 1) {
    EVP_PKEY_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

PublicKey::PublicKey(KeyType type, unsigned bits, void* pkey)
    : type_(type),
      bits_(bits),
      pkey_(pkey),
      verify_ctx_(type == KeyType::kRsa ? NewRsaVerifyCtx(static_cast<EVP_PKEY*>(pkey))
                                        : nullptr) {}

PublicKey::~PublicKey() {
  EVP_PKEY_CTX_free(static_cast<EVP_PKEY_CTX*>(verify_ctx_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

Result<std::shared_ptr<const PublicKey>> PublicKey::DecodeRsa(std::string_view der) {
  // OpenSSL 3's generic decoders (d2i_PUBKEY, d2i_PublicKey through OSSL_DECODER) cost about
  // 110 us per RSA-2048 key and take global read locks that two threads fight over; the RSA
  // ASN.1 decoders below cost about 1 us and give the same key (measured on this machine,
  // docs/performance.md). They are deprecated in 3.0, not removed; only this file uses them.
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const long len = static_cast<long>(der.size());
  // SubjectPublicKeyInfo first (what RFC 6376 §3.6.1 asks for). d2i_RSA_PUBKEY also accepts
  // an id-RSASSA-PSS key, which DKIM has no use for: refused, as a generic decode would be.
  ERR_set_mark();  // failed attempts leave errors on this thread's queue: popped below
  const unsigned char* p = begin;
  RSA* rsa = d2i_RSA_PUBKEY(nullptr, &p, len);
  if (rsa != nullptr &&
      (p != begin + len || RSA_test_flags(rsa, RSA_FLAG_TYPE_MASK) != RSA_FLAG_TYPE_RSA)) {
    RSA_free(rsa);
    rsa = nullptr;
  }
  if (rsa == nullptr) {
    // PKCS#1 RSAPublicKey, published by some signers.
    p = begin;
    rsa = d2i_RSAPublicKey(nullptr, &p, len);
    if (rsa != nullptr && p != begin + len) {
      RSA_free(rsa);
      rsa = nullptr;
    }
  }
  ERR_pop_to_mark();
  if (rsa == nullptr) {
    return Status::Invalid("p= is neither an RSA SubjectPublicKeyInfo nor an RSAPublicKey");
  }
  EVP_PKEY* pkey = EVP_PKEY_new();
  if (pkey == nullptr || EVP_PKEY_assign_RSA(pkey, rsa) != 1) {
    EVP_PKEY_free(pkey);
    RSA_free(rsa);
    return Status::Invalid("RSA key could not be set up");
  }
  const int bits = EVP_PKEY_get_bits(pkey);
  if (bits <= 0) {
    EVP_PKEY_free(pkey);
    return Status::Invalid("RSA key has no modulus size");
  }
  return std::shared_ptr<const PublicKey>(
      new PublicKey(KeyType::kRsa, static_cast<unsigned>(bits), pkey));
}

Result<std::shared_ptr<const PublicKey>> PublicKey::DecodeEd25519(std::string_view raw) {
  if (raw.size() != 32) {
    return Status::Invalid("Ed25519 key is " + std::to_string(raw.size()) +
                           " bytes, not 32 (RFC 8463 §4)");
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (pkey == nullptr) return Status::Invalid("Ed25519 key does not decode");
  return std::shared_ptr<const PublicKey>(new PublicKey(KeyType::kEd25519, 256, pkey));
}

bool PublicKey::VerifyDigest(const Sha256Digest& digest, std::string_view signature) const {
  auto* pkey = static_cast<EVP_PKEY*>(pkey_);
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (type_ == KeyType::kRsa) {
    // A private copy of the prepared context per call: the key stays shareable between
    // threads (EVP_PKEY_CTX_dup only reads its source).
    EVP_PKEY_CTX* ctx = verify_ctx_ != nullptr
                            ? EVP_PKEY_CTX_dup(static_cast<EVP_PKEY_CTX*>(verify_ctx_))
                            : NewRsaVerifyCtx(pkey);
    if (ctx == nullptr) return false;
    bool ok = EVP_PKEY_verify(ctx, sig, signature.size(), digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
  }
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  if (mctx == nullptr) return false;
  bool ok = EVP_DigestVerifyInit(mctx, nullptr, nullptr, nullptr, pkey) == 1 &&
            EVP_DigestVerify(mctx, sig, signature.size(), digest.data(), digest.size()) == 1;
  EVP_MD_CTX_free(mctx);
  return ok;
}

}  // namespace credence::crypto
