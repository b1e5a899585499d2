// One connection's state machine (connection.h): nothing here blocks on a client.
#include "serve/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace credence::serve {
namespace {

using std::chrono::milliseconds;
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadRounds = 16;  // reads per connection per poll round (fairness)

int64_t Millis(Connection::Clock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

}  // namespace

ServerStats ServeCounters::Snapshot() const {
  ServerStats s;
  s.accepted = accepted.load();
  s.completed = completed.load();
  s.errors = errors.load();
  s.timeouts = timeouts.load();
  s.refused = refused.load();
  s.failures = failures.load();
  s.truncated = truncated.load();
  s.gave_up = gave_up.load();
  s.reloads = reloads.load();
  s.peak_inflight_bytes = peak_inflight_bytes.load();
  return s;
}

std::string LogValue(std::string_view v, size_t max) {
  bool bare = !v.empty() && v.size() <= max;
  for (char ch : v) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') bare = false;
  }
  if (bare) return std::string(v);
  std::string out = "\"";
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (v.size() > max) out += "...";
  out.push_back('"');
  return out;
}

std::string PeerName(PeerId peer) {
  if (peer == kTcpPeer) return "tcp";
  if (peer == kUnknownPeer) return "unknown";
  return "uid:" + std::to_string(peer);
}

// Away with what the client sent that was never read (a refused or timed-out request), so
// that close() does not turn into a reset that can make the client lose the answer before it
// (Unix and TCP sockets both do that when unread bytes are left). Bounded: at most kDrainLimit
// bytes are read and dropped.
void CloseSocket(int fd) noexcept {
  constexpr size_t kDrainLimit = 1 << 20;
  ::shutdown(fd, SHUT_WR);
  char buf[16 * 1024];
  for (size_t drained = 0; drained < kDrainLimit;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  ::close(fd);
}

void Refuse(int fd, std::string_view frame, PeerId peer, std::string_view outcome,
            std::string_view why, const ConnectionSettings& settings) noexcept {
  ++settings.counters->errors;
  [[maybe_unused]] ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  CloseSocket(fd);
  if (settings.log == nullptr || !*settings.log) return;
  try {
    (*settings.log)("request outcome=" + std::string(outcome) + " peer=" + PeerName(peer) +
                    " ms=0 detail=" + LogValue(why));
  } catch (...) {
  }
}

Connection::Connection(int fd, PeerId peer, const ConnectionSettings& settings,
                       Clock::time_point accepted)
    : fd_(fd),
      peer_(peer),
      settings_(settings),
      reader_(settings.max_request_bytes),
      accepted_(accepted),
      deadline_(accepted + settings.line_timeout) {}

short Connection::PollEvents() const {
  switch (state_) {
    case ConnState::kLine:
    case ConnState::kBody:
      return POLLIN;
    case ConnState::kWriting:
      return POLLOUT;
    default:
      return 0;
  }
}

Connection::Next Connection::OnReady() {
  Next next = Next::kPoll;
  switch (state_) {
    case ConnState::kLine:
      next = ReadLine();
      break;
    case ConnState::kBody:
      next = ReadBody();
      break;
    case ConnState::kWriting:
      return Write();
    default:
      return Next::kPoll;
  }
  if (next == Next::kPoll && state_ == ConnState::kWriting) return Write();
  return next;
}

// The header line is read up to its LF and no further (MSG_PEEK finds the LF), so the
// message stays in the socket until the request has its share of the budget.
Connection::Next Connection::ReadLine() {
  char buf[kMaxHeaderLine];
  ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_PEEK);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return Next::kPoll;
    return CloseWith("gave_up", "header");
  }
  if (n == 0) {
    Fail("bad_request", "connection closed before a header line");
    return Next::kPoll;
  }
  const void* lf = std::memchr(buf, '\n', static_cast<size_t>(n));
  size_t take = lf != nullptr ? static_cast<const char*>(lf) - buf + 1 : static_cast<size_t>(n);
  ssize_t got = ::recv(fd_, buf, take, 0);
  if (got <= 0) return Next::kPoll;  // the bytes just peeked are there; nothing to do otherwise
  RequestReader::State s = reader_.Feed(std::string_view(buf, static_cast<size_t>(got)));
  if (reader_.header_done() && !req_.seen) {
    const RequestHeader& h = reader_.header();
    req_.seen = true;
    req_.verify = h.kind == RequestKind::kVerify;
    req_.id = h.id;
    req_.length = h.length;
    req_.timeout_ms = h.timeout_ms;
  }
  if (s == RequestReader::State::kNeedMore && reader_.header_done()) {
    deadline_ = accepted_ + settings_.request_timeout;
    state_ = ConnState::kWaiting;
    return Next::kBudget;
  }
  return AfterRequest();  // an error, a PING, an empty message, or more of the line to come
}

