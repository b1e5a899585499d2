// MakeCachingResolver with a counting fake inner resolver and a FixedClock.
#include <boost/test/unit_test.hpp>
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

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
