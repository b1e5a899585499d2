// What the `credence serve` unit tests share: an echoing handler, a fixture that starts a
// server on a socket in a temporary directory, and a client's few moves over real sockets.
#ifndef CREDENCE_TESTS_UNIT_SERVE_FIXTURE_H_
#define CREDENCE_TESTS_UNIT_SERVE_FIXTURE_H_

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

namespace credence::serve::testing {

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

inline int ConnectUnix(const std::string& path) {
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

inline void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

inline std::string ReadToEof(int fd) {
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
inline nlohmann::json Ask(const std::string& path, std::string_view request) {
  int fd = ConnectUnix(path);
  if (fd < 0) return nullptr;
  SendAll(fd, request);
  std::string framed = ReadToEof(fd);
  ::close(fd);
  Result<std::string> json = UnframeResponse(framed);
  if (!json.ok()) return nullptr;
  return nlohmann::json::parse(*json, nullptr, false);
}

inline int ConnectTcp(uint16_t port) {
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
inline nlohmann::json Answer(int fd) {
  Result<std::string> json = UnframeResponse(ReadToEof(fd));
  if (!json.ok()) return nullptr;
  return nlohmann::json::parse(*json, nullptr, false);
}

// A field of /proc/self/status in bytes (VmSize, VmRSS, ...).
inline size_t SelfStatus(std::string_view key) {
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

inline std::string Verify(std::string_view body, std::string_view ip = "192.0.2.1") {
  return MakeVerifyLine(body.size(), ip, "mx.test", "a@b.test", "t1") + std::string(body);
}

}  // namespace credence::serve::testing

#endif  // CREDENCE_TESTS_UNIT_SERVE_FIXTURE_H_
