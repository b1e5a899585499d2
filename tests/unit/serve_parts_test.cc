// The parts of the `credence serve` engine on their own: the worker pool (queue bound, answers
// handed back, reload), the resolver pool (never one resolver for two workers) and the
// per-peer limits.
#include "serve/worker_pool.h"
#include "serve_fixture.h"

namespace credence::serve {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// Answers with its own name and counts the handlers alive.
class NamedHandler final : public RequestHandler {
 public:
  NamedHandler(std::string name, std::atomic<int>* alive) : name_(std::move(name)), alive_(alive) {
    ++*alive_;
  }
  ~NamedHandler() override { --*alive_; }
  std::string Handle(const RequestHeader&, std::string body) override {
    if (body == "THROW") throw std::runtime_error("boom");
    return name_ + ":" + body;
  }

 private:
  std::string name_;
  std::atomic<int>* alive_;
};

Job MakeJob(uint64_t id, std::string body) {
  Job job;
  job.conn_id = id;
  job.body = std::move(body);
  return job;
}

// Waits (at most 5 s) until `n` answers have come back, in *all.
void CollectAnswers(WorkerPool& pool, std::atomic<int>& wakes, size_t n, std::vector<Done>* all) {
  std::vector<Done> some;
  some.reserve(16);
  auto until = SteadyClock::now() + 5s;
  while (all->size() < n && SteadyClock::now() < until) {
    pool.TakeDone(&some);
    for (Done& d : some) all->push_back(std::move(d));
    some.clear();
    if (all->size() < n) std::this_thread::sleep_for(1ms);
  }
  BOOST_TEST(wakes.load() >= static_cast<int>(std::min<size_t>(n, 1)));
}

BOOST_AUTO_TEST_SUITE(serve_worker_pool)

BOOST_AUTO_TEST_CASE(queue_bound_answers_and_errors) {
  std::atomic<int> alive{0}, wakes{0};
  {
    WorkerPool pool(3, 16, [&] { ++wakes; });
    // Not started: jobs wait, and the fourth finds the queue full.
    for (uint64_t i = 1; i <= 3; ++i) {
      BOOST_TEST(!pool.Full());
      pool.Submit(MakeJob(i, i == 2 ? "THROW" : "m" + std::to_string(i)));
    }
    BOOST_TEST(pool.Full());
    std::vector<std::unique_ptr<RequestHandler>> handlers;
    handlers.push_back(std::make_unique<NamedHandler>("a", &alive));
    pool.Start(std::move(handlers));
    std::vector<Done> all;
    CollectAnswers(pool, wakes, 3, &all);
    BOOST_TEST_REQUIRE(all.size() == 3u);
    BOOST_TEST(!pool.Full());
    std::sort(all.begin(), all.end(), [](const Done& x, const Done& y) { return x.conn_id < y.conn_id; });
    BOOST_TEST(all[0].json == "a:m1");
    BOOST_TEST(all[1].json.find("\"internal\"") != std::string::npos);  // the exception
    BOOST_TEST(all[1].json.find("boom") != std::string::npos);
    BOOST_TEST(all[2].json == "a:m3");
    for (const Done& d : all) {
      BOOST_TEST(!d.failed);
      BOOST_TEST((d.finished >= d.started));
    }
  }
  BOOST_TEST(alive.load() == 0);  // the pool's destructor ended the worker and its handler
}

// Records the order requests are handled in (one worker: the order the queue gives them).
class OrderHandler final : public RequestHandler {
 public:
  explicit OrderHandler(std::vector<std::string>* order) : order_(order) {}
  std::string Handle(const RequestHeader&, std::string body) override {
    order_->push_back(body);
    return body;
  }

