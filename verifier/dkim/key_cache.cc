#include "dkim/key_cache.h"

namespace credence::dkim {

KeyCache::KeyCache(KeyCacheOptions options) : options_(options) {}

size_t KeyCache::DecodedKeyBytes(const crypto::PublicKey& key) {
  if (key.type() == crypto::KeyType::kEd25519) return 512;
  return 1664 + key.bits() / 4;
}

size_t KeyCache::EntryBytes(const std::string& text, const CachedKey& key) {
  // The hash node (key string, Entry, next pointer, hash), its bucket, the list node, the
  // shared CachedKey with its control block, and the allocator's headers.
  constexpr size_t kFixed = sizeof(Entries::value_type) + sizeof(CachedKey) + 12 * sizeof(void*);
  size_t n = kFixed + text.size() + 1 + key.error.detail.capacity();
  if (key.record.key) n += DecodedKeyBytes(*key.record.key);
  return n;
}

void KeyCache::EvictOldest() {
  auto it = entries_.find(*lru_.back());
  bytes_ -= it->second.bytes;
  lru_.pop_back();
  entries_.erase(it);
}

std::shared_ptr<const CachedKey> KeyCache::Get(const std::string& text) {
  auto it = entries_.find(text);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.key;
  }
  auto key = std::make_shared<CachedKey>();
  key->error = ParseKeyRecord(text, &key->record);
  if (text.size() > options_.max_record_bytes) return key;  // parsed for this message only
  const size_t bytes = EntryBytes(text, *key);
  if (bytes > options_.max_bytes) return key;
  while (!lru_.empty() && bytes_ + bytes > options_.max_bytes) EvictOldest();
  auto [pos, inserted] = entries_.emplace(text, Entry{key, bytes, {}});
  lru_.push_front(&pos->first);
  pos->second.lru = lru_.begin();
  bytes_ += bytes;
  return key;
}

}  // namespace credence::dkim
