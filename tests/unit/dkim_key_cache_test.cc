// The DKIM verifier's key cache (verifier/dkim/key_cache.h): parsed key records by text,
// bounded in bytes, records longer than real keys parsed but never kept.
#include <malloc.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dkim/key_cache.h"

namespace credence {
namespace {

using dkim::CachedKey;
using dkim::KeyCache;
using dkim::KeyCacheOptions;

// Key record texts made by openssl genpkey (tests/data/dkim/signed/keys.json).
std::string KeyText(const std::string& name) {
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/dkim/signed/keys.json");
  nlohmann::json keys = nlohmann::json::parse(in);
  return keys.at(name + "._domainkey.example.com").at(0).get<std::string>();
}

// The same key under another text: a note tag (RFC 6376 §3.6.1 n=) makes it a new entry.
std::string Variant(const std::string& text, int i) {
  return "v=DKIM1; n=" + std::to_string(i) + ";" + text.substr(std::string("v=DKIM1;").size());
}

BOOST_AUTO_TEST_SUITE(dkim_key_cache)

BOOST_AUTO_TEST_CASE(hit_returns_the_parsed_key) {
  KeyCache cache;
  const std::string text = KeyText("s2048");
  std::shared_ptr<const CachedKey> a = cache.Get(text);
  BOOST_TEST_REQUIRE(a != nullptr);
  BOOST_TEST((a->error.reason == DkimReason::kNone));
  BOOST_TEST(a->record.key->bits() == 2048u);
  BOOST_TEST(cache.Get(text) == a);  // the same object: not parsed again
  BOOST_TEST(cache.size() == 1u);
  // Records that do not parse are cached too (with their error).
  std::shared_ptr<const CachedKey> bad = cache.Get("v=DKIM1; p=!!!");
  BOOST_TEST((bad->error.reason == DkimReason::kKeySyntax));
  BOOST_TEST(cache.Get("v=DKIM1; p=!!!") == bad);
  BOOST_TEST(cache.size() == 2u);
}

BOOST_AUTO_TEST_CASE(records_longer_than_max_record_bytes_are_kept_by_digest) {
  KeyCache cache;
  // The record: 60 KB of key text at a wildcard, the same for every selector. Its
  // text is not kept; its parsed result is, under the text's SHA-256, so it is parsed once.
  const std::string huge = "v=DKIM1; k=rsa; p=" + std::string(60000, 'A');
  std::shared_ptr<const CachedKey> a = cache.Get(huge);
  BOOST_TEST((a->error.reason != DkimReason::kNone));
  BOOST_TEST(cache.Get(huge) == a);
  BOOST_TEST(cache.size() == 1u);
  BOOST_TEST(cache.bytes() < 1000u);  // no 60 KB inside
  // Another long text is another entry; a long text with a real key in it keeps its key.
  const std::string padded = KeyText("s2048") + "; x=" + std::string(5000, 'p');
  std::shared_ptr<const CachedKey> k = cache.Get(padded);
  BOOST_TEST((k->error.reason == DkimReason::kNone));
  BOOST_TEST(cache.Get(padded) == k);
  BOOST_TEST(cache.size() == 2u);
  BOOST_TEST(cache.bytes() < 1000u + 1000u + k->record.key->HeapBytes());
  // The boundary: 4096 bytes are kept by text, 4097 by digest.
  KeyCache edge;
  std::string text = KeyText("s4096");
  std::string at_limit = text + std::string(4096 - text.size(), ' ');
  edge.Get(at_limit);
  BOOST_TEST(edge.bytes() > 4096u);
  const size_t with_text = edge.bytes();
  edge.Get(at_limit + " ");
  BOOST_TEST(edge.size() == 2u);
  BOOST_TEST(edge.bytes() - with_text < with_text - 4096u + 100u);
}

BOOST_AUTO_TEST_CASE(many_long_records_stay_under_the_budget) {
  // Distinct 60 KB records (a zone with one per selector): 20,000 of them never pass 4 MiB.
  KeyCache cache;
  std::string huge = "v=DKIM1; k=rsa; p=" + std::string(60000, 'A');
  for (int i = 0; i < 20000; ++i) {
    huge.replace(0, 8, std::to_string(10000000 + i));  // a different text each time
    cache.Get(huge);
    BOOST_TEST_REQUIRE(cache.bytes() <= KeyCacheOptions().max_bytes);
  }
  // Each entry is a digest and an error (~300 bytes): over ten thousand fit, the rest evicted.
  BOOST_TEST(cache.size() > 10000u);
  BOOST_TEST(cache.size() < 20000u);
  BOOST_TEST_MESSAGE("20,000 distinct 60 KB records: " << cache.size() << " kept, "
                     << cache.bytes() << " bytes accounted");
}

BOOST_AUTO_TEST_CASE(byte_budget_holds_and_evicts_least_recently_used) {
  KeyCacheOptions o;
  o.max_bytes = 64 << 10;
  KeyCache cache(o);
  const std::string base = KeyText("s2048");
  cache.Get(Variant(base, 0));
  const size_t one = cache.bytes();
  const crypto::PublicKey& key = *cache.Get(Variant(base, 0))->record.key;
  BOOST_TEST(one > base.size() + key.HeapBytes());
  const size_t fit = o.max_bytes / one;
  BOOST_TEST_MESSAGE("one RSA-2048 entry: " << one << " bytes accounted; " << fit
                     << " fit in 64 KiB");
  std::shared_ptr<const CachedKey> first = cache.Get(Variant(base, 0));
  for (int i = 1; i < 1000; ++i) {
    cache.Get(Variant(base, i));
    cache.Get(Variant(base, 0));  // kept warm: never the least recently used
    BOOST_TEST_REQUIRE(cache.bytes() <= o.max_bytes);
  }
  BOOST_TEST(cache.size() == fit);
  BOOST_TEST(cache.Get(Variant(base, 0)) == first);      // still there
  BOOST_TEST(cache.Get(Variant(base, 999)) != nullptr);  // the newest one is there too
  const size_t before = cache.size();
  cache.Get(Variant(base, 1));  // long gone: parsed again and added
  BOOST_TEST(cache.size() == before);
}

BOOST_AUTO_TEST_CASE(default_budget_with_real_sized_keys) {
  // 4 MiB holds some thousand RSA-2048 entries; 20,000 distinct ones never pass it.
  KeyCache cache;
  const std::string base = KeyText("s2048");
  for (int i = 0; i < 20000; ++i) {
    cache.Get(Variant(base, i));
    BOOST_TEST_REQUIRE(cache.bytes() <= KeyCacheOptions().max_bytes);
  }
  BOOST_TEST(cache.size() > 1000u);
  BOOST_TEST_MESSAGE("default budget: " << cache.size() << " RSA-2048 entries, "
                     << cache.bytes() << " bytes accounted");
}

// PublicKey::HeapBytes is an estimate of OpenSSL's objects for one decoded key; the whole entry's
// accounting is compared with the heap growth glibc reports (not under ASan). Printed; the
// bound is a factor of two either way.
BOOST_AUTO_TEST_CASE(accounted_bytes_track_the_heap) {
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("skipped under AddressSanitizer");
#else
  for (const char* name : {"s1024", "s2048", "s4096", "sed"}) {
    KeyCacheOptions o;
    o.max_bytes = size_t{1} << 30;
    KeyCache cache(o);
    const std::string base = KeyText(name);
    const size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 2000; ++i) cache.Get(Variant(base, i));
    const size_t heap = mallinfo2().uordblks - before;
    BOOST_TEST_MESSAGE(name << ": 2000 entries, accounted " << cache.bytes() << " bytes, heap grew "
                            << heap << " bytes (" << heap / 2000 << " per entry)");
    BOOST_TEST(cache.bytes() * 2 >= heap);
    BOOST_TEST(cache.bytes() <= heap * 2);
  }
#endif
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