 private:
  std::vector<std::string>* order_;
};

// A peer with a burst of requests does not keep another peer waiting behind all of them: the
// peers take turns (round robin), each in its own order.
BOOST_AUTO_TEST_CASE(peers_take_turns) {
  std::atomic<int> wakes{0};
  std::vector<std::string> order;
  WorkerPool pool(64, 64, [&] { ++wakes; });
  auto job = [](uint64_t id, PeerId peer, std::string body) {
    Job j = MakeJob(id, std::move(body));
    j.peer = peer;
    return j;
  };
  for (int i = 1; i <= 5; ++i) pool.Submit(job(i, 1000, "a" + std::to_string(i)));
  pool.Submit(job(20, 2000, "b1"));
  pool.Submit(job(21, 2000, "b2"));
  pool.Submit(job(30, 3000, "c1"));
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  handlers.push_back(std::make_unique<OrderHandler>(&order));
  pool.Start(std::move(handlers));
  std::vector<Done> all;
  CollectAnswers(pool, wakes, 8, &all);
  BOOST_TEST_REQUIRE(all.size() == 8u);
  BOOST_TEST(order == (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"}),
             boost::test_tools::per_element());
}

// With every worker busy on one peer's slow requests, the next free worker takes another
// peer's request before that peer's next one.
BOOST_AUTO_TEST_CASE(a_free_worker_goes_to_the_peer_with_fewest_running) {
  std::atomic<int> wakes{0};
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool release = false;
  std::vector<std::string> order;
  class Gate final : public RequestHandler {
   public:
    Gate(std::mutex* mu, std::condition_variable* cv, int* started, bool* release,
         std::vector<std::string>* order)
        : mu_(mu), cv_(cv), started_(started), release_(release), order_(order) {}
    std::string Handle(const RequestHeader&, std::string body) override {
      std::unique_lock<std::mutex> lock(*mu_);
      order_->push_back(body);
      ++*started_;
      cv_->notify_all();
      if (body[0] == 's') cv_->wait(lock, [this] { return *release_; });  // a slow one
      return body;
    }

   private:
    std::mutex* mu_;
    std::condition_variable* cv_;
    int* started_;
    bool* release_;
    std::vector<std::string>* order_;
  };
  WorkerPool pool(64, 64, [&] { ++wakes; });
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (int i = 0; i < 2; ++i) {
    handlers.push_back(std::make_unique<Gate>(&mu, &cv, &started, &release, &order));
  }
  pool.Start(std::move(handlers));
  auto job = [](uint64_t id, PeerId peer, std::string body) {
    Job j = MakeJob(id, std::move(body));
    j.peer = peer;
    return j;
  };
  // Peer 1000 fills both workers with slow requests and queues more; then peer 2000 comes.
  pool.Submit(job(1, 1000, "s1"));
  pool.Submit(job(2, 1000, "s2"));
  {
    std::unique_lock<std::mutex> lock(mu);
    BOOST_REQUIRE(cv.wait_for(lock, 5s, [&] { return started == 2; }));
  }
  pool.Submit(job(3, 1000, "s3"));
  pool.Submit(job(4, 1000, "s4"));
  pool.Submit(job(5, 2000, "v1"));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  std::vector<Done> all;
  CollectAnswers(pool, wakes, 5, &all);
  BOOST_TEST_REQUIRE(all.size() == 5u);
  BOOST_TEST_REQUIRE(order.size() == 5u);
  BOOST_TEST(order[2] == "v1");  // the first request taken after the two slow ones
}

// Requests whose body starts with 's' are held until released; every handler records, in
// order, which worker (by name) started which request.
struct Holds {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::pair<std::string, std::string>> started;  // (worker, body)
  bool WaitStarted(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 5s, [&] { return started.size() >= n; });
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return started.size();
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
  }
};

// Declared after the pool: a failed requirement still lets the held workers end.
struct ReleaseAtExit {
  Holds& holds;
  ~ReleaseAtExit() { holds.Release(); }
};

class HeldHandler final : public RequestHandler {
 public:
  HeldHandler(std::string name, Holds* holds) : name_(std::move(name)), holds_(holds) {}
  std::string Handle(const RequestHeader&, std::string body) override {
    std::unique_lock<std::mutex> lock(holds_->mu);
    holds_->started.emplace_back(name_, body);
    holds_->cv.notify_all();
    if (body[0] == 's') holds_->cv.wait(lock, [this] { return holds_->release; });
    return name_ + ":" + body;
  }

