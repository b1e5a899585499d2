// DKIM verification throughput against OpenSSL's ceiling, one thread.
//
// Builds N messages (default 2000) with a ~10 KB body, each signed in-process with one
// RSA-2048 rsa-sha256 signature, c=relaxed/relaxed (and a second set with ed25519-sha256),
// keys answered from memory by a ZoneResolver. Measures messages/s of DkimVerifier::Verify,
// then the ceiling for the same work done directly with OpenSSL: SHA-256 over the body plus
// EVP_DigestVerify over the signed header bytes, per message. Prints both and the fraction.
//
//   bench_verify [N] [BODY_BYTES]
//
// Messages are built already in relaxed canonical form (single spaces, no trailing
// whitespace, one final CRLF) so the signer here needs no canonicalizer of its own.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "credence/clock.h"
#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/message.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kNow = 1700000000;

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string ToLowerAscii(std::string_view s) { return credence::ToLower(s); }

struct Key {
  EVP_PKEY* pkey = nullptr;
  bool ed25519 = false;
  std::string record;  // DNS TXT value
  ~Key() { EVP_PKEY_free(pkey); }
};

std::unique_ptr<Key> MakeKey(bool ed25519) {
  auto key = std::make_unique<Key>();
  key->ed25519 = ed25519;
  key->pkey = ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  if (ed25519) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key->pkey, raw, &len);
    key->record = "v=DKIM1; k=ed25519; p=" + Base64(raw, len);
  } else {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key->pkey, &der);
    key->record = "v=DKIM1; k=rsa; p=" + Base64(der, static_cast<size_t>(len));
    OPENSSL_free(der);
  }
  return key;
}

// Signs `data`: RSA with SHA-256 (PKCS#1 v1.5); Ed25519 over SHA-256(data) (RFC 8463 §3).
std::string Sign(const Key& key, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string hashed;
  if (key.ed25519) {
    hashed = Sha256(data);
    data = hashed;
  }
  EVP_DigestSignInit(ctx, nullptr, key.ed25519 ? nullptr : EVP_sha256(), nullptr, key.pkey);
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

struct Signed {
  std::string message;      // the whole message, CRLF
  std::string body;         // canonical body
  std::string header_data;  // the bytes the signature covers (RFC 6376 §3.7)
  std::string signature;    // raw b=
};

Signed MakeMessage(int i, size_t body_bytes, const Key& key, const std::string& selector) {
  static const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                 "golf", "hotel", "india", "juliet", "kilo", "lima"};
  Signed s;
  unsigned seed = static_cast<unsigned>(i) * 2654435761u + 1;
  std::string line;
  while (s.body.size() < body_bytes) {
    seed = seed * 1103515245u + 12345u;
    if (!line.empty()) line += ' ';
    line += kWords[(seed >> 16) % 12];
    if (line.size() > 70) {
      s.body += line + "\r\n";
      line.clear();
    }
  }
  if (!line.empty()) s.body += line + "\r\n";
  std::string n = std::to_string(i);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"From", "Bench <bench@bench.test>"},
      {"To", "rcpt" + n + "@example.net"},
      {"Subject", "benchmark message " + n},
      {"Date", "Tue, 14 Nov 2023 22:13:20 +0000"},
      {"Message-ID", "<bench-" + n + "@bench.test>"}};
  std::string bh = Sha256(s.body);
  std::string sig_value = std::string(" v=1; a=") + (key.ed25519 ? "ed25519-sha256" : "rsa-sha256") +
                          "; c=relaxed/relaxed; d=bench.test; s=" + selector +
                          "; t=" + std::to_string(kNow) +
                          "; h=from:to:subject:date:message-id; bh=" +
                          Base64(reinterpret_cast<const unsigned char*>(bh.data()), bh.size()) +
                          "; b=";
  for (auto& [name, value] : headers) s.header_data += ToLowerAscii(name) + ":" + value + "\r\n";
  s.header_data += "dkim-signature:" + sig_value.substr(1);  // relaxed: no space after colon
  s.signature = Sign(key, s.header_data);
  std::string b64 = Base64(reinterpret_cast<const unsigned char*>(s.signature.data()),
                           s.signature.size());
  s.message = "DKIM-Signature:" + sig_value + b64 + "\r\n";
  for (auto& [name, value] : headers) s.message += name + ": " + value + "\r\n";
  s.message += "\r\n" + s.body;
  return s;
}

struct Numbers {
  double credence_per_s = 0;
  double parse_verify_per_s = 0;
  double openssl_per_s = 0;
};

