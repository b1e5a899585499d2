// The `credence serve` engine with a fake handler: framing over real sockets, limits (size,
// slow clients, busy), concurrency, clean shutdown, socket file handling, the resolver pool.
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/listener.h"
#include "serve/peer_limits.h"
#include "serve/protocol.h"
#include "serve/resolver_pool.h"
#include "serve/server.h"

namespace credence::serve {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Echoes what it was asked, after an optional delay.
class EchoHandler final : public RequestHandler {
 public:
  EchoHandler(std::chrono::milliseconds delay, std::atomic<int>* active, std::atomic<int>* peak)
      : delay_(delay), active_(active), peak_(peak) {}
  std::string Handle(const RequestHeader& h, std::string body) override {
    int now = ++*active_;
    int seen = peak_->load();
    while (now > seen && !peak_->compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(delay_);
    --*active_;
    if (body == "THROW") throw std::runtime_error("boom");
    if (body == "BADALLOC") throw std::bad_alloc();
    nlohmann::json j = {{"length", body.size()}, {"announced", h.length}, {"ip", h.client_ip},
                        {"helo", h.helo},        {"from", h.mail_from},   {"id", h.id}};
    return j.dump();
  }

 private:
  std::chrono::milliseconds delay_;
  std::atomic<int>* active_;
  std::atomic<int>* peak_;
};

struct Fixture {
  std::filesystem::path dir;
  std::atomic<int> active{0}, peak{0};