 private:
  std::string name_;
  Holds* holds_;
};

// Two regular workers ("w1", "w2") and one reserve worker ("reserve").
void StartTwoAndAReserve(WorkerPool& pool, Holds& holds) {
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (const char* name : {"w1", "w2", "reserve"}) {
    handlers.push_back(std::make_unique<HeldHandler>(name, &holds));
  }
  pool.Start(std::move(handlers), 1);
}

Job PeerJob(uint64_t id, PeerId peer, std::string body) {
  Job j = MakeJob(id, std::move(body));
  j.peer = peer;
  return j;
}

// Every worker held by one peer's slow requests: a reserve worker answers another peer at
// once, takes nothing more of the peer holding the workers, and serves one request of a peer
// at a time.
BOOST_AUTO_TEST_CASE(a_reserve_worker_serves_another_peer_while_the_workers_are_held) {
  std::atomic<int> wakes{0};
  Holds holds;
  WorkerPool pool(64, 64, [&] { ++wakes; });
  ReleaseAtExit release_at_exit{holds};
  StartTwoAndAReserve(pool, holds);
  pool.Submit(PeerJob(1, 1000, "s1"));
  pool.Submit(PeerJob(2, 1000, "s2"));
  BOOST_REQUIRE(holds.WaitStarted(2));
  pool.Submit(PeerJob(3, 1000, "s3"));  // the holding peer's next: not for the reserve
  std::this_thread::sleep_for(50ms);
  BOOST_TEST(holds.Count() == 2u);

  pool.Submit(PeerJob(4, 2000, "v1"));  // another peer: answered while s1, s2 are held
  std::vector<Done> all;
  CollectAnswers(pool, wakes, 1, &all);
  BOOST_TEST_REQUIRE(all.size() == 1u);
  BOOST_TEST(all[0].json == "reserve:v1");

  pool.Submit(PeerJob(5, 3000, "s5"));  // a third peer's slow request takes the reserve
  BOOST_REQUIRE(holds.WaitStarted(4));
  pool.Submit(PeerJob(6, 3000, "s6"));
  pool.Submit(PeerJob(7, 2000, "v2"));  // the one reserve worker is held: v2 waits
  std::this_thread::sleep_for(50ms);
  BOOST_TEST(holds.Count() == 4u);

  holds.Release();
  CollectAnswers(pool, wakes, 7, &all);
  BOOST_TEST_REQUIRE(all.size() == 7u);
  std::lock_guard<std::mutex> lock(holds.mu);
  for (const auto& [worker, body] : holds.started) {
    if (body == "s1" || body == "s2" || body == "s3") {
      BOOST_TEST(worker != "reserve", body << " went to the reserve worker");
    }
  }
}

// While a regular worker is free, the reserve worker takes nothing.
BOOST_AUTO_TEST_CASE(the_reserve_waits_while_a_worker_is_free) {
  std::atomic<int> wakes{0};
  Holds holds;
  WorkerPool pool(64, 64, [&] { ++wakes; });
  ReleaseAtExit release_at_exit{holds};
  StartTwoAndAReserve(pool, holds);
  pool.Submit(PeerJob(1, 1000, "s1"));
  BOOST_REQUIRE(holds.WaitStarted(1));
  std::vector<Done> all;
  for (uint64_t i = 0; i < 20; ++i) {
    pool.Submit(PeerJob(10 + i, 2000 + i % 3, "v"));
    CollectAnswers(pool, wakes, all.size() + 1, &all);
  }
  BOOST_TEST_REQUIRE(all.size() == 20u);
  std::string free_worker;
  {
    std::lock_guard<std::mutex> lock(holds.mu);
    free_worker = holds.started[0].first == "w1" ? "w2" : "w1";  // the one not holding s1
  }
  for (const Done& d : all) BOOST_TEST(d.json == free_worker + ":v");
  holds.Release();
  pool.Close();
  pool.Join();
}

BOOST_AUTO_TEST_CASE(reload_reaches_every_worker_and_drops_what_was_not_taken) {
  std::atomic<int> alive{0}, wakes{0};
  auto pool = std::make_unique<WorkerPool>(64, 64, [&] { ++wakes; });
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  handlers.push_back(std::make_unique<NamedHandler>("old", &alive));
  handlers.push_back(std::make_unique<NamedHandler>("old", &alive));
  pool->Start(std::move(handlers));
  std::vector<Done> all;
  pool->Submit(MakeJob(1, "x"));
  CollectAnswers(*pool, wakes, 1, &all);
  BOOST_TEST_REQUIRE(all.size() == 1u);
  BOOST_TEST(all[0].json == "old:x");

  // Two reloads before any job: the first one's handlers are dropped, never used.
  for (const char* name : {"first", "second"}) {
    std::vector<std::unique_ptr<RequestHandler>> fresh;
    fresh.push_back(std::make_unique<NamedHandler>(name, &alive));
    fresh.push_back(std::make_unique<NamedHandler>(name, &alive));
    pool->Reload(std::move(fresh));
  }
  BOOST_TEST(alive.load() == 4);  // 2 in use, 2 of "second" waiting; "first" gone
  all.clear();
  for (uint64_t i = 0; i < 40; ++i) pool->Submit(MakeJob(10 + i, "y"));
  CollectAnswers(*pool, wakes, 40, &all);
  BOOST_TEST_REQUIRE(all.size() == 40u);
  for (const Done& d : all) BOOST_TEST(d.json == "second:y");
  pool->Close();
  pool->Join();  // the workers' handlers end with them; one never taken ends with the pool
  BOOST_TEST(alive.load() <= 1);
  pool.reset();
  BOOST_TEST(alive.load() == 0);
}

BOOST_AUTO_TEST_CASE(close_finishes_the_queue_first) {
  std::atomic<int> alive{0}, wakes{0};
  WorkerPool pool(100, 100, [&] { ++wakes; });
  for (uint64_t i = 0; i < 50; ++i) pool.Submit(MakeJob(i, "z"));
  pool.Close();  // before the workers even start
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  handlers.push_back(std::make_unique<NamedHandler>("h", &alive));
  handlers.push_back(std::make_unique<NamedHandler>("h", &alive));
  pool.Start(std::move(handlers));
  pool.Join();
  std::vector<Done> all;
  all.reserve(100);
  pool.TakeDone(&all);
  BOOST_TEST(all.size() == 50u);
  BOOST_TEST(wakes.load() == 50);
  BOOST_TEST(alive.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serve_resolver_pool)

// A resolver that notices when two threads are inside it at once.
class NotThreadSafe final : public Resolver {
 public:
  explicit NotThreadSafe(std::atomic<int>* overlaps, std::chrono::milliseconds delay = 2ms)
      : overlaps_(overlaps), delay_(delay) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> qs, Deadline) override {
    if (inside_.exchange(true)) ++*overlaps_;
    std::this_thread::sleep_for(delay_);
    inside_ = false;
    std::vector<DnsAnswer> out(qs.size());
    for (auto& a : out) a.outcome = DnsOutcome::kNxDomain;
    return out;
  }

 private:
  std::atomic<bool> inside_{false};
  std::atomic<int>* overlaps_;
  std::chrono::milliseconds delay_;
};

BOOST_AUTO_TEST_CASE(resolver_pool_never_shares_a_member) {
  std::atomic<int> overlaps{0};
  std::vector<std::unique_ptr<Resolver>> members;
  for (int i = 0; i < 3; ++i) members.push_back(std::make_unique<NotThreadSafe>(&overlaps));
  auto pool = MakeResolverPool(std::move(members));
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        DnsAnswer a = pool->ResolveOne({"x.test", RRType::kTXT}, SteadyClock::now() + 10s);
        if (a.outcome == DnsOutcome::kNxDomain) ++answered;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(overlaps.load() == 0);
  BOOST_TEST(answered.load() == 160);
}

BOOST_AUTO_TEST_CASE(resolver_pool_deadline_while_waiting) {
  std::atomic<int> overlaps{0};
  std::vector<std::unique_ptr<Resolver>> members;
  members.push_back(std::make_unique<NotThreadSafe>(&overlaps, 500ms));
  auto pool = MakeResolverPool(std::move(members));
  std::thread holder([&] { pool->ResolveOne({"x.test", RRType::kTXT}, SteadyClock::now() + 10s); });
  std::this_thread::sleep_for(50ms);  // the only member is busy now
  auto t0 = SteadyClock::now();
  DnsAnswer a = pool->ResolveOne({"y.test", RRType::kTXT}, SteadyClock::now() + 100ms);
  auto took = SteadyClock::now() - t0;
  holder.join();
  BOOST_TEST((a.outcome == DnsOutcome::kTempFail));
  BOOST_TEST(a.detail == "deadline");
  BOOST_TEST((took < 400ms));
  BOOST_TEST(overlaps.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE(serve_peer_limits)

BOOST_AUTO_TEST_CASE(connection_slots_total_and_per_peer) {
  PeerLimits l({/*connections=*/4, /*connections_per_peer=*/2, /*bytes=*/100,
                /*bytes_per_peer=*/60});
  using V = PeerLimits::Verdict;
  BOOST_TEST((l.OpenConnection(1) == V::kGranted));
  BOOST_TEST((l.OpenConnection(1) == V::kGranted));
  BOOST_TEST((l.OpenConnection(1) == V::kPeerFull));  // the rest is kept for others
  BOOST_TEST((l.OpenConnection(2) == V::kGranted));
  BOOST_TEST((l.OpenConnection(3) == V::kGranted));
  BOOST_TEST((l.OpenConnection(4) == V::kTotalFull));
  BOOST_TEST(l.connections() == 4u);
  l.CloseConnection(1);
  BOOST_TEST((l.OpenConnection(4) == V::kGranted));
  BOOST_TEST(l.connections_of(1) == 1u);
  l.CloseConnection(9);  // never opened: nothing changes
  BOOST_TEST(l.connections() == 4u);
}

BOOST_AUTO_TEST_CASE(bytes_total_and_per_peer) {
  PeerLimits l({10, 10, /*bytes=*/100, /*bytes_per_peer=*/60});
  using V = PeerLimits::Verdict;
  l.OpenConnection(1);
  l.OpenConnection(2);
  l.OpenConnection(3);
  BOOST_TEST((l.Reserve(1, 50) == V::kGranted));
  BOOST_TEST((l.Reserve(1, 20) == V::kPeerFull));  // 70 > its share of 60
  BOOST_TEST((l.Reserve(2, 40) == V::kGranted));
  BOOST_TEST((l.Reserve(3, 20) == V::kTotalFull));  // 110 > 100
  BOOST_TEST((l.Reserve(3, 10) == V::kGranted));
  BOOST_TEST((l.Reserve(3, 61) == V::kPeerFull));  // more than a share, ever
  BOOST_TEST((l.Reserve(7, 1) == V::kPeerFull));   // holds no connection
  BOOST_TEST(l.bytes() == 100u);
  l.Release(1, 50);
  BOOST_TEST(l.bytes() == 50u);
  BOOST_TEST(l.bytes_of(1) == 0u);
  BOOST_TEST((l.Reserve(3, 20) == V::kGranted));
  l.Release(3, 1000);  // never more than it holds
  BOOST_TEST(l.bytes() == 40u);
  BOOST_TEST((l.Reserve(1, SIZE_MAX) == V::kPeerFull));  // no overflow
}

BOOST_AUTO_TEST_SUITE_END()
}  // namespace
}  // namespace credence::serve
