// One `credence serve` connection driven step by step, without a server: the test holds both
// ends of a socket pair, plays the client on one and the I/O thread on the other (what the
// server would do after each Connection::Next), and reads what the client got.
#include <poll.h>
#include <sys/ioctl.h>

#include "serve/connection.h"
#include "serve_fixture.h"

namespace credence::serve {

// For Boost.Test's messages (found by argument-dependent lookup, so not in the unnamed namespace).
std::ostream& operator<<(std::ostream& os, ConnState s) { return os << static_cast<int>(s); }
std::ostream& operator<<(std::ostream& os, Connection::Next n) { return os << static_cast<int>(n); }

namespace {

using namespace testing;
using Next = Connection::Next;

// A connected pair: `ours` (non-blocking, the connection's) and `theirs` (the client's).
struct Pair {
  int ours = -1;
  int theirs = -1;
  Pair() {
    int fds[2];
    BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    ours = fds[0];
    theirs = fds[1];
    ::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK);
    timeval tv = {5, 0};
    ::setsockopt(theirs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Pair() {
    if (theirs >= 0) ::close(theirs);
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  void Send(std::string_view data) { SendAll(theirs, data); }
  // Bytes sent to the connection that it has not read yet.
  int Unread() const {
    int n = 0;
    ::ioctl(ours, FIONREAD, &n);
    return n;
  }
  // What the client got, to EOF, as JSON (null when not a valid frame).
  nlohmann::json Got() { return Answer(theirs); }
};

struct ConnFixture {
  ServeCounters counters;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> log = [this](std::string_view l) { lines.emplace_back(l); };
  ConnectionSettings settings;
  Pair pair;
  SteadyClock::time_point accepted = SteadyClock::now();

  bool closed = false;  // ours was closed by Connection::Close or Refuse

  ~ConnFixture() {
    if (!closed) ::close(pair.ours);
  }
  ConnFixture() {
    settings.max_request_bytes = 1000;
    settings.line_timeout = 3000ms;
    settings.request_timeout = 10000ms;
    settings.log = &log;
    settings.counters = &counters;
  }
  std::unique_ptr<Connection> Open(PeerId peer = 1000) {
    return std::make_unique<Connection>(pair.ours, peer, settings, accepted);
  }
  // The server's part at the end: Close with the last outcome.
  void Close(Connection& c) {
    c.Close(c.outcome());
    closed = true;
  }
  // Close, then what the client read.
  nlohmann::json Finish(Connection& c) {
    Close(c);
    return pair.Got();
  }
};

Done MakeDone(uint64_t id, std::string json, std::string outcome = "", std::string log = "") {
  SteadyClock::time_point now = SteadyClock::now();
  return Done{id, std::move(json), false, now, now + 20ms, std::move(outcome), std::move(log)};
}

BOOST_AUTO_TEST_SUITE(serve_connection)

BOOST_AUTO_TEST_CASE(ping_is_answered_without_a_worker) {
  ConnFixture fx;
  auto c = fx.Open();
  BOOST_TEST(c->state() == ConnState::kLine);
  BOOST_TEST(c->PollEvents() == POLLIN);
  fx.pair.Send("CREDENCE/1 PING\n");
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  BOOST_TEST(c->outcome() == "pong");
  nlohmann::json got = fx.Finish(*c);
  BOOST_TEST(got.value("pong", false));
  BOOST_TEST(fx.counters.completed.load() == 1u);
  BOOST_TEST(fx.counters.errors.load() == 0u);
  BOOST_TEST_REQUIRE(fx.lines.size() == 1u);
  BOOST_TEST(fx.lines[0].rfind("request outcome=pong peer=uid:1000 read_ms=", 0) == 0, fx.lines[0]);
}

BOOST_AUTO_TEST_CASE(header_line_alone_is_read_then_the_request_waits_for_budget) {
  ConnFixture fx;
  auto c = fx.Open();
  BOOST_TEST((c->deadline() == fx.accepted + 3000ms));
  std::string request = Verify("hello");
  fx.pair.Send(request.substr(0, 10));  // part of the header line
  BOOST_TEST(c->OnReady() == Next::kPoll);
  BOOST_TEST(c->state() == ConnState::kLine);
  fx.pair.Send(request.substr(10));
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  BOOST_TEST(c->state() == ConnState::kWaiting);
  BOOST_TEST(c->PollEvents() == 0);  // not read until admitted
  BOOST_TEST(c->wanted() == 5u);
  BOOST_TEST((c->deadline() == fx.accepted + 10000ms));
  BOOST_TEST(fx.pair.Unread() == 5);  // the message stays in the socket
  BOOST_TEST(c->OnReady() == Next::kPoll);
  BOOST_TEST(fx.pair.Unread() == 5);

  c->Admit(5);
  BOOST_TEST(c->state() == ConnState::kBody);
  BOOST_TEST(c->reserved() == 5u);
  BOOST_TEST(c->ReleaseBudget() == 0u);  // still needed
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kWorker);
  BOOST_TEST(c->state() == ConnState::kBody);  // until the pool has it
  Job job = c->TakeJob(42);
  BOOST_TEST(job.conn_id == 42u);
  BOOST_TEST(job.body == "hello");
  BOOST_TEST(job.header.id == "t1");
  BOOST_TEST(job.header.mail_from == "a@b.test");
  BOOST_TEST((job.context.accepted == fx.accepted));
  BOOST_TEST((job.context.answer_by == RequestContext::TimePoint::max()));
  c->Submitted();
  BOOST_TEST(c->state() == ConnState::kEvaluating);
  BOOST_TEST(c->PollEvents() == 0);
  BOOST_TEST(fx.counters.truncated.load() == 0u);

  Done done = MakeDone(42, R"({"ok":1})", "", "handler=x");
  c->Returned(done);
  BOOST_TEST(c->state() == ConnState::kWriting);
  BOOST_TEST(c->ReleaseBudget() == 5u);
  BOOST_TEST(c->ReleaseBudget() == 0u);  // once
  BOOST_TEST_REQUIRE(c->Answer(done) == Next::kClose);
  BOOST_TEST(c->outcome() == "verdict");
  nlohmann::json got = fx.Finish(*c);
  BOOST_TEST(got.value("ok", 0) == 1);
  BOOST_TEST_REQUIRE(fx.lines.size() == 1u);
  const std::string& line = fx.lines[0];
  BOOST_TEST(line.rfind("request outcome=verdict id=t1 peer=uid:1000 bytes=5 read_ms=", 0) == 0,
             line);
  for (std::string_view field : {" queue_ms=", " eval_ms=20 ", " ms=", " handler=x"}) {
    BOOST_TEST(line.find(field) != std::string::npos, field << " in " << line);
  }
}

BOOST_AUTO_TEST_CASE(the_clients_timeout_becomes_the_answer_deadline) {
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send(MakeVerifyLine(2, "", "", "", "d", 5000) + "hi");
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  c->Admit(c->wanted());
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kWorker);
  Job job = c->TakeJob(1);
  BOOST_TEST((job.context.answer_by == fx.accepted + 4500ms));
}

BOOST_AUTO_TEST_CASE(an_empty_message_needs_no_budget) {
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send(MakeVerifyLine(0, "", "", ""));
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kWorker);
  BOOST_TEST(c->TakeJob(1).body.empty());
  BOOST_TEST(c->reserved() == 0u);
}

BOOST_AUTO_TEST_CASE(an_oversized_message_is_kept_as_a_prefix_and_counted) {
  ConnFixture fx;
  fx.settings.max_request_bytes = 4;
  auto c = fx.Open();
  fx.pair.Send(Verify("0123456789"));
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  BOOST_TEST(c->wanted() == 4u);
  c->Admit(4);
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kWorker);
  BOOST_TEST(fx.pair.Unread() == 0);  // the rest was read and dropped
  Job job = c->TakeJob(1);
  BOOST_TEST(job.body == "0123");
  BOOST_TEST(job.header.length == 10u);
  c->Submitted();
  BOOST_TEST(fx.counters.truncated.load() == 1u);
}

