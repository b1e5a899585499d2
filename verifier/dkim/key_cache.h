// Private: the parsed DKIM key records a DkimVerifier keeps between messages, by record text.
// A hostile zone chooses the text (a wildcard can answer every selector with a 60 KB record),
// so the cache is bounded in bytes and does not keep record texts longer than real keys.
#ifndef CREDENCE_DKIM_KEY_CACHE_H_
#define CREDENCE_DKIM_KEY_CACHE_H_

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "credence/dns.h"
#include "credence/limits.h"
#include "dkim/key_record.h"

namespace credence::dkim {

// One key record's text, parsed: the record, or why it does not serve (ParseKeyRecord).
struct CachedKey {
  KeyRecord record;
  KeyError error;
};

struct KeyCacheOptions {
  // Bytes the cache may hold, as accounted per entry (KeyCache::bytes). Default 4 MiB per
  // verifier (about 1,100 RSA-2048 keys that have verified); least recently used entries go
  // first.
  size_t max_bytes = 4u << 20;
  // Record texts longer than this are not kept: their parsed result is kept under the
  // SHA-256 of the text instead, so a 60 KB record repeated for every selector is parsed
  // once (~230 us each time otherwise) and costs a hash per lookup, without 60 KB per entry.
  // Default 4 KiB: a 4096-bit RSA key record is ~800 bytes, an 8192-bit one ~1,500.
  size_t max_record_bytes = 4096;
};

// Not thread-safe: one per DkimVerifier, which is one per thread.
class KeyCache {
 public:
  explicit KeyCache(KeyCacheOptions options = KeyCacheOptions());
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  // The parsed record for `text`: from the cache, or parsed now (and kept within the bounds
  // above). Never null.
  std::shared_ptr<const CachedKey> Get(const std::string& text);

  size_t size() const { return by_text_.size() + by_digest_.size(); }
  // Accounted bytes: per entry its key (the record text, or a 32-byte digest), a fixed part
  // for the containers and the decoded key's OpenSSL objects once it has verified
  // (crypto::PublicKey::HeapBytes).
  size_t bytes() const { return bytes_; }

 private:
  struct LruItem {
    bool by_digest;          // which map holds it
    const std::string* key;  // the map's own key
  };
  struct Entry {
    std::shared_ptr<const CachedKey> key;
    size_t bytes = 0;
    std::list<LruItem>::iterator lru;
  };
  using Entries = std::unordered_map<std::string, Entry>;
  static size_t EntryBytes(const std::string& key, const CachedKey& parsed);
  std::shared_ptr<const CachedKey> Find(Entries* map, const std::string& key);
  void Insert(Entries* map, const std::string& key, std::shared_ptr<const CachedKey> parsed);
  void EvictOldest();

  KeyCacheOptions options_;
  Entries by_text_;    // record texts up to max_record_bytes
  Entries by_digest_;  // SHA-256 of longer record texts
  std::list<LruItem> lru_;  // front = most recently used
  size_t bytes_ = 0;
};

struct Signature;

// RFC 6376 §6.1.2 and §3.6.1, RFC 8301 §3.2: the key `answer` (the TXT answer at
// sig.KeyName()) gives for `sig`, parsed through `cache` and checked against the signature
// (k=, h=, t=s) and the RSA size limits. Returns the key, kept alive by `*hold`; or nullptr with
// r->result, r->reason and r->detail saying why (DNS outcome, key record error, mismatch).
// Sets r->testing and r->key_bits when a record was read. Shared by DKIM and ARC.
const crypto::PublicKey* CheckKey(const Signature& sig, const DnsAnswer& answer,
                                  const Limits& limits, KeyCache* cache, DkimResult* r,
                                  std::shared_ptr<const CachedKey>* hold);

// The other usable keys `answer` holds for `sig` besides `tried` (several TXT records at one
// selector, as in a key rotation that publishes the old and the new key there), at most 4:
// what a signature that did not verify with `tried` is checked with too, so that the verdict
// does not depend on the order the name server gave the records in. Empty for one record.
std::vector<std::shared_ptr<const CachedKey>> OtherKeys(const Signature& sig,
                                                        const DnsAnswer& answer,
                                                        const Limits& limits, KeyCache* cache,
                                                        const CachedKey* tried);

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_KEY_CACHE_H_
