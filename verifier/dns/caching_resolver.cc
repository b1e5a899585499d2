// MakeCachingResolver: a bounded, thread-safe TTL cache in front of any Resolver. Bounded by
// entries and by bytes: a hostile zone decides how big its answers are, so the cache counts
// what each entry holds and refuses answers too big to be real keys or policy records.
#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "credence/dns.h"
#include "dns/dns_name.h"

namespace credence {

namespace {

// Heap bytes behind a string: none while it fits in the string object itself.
size_t HeapBytes(const std::string& s) {
  static const size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() + 1 : 0;
}

// Bytes of record data in an answer: what max_answer_bytes compares.
size_t RecordDataBytes(const DnsAnswer& a) {
  size_t n = 0;
  for (const ResourceRecord& rr : a.records) n += rr.data.size();
  return n;
}

class CachingResolver final : public Resolver {
 public:
  CachingResolver(std::unique_ptr<Resolver> inner, const Clock& clock, const CacheOptions& options)
      : inner_(std::move(inner)), clock_(clock), options_(options) {}

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers(questions.size());
    std::vector<std::string> keys(questions.size());
    // Misses, each asked once: the question and the indexes of `questions` waiting for it.
    std::vector<DnsQuestion> misses;
    std::unordered_map<std::string, size_t> miss_index;
    std::vector<std::vector<size_t>> waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int64_t now = clock_.Now();
      for (size_t i = 0; i < questions.size(); ++i) {
        keys[i] = Key(questions[i]);
        if (Lookup(keys[i], now, &answers[i])) {
          ++stats_.hits;
          continue;
        }
        ++stats_.misses;
        auto [it, inserted] = miss_index.emplace(keys[i], misses.size());
        if (inserted) {
          misses.push_back(questions[i]);
          waiting.emplace_back();
        }
        waiting[it->second].push_back(i);
      }
    }
    if (misses.empty()) return answers;

    std::vector<DnsAnswer> fresh = inner_->Resolve(misses, deadline);
    fresh.resize(misses.size());  // an inner resolver that answered short: tempfail the rest

    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_.Now();
    for (size_t m = 0; m < misses.size(); ++m) {
      Store(Key(misses[m]), fresh[m], now);
      for (size_t i : waiting[m]) answers[i] = fresh[m];
    }
    return answers;
  }

  CacheStats Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    CacheStats out = stats_;
    out.entries = entries_.size();
    out.bytes = bytes_;
    return out;
  }

 private:
  struct Entry {
    DnsAnswer answer;
    int64_t stored = 0;
    int64_t expires = 0;
    size_t bytes = 0;                      // as accounted by EntryBytes
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };
  using Entries = std::unordered_map<std::string, Entry>;

  // What one entry costs: the heap bytes of its key (held twice: the map and the LRU list),
  // of its answer (records and their data, detail), and a fixed part for the objects
  // themselves, the hash node and bucket, the list node and the allocator's headers.
  static size_t EntryBytes(const std::string& key, const DnsAnswer& a) {
    constexpr size_t kFixed = sizeof(Entries::value_type) + sizeof(std::string) + 8 * sizeof(void*);
    size_t n = kFixed + 2 * HeapBytes(key) + HeapBytes(a.detail) +
               a.records.capacity() * sizeof(ResourceRecord);
    for (const ResourceRecord& rr : a.records) {
      n += HeapBytes(rr.data) + rr.txt_breaks.capacity() * sizeof(uint16_t);
    }
    return n;
  }

  static std::string Key(const DnsQuestion& q) {
    return std::to_string(static_cast<uint16_t>(q.type)) + " " +
           dns_internal::NormalizeName(q.name);
  }

  void Erase(Entries::iterator it) {
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }

  // A live entry: copies it out with TTLs reduced by its age and marks it recently used.
  bool Lookup(const std::string& key, int64_t now, DnsAnswer* out) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    Entry& e = it->second;
    if (now >= e.expires || now < e.stored) {  // expired, or the clock went back
      Erase(it);
      return false;
    }
    lru_.splice(lru_.begin(), lru_, e.lru);
    *out = e.answer;
    const uint32_t age = static_cast<uint32_t>(now - e.stored);
    out->ttl = out->ttl > age ? out->ttl - age : 0;
    for (ResourceRecord& rr : out->records) rr.ttl = rr.ttl > age ? rr.ttl - age : 0;
    return true;
  }

  void Store(const std::string& key, const DnsAnswer& answer, int64_t now) {
    if (options_.max_entries == 0 || options_.max_bytes == 0) return;
    uint32_t ttl = answer.ttl;
    if (answer.outcome == DnsOutcome::kNotAsked) return;  // says nothing about the name
    if (answer.outcome == DnsOutcome::kTempFail) {
      // RFC 2308 §7.1: a server failure may be cached briefly (off by default). A deadline that
      // ran out says nothing about the name, so it is never cached.
      if (options_.tempfail_ttl == 0 || answer.failure == DnsFailure::kDeadline) return;
      ttl = options_.tempfail_ttl;
    } else if (answer.outcome != DnsOutcome::kOk && ttl == 0) {
      ttl = options_.negative_ttl;
    }
    ttl = std::min(ttl, options_.max_ttl);
    if (ttl == 0) return;  // RFC 1035 §3.2.1: TTL 0 means "do not cache"
    if (RecordDataBytes(answer) > options_.max_answer_bytes) {
      ++stats_.too_large;
      return;
    }
    auto it = entries_.find(key);
    if (it != entries_.end()) Erase(it);
    Entry e;
    e.answer = answer;  // a copy: its strings and vector hold exactly what they need
    e.answer.ttl = ttl;
    e.stored = now;
    e.expires = now + ttl;
    e.bytes = EntryBytes(key, e.answer);
    if (e.bytes > options_.max_bytes) {
      ++stats_.too_large;
      return;
    }
    while (!lru_.empty() &&
           (entries_.size() >= options_.max_entries || bytes_ + e.bytes > options_.max_bytes)) {
      Erase(entries_.find(lru_.back()));
      ++stats_.evictions;
    }
    lru_.push_front(key);
    e.lru = lru_.begin();
    bytes_ += e.bytes;
    entries_.emplace(key, std::move(e));
  }

  std::unique_ptr<Resolver> inner_;
  const Clock& clock_;
  const CacheOptions options_;
  mutable std::mutex mu_;
  Entries entries_;
  std::list<std::string> lru_;
  size_t bytes_ = 0;  // sum of the entries' bytes
  CacheStats stats_;  // counters (entries and bytes are filled in by Stats)
};

}  // namespace

std::unique_ptr<Resolver> MakeCachingResolver(std::unique_ptr<Resolver> inner, const Clock& clock,
                                              const CacheOptions& options) {
  return std::make_unique<CachingResolver>(std::move(inner), clock, options);
}

Result<CacheStats> CachingResolverStats(const Resolver& cache) {
  const auto* c = dynamic_cast<const CachingResolver*>(&cache);
  if (c == nullptr) return Status::Invalid("not a caching resolver");
  return c->Stats();
}

}  // namespace credence
