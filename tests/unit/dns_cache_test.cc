// MakeCachingResolver with a counting fake inner resolver and a FixedClock.
#include <malloc.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <map>
#include <thread>

#include "credence/dns.h"

namespace credence {
namespace {

const Deadline kFar = std::chrono::steady_clock::now() + std::chrono::hours(1);

// Answers from a table; counts batches and questions it was asked.
class CountingResolver final : public Resolver {
 public:
  std::map<std::string, DnsAnswer> table;  // key "name TYPE"
  int batches = 0;
  int questions = 0;
  std::vector<std::vector<DnsQuestion>> seen;

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> qs, Deadline) override {
    ++batches;
    questions += static_cast<int>(qs.size());
    seen.emplace_back(qs.begin(), qs.end());
    std::vector<DnsAnswer> out;
    for (const auto& q : qs) {
      auto it = table.find(q.name + " " + RRTypeName(q.type));
      if (it != table.end()) {
        out.push_back(it->second);
      } else {
        DnsAnswer a;
        a.outcome = DnsOutcome::kNxDomain;
        out.push_back(a);
      }
    }
    return out;
  }
};

DnsAnswer Ok(std::string data, uint32_t ttl) {
  DnsAnswer a;
  a.outcome = DnsOutcome::kOk;
  a.records.push_back({RRType::kTXT, ttl, std::move(data), 0});
  a.ttl = ttl;
  return a;
}

struct Fixture {
  FixedClock clock{1'700'000'000};
  CountingResolver* inner = nullptr;
  std::unique_ptr<Resolver> cache;
  explicit Fixture(CacheOptions o = CacheOptions()) {
    auto c = std::make_unique<CountingResolver>();
    inner = c.get();
    inner->table["a.test TXT"] = Ok("A", 100);
    inner->table["b.test TXT"] = Ok("B", 100000);
    DnsAnswer nodata;
    nodata.outcome = DnsOutcome::kNoData;
    nodata.ttl = 30;
    inner->table["nodata.test TXT"] = nodata;
    DnsAnswer fail;
    fail.outcome = DnsOutcome::kTempFail;
    fail.detail = "SERVFAIL";
    inner->table["fail.test TXT"] = fail;
    inner->table["zero.test TXT"] = Ok("Z", 0);
    cache = MakeCachingResolver(std::move(c), clock, o);
  }
  DnsAnswer Ask(const std::string& name, RRType t = RRType::kTXT) {
    return cache->ResolveOne({name, t}, kFar);
  }
};

BOOST_AUTO_TEST_SUITE(dns_cache)

BOOST_AUTO_TEST_CASE(hit_until_ttl_then_expiry) {
  Fixture f;
  BOOST_TEST(f.Ask("a.test").records.at(0).data == "A");
  BOOST_TEST(f.inner->questions == 1);
  f.clock.Set(f.clock.Now() + 99);
  DnsAnswer a = f.Ask("A.Test.");  // same question, other spelling
  BOOST_TEST(f.inner->questions == 1);
  BOOST_TEST(a.records.at(0).data == "A");
  BOOST_TEST(a.ttl == 1u);  // remaining TTL
  BOOST_TEST(a.records.at(0).ttl == 1u);
  f.clock.Set(f.clock.Now() + 1);  // now exactly at expiry
  f.Ask("a.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(ttl_capped_by_max_ttl) {
  CacheOptions o;
  o.max_ttl = 600;
  Fixture f(o);
  f.Ask("b.test");
  f.clock.Set(f.clock.Now() + 599);
  f.Ask("b.test");
  BOOST_TEST(f.inner->questions == 1);
  f.clock.Set(f.clock.Now() + 1);
  f.Ask("b.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(negative_answers_cached) {
  CacheOptions o;
  o.negative_ttl = 50;
  Fixture f(o);
  // kNoData with its own TTL (30).
  BOOST_TEST((f.Ask("nodata.test").outcome == DnsOutcome::kNoData));
  f.clock.Set(f.clock.Now() + 29);
  BOOST_TEST((f.Ask("nodata.test").outcome == DnsOutcome::kNoData));
  BOOST_TEST(f.inner->questions == 1);
  // kNxDomain without a TTL: negative_ttl (50).
  BOOST_TEST((f.Ask("nx.test").outcome == DnsOutcome::kNxDomain));
  f.clock.Set(f.clock.Now() + 49);
  BOOST_TEST((f.Ask("nx.test").outcome == DnsOutcome::kNxDomain));
  BOOST_TEST(f.inner->questions == 2);
  f.clock.Set(f.clock.Now() + 1);
  f.Ask("nx.test");
  BOOST_TEST(f.inner->questions == 3);
}

BOOST_AUTO_TEST_CASE(tempfail_not_cached) {
  Fixture f;
  BOOST_TEST((f.Ask("fail.test").outcome == DnsOutcome::kTempFail));
  BOOST_TEST(f.Ask("fail.test").detail == "SERVFAIL");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(tempfail_cached_for_tempfail_ttl_when_asked_to) {
  CacheOptions o;
  o.tempfail_ttl = 60;
  Fixture f(o);
  BOOST_TEST(f.Ask("fail.test").detail == "SERVFAIL");
  BOOST_TEST(f.Ask("fail.test").detail == "SERVFAIL");
  BOOST_TEST(f.inner->questions == 1);
  f.clock.Set(f.clock.Now() + 61);  // expired: asked again
  BOOST_TEST((f.Ask("fail.test").outcome == DnsOutcome::kTempFail));
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(deadline_never_cached) {
  CacheOptions o;
  o.tempfail_ttl = 60;
  Fixture f(o);
  f.inner->table["late.test TXT"] = DnsAnswer::DeadlinePassed();
  f.Ask("late.test");
  f.Ask("late.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(ttl_zero_not_cached) {
  Fixture f;
  f.Ask("zero.test");
  f.Ask("zero.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(type_is_part_of_the_key) {
  Fixture f;
  f.Ask("a.test", RRType::kTXT);
  BOOST_TEST((f.Ask("a.test", RRType::kA).outcome == DnsOutcome::kNxDomain));
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(lru_bound_evicts_least_recent) {
  CacheOptions o;
  o.max_entries = 2;
  o.negative_ttl = 1000;
  Fixture f(o);
  f.Ask("n1.test");
  f.Ask("n2.test");
  f.Ask("n1.test");  // hit: n1 is now most recent
  BOOST_TEST(f.inner->questions == 2);
  f.Ask("n3.test");  // evicts n2
  f.Ask("n1.test");
  BOOST_TEST(f.inner->questions == 3);
  f.Ask("n2.test");
  BOOST_TEST(f.inner->questions == 4);
}

BOOST_AUTO_TEST_CASE(max_entries_zero_disables) {
  CacheOptions o;
  o.max_entries = 0;
  Fixture f(o);
  f.Ask("a.test");
  f.Ask("a.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(batch_dedup_and_only_misses_asked) {
  Fixture f;
  f.Ask("a.test");
  std::vector<DnsQuestion> qs = {{"a.test", RRType::kTXT},      {"nodata.test", RRType::kTXT},
                                 {"NODATA.test", RRType::kTXT}, {"fail.test", RRType::kTXT},
                                 {"nodata.test.", RRType::kTXT}, {"b.test", RRType::kTXT}};
  auto answers = f.cache->Resolve(qs, kFar);
  BOOST_TEST_REQUIRE(answers.size() == qs.size());
  BOOST_TEST(f.inner->batches == 2);
  BOOST_TEST_REQUIRE(f.inner->seen.back().size() == 3u);  // nodata, fail, b: once each
  BOOST_TEST(f.inner->seen.back()[0].name == "nodata.test");
  BOOST_TEST(f.inner->seen.back()[1].name == "fail.test");
  BOOST_TEST(f.inner->seen.back()[2].name == "b.test");
  BOOST_TEST(answers[0].records.at(0).data == "A");
  BOOST_TEST((answers[1].outcome == DnsOutcome::kNoData));
  BOOST_TEST((answers[2].outcome == DnsOutcome::kNoData));
  BOOST_TEST((answers[3].outcome == DnsOutcome::kTempFail));
  BOOST_TEST((answers[4].outcome == DnsOutcome::kNoData));
  BOOST_TEST(answers[5].records.at(0).data == "B");
  // Everything answered now is cached except the tempfail.
  answers = f.cache->Resolve(qs, kFar);
  BOOST_TEST(f.inner->batches == 3);
  BOOST_TEST(f.inner->seen.back().size() == 1u);
}

BOOST_AUTO_TEST_CASE(clock_going_back_drops_entry) {
  Fixture f;
  f.Ask("a.test");
  f.clock.Set(f.clock.Now() - 10);
  f.Ask("a.test");
  BOOST_TEST(f.inner->questions == 2);
}

BOOST_AUTO_TEST_CASE(thread_safe_under_concurrency) {
  // A thread-safe inner resolver for this test: ZoneResolver.
  auto zone = std::make_unique<ZoneResolver>();
  for (int i = 0; i < 50; ++i) {
    zone->AddRecord("n" + std::to_string(i) + ".test", {RRType::kA, 300, "192.0.2.1", 0});
  }
  FixedClock clock(1000);
  CacheOptions o;
  o.max_entries = 20;  // forces evictions while threads race
  auto cache = MakeCachingResolver(std::move(zone), clock, o);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        int n = (i * 7 + t) % 60;
        DnsAnswer a = cache->ResolveOne({"n" + std::to_string(n) + ".test", RRType::kA}, kFar);
        bool want_ok = n < 50;
        if ((a.outcome == DnsOutcome::kOk) != want_ok) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(wrong.load() == 0);
}

// --- Bounded in bytes: what a hostile zone publishes decides how big answers are. ---

CacheStats Stats(const Resolver& cache) {
  Result<CacheStats> s = CachingResolverStats(cache);
  BOOST_TEST_REQUIRE(s.ok());
  return *s;
}

// Answers every TXT question with `bytes` of data (like a wildcard that answers any name).
class BigTxtResolver final : public Resolver {
 public:
  explicit BigTxtResolver(size_t bytes) : bytes_(bytes) {}
  int questions = 0;
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> qs, Deadline) override {
    std::vector<DnsAnswer> out;
    for (const DnsQuestion& q : qs) {
      ++questions;
      out.push_back(Ok(q.name + std::string(bytes_ - std::min(bytes_, q.name.size()), 'k'), 3600));
    }
    return out;
  }

 private:
  size_t bytes_;
};

BOOST_AUTO_TEST_CASE(answers_over_max_answer_bytes_are_not_cached) {
  Fixture f;
  f.inner->table["big.test TXT"] = Ok(std::string(4097, 'x'), 300);
  f.inner->table["fits.test TXT"] = Ok(std::string(4096, 'x'), 300);
  // Several records count together.
  DnsAnswer two = Ok(std::string(2048, 'y'), 300);
  two.records.push_back({RRType::kTXT, 300, std::string(2049, 'z'), 0});
  f.inner->table["two.test TXT"] = two;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(f.Ask("big.test").records.at(0).data.size() == 4097u);  // still answered
    BOOST_TEST(f.Ask("fits.test").records.at(0).data.size() == 4096u);
    BOOST_TEST(f.Ask("two.test").records.size() == 2u);
  }
  BOOST_TEST(f.inner->questions == 3 + 1 + 3);  // big and two every time, fits once
  CacheStats st = Stats(*f.cache);
  BOOST_TEST(st.too_large == 6u);
  BOOST_TEST(st.entries == 1u);
  BOOST_TEST(st.hits == 2u);
  BOOST_TEST(st.misses == 7u);
}

BOOST_AUTO_TEST_CASE(many_60kb_answers_stay_under_the_byte_budget) {
  // The attack: every key question of 800 messages x 16 signatures answered by one
  // 60 KB wildcard record. With the defaults nothing of it is cached.
  FixedClock clock(1000);
  auto inner = std::make_unique<BigTxtResolver>(60000);
  BigTxtResolver* big = inner.get();
  auto cache = MakeCachingResolver(std::move(inner), clock);
  for (int m = 0; m < 800; ++m) {
    std::vector<DnsQuestion> qs;
    for (int s = 0; s < 16; ++s) {
      qs.push_back({"m" + std::to_string(m) + "s" + std::to_string(s) + "._domainkey.evil.test",
                    RRType::kTXT});
    }
    std::vector<DnsAnswer> answers = cache->Resolve(qs, kFar);
    BOOST_TEST_REQUIRE(answers.size() == 16u);
    BOOST_TEST_REQUIRE(answers[15].records.at(0).data.size() == 60000u);
  }
  CacheStats st = Stats(*cache);
  BOOST_TEST(st.entries == 0u);
  BOOST_TEST(st.bytes == 0u);
  BOOST_TEST(st.too_large == 12800u);
  BOOST_TEST(big->questions == 12800);

  // With answers that large allowed in, the byte budget holds instead: accounted bytes never
  // pass max_bytes, and every answer kept is a whole one.
  CacheOptions o;
  o.max_answer_bytes = 64 << 10;
  o.max_bytes = 1 << 20;
  auto bounded = MakeCachingResolver(std::make_unique<BigTxtResolver>(60000), clock, o);
  size_t peak = 0;
  for (int i = 0; i < 2000; ++i) {
    bounded->ResolveOne({"n" + std::to_string(i) + ".evil.test", RRType::kTXT}, kFar);
    st = Stats(*bounded);
    BOOST_TEST_REQUIRE(st.bytes <= o.max_bytes);
    peak = std::max(peak, st.bytes);
  }
  BOOST_TEST(st.entries >= 15u);  // 1 MiB holds 16 entries of ~60 KB, minus overhead
  BOOST_TEST(st.entries <= 17u);
  BOOST_TEST(st.bytes >= st.entries * 60000);
  BOOST_TEST(st.evictions == 2000u - st.entries);
  BOOST_TEST_MESSAGE("2000 answers of 60 KB, budget 1 MiB: " << st.entries << " entries, "
                     << st.bytes << " bytes accounted, peak " << peak);
}

BOOST_AUTO_TEST_CASE(byte_budget_evicts_least_recently_used) {
  CacheOptions o;
  o.negative_ttl = 1000;
  Fixture probe(o);
  probe.inner->table["x.test TXT"] = Ok(std::string(1000, 'x'), 300);
  probe.Ask("x.test");
  const size_t one = Stats(*probe.cache).bytes;  // what one 1000-byte answer costs
  BOOST_TEST(one > 1000u);
  BOOST_TEST(one < 1400u);

  o.max_bytes = 3 * one;  // room for three
  Fixture f(o);
  for (int i = 1; i <= 4; ++i) {
    f.inner->table["k" + std::to_string(i) + ".test TXT"] = Ok(std::string(1000, 'a' + i), 300);
  }
  f.Ask("k1.test");
  f.Ask("k2.test");
  f.Ask("k3.test");
  f.Ask("k1.test");  // hit: k1 is now the most recent
  BOOST_TEST(f.inner->questions == 3);
  BOOST_TEST(Stats(*f.cache).bytes == 3 * one);
  f.Ask("k4.test");  // evicts k2, the least recently used
  BOOST_TEST(Stats(*f.cache).evictions == 1u);
  f.Ask("k1.test");
  f.Ask("k3.test");
  BOOST_TEST(f.inner->questions == 4);
  f.Ask("k2.test");
  BOOST_TEST(f.inner->questions == 5);
  BOOST_TEST(Stats(*f.cache).bytes <= o.max_bytes);
}

BOOST_AUTO_TEST_CASE(expiry_and_replacement_give_their_bytes_back) {
  Fixture f;
  f.Ask("a.test");  // TTL 100
  f.Ask("nodata.test");
  const size_t both = Stats(*f.cache).bytes;
  BOOST_TEST(Stats(*f.cache).entries == 2u);
  f.clock.Set(f.clock.Now() + 100);  // a.test expired: dropped when next asked
  f.Ask("a.test");
  BOOST_TEST(Stats(*f.cache).bytes == both);  // the fresh copy replaced it
  f.clock.Set(f.clock.Now() + 1000);
  f.Ask("a.test");
  f.Ask("nodata.test");
  BOOST_TEST(Stats(*f.cache).entries == 2u);
  BOOST_TEST(Stats(*f.cache).bytes == both);
}

BOOST_AUTO_TEST_CASE(max_bytes_zero_disables) {
  CacheOptions o;
  o.max_bytes = 0;
  Fixture f(o);
  f.Ask("a.test");
  f.Ask("a.test");
  BOOST_TEST(f.inner->questions == 2);
  BOOST_TEST(Stats(*f.cache).entries == 0u);
}

// The accounting is an estimate of what the entries really hold: compared with the heap
// growth glibc reports while the cache fills (not under ASan, whose allocator glibc does not
// see). Both numbers are printed; the bound is a generous factor of two either way.
BOOST_AUTO_TEST_CASE(accounted_bytes_track_the_heap) {
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("skipped under AddressSanitizer");
#else
  for (size_t size : {60u, 400u, 2000u}) {
    FixedClock clock(1000);
    CacheOptions o;
    o.max_entries = 1000000;
    o.max_bytes = size_t{1} << 30;
    auto cache = MakeCachingResolver(std::make_unique<BigTxtResolver>(size), clock, o);
    const size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 20000; ++i) {
      cache->ResolveOne({"name" + std::to_string(i) + ".example.test", RRType::kTXT}, kFar);
    }
    const size_t heap = mallinfo2().uordblks - before;
    const size_t accounted = Stats(*cache).bytes;
    BOOST_TEST_MESSAGE("20000 answers of " << size << " bytes: accounted " << accounted
                       << " bytes, heap grew " << heap << " bytes");
    BOOST_TEST(accounted * 2 >= heap);
    BOOST_TEST(accounted <= heap * 2);
  }
#endif
}

BOOST_AUTO_TEST_CASE(stats_only_for_a_caching_resolver) {
  ZoneResolver z;
  BOOST_TEST(!CachingResolverStats(z).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