BOOST_AUTO_TEST_CASE(a_bad_header_line_gets_bad_request) {
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send("GET / HTTP/1.0\n");
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  BOOST_TEST(c->outcome() == "bad_request");
  nlohmann::json got = fx.Finish(*c);
  BOOST_TEST(got.value("code", "") == "bad_request");
  BOOST_TEST(got.value("error", "") == "not a CREDENCE/1 request");
  BOOST_TEST(fx.counters.errors.load() == 1u);
  BOOST_TEST(fx.counters.completed.load() == 1u);
  BOOST_TEST_REQUIRE(fx.lines.size() == 1u);
  BOOST_TEST(fx.lines[0].find("detail=\"not a CREDENCE/1 request\"") != std::string::npos,
             fx.lines[0]);
}

BOOST_AUTO_TEST_CASE(a_client_that_stops_sending_early_gets_bad_request) {
  {
    ConnFixture fx;
    auto c = fx.Open();
    ::shutdown(fx.pair.theirs, SHUT_WR);
    BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
    nlohmann::json got = fx.Finish(*c);
    BOOST_TEST(got.value("error", "") == "connection closed before a header line");
  }
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send(MakeVerifyLine(100, "", "", "", "cut") + "only part");
  ::shutdown(fx.pair.theirs, SHUT_WR);
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  c->Admit(100);
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  BOOST_TEST(c->ReleaseBudget() == 100u);
  nlohmann::json got = fx.Finish(*c);
  BOOST_TEST(got.value("error", "") == "truncated message");
  BOOST_TEST(got.value("id", "") == "cut");
}

