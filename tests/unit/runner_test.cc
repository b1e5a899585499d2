// Archive runner (plugin/archive/runner.h): RFC 5322 date-times of Received fields (manifest
// tests/data/archive/dates.tsv), the topmost Received field, and Runner's ordering, DNS
// de-duplication, per-message time modes and error items.
#include "archive/runner.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "temp_dir.h"
#include <cstdio>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "credence/message.h"

namespace credence {
namespace {

namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;

struct DateCase {
  std::string name, input, expected;  // expected: seconds since the epoch, or "none"
};

std::ostream& operator<<(std::ostream& os, const DateCase& c) { return os << c.name; }

std::vector<DateCase> LoadDates() {
  std::vector<DateCase> out;
  std::ifstream in(std::string(CREDENCE_TEST_DATA) + "/archive/dates.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, '\t')) f.push_back(part);
    if (line.back() == '\t') f.push_back("");
    if (f.size() != 3) continue;
    // "\r\n" in the manifest stands for a folded line.
    for (size_t p; (p = f[1].find("\\r\\n")) != std::string::npos;) f[1].replace(p, 4, "\r\n");
    out.push_back({f[0], f[1], f[2]});
  }
  if (out.empty()) out.push_back({"<dates.tsv missing>", "", "missing"});
  return out;
}

using testing::TempDir;

using DnsQuestionKey = std::pair<std::string, int>;  // name, type

// Counts the questions that reach it, then answers from zone text. Also keeps the largest
// number of distinct "_dmarc.dN..." names asked in one Resolve call (a batch's prefetch).
class CountingResolver final : public Resolver {
 public:
  explicit CountingResolver(std::map<DnsQuestionKey, int>* counts) : counts_(counts) {
    BOOST_REQUIRE(zone_
                      .AddZoneText("$ORIGIN a.example.\n$TTL 300\n@ IN SOA ns hm 1 1 1 1 300\n"
                                   "_dmarc IN TXT \"v=DMARC1; p=none\"\n")
                      .ok());
  }
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::set<std::string> dmarc;
      for (const DnsQuestion& q : questions) {
        ++(*counts_)[{q.name, static_cast<int>(q.type)}];
        if (q.name.starts_with("_dmarc.d")) dmarc.insert(q.name);
      }
      max_dmarc_per_call_ = std::max(max_dmarc_per_call_, dmarc.size());
    }
    return zone_.Resolve(questions, deadline);
  }

  size_t max_dmarc_per_call() const { return max_dmarc_per_call_; }

 private:
  std::mutex mu_;
  std::map<DnsQuestionKey, int>* counts_;
  size_t max_dmarc_per_call_ = 0;
  ZoneResolver zone_;
};

std::string Mbox(int n, const std::string& domain) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += "From x@y Mon Jan  1 00:00:00 2024\n";
    out += "Received: from a by b; Tue, 14 Nov 2023 22:13:" + std::to_string(10 + i % 40) +
           " +0000\n";
    out += "From: <u" + std::to_string(i) + "@" + domain + ">\nSubject: " + std::to_string(i) +
           "\n\nbody " + std::to_string(i) + "\n\n";
  }
  return out;
}

std::vector<ItemResult> RunAll(const std::vector<std::string>& paths, RunnerOptions ro,
                               Resolver& resolver) {
  std::vector<ItemResult> out;
  Runner runner(EvaluatorOptions(), ro, resolver);
  Status s = runner.Run(paths, [&](ItemResult&& r) { out.push_back(std::move(r)); });
  BOOST_TEST(s.ok(), s.ToString());
  return out;
}

BOOST_AUTO_TEST_SUITE(runner)

BOOST_DATA_TEST_CASE(rfc5322_date_time, bdata::make(LoadDates()), c) {
  BOOST_TEST_REQUIRE(c.expected != "missing");
  std::optional<int64_t> got = ParseRfc5322DateTime(c.input);
  if (c.expected == "none") {
    BOOST_TEST(!got.has_value(), "parsed as " << got.value_or(0));
  } else {
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(*got == std::stoll(c.expected));
  }
}

