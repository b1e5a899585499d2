// The `credence serve` engine with a fake handler: framing over real sockets, limits (size, slow
// clients, busy, in-flight bytes per peer), concurrency, options, clean shutdown.
#include "serve_fixture.h"

namespace credence::serve {
namespace {

using namespace testing;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(serve_server)

BOOST_AUTO_TEST_CASE(answers_a_request_and_sets_socket_mode) {
  Fixture fx;
  ServerOptions o;
  o.socket_mode = 0600;
  auto server = fx.Start(o);
  struct stat st;
  BOOST_TEST_REQUIRE(::stat(fx.SocketPath().c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  nlohmann::json j = Ask(fx.SocketPath(), Verify("hello"));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["length"].get<int>() == 5);
  BOOST_TEST(j["ip"].get<std::string>() == "192.0.2.1");
  BOOST_TEST(j["id"].get<std::string>() == "t1");
  nlohmann::json pong = Ask(fx.SocketPath(), "CREDENCE/1 PING\n");
  BOOST_TEST(pong["pong"].get<bool>());
}

BOOST_AUTO_TEST_CASE(oversized_message_is_judged_on_its_prefix) {
  Fixture fx;
  ServerOptions o;
  o.max_request_bytes = 1000;
  auto server = fx.Start(o);
  nlohmann::json j =
      Ask(fx.SocketPath(), MakeVerifyLine(5000, "", "", "", "big") + std::string(5000, 'x'));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(!j.contains("code"));
  BOOST_TEST(j["length"].get<int>() == 1000);     // the handler got the first 1000 bytes
  BOOST_TEST(j["announced"].get<int>() == 5000);  // and knows they are a prefix
  BOOST_TEST(j["id"].get<std::string>() == "big");
  BOOST_TEST(server->stats().truncated == 1u);
  // A message that fits is whole, as before.
  j = Ask(fx.SocketPath(), Verify(std::string(1000, 'y')));
  BOOST_TEST(j["length"].get<int>() == 1000);
  BOOST_TEST(j["announced"].get<int>() == 1000);
}

BOOST_AUTO_TEST_CASE(garbage_gets_bad_request) {
  Fixture fx;
  auto server = fx.Start(ServerOptions());
  for (std::string_view junk : {"GET / HTTP/1.0\r\n\r\n", "CREDENCE/1 VERIFY -1\n",
                                "CREDENCE/1 VERIFY 5 ip=banana\nhello"}) {
    nlohmann::json j = Ask(fx.SocketPath(), junk);
    BOOST_TEST_REQUIRE(j.is_object(), junk);
    BOOST_TEST(j["code"].get<std::string>() == "bad_request", junk);
  }
  // A client that closes its side before the message is complete.
  int fd = ConnectUnix(fx.SocketPath());
  SendAll(fd, "CREDENCE/1 VERIFY 100\nshort");
  ::shutdown(fd, SHUT_WR);
  Result<std::string> r = UnframeResponse(ReadToEof(fd));
  ::close(fd);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(nlohmann::json::parse(*r)["code"].get<std::string>() == "bad_request");
}

BOOST_AUTO_TEST_CASE(handler_exception_becomes_internal_error) {
  Fixture fx;
  auto server = fx.Start(ServerOptions());
  nlohmann::json j = Ask(fx.SocketPath(), Verify("THROW"));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "internal");
  BOOST_TEST(j["id"].get<std::string>() == "t1");
  j = Ask(fx.SocketPath(), Verify("BADALLOC"));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "internal");
  BOOST_TEST(j["error"].get<std::string>().find("out of memory") != std::string::npos);
  BOOST_TEST(Ask(fx.SocketPath(), Verify("fine"))["length"].get<int>() == 4);
}

BOOST_AUTO_TEST_CASE(slow_client_times_out_and_does_not_block_others) {
  Fixture fx;
  ServerOptions o;
  o.workers = 1;
  o.request_timeout = 300ms;
  auto server = fx.Start(o);
  // Slowloris: half a header line, then silence; and one that stalls in the body.
  int slow1 = ConnectUnix(fx.SocketPath());
  SendAll(slow1, "CREDENCE/1 VER");
  int slow2 = ConnectUnix(fx.SocketPath());
  SendAll(slow2, "CREDENCE/1 VERIFY 100\npartial");
  // Meanwhile a normal client is answered at once, even with one worker.
  auto t0 = SteadyClock::now();
  nlohmann::json ok = Ask(fx.SocketPath(), Verify("fast"));
  auto took = SteadyClock::now() - t0;
  BOOST_TEST(ok["length"].get<int>() == 4);
  BOOST_TEST((took < 200ms));
  for (int fd : {slow1, slow2}) {
    auto t1 = SteadyClock::now();
    Result<std::string> r = UnframeResponse(ReadToEof(fd));
    ::close(fd);
    BOOST_TEST_REQUIRE(r.ok());
    BOOST_TEST(nlohmann::json::parse(*r)["code"].get<std::string>() == "timeout");
    BOOST_TEST((SteadyClock::now() - t1 < 1s));
  }
  BOOST_TEST(server->stats().timeouts == 2u);
}

BOOST_AUTO_TEST_CASE(workers_run_concurrently) {
  Fixture fx;
  ServerOptions o;
  o.workers = 4;
  auto server = fx.Start(o, 300ms);
  auto t0 = SteadyClock::now();
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      nlohmann::json j = Ask(fx.SocketPath(), Verify("x"));
      if (j.is_object() && j.value("length", 0) == 1) ++good;
    });
  }
  for (auto& t : clients) t.join();
  auto took = SteadyClock::now() - t0;
  BOOST_TEST(good.load() == 4);
  BOOST_TEST(fx.peak.load() == 4);
  BOOST_TEST((took < 1000ms));  // serial would take 1200 ms
}