BOOST_AUTO_TEST_CASE(a_deadline_ends_each_stage_with_its_own_words) {
  struct Case {
    int steps;  // 0: nothing sent; 1: header line only; 2: admitted, part of the body
    std::string_view stage, why;
  };
  for (const Case& k : {Case{0, "header", "no header line within the header timeout"},
                        Case{1, "budget",
                             "request not read within the request timeout: the in-flight "
                             "budget was full"},
                        Case{2, "body", "request not received within the request timeout"}}) {
    ConnFixture fx;
    auto c = fx.Open();
    if (k.steps >= 1) {
      fx.pair.Send(MakeVerifyLine(100, "", "", "", "late") + "part");
      BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
    }
    if (k.steps >= 2) {
      c->Admit(100);
      BOOST_TEST_REQUIRE(c->OnReady() == Next::kPoll);
    }
    BOOST_TEST_REQUIRE(c->Expire() == Next::kClose);
    BOOST_TEST(c->outcome() == "timeout");
    nlohmann::json got = fx.Finish(*c);
    BOOST_TEST(got.value("code", "") == "timeout");
    BOOST_TEST(got.value("error", "") == k.why);
    BOOST_TEST(got.value("id", "") == (k.steps >= 1 ? "late" : ""));
    BOOST_TEST(fx.counters.timeouts.load() == 1u);
    BOOST_TEST(fx.counters.errors.load() == 1u);
    BOOST_TEST_REQUIRE(fx.lines.size() == 1u);
    BOOST_TEST(fx.lines[0].find(" stage=" + std::string(k.stage) + " ") != std::string::npos,
               fx.lines[0]);
  }
  // An answer the client does not read: "unread", no second document.
  ConnFixture fx;
  auto c = fx.Open();
  c->Fail("busy", "too many requests waiting");
  BOOST_TEST(c->state() == ConnState::kWriting);
  BOOST_TEST(c->PollEvents() == POLLOUT);
  BOOST_TEST((c->deadline() > fx.accepted));
  BOOST_TEST_REQUIRE(c->Expire() == Next::kClose);
  BOOST_TEST(c->outcome() == "unread");
  fx.Close(*c);
  BOOST_TEST(ReadToEof(fx.pair.theirs).empty());
  BOOST_TEST(fx.counters.timeouts.load() == 1u);
  BOOST_TEST(fx.counters.errors.load() == 1u);  // the busy document only
  BOOST_TEST(fx.lines.at(0).rfind("request outcome=unread answer=busy peer=uid:1000", 0) == 0,
             fx.lines[0]);
}

BOOST_AUTO_TEST_CASE(abandon_answers_with_the_prepared_frame) {
  ConnFixture fx;
  const std::string frame = FrameResponse(ErrorJson("internal", "internal error"));
  auto c = fx.Open();
  fx.pair.Send(Verify("hello"));
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  c->Admit(5);
  c->Abandon(frame);
  BOOST_TEST(c->state() == ConnState::kWriting);
  BOOST_TEST(c->ReleaseBudget() == 5u);
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  BOOST_TEST(c->outcome() == "internal");
  fx.Close(*c);
  BOOST_TEST(ReadToEof(fx.pair.theirs) == frame);
  BOOST_TEST(fx.counters.errors.load() == 1u);
}