BOOST_AUTO_TEST_CASE(date_time_parser_is_bounded_on_hostile_input) {
  std::string junk(1 << 20, '(');
  BOOST_TEST(!ParseRfc5322DateTime(junk).has_value());
  std::string many;
  for (int i = 0; i < 100000; ++i) many += "1 ";
  BOOST_TEST(!ParseRfc5322DateTime(many).has_value());
}

BOOST_AUTO_TEST_CASE(top_received_is_the_topmost_field_only) {
  Result<Message> m = Message::Parse(
      "Received: from a by b with ESMTP id 1;\r\n\tWed, 15 Nov 2023 10:00:00 +0000\r\n"
      "Received: from c by a; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
      "From: x@a.example\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(TopReceivedTime(*m).value_or(0) == 1700042400);
  Result<Message> none = Message::Parse("From: x@a.example\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(none.ok());
  BOOST_TEST(!TopReceivedTime(*none).has_value());
  Result<Message> no_semicolon =
      Message::Parse("Received: from a by b\r\nFrom: x@a.example\r\n\r\nbody\r\n");
  BOOST_TEST_REQUIRE(no_semicolon.ok());
  BOOST_TEST(!TopReceivedTime(*no_semicolon).has_value());
}

BOOST_AUTO_TEST_CASE(results_in_input_order_with_errors_in_place) {
  TempDir t;
  std::string a = t.Write("a.mbox", Mbox(50, "a.example"));
  std::string b = t.Write("b.eml", "From: <x@a.example>\n\nsingle\n");
  std::string missing = (t.path / "missing").string();
  std::map<DnsQuestionKey, int> counts;
  auto resolver = MakeSerializedResolver(std::make_unique<CountingResolver>(&counts));
  RunnerOptions ro;
  ro.jobs = 3;
  ro.batch = 2;  // many small batches, finished out of order by three workers
  std::vector<ItemResult> got = RunAll({a, missing, b, a}, ro, *resolver);
  BOOST_REQUIRE_EQUAL(got.size(), 102u);
  for (size_t i = 0; i < got.size(); ++i) BOOST_TEST(got[i].seq == i);
  BOOST_TEST(got[0].name == a + ":1");
  BOOST_TEST(got[49].name == a + ":50");
  BOOST_TEST(got[50].name == missing);
  BOOST_TEST(got[50].error.code() == StatusCode::kNotFound);
  BOOST_TEST(got[51].name == b);
  BOOST_TEST(got[51].error.ok());
  BOOST_TEST(got[52].name == a + ":1");
  for (size_t i : {size_t{0}, size_t{51}, size_t{101}}) {
    // Unsigned, no SPF: nothing aligns.
    BOOST_TEST(DmarcVerdictName(got[i].evaluation.dmarc.verdict) == "fail");
  }
}

BOOST_AUTO_TEST_CASE(sink_calls_never_overlap_and_come_in_order) {
  // Workers deliver results themselves: the one finishing the next batch hands it and every
  // consecutive parked batch to the sink. Calls must still be one at a time and in order.
  TempDir t;
  std::string a = t.Write("a.mbox", Mbox(300, "a.example"));
  std::map<DnsQuestionKey, int> counts;
  auto resolver = MakeSerializedResolver(std::make_unique<CountingResolver>(&counts));
  RunnerOptions ro;
  ro.jobs = 3;
  ro.batch = 2;
  std::atomic<int> inside{0};
  int overlaps = 0;
  std::vector<uint64_t> seqs;
  Runner runner(EvaluatorOptions(), ro, *resolver);
  Status s = runner.Run({a}, [&](ItemResult&& r) {
    if (inside.fetch_add(1) != 0) ++overlaps;
    if (r.seq % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    seqs.push_back(r.seq);
    inside.fetch_sub(1);
  });
  BOOST_TEST(s.ok(), s.ToString());
  BOOST_TEST(overlaps == 0);
  BOOST_REQUIRE_EQUAL(seqs.size(), 300u);
  for (size_t i = 0; i < seqs.size(); ++i) BOOST_TEST(seqs[i] == i);
}

BOOST_AUTO_TEST_CASE(each_question_reaches_the_resolver_once_behind_the_cache) {
  TempDir t;
  std::string a = t.Write("a.mbox", Mbox(200, "a.example"));
  std::map<DnsQuestionKey, int> counts;
  SystemClock clock;
  auto resolver = MakeSerializedResolver(
      MakeCachingResolver(std::make_unique<CountingResolver>(&counts), clock));
  RunnerOptions ro;
  ro.jobs = 2;
  ro.batch = 8;
  std::vector<ItemResult> got = RunAll({a}, ro, *resolver);
  BOOST_REQUIRE_EQUAL(got.size(), 200u);
  BOOST_TEST(!counts.empty());
  for (const auto& [q, n] : counts) BOOST_TEST(n == 1, q.first << " asked " << n << " times");
}

BOOST_AUTO_TEST_CASE(time_modes_set_evaluated_at) {
  TempDir t;
  std::string a = t.Write("a.mbox", Mbox(3, "a.example"));
  std::map<DnsQuestionKey, int> counts;
  auto resolver = MakeSerializedResolver(std::make_unique<CountingResolver>(&counts));
  RunnerOptions ro;
  ro.jobs = 2;
  ro.time_mode = TimeMode::kFixed;
  ro.at = 1234567890;
  for (const ItemResult& r : RunAll({a}, ro, *resolver)) BOOST_TEST(r.evaluated_at == 1234567890);
  ro.time_mode = TimeMode::kReceived;
  std::vector<ItemResult> got = RunAll({a}, ro, *resolver);
  BOOST_REQUIRE_EQUAL(got.size(), 3u);
  for (int i = 0; i < 3; ++i) BOOST_TEST(got[i].evaluated_at == 1699999990 + i);
}

BOOST_AUTO_TEST_CASE(large_messages_close_batches_early) {
  // 40 messages of 300 KB, each From its own domain. A batch's prefetch asks every _dmarc name
  // of the batch in one call: with batch_bytes 1 MiB a batch closes after 4 messages (1.2 MB),
  // without the byte bound after 32.
  TempDir t;
  std::string body;
  while (body.size() < 300000) body += std::string(79, 'a') + "\n";
  std::string box;
  for (int i = 0; i < 40; ++i) {
    box += "From x@y Mon Jan  1 00:00:00 2024\nFrom: <u@d" + std::to_string(i) +
           ".example>\nSubject: " + std::to_string(i) + "\n\n" +
           body + "\n";
  }
  std::string a = t.Write("big.mbox", box);
  for (size_t batch_bytes : {size_t{1} << 20, size_t{1} << 30}) {
    std::map<DnsQuestionKey, int> counts;
    auto counting = std::make_unique<CountingResolver>(&counts);
    CountingResolver* c = counting.get();
    auto resolver = MakeSerializedResolver(std::move(counting));
    RunnerOptions ro;
    ro.jobs = 2;
    ro.batch_bytes = batch_bytes;
    std::vector<ItemResult> got = RunAll({a}, ro, *resolver);
    BOOST_REQUIRE_EQUAL(got.size(), 40u);
    for (size_t i = 0; i < got.size(); ++i) {
      BOOST_TEST(got[i].seq == i);
      BOOST_TEST(got[i].error.ok(), got[i].error.ToString());
      BOOST_TEST(got[i].bytes > 300000u);
    }
    if (batch_bytes == size_t{1} << 20) {
      BOOST_TEST(c->max_dmarc_per_call() == 4u);
    } else {
      BOOST_TEST(c->max_dmarc_per_call() == 32u);
    }
  }
}

// Keys of the python3-dkim corpus (tests/data/dkim/signed/keys.json): TXT or NXDOMAIN.
class KeysResolver final : public Resolver {
 public:
  explicit KeysResolver(const nlohmann::json& keys) {
    for (auto& [name, v] : keys.items()) {
      if (v.is_array()) records_[name] = v.get<std::vector<std::string>>();
    }
  }
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions, Deadline) override {
    std::vector<DnsAnswer> out(questions.size());
    for (size_t i = 0; i < questions.size(); ++i) {
      auto r = records_.find(ToLower(questions[i].name));
      if (r == records_.end() || questions[i].type != RRType::kTXT) {
        out[i].outcome = DnsOutcome::kNxDomain;
        continue;
      }
      out[i].outcome = DnsOutcome::kOk;
      for (const std::string& t : r->second) out[i].records.push_back({RRType::kTXT, 300, t, 0});
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<std::string>> records_;
};

std::string DkimSummary(const Evaluation& e) {
  std::string out;
  for (const DkimResult& r : e.dkim) {
    out += std::string(DkimVerdictName(r.result)) + "/" + std::string(DkimReasonName(r.reason)) +
           " ";
  }
  return out;
}

// The A-R value without what the archive's hints add to a DKIM reason= (archive/body_hint.h,
// archive/header_hint.h): ": header hash fails: ..." or ": the body hash matches ..." up to
// the reason's closing quote.
std::string WithoutHints(std::string v) {
  for (const char* hint : {": header hash fails:", ": the body hash matches"}) {
    for (size_t at = v.find(hint); at != std::string::npos; at = v.find(hint, at)) {
      const size_t quote = v.find('"', at);
      v.erase(at, quote == std::string::npos ? std::string::npos : quote - at);
    }
  }
  return v;
}

// The runner prepares each message once and answers it from its batch's prefetched answers;
// the result must be exactly what one Evaluator::Evaluate call gives for the same message at
// the same time (the A-R but for the hints the archive adds to a failed hash's reason), for
// every message of the signed corpus (passes, failures, expired, future, testing keys,
// several signatures) and both time modes.
BOOST_AUTO_TEST_CASE(batched_results_equal_one_call_evaluation) {
  const std::string dir = std::string(CREDENCE_TEST_DATA) + "/dkim/signed/";
  nlohmann::json keys, cases;
  std::ifstream(dir + "keys.json") >> keys;
  std::ifstream(dir + "signed.json") >> cases;
  BOOST_REQUIRE(cases.size() >= 40u);
  TempDir t;
  fs::create_directories(t.path / "md" / "cur");
  std::vector<std::string> files;
  for (const auto& c : cases) {
    std::ifstream in(dir + c["file"].get<std::string>(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    // Received first, so that --at received has a date to use.
    std::string text = "Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n" + ss.str();
    files.push_back(text);
    char name[32];
    std::snprintf(name, sizeof name, "%04zu", files.size());
    std::ofstream(t.path / "md" / "cur" / name, std::ios::binary) << text;
  }
  KeysResolver keys_resolver(keys);
  for (TimeMode mode : {TimeMode::kFixed, TimeMode::kReceived}) {
    RunnerOptions ro;
    ro.jobs = 2;
    ro.batch = 3;
    ro.time_mode = mode;
    ro.at = 1699999800;
    auto shared = MakeSerializedResolver(std::make_unique<KeysResolver>(keys));
    std::vector<ItemResult> got = RunAll({(t.path / "md").string()}, ro, *shared);
    BOOST_REQUIRE_EQUAL(got.size(), files.size());
    size_t passes = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      BOOST_TEST_CONTEXT("message " << i << " mode " << static_cast<int>(mode)) {
        BOOST_TEST_REQUIRE(got[i].error.ok(), got[i].error.ToString());
        const int64_t at = mode == TimeMode::kFixed ? 1699999800 : 1700000000;
        BOOST_TEST(got[i].evaluated_at == at);
        FixedClock clock(at);
        auto evaluator = Evaluator::Create(EvaluatorOptions(), clock);
        BOOST_TEST_REQUIRE(evaluator.ok());
        Result<Message> m = Message::Parse(files[i]);
        BOOST_TEST_REQUIRE(m.ok());
        Evaluation want = (*evaluator)->Evaluate(*m, Envelope(), keys_resolver);
        const Evaluation& have = got[i].evaluation;
        BOOST_TEST(DkimSummary(have) == DkimSummary(want));
        BOOST_TEST(WithoutHints(have.authres.value) == want.authres.value);
        BOOST_TEST(have.score.score == want.score.score);
        BOOST_TEST(DmarcVerdictName(have.dmarc.verdict) == DmarcVerdictName(want.dmarc.verdict));
        for (const DkimResult& r : have.dkim) passes += r.result == DkimVerdict::kPass;
      }
    }
    BOOST_TEST(passes >= 30u);  // the comparison is not only between failures
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
