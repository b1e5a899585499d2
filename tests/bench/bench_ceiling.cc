// OpenSSL's ceiling for a corpus of make_corpus.py: the least work any DKIM verifier must do
// per message, done with OpenSSL's API directly on one thread. bench_pipeline.py compares the
// whole `credence verify` process against it.
//
//   bench_ceiling CORPUS.mbox ZONE [--repeat 3]
//
// Before timing, each message of the mbox (mboxrd, LF, as make_corpus.py writes it: one
// single-line DKIM-Signature first, then the signed fields in h= order, a body already in
// relaxed canonical form) is turned into its canonical body (CRLF lines, trailing empty lines
// dropped: RFC 6376 §3.4.4) and its canonical header block (RFC 6376 §3.4.2 and §3.7: the
// signed fields, then the DKIM-Signature with an empty b=, no final CRLF); keys come from the
// zone file's TXT records (p= of each s2048._domainkey.dNN). The timed loop does, per message:
// SHA-256 of the body compared with bh=, SHA-256 of the header block, RSA verify of that
// digest with the domain's key (decoded once up front).
// With OpenSSL's cheapest calls: SHA-256 fetched once (EVP_MD_fetch), one EVP_PKEY_CTX per key
// prepared once for verification with PKCS#1 v1.5 padding and SHA-256, so the loop is two
// EVP_Digest calls and one EVP_PKEY_verify per message (EVP_DigestVerifyInit would add a
// provider fetch per message).
// It prints one line: "ceiling MESSAGES messages BEST_SECONDS s CPU_SECONDS s MSG_PER_S".
// Exits 1 unless every message verifies.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <time.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Prepared {
  std::string body;        // canonical body
  std::string header;      // canonical header block
  std::string signature;   // b=, decoded
  unsigned char bh[32];    // bh=, decoded
  EVP_PKEY_CTX* key = nullptr;  // prepared for RSA PKCS#1 v1.5 verification with SHA-256
};

const EVP_MD* Sha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

std::string ReadFile(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "bench_ceiling: cannot read %s\n", path);
    std::exit(2);
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string Base64Decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  std::string out(clean.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return {};
  size_t pad = 0;
  while (!clean.empty() && clean[clean.size() - 1 - pad] == '=') ++pad;
  out.resize(n - pad);
  return out;
}

// "tag=value" out of a tag list (no folding in this corpus).
std::string_view Tag(std::string_view list, std::string_view tag) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(';', pos);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > tag.size() && item.substr(0, tag.size()) == tag &&
        item[tag.size()] == '=') {
      return item.substr(tag.size() + 1);
    }
    pos = end + 1;
  }
  return {};
}

// Zone lines "s2048._domainkey.dNN IN TXT "..." "..."" -> key of "dNN.<origin>".
std::map<std::string, EVP_PKEY_CTX*> ReadKeys(const std::string& zone) {
  std::map<std::string, EVP_PKEY_CTX*> keys;
  std::string origin;
  std::istringstream in(zone);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("$ORIGIN ", 0) == 0) {
      origin = line.substr(8);
      if (!origin.empty() && origin.back() == '.') origin.pop_back();
      continue;
    }
    size_t dk = line.find("._domainkey.");
    if (dk == std::string::npos) continue;
    std::string label = line.substr(dk + 12, line.find(' ', dk) - dk - 12);
    std::string txt;
    for (size_t q = line.find('"'); q != std::string::npos; q = line.find('"', q + 1)) {
      size_t close = line.find('"', q + 1);
      txt += line.substr(q + 1, close - q - 1);
      q = close;
    }
    std::string der = Base64Decode(Tag(txt, "p"));
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
    if (key == nullptr) {
      std::fprintf(stderr, "bench_ceiling: bad key for %s\n", label.c_str());
      std::exit(2);
    }
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    EVP_PKEY_free(key);  // the context holds its own reference
    if (ctx == nullptr || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, Sha256()) != 1) {
      std::fprintf(stderr, "bench_ceiling: cannot prepare the key of %s\n", label.c_str());
      std::exit(2);
    }
    keys[label + "." + origin] = ctx;
  }
  return keys;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One mbox message (LF lines, "From " line already cut) -> what the timed loop needs.