BOOST_AUTO_TEST_CASE(too_many_connections_get_busy) {
  Fixture fx;
  ServerOptions o;
  o.max_connections = 2;
  o.max_connections_per_peer = 2;
  o.request_timeout = 2000ms;
  auto server = fx.Start(o);
  int a = ConnectUnix(fx.SocketPath());
  int b = ConnectUnix(fx.SocketPath());
  std::this_thread::sleep_for(100ms);  // let the server accept both
  nlohmann::json j = Ask(fx.SocketPath(), Verify("x"));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "busy");
  ::close(a);
  ::close(b);
}

BOOST_AUTO_TEST_CASE(header_lines_alone_reserve_no_memory) {
  Fixture fx;
  ServerOptions o;
  o.max_connections_per_peer = 128;
  auto server = fx.Start(o);
  size_t before = SelfStatus("VmSize");
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    int fd = ConnectUnix(fx.SocketPath());
    BOOST_TEST_REQUIRE(fd >= 0);
    SendAll(fd, MakeVerifyLine(64u << 20, "", "", ""));  // 64 MiB announced, none sent
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);
  size_t after = SelfStatus("VmSize");
  BOOST_TEST_MESSAGE("64 header lines announcing 64 MiB each: VmSize " << (before >> 20) << " -> "
                                                                       << (after >> 20) << " MiB");
  BOOST_TEST(after < before + (64u << 20));  // was +4096 MiB when the length was reserved
  BOOST_TEST(Ask(fx.SocketPath(), "CREDENCE/1 PING\n")["pong"].get<bool>());
  for (int fd : fds) ::close(fd);
}

// Five 1 MiB requests against a 2 MiB budget: at most two are held at once, the others wait
// unread and are served as the budget frees up.
BOOST_AUTO_TEST_CASE(inflight_budget_bounds_what_is_held) {
  Fixture fx;
  ServerOptions o;
  o.workers = 2;
  o.max_request_bytes = 1u << 20;
  o.max_inflight_bytes = 2u << 20;
  o.max_inflight_bytes_per_peer = 2u << 20;
  o.request_timeout = 5000ms;
  auto server = fx.Start(o, 100ms);
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&] {
      nlohmann::json j = Ask(fx.SocketPath(), Verify(std::string(1u << 20, 'm')));
      if (j.is_object() && j.value("length", 0) == (1 << 20)) ++good;
    });
  }
  for (auto& t : clients) t.join();
  BOOST_TEST(good.load() == 5);
  BOOST_TEST(server->stats().peak_inflight_bytes <= (2u << 20));
  BOOST_TEST(server->stats().peak_inflight_bytes >= (1u << 20));
}