Connection::Next Connection::ReadBody() {
  char buf[kReadChunk];
  for (int rounds = 0; rounds < kReadRounds && state_ == ConnState::kBody; ++rounds) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Next::kPoll;
      return CloseWith("gave_up", "body");
    }
    if (n == 0) {  // the client finished sending before the request was complete
      Fail("bad_request", "truncated message");
      return Next::kPoll;
    }
    reader_.Feed(std::string_view(buf, static_cast<size_t>(n)));
    Next next = AfterRequest();
    if (next != Next::kPoll) return next;
  }
  return Next::kPoll;
}

// What the reader's state means for the connection: an error document, a PING's answer, a
// request for a worker, or nothing yet.
Connection::Next Connection::AfterRequest() {
  if (reader_.state() == RequestReader::State::kError) {
    const Status& e = reader_.error();
    Fail(ErrorCodeOf(e), e.message());
    return Next::kPoll;
  }
  if (reader_.state() != RequestReader::State::kComplete) return Next::kPoll;
  queued_ = Clock::now();
  if (reader_.header().kind == RequestKind::kPing) {
    StartWriting(R"({"pong":true})", "pong");
    return Next::kPoll;
  }
  return Next::kWorker;
}

void Connection::Admit(size_t bytes) noexcept {
  reserved_ = bytes;
  state_ = ConnState::kBody;
}

Job Connection::TakeJob(uint64_t id) {
  RequestContext context;
  context.accepted = accepted_;
  const RequestHeader& h = reader_.header();
  if (h.timeout_ms > 0) context.answer_by = AnswerDeadline(accepted_, milliseconds(h.timeout_ms));
  return Job{id, h, reader_.TakeBody(), std::move(context), peer_};
}

void Connection::Submitted() noexcept {
  if (reader_.keep() < reader_.header().length) ++settings_.counters->truncated;
  state_ = ConnState::kEvaluating;
}

void Connection::Returned(const Done& done) noexcept {
  state_ = ConnState::kWriting;  // out of the worker's hands
  started_ = done.started;
  finished_ = done.finished;
}

Connection::Next Connection::Answer(Done& done) {
  handler_log_ = std::move(done.log_fields);
  StartWriting(done.json, done.outcome.empty() ? std::string_view("verdict") : done.outcome);
  std::string().swap(done.json);
  return Write();
}

// `answer`: what the document is, for the log ("verdict", "pong", an error code).
void Connection::StartWriting(std::string_view json, std::string_view answer) {
  answer_ = answer;
  reader_ = RequestReader(0);  // drop request buffers
  out_ = FrameResponse(json);
  pending_ = out_;
  state_ = ConnState::kWriting;
  deadline_ = Clock::now() + settings_.request_timeout;
}

std::string_view Connection::RequestId() const {
  return reader_.header_done() ? std::string_view(reader_.header().id) : std::string_view();
}

