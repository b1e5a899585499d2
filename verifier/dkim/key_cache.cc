#include "dkim/key_cache.h"

namespace credence::dkim {

KeyCache::KeyCache(KeyCacheOptions options) : options_(options) {}

size_t KeyCache::EntryBytes(const std::string& key, const CachedKey& parsed) {
  // The hash node (key string, Entry, next pointer, hash), its bucket, the list node, the
  // shared CachedKey with its control block, and the allocator's headers.
  constexpr size_t kFixed = sizeof(Entries::value_type) + sizeof(CachedKey) + 12 * sizeof(void*);
  size_t n = kFixed + key.size() + 1 + parsed.error.detail.capacity();
  if (parsed.record.key) n += parsed.record.key->HeapBytes();
  return n;
}

void KeyCache::EvictOldest() {
  Entries& map = lru_.back().by_digest ? by_digest_ : by_text_;
  auto it = map.find(*lru_.back().key);
  bytes_ -= it->second.bytes;
  lru_.pop_back();
  map.erase(it);
}

std::shared_ptr<const CachedKey> KeyCache::Find(Entries* map, const std::string& key) {
  auto it = map->find(key);
  if (it == map->end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.key;
}

void KeyCache::Insert(Entries* map, const std::string& key,
                      std::shared_ptr<const CachedKey> parsed) {
  const size_t bytes = EntryBytes(key, *parsed);
  if (bytes > options_.max_bytes) return;
  while (!lru_.empty() && bytes_ + bytes > options_.max_bytes) EvictOldest();
  auto [pos, inserted] = map->emplace(key, Entry{std::move(parsed), bytes, {}});
  lru_.push_front(LruItem{map == &by_digest_, &pos->first});
  pos->second.lru = lru_.begin();
  bytes_ += bytes;
}

std::shared_ptr<const CachedKey> KeyCache::Get(const std::string& text) {
  const bool long_text = text.size() > options_.max_record_bytes;
  std::string digest;
  if (long_text) {
    const crypto::Sha256Digest d = crypto::Sha256::Hash(text);
    digest.assign(reinterpret_cast<const char*>(d.data()), d.size());
  }
  Entries* map = long_text ? &by_digest_ : &by_text_;
  const std::string& key = long_text ? digest : text;
  if (std::shared_ptr<const CachedKey> hit = Find(map, key)) return hit;
  auto parsed = std::make_shared<CachedKey>();
  parsed->error = ParseKeyRecord(text, &parsed->record);
  Insert(map, key, parsed);
  return parsed;
}

}  // namespace credence::dkim
