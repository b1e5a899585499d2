// The `credence serve` engine with a fake handler: framing over real sockets, limits (size,
// slow clients, busy), concurrency, clean shutdown, socket file handling, the resolver pool.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

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
    nlohmann::json j = {{"length", body.size()}, {"ip", h.client_ip}, {"helo", h.helo},
                        {"from", h.mail_from}, {"id", h.id}};
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

BOOST_AUTO_TEST_CASE(oversized_request_is_refused_without_reading_it) {
  Fixture fx;
  ServerOptions o;
  o.max_request_bytes = 1000;
  auto server = fx.Start(o);
  nlohmann::json j = Ask(fx.SocketPath(), MakeVerifyLine(5000, "", "", "") + std::string(50, 'x'));
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["code"].get<std::string>() == "too_large");
  BOOST_TEST(j.contains("error"));
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

}  // namespace
}  // namespace credence::serve