Numbers Run(const Key& key, const std::string& selector, int n, size_t body_bytes) {
  std::vector<Signed> msgs;
  msgs.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) msgs.push_back(MakeMessage(i, body_bytes, key, selector));
  std::vector<credence::Message> parsed;
  for (const Signed& s : msgs) {
    auto m = credence::Message::Parse(s.message);
    if (!m.ok()) {
      std::fprintf(stderr, "parse failed: %s\n", m.status().ToString().c_str());
      std::exit(1);
    }
    parsed.push_back(std::move(m).value());
  }

  credence::ZoneResolver zone;
  zone.AddRecord(selector + "._domainkey.bench.test",
                 {credence::RRType::kTXT, 3600, key.record, 0});
  credence::FixedClock clock(kNow + 60);
  credence::DkimVerifier verifier(clock);
  Numbers out;

  // Warm-up (key cache, page faults) and correctness check.
  for (int i = 0; i < std::min(n, 20); ++i) {
    auto r = verifier.Verify(parsed[static_cast<size_t>(i)], zone);
    if (r.size() != 1 || r[0].result != credence::DkimVerdict::kPass) {
      std::fprintf(stderr, "message %d did not pass: %s %s %s\n", i,
                   r.empty() ? "-" : std::string(DkimVerdictName(r[0].result)).c_str(),
                   r.empty() ? "" : std::string(DkimReasonName(r[0].reason)).c_str(),
                   r.empty() ? "" : r[0].detail.c_str());
      std::exit(1);
    }
  }
  size_t passes = 0;
  auto t0 = Clock::now();
  for (const auto& m : parsed) {
    auto r = verifier.Verify(m, zone);
    passes += (r.size() == 1 && r[0].result == credence::DkimVerdict::kPass);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  out.credence_per_s = n / secs;
  if (passes != static_cast<size_t>(n)) {
    std::fprintf(stderr, "only %zu of %d passed\n", passes, n);
    std::exit(1);
  }

  t0 = Clock::now();
  for (const Signed& s : msgs) {
    auto m = credence::Message::Parse(s.message);
    auto r = verifier.Verify(*m, zone);
    passes += (r.size() == 1 && r[0].result == credence::DkimVerdict::kPass);
  }
  secs = std::chrono::duration<double>(Clock::now() - t0).count();
  out.parse_verify_per_s = n / secs;

  // The ceiling: the same hashing and the same public-key operation, straight OpenSSL.
  size_t ok = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  t0 = Clock::now();
  for (const Signed& s : msgs) {
    std::string bh = Sha256(s.body);
    const auto* sig = reinterpret_cast<const unsigned char*>(s.signature.data());
    if (key.ed25519) {
      std::string h = Sha256(s.header_data);
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.pkey);
      ok += EVP_DigestVerify(ctx, sig, s.signature.size(),
                             reinterpret_cast<const unsigned char*>(h.data()), h.size()) == 1;
    } else {
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.pkey);
      ok += EVP_DigestVerify(ctx, sig, s.signature.size(),
                             reinterpret_cast<const unsigned char*>(s.header_data.data()),
                             s.header_data.size()) == 1;
    }
    ok += bh.size() == 32 ? 0 : 1000000;  // keep the body hash observable
  }
  secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EVP_MD_CTX_free(ctx);
  if (ok != static_cast<size_t>(n)) {
    std::fprintf(stderr, "OpenSSL ceiling loop verified %zu of %d\n", ok, n);
    std::exit(1);
  }
  out.openssl_per_s = n / secs;
  return out;
}

void Print(const char* name, const Numbers& x) {
  double fraction = x.credence_per_s / x.openssl_per_s;
  std::printf("%-16s credence Verify %9.0f msg/s   parse+Verify %9.0f msg/s   "
              "OpenSSL ceiling %9.0f msg/s   fraction %5.1f%%%s\n",
              name, x.credence_per_s, x.parse_verify_per_s, x.openssl_per_s, 100 * fraction,
              fraction >= 0.70 ? "" : "   (under the 70% target)");
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  size_t body = argc > 2 ? static_cast<size_t>(std::atol(argv[2])) : 10240;
  if (n <= 0 || body == 0) {
    std::fprintf(stderr, "usage: bench_verify [N] [BODY_BYTES]\n");
    return 2;
  }
  std::printf("bench_verify: %d messages, %zu-byte bodies, c=relaxed/relaxed, one thread\n", n,
              body);
  auto rsa = MakeKey(false);
  Numbers r = Run(*rsa, "rsa", n, body);
  Print("rsa-sha256/2048", r);
  auto ed = MakeKey(true);
  Numbers e = Run(*ed, "ed", n, body);
  Print("ed25519-sha256", e);
  return 0;
}