BOOST_AUTO_TEST_CASE(a_client_gone_before_its_answer_gave_up) {
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send("CREDENCE/1 PING\n");
  ::close(fx.pair.theirs);
  fx.pair.theirs = -1;
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  BOOST_TEST(c->outcome() == "gave_up");
  fx.Close(*c);
  BOOST_TEST(fx.counters.gave_up.load() == 1u);
  BOOST_TEST(fx.counters.completed.load() == 0u);
  BOOST_TEST(fx.lines.at(0).rfind("request outcome=gave_up answer=pong", 0) == 0, fx.lines[0]);
}

BOOST_AUTO_TEST_CASE(a_large_answer_is_written_as_the_socket_takes_it) {
  ConnFixture fx;
  auto c = fx.Open();
  fx.pair.Send(Verify("hello"));
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kBudget);
  c->Admit(5);
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kWorker);
  c->TakeJob(1);
  c->Submitted();
  const std::string big = "\"" + std::string(4 << 20, 'x') + "\"";
  Done done = MakeDone(1, big);
  c->Returned(done);
  BOOST_TEST_REQUIRE(c->Answer(done) == Next::kPoll);  // more than a socket buffer
  BOOST_TEST(c->PollEvents() == POLLOUT);
  std::string got;
  char buf[64 * 1024];
  Next next = Next::kPoll;
  for (int rounds = 0; next == Next::kPoll && rounds < 10000; ++rounds) {
    ssize_t n = ::recv(fx.pair.theirs, buf, sizeof buf, 0);
    BOOST_TEST_REQUIRE(n > 0);
    got.append(buf, static_cast<size_t>(n));
    next = c->OnReady();
  }
  BOOST_TEST_REQUIRE(next == Next::kClose);
  fx.Close(*c);
  got += ReadToEof(fx.pair.theirs);
  Result<std::string> json = UnframeResponse(got);
  BOOST_TEST_REQUIRE(json.ok());
  BOOST_TEST(*json == big);
}

BOOST_AUTO_TEST_CASE(a_log_that_throws_does_not_keep_the_socket_open) {
  ConnFixture fx;
  fx.log = [](std::string_view) { throw std::runtime_error("log full"); };
  auto c = fx.Open();
  fx.pair.Send("CREDENCE/1 PING\n");
  BOOST_TEST_REQUIRE(c->OnReady() == Next::kClose);
  nlohmann::json got = fx.Finish(*c);
  BOOST_TEST(got.value("pong", false));
}

BOOST_AUTO_TEST_CASE(refuse_sends_the_frame_and_logs_it) {
  ConnFixture fx;
  const std::string frame = FrameResponse(ErrorJson("busy", "too many connections"));
  Refuse(fx.pair.ours, frame, kTcpPeer, "busy", "too many connections", fx.settings);
  fx.closed = true;
  BOOST_TEST(ReadToEof(fx.pair.theirs) == frame);
  BOOST_TEST(fx.counters.errors.load() == 1u);
  BOOST_TEST_REQUIRE(fx.lines.size() == 1u);
  BOOST_TEST(fx.lines[0] == "request outcome=busy peer=tcp ms=0 detail=\"too many connections\"");
}

BOOST_AUTO_TEST_CASE(log_values_are_escaped_and_bounded) {
  BOOST_TEST(LogValue("q-1.example") == "q-1.example");
  BOOST_TEST(LogValue("") == "\"\"");
  BOOST_TEST(LogValue("two words") == "\"two words\"");
  BOOST_TEST(LogValue("k=v") == "\"k=v\"");
  BOOST_TEST(LogValue("a\"b\\c") == "\"a\\\"b\\\\c\"");
  BOOST_TEST(LogValue("\x1b[31m\xff") == "\"\\x1B[31m\\xFF\"");
  BOOST_TEST(LogValue(std::string(300, 'a')) == "\"" + std::string(256, 'a') + "...\"");
  BOOST_TEST(LogValue("abcdef", 3) == "\"abc...\"");
  BOOST_TEST(PeerName(kTcpPeer) == "tcp");
  BOOST_TEST(PeerName(kUnknownPeer) == "unknown");
  BOOST_TEST(PeerName(1000) == "uid:1000");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::serve