Prepared Prepare(std::string_view msg, const std::map<std::string, EVP_PKEY_CTX*>& keys) {
  Prepared p;
  size_t pos = 0;
  std::string sig_value;
  // Header block: the signed fields in order, then the signature without b='s value.
  while (pos < msg.size()) {
    size_t eol = msg.find('\n', pos);
    if (eol == std::string_view::npos) eol = msg.size();
    std::string_view line = msg.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (Lower(name) == "dkim-signature") {
      sig_value = std::string(value);
    } else {
      p.header += Lower(name) + ":" + std::string(value) + "\r\n";
    }
  }
  size_t b = sig_value.rfind("b=");
  p.header += "dkim-signature:" + sig_value.substr(0, b + 2);
  p.signature = Base64Decode(std::string_view(sig_value).substr(b + 2));
  std::string bh = Base64Decode(Tag(sig_value, "bh"));
  if (bh.size() != 32) {
    std::fprintf(stderr, "bench_ceiling: bh= is not a SHA-256\n");
    std::exit(2);
  }
  std::memcpy(p.bh, bh.data(), 32);
  auto key = keys.find(std::string(Tag(sig_value, "d")));
  if (key == keys.end()) {
    std::fprintf(stderr, "bench_ceiling: no key for d=%s\n",
                 std::string(Tag(sig_value, "d")).c_str());
    std::exit(2);
  }
  p.key = key->second;
  // Body: LF lines to CRLF, trailing empty lines dropped.
  std::string_view body = msg.substr(std::min(pos, msg.size()));
  while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  p.body.reserve(body.size() + body.size() / 32 + 2);
  size_t start = 0;
  while (start < body.size()) {
    size_t eol = body.find('\n', start);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(start, eol - start);
    if (!line.empty() && line[0] == '>') {  // mboxrd: ">From " / ">>From " one level less
      size_t k = line.find_first_not_of('>');
      if (k != std::string_view::npos && line.substr(k, 5) == "From ") line.remove_prefix(1);
    }
    p.body.append(line);
    p.body.append("\r\n");
    start = eol + 1;
  }
  return p;
}

std::vector<Prepared> PrepareAll(const std::string& mbox,
                                 const std::map<std::string, EVP_PKEY_CTX*>& keys) {
  std::vector<Prepared> out;
  size_t pos = 0;
  while (pos < mbox.size()) {
    size_t line_end = mbox.find('\n', pos);  // the "From " line
    if (line_end == std::string::npos) break;
    size_t next = mbox.find("\nFrom ", line_end);
    size_t end = next == std::string::npos ? mbox.size() : next + 1;
    out.push_back(Prepare(std::string_view(mbox).substr(line_end + 1, end - line_end - 1), keys));
    pos = end;
  }
  return out;
}

double Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The timed loop; returns how many messages verified.
size_t Ceiling(const std::vector<Prepared>& msgs) {
  size_t ok = 0;
  for (const Prepared& m : msgs) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(m.body.data(), m.body.size(), md, &len, Sha256(), nullptr);
    if (len != 32 || std::memcmp(md, m.bh, 32) != 0) continue;
    EVP_Digest(m.header.data(), m.header.size(), md, &len, Sha256(), nullptr);
    ok += EVP_PKEY_verify(m.key, reinterpret_cast<const unsigned char*>(m.signature.data()),
                          m.signature.size(), md, len) == 1;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_ceiling CORPUS.mbox ZONE [--repeat N]\n");
    return 2;
  }
  int repeat = 3;
  if (argc >= 5 && std::string_view(argv[3]) == "--repeat") repeat = std::atoi(argv[4]);
  std::map<std::string, EVP_PKEY_CTX*> keys = ReadKeys(ReadFile(argv[2]));
  std::vector<Prepared> msgs;
  {
    std::string mbox = ReadFile(argv[1]);
    msgs = PrepareAll(mbox, keys);
  }
  double best = 0, best_cpu = 0;
  for (int i = 0; i < repeat; ++i) {
    double t0 = Now(CLOCK_MONOTONIC), c0 = Now(CLOCK_THREAD_CPUTIME_ID);
    size_t ok = Ceiling(msgs);
    double dt = Now(CLOCK_MONOTONIC) - t0, cpu = Now(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (ok != msgs.size()) {
      std::fprintf(stderr, "bench_ceiling: %zu of %zu messages verified\n", ok, msgs.size());
      return 1;
    }
    if (i == 0 || dt < best) best = dt;
    if (i == 0 || cpu < best_cpu) best_cpu = cpu;
  }
  for (auto& [name, key] : keys) EVP_PKEY_CTX_free(key);
  std::printf("ceiling %zu messages %.4f s %.4f s %.0f\n", msgs.size(), best, best_cpu,
              msgs.size() / best_cpu);
  return 0;
}
