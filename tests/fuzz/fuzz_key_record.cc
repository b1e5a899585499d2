// Fuzzes RFC 6376 §3.6.1 key record parsing, including RSA / Ed25519 key decoding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dkim/key_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence;
  dkim::KeyRecord key;
  dkim::KeyError e =
      dkim::ParseKeyRecord(std::string_view(reinterpret_cast<const char*>(data), size), &key);
  if (e.reason == DkimReason::kNone) {
    if (key.key == nullptr) __builtin_trap();
    crypto::Sha256Digest digest{};
    (void)key.key->VerifyDigest(digest, std::string_view(reinterpret_cast<const char*>(data),
                                                         size < 512 ? size : 512));
  }
  return 0;
}
