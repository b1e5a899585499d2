// MakeCachingResolver: a bounded, thread-safe TTL cache in front of any Resolver.
#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "credence/dns.h"
#include "dns/dns_name.h"

namespace credence {

namespace {

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
          ++hits_;
          continue;
        }
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

 private:
  struct Entry {
    DnsAnswer answer;
    int64_t stored = 0;
    int64_t expires = 0;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };

  static std::string Key(const DnsQuestion& q) {
    return std::to_string(static_cast<uint16_t>(q.type)) + " " +
           dns_internal::NormalizeName(q.name);
  }

  // A live entry: copies it out with TTLs reduced by its age and marks it recently used.
  bool Lookup(const std::string& key, int64_t now, DnsAnswer* out) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    Entry& e = it->second;
    if (now >= e.expires || now < e.stored) {  // expired, or the clock went back
      lru_.erase(e.lru);
      entries_.erase(it);
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
    if (options_.max_entries == 0) return;
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
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      lru_.erase(it->second.lru);
      entries_.erase(it);
    }
    while (entries_.size() >= options_.max_entries) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    Entry e;
    e.answer = answer;
    e.answer.ttl = ttl;
    e.stored = now;
    e.expires = now + ttl;
    e.lru = lru_.begin();
    entries_.emplace(key, std::move(e));
  }

  std::unique_ptr<Resolver> inner_;
  const Clock& clock_;
  const CacheOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
  uint64_t hits_ = 0;
};

}  // namespace

std::unique_ptr<Resolver> MakeCachingResolver(std::unique_ptr<Resolver> inner, const Clock& clock,
                                              const CacheOptions& options) {
  return std::make_unique<CachingResolver>(std::move(inner), clock, options);
}

}  // namespace credence