  Fixture() {
    char tmpl[] = "/tmp/credence-serve-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string SocketPath() const { return (dir / "s.sock").string(); }

  std::unique_ptr<Server> Start(ServerOptions o, std::chrono::milliseconds delay = 0ms) {
    if (o.socket_path.empty() && o.listen.empty()) o.socket_path = SocketPath();
    auto r = Server::Start(o, [this, delay]() -> Result<std::unique_ptr<RequestHandler>> {
      return std::unique_ptr<RequestHandler>(std::make_unique<EchoHandler>(delay, &active, &peak));
    });
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    return std::move(r).value();
  }
};

int ConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string ReadToEof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends `request` on a new connection and returns the parsed JSON answer (null when the
// answer is not a valid frame).
nlohmann::json Ask(const std::string& path, std::string_view request) {
  int fd = ConnectUnix(path);
  if (fd < 0) return nullptr;
  SendAll(fd, request);
  std::string framed = ReadToEof(fd);
  ::close(fd);
  Result<std::string> json = UnframeResponse(framed);
  if (!json.ok()) return nullptr;
  return nlohmann::json::parse(*json, nullptr, false);
}

int ConnectTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// The framed answer on `fd` (read to EOF) as JSON; null when it is not a valid frame.
nlohmann::json Answer(int fd) {
  Result<std::string> json = UnframeResponse(ReadToEof(fd));
  if (!json.ok()) return nullptr;
  return nlohmann::json::parse(*json, nullptr, false);
}

// A field of /proc/self/status in bytes (VmSize, VmRSS, ...).
size_t SelfStatus(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

std::string Verify(std::string_view body, std::string_view ip = "192.0.2.1") {
  return MakeVerifyLine(body.size(), ip, "mx.test", "a@b.test", "t1") + std::string(body);
}

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

BOOST_AUTO_TEST_CASE(socket_file_rules) {
  Fixture fx;
  // A stale socket file (nobody listening) is replaced.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fx.SocketPath().c_str());
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  auto server = fx.Start(ServerOptions());
  // A live one is not.
  ServerOptions o;
  o.socket_path = fx.SocketPath();
  auto second = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST(!second.ok());
  BOOST_TEST(second.status().message().find("in use") != std::string::npos);
  // Neither is a regular file.
  std::string file = (fx.dir / "plain").string();
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  o.socket_path = file;
  auto third = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST(!third.ok());
  BOOST_TEST(std::filesystem::is_regular_file(file));
  // Too long for sockaddr_un.
  o.socket_path = "/tmp/" + std::string(200, 'x');
  auto fourth = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST((!fourth.ok() && fourth.status().code() == StatusCode::kInvalidInput));
  // A path that fits, in a directory too long for the private directory next to it.
  std::string deep = "/tmp/" + std::string(90, 'd') + "/s";
  BOOST_TEST(deep.size() < 107u);
  Result<int> fifth = ListenUnix(deep, 0600, "");
  BOOST_TEST((!fifth.ok() && fifth.status().code() == StatusCode::kInvalidInput));
  BOOST_TEST(fifth.status().message().find("directory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(socket_file_mode_group_and_what_is_left_behind) {
  Fixture fx;
  const std::string path = fx.SocketPath();
  // A symlink where the socket goes is refused, and its target is left alone.
  const std::string victim = (fx.dir / "victim").string();
  ::close(::open(victim.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  BOOST_TEST_REQUIRE(::symlink(victim.c_str(), path.c_str()) == 0);
  Result<int> refused = ListenUnix(path, 0666, "");
  BOOST_TEST(!refused.ok());
  struct stat st;
  BOOST_TEST_REQUIRE(::stat(victim.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  ::unlink(path.c_str());
  // Mode through the umask (whatever the process umask is), group by lchown.
  struct group* gr = ::getgrnam("nogroup");
  std::string group = gr != nullptr ? "nogroup" : "";
  mode_t old_umask = ::umask(0077);
  SocketFile created;
  Result<int> fd = ListenUnix(path, 0666, group, &created);
  ::umask(old_umask);
  BOOST_TEST_REQUIRE(fd.ok(), fd.status().ToString());
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 07777) == 0666u);
  if (gr != nullptr) BOOST_TEST(st.st_gid == gr->gr_gid);
  BOOST_TEST(st.st_ino == created.ino);
  // Only the socket and the victim: the private directory is gone.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(fx.dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  BOOST_TEST((names == std::vector<std::string>{"s.sock", "victim"}));
  // A file that replaced ours is not removed at shutdown.
  ::close(*fd);
  ::unlink(path.c_str());
  ::close(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  RemoveSocketFile(created);
  BOOST_TEST(std::filesystem::exists(path));
}

// The socket's directory is writable by someone else, who swaps the socket file for a symlink
// to a file of ours the moment it appears. Whatever ListenUnix does after bind() must not reach
// the symlink's target: its mode and group stay as they were.
BOOST_AUTO_TEST_CASE(socket_file_symlink_race_touches_nothing_outside) {
  Fixture fx;
  const std::string path = fx.SocketPath();
  const std::string victim = (fx.dir / "victim").string();
  const std::string link_tmp = (fx.dir / "link.tmp").string();
  ::close(::open(victim.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  BOOST_TEST_REQUIRE(::chmod(victim.c_str(), 0600) == 0);
  struct stat orig;
  BOOST_TEST_REQUIRE(::stat(victim.c_str(), &orig) == 0);
  // A group other than the victim's, so a chown through the symlink would show.
  std::string group;
  for (const char* g : {"nogroup", "nobody", "daemon", "users"}) {
    struct group* gr = ::getgrnam(g);
    if (gr != nullptr && gr->gr_gid != orig.st_gid) {
      group = g;
      break;
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread racer([&] {
    struct stat st;
    while (!stop.load(std::memory_order_relaxed)) {
      if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        ::unlink(link_tmp.c_str());
        if (::symlink(victim.c_str(), link_tmp.c_str()) == 0 &&
            ::rename(link_tmp.c_str(), path.c_str()) == 0) {
          ++swaps;
        }
      }
    }
  });
  int iterations = 0, bound = 0, hits = 0;
  auto t0 = SteadyClock::now();
  while (SteadyClock::now() - t0 < 1500ms) {
    ++iterations;
    Result<int> fd = ListenUnix(path, 0666, group);
    if (fd.ok()) {
      ++bound;
      ::close(*fd);
    }
    struct stat now;
    BOOST_TEST_REQUIRE(::stat(victim.c_str(), &now) == 0);
    if ((now.st_mode & 07777) != 0600 || now.st_gid != orig.st_gid) {
      ++hits;
      ::chmod(victim.c_str(), 0600);
      [[maybe_unused]] int rc = ::chown(victim.c_str(), static_cast<uid_t>(-1), orig.st_gid);
    }
    ::unlink(path.c_str());
  }
  stop = true;
  racer.join();
  BOOST_TEST_MESSAGE("socket symlink race: " << iterations << " binds tried, " << bound
                                             << " bound, " << swaps.load()
                                             << " socket files swapped for a symlink, " << hits
                                             << " times the symlink's target was changed"
                                             << (group.empty() ? "" : " (group " + group + ")"));
  BOOST_TEST(swaps.load() > 0);  // the race was run
  BOOST_TEST(hits == 0);
}

BOOST_AUTO_TEST_CASE(factory_error_leaves_no_socket) {
  Fixture fx;
  ServerOptions o;
  o.socket_path = fx.SocketPath();
  auto r = Server::Start(o, [] {
    return Result<std::unique_ptr<RequestHandler>>(Status::Invalid("bad authserv-id"));
  });
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.status().message() == "bad authserv-id");
  BOOST_TEST(!std::filesystem::exists(fx.SocketPath()));
}

BOOST_AUTO_TEST_CASE(tcp_listener_on_loopback) {
  Fixture fx;
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  auto server = fx.Start(o);
  BOOST_TEST_REQUIRE(server->tcp_port() != 0);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->tcp_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  SendAll(fd, Verify("tcp!"));
  Result<std::string> r = UnframeResponse(ReadToEof(fd));
  ::close(fd);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(nlohmann::json::parse(*r)["length"].get<int>() == 4);
}

BOOST_AUTO_TEST_CASE(listen_address_parsing) {
  std::string host;
  uint16_t port = 0;
  BOOST_TEST(ParseListenAddress("127.0.0.1:11400", &host, &port).ok());
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 11400);
  BOOST_TEST(ParseListenAddress("[::1]:0", &host, &port).ok());
  BOOST_TEST(host == "::1");
  for (std::string_view bad : {"", "127.0.0.1", "localhost:25", "127.0.0.1:", "127.0.0.1:70000",
                               "::1:25", "[::1]", "[::1]25", "1.2.3.4:5x"}) {
    BOOST_TEST(!ParseListenAddress(bad, &host, &port).ok(), bad);
  }
}

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