void Connection::Fail(std::string_view code, std::string_view message) {
  ++settings_.counters->errors;
  detail_ = message;
  StartWriting(ErrorJson(code, message, RequestId()), code);
}

Connection::Next Connection::Write() noexcept {
  while (!pending_.empty()) {
    ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Next::kPoll;
      return CloseWith("gave_up");  // EPIPE, ECONNRESET: the client closed before its answer
    }
    pending_.remove_prefix(static_cast<size_t>(n));
  }
  ++settings_.counters->completed;
  return CloseWith(answer_.empty() ? std::string_view("internal") : std::string_view(answer_));
}

Connection::Next Connection::CloseWith(std::string_view outcome, std::string_view stage) {
  if (!stage.empty()) stage_ = stage;
  outcome_ = outcome;
  return Next::kClose;
}

Connection::Next Connection::Expire() noexcept {
  ++settings_.counters->timeouts;
  std::string_view why, stage;
  switch (state_) {
    case ConnState::kLine:
      why = "no header line within the header timeout";
      stage = "header";
      break;
    case ConnState::kWaiting:
      why = "request not read within the request timeout: the in-flight budget was full";
      stage = "budget";
      break;
    case ConnState::kBody:
      why = "request not received within the request timeout";
      stage = "body";
      break;
    default:
      outcome_ = "unread";  // kWriting: the client does not read its answer
      return Next::kClose;
  }
  ++settings_.counters->errors;
  outcome_ = "timeout";
  try {
    stage_ = stage;
    detail_ = why;
    std::string framed = FrameResponse(ErrorJson("timeout", why, RequestId()));
    [[maybe_unused]] ssize_t n = ::send(fd_, framed.data(), framed.size(), MSG_NOSIGNAL);
  } catch (...) {
  }
  return Next::kClose;
}

void Connection::Abandon(std::string_view frame) noexcept {
  ++settings_.counters->errors;
  state_ = ConnState::kWriting;
  reader_ = RequestReader(0);
  std::string().swap(out_);
  answer_.assign("internal");  // within the string's own storage: no allocation
  pending_ = frame;
  deadline_ = Clock::now() + settings_.request_timeout;
}

size_t Connection::ReleaseBudget() noexcept {
  if (state_ != ConnState::kWriting) return 0;
  return std::exchange(reserved_, 0);
}

void Connection::Close(std::string_view outcome) noexcept {
  if (outcome == "gave_up") ++settings_.counters->gave_up;
  const std::function<void(std::string_view)>* log = settings_.log;
  if (log != nullptr && *log) {
    try {
      (*log)(LogLine(outcome, Clock::now()));
    } catch (...) {  // a line that cannot be built or taken is skipped
    }
  }
  CloseSocket(fd_);
}

std::string Connection::LogLine(std::string_view outcome, Clock::time_point now) const {
  std::string line = "request outcome=";
  line += outcome;
  if (!answer_.empty() && answer_ != outcome) line += " answer=" + answer_;
  if (!stage_.empty()) line += " stage=" + stage_;
  if (!req_.id.empty()) line += " id=" + LogValue(req_.id);
  line += " peer=" + PeerName(peer_);
  if (req_.verify) {
    line += " bytes=" + std::to_string(req_.length);
    if (req_.timeout_ms > 0) line += " timeout_ms=" + std::to_string(req_.timeout_ms);
  }
  if (queued_ != Clock::time_point{}) {
    line += " read_ms=" + std::to_string(Millis(queued_ - accepted_));
  }
  if (started_ != Clock::time_point{}) {
    line += " queue_ms=" + std::to_string(Millis(started_ - queued_));
    line += " eval_ms=" + std::to_string(Millis(finished_ - started_));
  }
  line += " ms=" + std::to_string(Millis(now - accepted_));
  if (!handler_log_.empty()) line += " " + handler_log_;
  if (!detail_.empty()) line += " detail=" + LogValue(detail_);
  return line;
}

}  // namespace credence::serve