BOOST_AUTO_TEST_CASE(request_waiting_for_a_full_budget_times_out) {
  Fixture fx;
  ServerOptions o;
  o.max_request_bytes = 1u << 20;
  o.max_inflight_bytes = 1u << 20;
  o.request_timeout = 400ms;
  auto server = fx.Start(o, 900ms);  // the holder's evaluation keeps the whole budget
  int holder = ConnectUnix(fx.SocketPath());
  SendAll(holder, Verify(std::string(1u << 20, 'h')));
  std::this_thread::sleep_for(50ms);
  int waiter = ConnectUnix(fx.SocketPath());
  auto t0 = SteadyClock::now();
  SendAll(waiter, MakeVerifyLine(1000, "", "", "", "waiter"));
  nlohmann::json w = Answer(waiter);
  auto waited = SteadyClock::now() - t0;
  nlohmann::json h = Answer(holder);
  ::close(waiter);
  ::close(holder);
  BOOST_TEST_REQUIRE(w.is_object());
  BOOST_TEST(w["code"].get<std::string>() == "timeout");
  BOOST_TEST(w["id"].get<std::string>() == "waiter");
  BOOST_TEST(w["error"].get<std::string>().find("in-flight budget") != std::string::npos);
  BOOST_TEST((waited < 800ms));  // the request deadline, not the holder's evaluation
  BOOST_TEST(h["length"].get<int>() == (1 << 20));
  // The budget is free again.
  BOOST_TEST(Ask(fx.SocketPath(), Verify("after"))["length"].get<int>() == 5);
}

// All TCP clients are one peer, the Unix root client another: a TCP peer at its share of the
// budget and of the connection slots leaves the Unix client served at once.
BOOST_AUTO_TEST_CASE(one_peer_at_its_share_leaves_room_for_others) {
  Fixture fx;
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.socket_path = fx.SocketPath();
  o.max_request_bytes = 1u << 20;
  o.max_inflight_bytes = 2u << 20;
  o.max_inflight_bytes_per_peer = 1u << 20;
  o.max_connections = 8;
  o.max_connections_per_peer = 4;
  o.request_timeout = 3000ms;
  o.header_timeout = 3000ms;
  auto server = fx.Start(o);
  std::vector<int> tcp;
  for (int i = 0; i < 4; ++i) {  // a stalled 1 MiB request each: one holds the TCP share
    int fd = ConnectTcp(server->tcp_port());
    BOOST_TEST_REQUIRE(fd >= 0);
    SendAll(fd, MakeVerifyLine(1u << 20, "", "", "") + "x");
    tcp.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);
  int fifth = ConnectTcp(server->tcp_port());  // past the TCP peer's connection share
  nlohmann::json busy = Answer(fifth);
  ::close(fifth);
  BOOST_TEST_REQUIRE(busy.is_object());
  BOOST_TEST(busy["code"].get<std::string>() == "busy");
  BOOST_TEST(busy["error"].get<std::string>().find("peer") != std::string::npos);
  auto t0 = SteadyClock::now();
  nlohmann::json j = Ask(fx.SocketPath(), Verify(std::string(1u << 20, 'u')));
  auto took = SteadyClock::now() - t0;
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["length"].get<int>() == (1 << 20));
  BOOST_TEST((took < 1000ms));
  BOOST_TEST(server->stats().refused >= 1u);
  for (int fd : tcp) ::close(fd);
}

BOOST_AUTO_TEST_CASE(header_line_has_its_own_short_deadline) {
  Fixture fx;
  ServerOptions o;
  o.header_timeout = 200ms;
  o.request_timeout = 5000ms;
  auto server = fx.Start(o);
  int idle = ConnectUnix(fx.SocketPath());
  int slow_body = ConnectUnix(fx.SocketPath());
  SendAll(slow_body, MakeVerifyLine(10, "", "", "", "slow"));
  auto t0 = SteadyClock::now();
  nlohmann::json j = Answer(idle);
  auto took = SteadyClock::now() - t0;
  ::close(idle);
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "timeout");
  BOOST_TEST(j["error"].get<std::string>().find("header") != std::string::npos);
  BOOST_TEST((took < 1000ms));
  // Past the header deadline, a request whose header line arrived goes on.
  std::this_thread::sleep_for(200ms);
  SendAll(slow_body, "0123456789");
  nlohmann::json b = Answer(slow_body);
  ::close(slow_body);
  BOOST_TEST_REQUIRE(b.is_object());
  BOOST_TEST(b["length"].get<int>() == 10);
}

#if defined(__SANITIZE_ADDRESS__)
#define CREDENCE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CREDENCE_ASAN 1
#endif
#endif

