// `credence serve` as its administrators run it (issue 18): the client's "timeout=" and the
// answer deadline it gives the handler, the request log (one line per connection, key=value,
// a client that gave up counted), and Reload (SIGHUP's new configuration) over real sockets.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "serve/protocol.h"
#include "serve/server.h"
#include "serve_fixture.h"

namespace credence::serve {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Answers {"generation": N, "answer_by_ms": ms from accepted to answer_by (-1: none)} after an
// optional delay, and gives the log a field of its own.
class TaggedHandler final : public RequestHandler {
 public:
  TaggedHandler(int generation, std::chrono::milliseconds delay)
      : generation_(generation), delay_(delay) {}
  std::string Handle(const RequestHeader& header, std::string body) override {
    RequestContext context;
    return HandleRequest(header, std::move(body), context);
  }
  std::string HandleRequest(const RequestHeader&, std::string body,
                            RequestContext& context) override {
    std::this_thread::sleep_for(delay_);
    int64_t by = -1;
    if (context.answer_by != RequestContext::TimePoint::max()) {
      by = std::chrono::duration_cast<std::chrono::milliseconds>(context.answer_by -
                                                                 context.accepted)
               .count();
    }
    if (body == "EMPTY") context.outcome = "not_a_message";
    context.log_fields = "handler=" + std::to_string(generation_);
    return nlohmann::json({{"generation", generation_}, {"answer_by_ms", by}}).dump();
  }

 private:
  int generation_;
  std::chrono::milliseconds delay_;
};

HandlerFactory Factory(int generation, std::chrono::milliseconds delay = 0ms) {
  return [generation, delay]() -> Result<std::unique_ptr<RequestHandler>> {
    return std::unique_ptr<RequestHandler>(std::make_unique<TaggedHandler>(generation, delay));
  };
}

// The request log, collected.
struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  void Add(std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  }
  // The first line containing `needle`, waiting up to 3 s for it (the I/O thread writes it
  // when the connection ends, which may be after the client has its answer).
  std::string Find(std::string_view needle) {
    for (auto end = SteadyClock::now() + 3s; SteadyClock::now() < end;
         std::this_thread::sleep_for(10ms)) {
      std::lock_guard<std::mutex> lock(mu);
      for (const std::string& l : lines) {
        if (l.find(needle) != std::string::npos) return l;
      }
    }
    return "";
  }
};