// The I/O thread runs out of memory growing one request's buffer (an address-space limit
// set here, as `prlimit --as` does for the service): that client gets an error document, the
// service goes on. (Not under AddressSanitizer, which reserves terabytes of address space.)
BOOST_AUTO_TEST_CASE(out_of_memory_ends_one_connection_only) {
#ifdef CREDENCE_ASAN
  BOOST_TEST_MESSAGE("skipped under AddressSanitizer");
  return;
#else
  Fixture fx;
  ServerOptions o;
  o.max_request_bytes = 1u << 30;
  o.max_inflight_bytes = 2u << 30;
  o.request_timeout = 5000ms;
  auto server = fx.Start(o);
  rlimit old_limit;
  BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_AS, &old_limit) == 0);
  rlimit tight = old_limit;
  tight.rlim_cur = SelfStatus("VmSize") + (192u << 20);
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_AS, &tight) == 0);
  int fd = ConnectUnix(fx.SocketPath());
  std::thread sender([fd] {
    std::string chunk(1u << 20, 'z');
    SendAll(fd, MakeVerifyLine(1u << 30, "", "", "", "hog"));
    for (int i = 0; i < 400; ++i) {  // 400 MiB: the buffer cannot double past the limit
      ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
    }
  });
  nlohmann::json j = Answer(fd);
  sender.join();
  ::close(fd);
  ::setrlimit(RLIMIT_AS, &old_limit);
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "internal");
  BOOST_TEST(j["error"].get<std::string>().find("out of memory") != std::string::npos);
  BOOST_TEST(server->stats().failures == 1u);
  BOOST_TEST(Ask(fx.SocketPath(), "CREDENCE/1 PING\n")["pong"].get<bool>());
  BOOST_TEST(Ask(fx.SocketPath(), Verify("still here"))["length"].get<int>() == 10);
#endif
}

BOOST_AUTO_TEST_CASE(stop_refuses_requests_waiting_for_budget) {
  Fixture fx;
  ServerOptions o;
  o.max_request_bytes = 1000;
  o.max_inflight_bytes = 1000;
  auto server = fx.Start(o);
  int holder = ConnectUnix(fx.SocketPath());
  SendAll(holder, MakeVerifyLine(1000, "", "", "") + "partial");
  std::this_thread::sleep_for(50ms);
  int waiter = ConnectUnix(fx.SocketPath());
  SendAll(waiter, MakeVerifyLine(1000, "", "", ""));
  std::this_thread::sleep_for(50ms);
  server->Stop();
  server->Wait();
  for (int fd : {holder, waiter}) {
    nlohmann::json j = Answer(fd);
    ::close(fd);
    BOOST_TEST_REQUIRE(j.is_object());
    BOOST_TEST(j["code"].get<std::string>() == "shutting_down");
  }
}

BOOST_AUTO_TEST_CASE(options_are_resolved_and_checked) {
  ServerOptions o;
  Result<ServerOptions> r = Server::Resolve(o);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(r->max_inflight_bytes == (256u << 20));
  BOOST_TEST(r->max_inflight_bytes_per_peer == (128u << 20));
  o.max_request_bytes = 100u << 20;  // a bigger request raises the default budget
  r = Server::Resolve(o);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(r->max_inflight_bytes == (400u << 20));
  BOOST_TEST(r->max_inflight_bytes_per_peer == (200u << 20));
  o.max_inflight_bytes = 150u << 20;  // half of it would be less than one request
  r = Server::Resolve(o);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(r->max_inflight_bytes_per_peer == (100u << 20));
  o.max_inflight_bytes = 50u << 20;
  BOOST_TEST(!Server::Resolve(o).ok());
  o = ServerOptions();
  o.max_inflight_bytes_per_peer = 1u << 20;  // below max_request_bytes
  BOOST_TEST(!Server::Resolve(o).ok());
  o = ServerOptions();
  o.max_connections_per_peer = o.max_connections + 1;
  BOOST_TEST(!Server::Resolve(o).ok());
  o = ServerOptions();
  o.header_timeout = 0ms;
  BOOST_TEST(!Server::Resolve(o).ok());
}

BOOST_AUTO_TEST_CASE(stop_finishes_in_flight_and_removes_socket) {
  Fixture fx;
  ServerOptions o;
  o.workers = 2;
  auto server = fx.Start(o, 400ms);
  nlohmann::json answer;
  std::thread client([&] { answer = Ask(fx.SocketPath(), Verify("in-flight")); });
  std::this_thread::sleep_for(150ms);  // the request is in a worker now
  int idle = ConnectUnix(fx.SocketPath());  // connected, sends nothing
  std::this_thread::sleep_for(50ms);
  server->Stop();
  server->Wait();
  client.join();
  BOOST_TEST_REQUIRE(answer.is_object());
  BOOST_TEST(answer["length"].get<int>() == 9);
  Result<std::string> r = UnframeResponse(ReadToEof(idle));
  ::close(idle);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(nlohmann::json::parse(*r)["code"].get<std::string>() == "shutting_down");
  BOOST_TEST(!std::filesystem::exists(fx.SocketPath()));
  BOOST_TEST(ConnectUnix(fx.SocketPath()) == -1);
}
BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::serve