struct Fixture {
  std::filesystem::path dir;
  LogLines log;
  Fixture() {
    char tmpl[] = "/tmp/credence-serve-ops-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string SocketPath() const { return (dir / "s.sock").string(); }
  std::unique_ptr<Server> Start(ServerOptions o, HandlerFactory factory) {
    o.socket_path = SocketPath();
    o.log = [this](std::string_view line) { log.Add(line); };
    auto r = Server::Start(o, std::move(factory));
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    return std::move(r).value();
  }
};

// The client's moves of the other serve tests (serve_fixture.h).
using testing::Ask;

std::string Verify(std::string_view body, std::string_view id, int64_t timeout_ms = 0) {
  return MakeVerifyLine(body.size(), "192.0.2.1", "mx.test", "a@b.test", id, timeout_ms) +
         std::string(body);
}

BOOST_AUTO_TEST_SUITE(serve_operations)

BOOST_AUTO_TEST_CASE(timeout_field_is_parsed_and_bounded) {
  Result<RequestHeader> h = ParseRequestHeader("CREDENCE/1 VERIFY 5 ip=1.2.3.4 timeout=7000", 10);
  BOOST_TEST_REQUIRE(h.ok(), h.status().ToString());
  BOOST_TEST(h->timeout_ms == 7000);
  BOOST_TEST(ParseRequestHeader("CREDENCE/1 VERIFY 5", 10)->timeout_ms == 0);
  BOOST_TEST(ParseRequestHeader("CREDENCE/1 VERIFY 5 timeout=600000", 10)->timeout_ms == 600000);
  for (std::string_view bad : {"timeout=0", "timeout=600001", "timeout=7s", "timeout=-1",
                               "timeout=+5", "timeout=", "timeout=1%30", "timeout=99999999999",
                               "timeout=5 timeout=6"}) {
    Result<RequestHeader> r = ParseRequestHeader("CREDENCE/1 VERIFY 5 " + std::string(bad), 10);
    BOOST_TEST(!r.ok(), bad);
    BOOST_TEST(r.status().code() == StatusCode::kInvalidInput, bad);
  }
  BOOST_TEST(MakeVerifyLine(3, "", "", "", "x", 2500) ==
             "CREDENCE/1 VERIFY 3 ip= helo= from= id=x timeout=2500\n");
  BOOST_TEST(MakeVerifyLine(3, "", "", "") == "CREDENCE/1 VERIFY 3 ip= helo= from=\n");
}

BOOST_AUTO_TEST_CASE(answer_deadline_leaves_a_tenth_at_least_200ms) {
  RequestContext::TimePoint t0 = SteadyClock::now();
  BOOST_TEST((AnswerDeadline(t0, 7000ms) - t0 == 6300ms));
  BOOST_TEST((AnswerDeadline(t0, 1000ms) - t0 == 800ms));
  BOOST_TEST((AnswerDeadline(t0, 100ms) - t0 == -100ms));  // already gone: cache only
}

BOOST_AUTO_TEST_CASE(handler_gets_the_clients_deadline) {
  Fixture fx;
  auto server = fx.Start(ServerOptions(), Factory(1));
  nlohmann::json with = Ask(fx.SocketPath(), Verify("hello", "a", 5000));
  BOOST_TEST(with.value("answer_by_ms", 0) == 4500);
  nlohmann::json without = Ask(fx.SocketPath(), Verify("hello", "b"));
  BOOST_TEST(without.value("answer_by_ms", 0) == -1);
}

BOOST_AUTO_TEST_CASE(one_log_line_per_request_with_outcome_and_times) {
  Fixture fx;
  auto server = fx.Start(ServerOptions(), Factory(1, 20ms));
  BOOST_TEST_REQUIRE(Ask(fx.SocketPath(), Verify("hello", "q-1", 7000)).is_object());
  std::string line = fx.log.Find("id=q-1");
  BOOST_TEST_MESSAGE(line);
  BOOST_TEST(line.rfind("request outcome=verdict id=q-1 peer=uid:", 0) == 0, line);
  for (std::string_view field : {" bytes=5 ", " timeout_ms=7000 ", " read_ms=", " queue_ms=",
                                 " eval_ms=", " ms=", " handler=1"}) {
    BOOST_TEST(line.find(field) != std::string::npos, field << " in " << line);
  }
  // eval_ms covers the handler's 20 ms sleep.
  size_t at = line.find(" eval_ms=");
  BOOST_TEST(std::stoi(line.substr(at + 9)) >= 20, line);

  BOOST_TEST_REQUIRE(Ask(fx.SocketPath(), "CREDENCE/1 PING\n").is_object());
  BOOST_TEST(!fx.log.Find("request outcome=pong").empty());
  Ask(fx.SocketPath(), Verify("EMPTY", "e"));
  BOOST_TEST(fx.log.Find("id=e").rfind("request outcome=not_a_message id=e", 0) == 0);
  Ask(fx.SocketPath(), "GET / HTTP/1.0\n");
  std::string bad = fx.log.Find("outcome=bad_request");
  BOOST_TEST(bad.find("detail=\"not a CREDENCE/1 request\"") != std::string::npos, bad);
}

BOOST_AUTO_TEST_CASE(client_bytes_cannot_break_the_log_line) {
  Fixture fx;
  auto server = fx.Start(ServerOptions(), Factory(1));
  Ask(fx.SocketPath(), Verify("hello", "two words\x1b[31m\"q\"\\"));
  std::string line = fx.log.Find("id=\"two words");
  BOOST_TEST(line.find("id=\"two words\\x1B[31m\\\"q\\\"\\\\\"") != std::string::npos, line);
  BOOST_TEST(line.find('\x1b') == std::string::npos);
  // A header line with a control byte: its error line carries no raw control byte.
  Ask(fx.SocketPath(), "CREDENCE/1 VERIFY 1 k\x07y=1\nx");
  std::string bad = fx.log.Find("unknown field");
  BOOST_TEST(!bad.empty());
  BOOST_TEST(bad.find('\x07') == std::string::npos, bad);
}

BOOST_AUTO_TEST_CASE(a_client_that_gave_up_is_logged_and_counted) {
  Fixture fx;
  auto server = fx.Start(ServerOptions(), Factory(1, 300ms));
  int fd = testing::ConnectUnix(fx.SocketPath());
  BOOST_TEST_REQUIRE(fd >= 0);
  std::string req = Verify("hello", "impatient", 1000);
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  ::close(fd);  // gives up before the 300 ms evaluation is done
  std::string line = fx.log.Find("id=impatient");
  BOOST_TEST(line.rfind("request outcome=gave_up answer=verdict id=impatient", 0) == 0, line);
  BOOST_TEST(server->stats().gave_up == 1u);
}

BOOST_AUTO_TEST_CASE(a_stalled_client_is_logged_with_its_stage) {
  Fixture fx;
  ServerOptions o;
  o.header_timeout = 150ms;
  o.request_timeout = 300ms;
  auto server = fx.Start(o, Factory(1));
  int idle = testing::ConnectUnix(fx.SocketPath());
  int slow = testing::ConnectUnix(fx.SocketPath());
  std::string part = MakeVerifyLine(100, "", "", "", "slow") + "only part";
  ::send(slow, part.data(), part.size(), MSG_NOSIGNAL);
  std::string header = fx.log.Find("stage=header");
  std::string body = fx.log.Find("stage=body");
  BOOST_TEST(header.rfind("request outcome=timeout stage=header peer=uid:", 0) == 0, header);
  BOOST_TEST(body.rfind("request outcome=timeout stage=body id=slow", 0) == 0, body);
  BOOST_TEST(body.find("detail=\"request not received within the request timeout\"") !=
             std::string::npos, body);
  ::close(idle);
  ::close(slow);
}

BOOST_AUTO_TEST_CASE(refused_connections_are_logged) {
  Fixture fx;
  ServerOptions o;
  o.max_connections = 1;
  o.max_connections_per_peer = 1;
  auto server = fx.Start(o, Factory(1));
  int first = testing::ConnectUnix(fx.SocketPath());
  nlohmann::json second = Ask(fx.SocketPath(), "CREDENCE/1 PING\n");
  BOOST_TEST(second.value("code", "") == "busy");
  std::string line = fx.log.Find("outcome=busy");
  BOOST_TEST(line.find("detail=\"too many connections") != std::string::npos, line);
  ::close(first);
}

BOOST_AUTO_TEST_CASE(reload_swaps_every_workers_handler_or_nothing) {
  Fixture fx;
  ServerOptions o;
  o.workers = 3;
  auto server = fx.Start(o, Factory(1));
  BOOST_TEST(Ask(fx.SocketPath(), Verify("x", "a")).value("generation", 0) == 1);
  BOOST_TEST_REQUIRE(server->Reload(Factory(2)).ok());
  // Every worker takes the new handler before its next request.
  for (int i = 0; i < 12; ++i) {
    BOOST_TEST(Ask(fx.SocketPath(), Verify("x", "b")).value("generation", 0) == 2);
  }
  // A factory that fails on its second call: nothing changes, the error comes back.
  int calls = 0;
  Status s = server->Reload([&calls]() -> Result<std::unique_ptr<RequestHandler>> {
    if (++calls == 2) return Status::Invalid("bad authserv-id");
    return std::unique_ptr<RequestHandler>(std::make_unique<TaggedHandler>(3, 0ms));
  });
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message() == "bad authserv-id");
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(Ask(fx.SocketPath(), Verify("x", "c")).value("generation", 0) == 2);
  }
  BOOST_TEST(server->stats().reloads == 1u);
}

// A Reload that comes before a worker thread first runs: that worker still takes it (each
// worker's first handler is generation 0, not whatever generation its thread first reads).
BOOST_AUTO_TEST_CASE(reload_before_the_workers_run_is_taken) {
  for (int round = 0; round < 5; ++round) {
    Fixture fx;
    ServerOptions o;
    o.workers = 4;
    auto server = fx.Start(o, Factory(1));
    BOOST_TEST_REQUIRE(server->Reload(Factory(2)).ok());
    for (int i = 0; i < 16; ++i) {
      BOOST_TEST(Ask(fx.SocketPath(), Verify("x", "r")).value("generation", 0) == 2);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::serve
