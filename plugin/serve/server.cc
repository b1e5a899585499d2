// The I/O thread (poll over listeners, connections and a wake pipe) and the worker pool.
// Connection life:
//   kLine (header line arrives; deadline = accept + min(header_timeout, request_timeout))
//   -> kWaiting (no bytes read until the request's share of the in-flight budget is free;
//      deadline = accept + request_timeout)
//   -> kBody (the message arrives; same deadline)
//   -> kEvaluating (a worker has it; no deadline: the evaluation has its own)
//   -> kWriting (deadline = ready + request_timeout) -> closed.
// Errors jump to kWriting with an error document. Nothing here blocks on a client, and no
// exception leaves a connection's event: it ends that connection (Guarded, Abandon).
// Every connection ends in Close (or Refuse at accept), which writes its request-log line
// (options.log): the outcome, the request's id and peer, and where its time went.
#include "serve/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/listener.h"
#include "serve/peer_limits.h"
#include "serve/worker_pool.h"

namespace credence::serve {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadRounds = 16;            // reads per connection per poll round (fairness)
constexpr int kAcceptsPerRound = 64;       // accepts per listener per poll round
constexpr milliseconds kAcceptPause{100};  // after EMFILE and the like
constexpr size_t kDefaultInflightBytes = size_t{256} << 20;

enum class ConnState { kLine, kWaiting, kBody, kEvaluating, kWriting };

struct Connection {
  int fd;
  PeerId peer;
  ConnState state = ConnState::kLine;
  RequestReader reader;
  Clock::time_point accepted;
  Clock::time_point deadline;
  size_t reserved = 0;       // bytes of the in-flight budget this request holds
  std::string out;           // the framed answer built for this connection
  std::string_view pending;  // what is left to send: in `out`, or a frame built at start
  // For the request log: the header line's fields it shows (kept after the reader goes) ...
  struct {
    bool seen = false, verify = false;
    std::string id;
    size_t length = 0;
    int64_t timeout_ms = 0;
  } req;
  // ... and where the time went.
  Clock::time_point queued{}, started{}, finished{};  // request complete; worker start, end
  std::string answer;       // what is being sent: "verdict", "pong" or an error code
  std::string stage;        // where a timeout struck: header, budget, body
  std::string detail;       // an error document's message
  std::string handler_log;  // the handler's key=value fields
  Connection(int socket, PeerId who, size_t keep_limit)
      : fd(socket), peer(who), reader(keep_limit) {}
};

std::string FramedError(std::string_view code, std::string_view message) {
  return FrameResponse(ErrorJson(code, message));
}

// A value for the request log: bare when it is printable ASCII without spaces, quotes,
// backslashes or '='; otherwise in double quotes, with '"' and '\\' escaped and bytes outside
// printable ASCII as \xHH (a client's bytes never break the line or the terminal). At most
// `max` input bytes, then "...".
std::string LogValue(std::string_view v, size_t max = 256) {
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

int64_t Millis(Clock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// Ends the conversation: EOF after what was sent, then away with what the client sent that
// was never read (a refused or timed-out request), so that close() does not turn into a reset
// that can make the client lose the answer before it (Unix and TCP sockets both do that when
// unread bytes are left). Bounded: at most kDrainLimit bytes are read and dropped.
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

}  // namespace

struct Server::Impl {
  explicit Impl(const ServerOptions& o)
      : options(o),
        limits({o.max_connections, o.max_connections_per_peer, o.max_inflight_bytes,
                o.max_inflight_bytes_per_peer}),
        line_timeout(std::min(o.header_timeout, o.request_timeout)),
        frame_out_of_memory(FramedError("internal", "out of memory while handling this request")),
        frame_internal(FramedError("internal", "internal error")),
        frame_busy(FramedError("busy", "too many connections")),
        frame_busy_peer(FramedError("busy", "too many connections from this peer (uid)")),
        pool(o.max_queued, o.max_connections, [this] { Wake(); }) {
    // Sized once so that the loop's own bookkeeping does not allocate per round: a poll
    // entry per connection, and at most one finished job per connection.
    fds.reserve(o.max_connections + 4);
    ids.reserve(o.max_connections + 4);
    scratch.reserve(o.max_connections);
    ready.reserve(o.max_connections);
  }

  ~Impl() {
    pool.Close();  // joined before the wake pipe closes (already, after Server::Wait)
    pool.Join();
    for (int fd : {unix_fd, tcp_fd, wake_read, wake_write}) {
      if (fd >= 0) ::close(fd);
    }
  }

  const ServerOptions options;
  PeerLimits limits;
  const milliseconds line_timeout;
  // Error frames built at start: sent when building one now could fail.
  const std::string frame_out_of_memory, frame_internal, frame_busy, frame_busy_peer;

  int unix_fd = -1;
  int tcp_fd = -1;
  SocketFile socket_file;
  uint16_t tcp_port = 0;
  int wake_read = -1;
  int wake_write = -1;

  std::thread io_thread;
  WorkerPool pool;  // wakes the I/O thread through wake_write

  std::atomic<bool> stop_requested{false};
  std::once_flag wait_once;

  std::atomic<uint64_t> accepted{0}, completed{0}, errors{0}, timeouts{0}, refused{0}, failures{0},
      truncated{0}, gave_up{0}, reloads{0};

  std::atomic<size_t> peak_inflight{0};

  // I/O thread state.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  std::deque<uint64_t> waiters;  // kWaiting connections, in the order their header arrived
  uint64_t next_id = 1;
  size_t in_workers = 0;  // connections in kEvaluating
  bool stopping = false;
  Clock::time_point accept_paused_until{};
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  std::vector<uint64_t> scratch;
  std::vector<Done> ready;

  void Wake() {
    char c = 1;
    // A full pipe already guarantees a wake-up.
    [[maybe_unused]] ssize_t n = ::write(wake_write, &c, 1);
  }

  void ReleaseBytes(Connection& c) noexcept {
    if (c.reserved == 0) return;
    limits.Release(c.peer, c.reserved);
    c.reserved = 0;
    AdmitWaiters();
  }

  // Gives waiting requests their share of the budget, first come first served: a request
  // that does not fit the total stops the scan (big requests are not starved by small ones),
  // one that only exceeds its own peer's share is passed over (a peer at its share does not
  // hold up the others). Never throws.
  void AdmitWaiters() noexcept {
    if (stopping) return;
    for (auto it = waiters.begin(); it != waiters.end();) {
      auto found = conns.find(*it);
      if (found == conns.end() || found->second->state != ConnState::kWaiting) {
        it = waiters.erase(it);
        continue;
      }
      Connection& c = *found->second;
      PeerLimits::Verdict v = limits.Reserve(c.peer, c.reader.keep());
      if (v == PeerLimits::Verdict::kGranted) {
        c.reserved = c.reader.keep();
        c.state = ConnState::kBody;
        size_t now = limits.bytes();
        if (now > peak_inflight.load()) peak_inflight = now;
        it = waiters.erase(it);
      } else if (v == PeerLimits::Verdict::kPeerFull) {
        ++it;
      } else {
        return;
      }
    }
  }

  // The request-log line of a connection that ends now with `outcome` (docs/serve.md, "The
  // request log"). Never throws: a line that cannot be built is skipped.
  void LogEnd(const Connection& c, std::string_view outcome) noexcept {
    if (!options.log) return;
    try {
      Clock::time_point now = Clock::now();
      std::string line = "request outcome=";
      line += outcome;
      if (!c.answer.empty() && c.answer != outcome) line += " answer=" + c.answer;
      if (!c.stage.empty()) line += " stage=" + c.stage;
      if (!c.req.id.empty()) line += " id=" + LogValue(c.req.id);
      line += " peer=" + PeerName(c.peer);
      if (c.req.verify) {
        line += " bytes=" + std::to_string(c.req.length);
        if (c.req.timeout_ms > 0) line += " timeout_ms=" + std::to_string(c.req.timeout_ms);
      }
      if (c.queued != Clock::time_point{}) {
        line += " read_ms=" + std::to_string(Millis(c.queued - c.accepted));
      }
      if (c.started != Clock::time_point{}) {
        line += " queue_ms=" + std::to_string(Millis(c.started - c.queued));
        line += " eval_ms=" + std::to_string(Millis(c.finished - c.started));
      }
      line += " ms=" + std::to_string(Millis(now - c.accepted));
      if (!c.handler_log.empty()) line += " " + c.handler_log;
      if (!c.detail.empty()) line += " detail=" + LogValue(c.detail);
      options.log(line);
    } catch (...) {
    }
  }

  // Closes and forgets a connection, giving back its slot and bytes, and logs it as ending
  // with `outcome`. Never throws.
  void Close(uint64_t id, std::string_view outcome) noexcept {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    if (outcome == "gave_up") ++gave_up;
    LogEnd(c, outcome);
    CloseSocket(c.fd);
    size_t reserved = c.reserved;
    PeerId peer = c.peer;
    conns.erase(it);
    limits.CloseConnection(peer);
    if (reserved > 0) {
      limits.Release(peer, reserved);
      AdmitWaiters();
    }
  }

  // One best-effort non-blocking send of a prepared frame, then close (at accept).
  void Refuse(int fd, std::string_view frame, PeerId peer, std::string_view outcome,
              std::string_view why) noexcept {
    ++errors;
    [[maybe_unused]] ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    CloseSocket(fd);
    if (!options.log) return;
    try {
      options.log("request outcome=" + std::string(outcome) + " peer=" + PeerName(peer) +
                  " ms=0 detail=" + LogValue(why));
    } catch (...) {
    }
  }

  // The connection's event threw: its buffers go, it gets a prepared error frame (written by
  // the loop like any answer) and is closed after. A connection a worker holds is left alone:
  // its answer is on the way. Never throws, never allocates.
  void Abandon(uint64_t id, std::string_view frame) noexcept {
    ++failures;
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    if (c.state == ConnState::kEvaluating) return;
    ++errors;
    c.state = ConnState::kWriting;
    ReleaseBytes(c);
    c.reader = RequestReader(0);
    std::string().swap(c.out);
    c.answer.assign("internal");  // within the string's own storage: no allocation
    c.pending = frame;
    c.deadline = Clock::now() + options.request_timeout;
  }

  // Runs one connection's step; an exception ends that connection only.
  template <typename F>
  void Guarded(uint64_t id, F&& step) noexcept {
    try {
      step();
    } catch (const std::bad_alloc&) {
      Abandon(id, frame_out_of_memory);
    } catch (...) {
      Abandon(id, frame_internal);
    }
  }

  // `answer`: what the document is, for the log ("verdict", "pong", an error code).
  void StartWriting(Connection& c, std::string_view json, std::string_view answer) {
    ReleaseBytes(c);
    c.answer = answer;
    c.reader = RequestReader(0);  // drop request buffers
    c.out = FrameResponse(json);
    c.pending = c.out;
    c.state = ConnState::kWriting;
    c.deadline = Clock::now() + options.request_timeout;
  }

  void SendError(Connection& c, std::string_view code, std::string_view message) {
    ++errors;
    c.detail = message;
    StartWriting(c, ErrorJson(code, message, c.reader.header_done() ? c.reader.header().id : ""),
                 code);
  }

  // Returns false when the connection was closed. Never throws.
  bool OnWritable(uint64_t id, Connection& c) noexcept {
    while (!c.pending.empty()) {
      ssize_t n = ::send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        Close(id, "gave_up");  // EPIPE, ECONNRESET: the client closed before its answer
        return false;
      }
      c.pending.remove_prefix(static_cast<size_t>(n));
    }
    ++completed;
    Close(id, c.answer.empty() ? std::string_view("internal") : std::string_view(c.answer));
    return false;
  }

  void DrainDone() noexcept {
    pool.TakeDone(&ready);
    for (Done& d : ready) {
      --in_workers;
      auto it = conns.find(d.conn_id);
      if (it == conns.end()) continue;
      Connection& c = *it->second;
      c.state = ConnState::kWriting;  // out of the worker's hands
      c.started = d.started;
      c.finished = d.finished;
      if (d.failed) {
        Abandon(d.conn_id, frame_out_of_memory);
        continue;
      }
      Guarded(d.conn_id, [&] {
        c.handler_log = std::move(d.log_fields);
        StartWriting(c, d.json, d.outcome.empty() ? std::string_view("verdict") : d.outcome);
        std::string().swap(d.json);
        OnWritable(d.conn_id, c);
      });
    }
    ready.clear();
  }

  void AddConnection(int fd, bool tcp) {
    PeerId peer = PeerOf(fd, tcp);
    auto c = std::make_unique<Connection>(fd, peer, options.max_request_bytes);
    PeerLimits::Verdict v = limits.OpenConnection(peer);
    if (v != PeerLimits::Verdict::kGranted) {
      ++refused;
      bool peer_full = v == PeerLimits::Verdict::kPeerFull;
      Refuse(fd, peer_full ? frame_busy_peer : frame_busy, peer, "busy",
             peer_full ? "too many connections from this peer (uid)" : "too many connections");
      return;
    }
    c->accepted = Clock::now();
    c->deadline = c->accepted + line_timeout;
    try {
      conns.emplace(next_id++, std::move(c));
    } catch (...) {
      limits.CloseConnection(peer);
      throw;
    }
  }

  void AcceptSome(int listen_fd, bool tcp) noexcept {
    for (int i = 0; i < kAcceptsPerRound; ++i) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors or kernel memory: the listener stays readable, so pause it
        // rather than spin; the backlog holds the clients meanwhile.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until = Clock::now() + kAcceptPause;
        }
        return;  // EAGAIN, or a transient error (ECONNABORTED)
      }
      ++accepted;
      try {
        AddConnection(fd, tcp);
      } catch (const std::bad_alloc&) {
        ++failures;
        Refuse(fd, frame_out_of_memory, kUnknownPeer, "internal", "out of memory");
      } catch (...) {
        ++failures;
        Refuse(fd, frame_internal, kUnknownPeer, "internal", "internal error");
      }
    }
  }

  void OnRequestComplete(uint64_t id, Connection& c) {
    c.queued = Clock::now();
    if (c.reader.header().kind == RequestKind::kPing) {
      StartWriting(c, R"({"pong":true})", "pong");
      return;
    }
    RequestContext context;
    context.accepted = c.accepted;
    if (c.reader.header().timeout_ms > 0) {
      context.answer_by = AnswerDeadline(c.accepted, milliseconds(c.reader.header().timeout_ms));
    }
    if (pool.Full()) {
      SendError(c, "busy", "too many requests waiting");
      return;
    }
    pool.Submit({id, c.reader.header(), c.reader.TakeBody(), std::move(context)});
    // The body left with the job; its bytes stay reserved until the answer is back.
    if (c.reader.keep() < c.reader.header().length) ++truncated;
    c.state = ConnState::kEvaluating;
    ++in_workers;
  }

  // The header line is read up to its LF and no further (MSG_PEEK finds the LF), so the
  // message stays in the socket until the request has its share of the budget.
  void ReadLine(uint64_t id, Connection& c) {
    char buf[kMaxHeaderLine];
    ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
      c.stage = "header";
      Close(id, "gave_up");
      return;
    }
    if (n == 0) {
      SendError(c, "bad_request", "connection closed before a header line");
      return;
    }
    const void* lf = std::memchr(buf, '\n', static_cast<size_t>(n));
    size_t take = lf != nullptr ? static_cast<const char*>(lf) - buf + 1 : static_cast<size_t>(n);
    ssize_t got = ::recv(c.fd, buf, take, 0);
    if (got <= 0) return;  // the bytes just peeked are there; nothing to do otherwise
    RequestReader::State s = c.reader.Feed(std::string_view(buf, static_cast<size_t>(got)));
    if (c.reader.header_done() && !c.req.seen) {
      const RequestHeader& h = c.reader.header();
      c.req.seen = true;
      c.req.verify = h.kind == RequestKind::kVerify;
      c.req.id = h.id;
      c.req.length = h.length;
      c.req.timeout_ms = h.timeout_ms;
    }
    if (s == RequestReader::State::kError) {
      const Status& e = c.reader.error();
      SendError(c, ErrorCodeOf(e), e.message());
    } else if (s == RequestReader::State::kComplete) {
      OnRequestComplete(id, c);  // PING, or an empty message
    } else if (c.reader.header_done()) {
      c.deadline = c.accepted + options.request_timeout;
      waiters.push_back(id);
      c.state = ConnState::kWaiting;
      AdmitWaiters();
    }
  }

  void ReadBody(uint64_t id, Connection& c) {
    char buf[kReadChunk];
    for (int rounds = 0; rounds < kReadRounds && c.state == ConnState::kBody; ++rounds) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        c.stage = "body";
        Close(id, "gave_up");
        return;
      }
      if (n == 0) {  // the client finished sending before the request was complete
        SendError(c, "bad_request", "truncated message");
        return;
      }
      RequestReader::State s = c.reader.Feed(std::string_view(buf, static_cast<size_t>(n)));
      if (s == RequestReader::State::kError) {
        const Status& e = c.reader.error();
        SendError(c, ErrorCodeOf(e), e.message());
      } else if (s == RequestReader::State::kComplete) {
        OnRequestComplete(id, c);
      }
    }
  }

  void OnEvent(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    switch (c.state) {
      case ConnState::kLine:
        ReadLine(id, c);
        break;
      case ConnState::kBody:
        ReadBody(id, c);
        break;
      case ConnState::kWriting:
        OnWritable(id, c);
        return;
      default:
        return;
    }
    auto again = conns.find(id);
    if (again != conns.end() && again->second->state == ConnState::kWriting) {
      OnWritable(id, *again->second);
    }
  }

  void Expire(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    ++timeouts;
    std::string_view why;
    switch (c.state) {
      case ConnState::kLine:
        why = "no header line within the header timeout";
        c.stage = "header";
        break;
      case ConnState::kWaiting:
        why = "request not read within the request timeout: the in-flight budget was full";
        c.stage = "budget";
        break;
      case ConnState::kBody:
        why = "request not received within the request timeout";
        c.stage = "body";
        break;
      default:
        Close(id, "unread");  // kWriting: the client does not read its answer
        return;
    }
    ++errors;
    c.detail = why;
    std::string framed = FrameResponse(
        ErrorJson("timeout", why, c.reader.header_done() ? c.reader.header().id : ""));
    [[maybe_unused]] ssize_t n = ::send(c.fd, framed.data(), framed.size(), MSG_NOSIGNAL);
    Close(id, "timeout");
  }

  void ExpireDeadlines() noexcept {
    Clock::time_point now = Clock::now();
    scratch.clear();
    for (auto& [id, c] : conns) {
      if (c->state != ConnState::kEvaluating && c->deadline <= now) scratch.push_back(id);
    }
    for (uint64_t id : scratch) Guarded(id, [&] { Expire(id); });
  }

  void CloseListeners() noexcept {
    if (unix_fd >= 0) {
      ::close(unix_fd);
      unix_fd = -1;
      RemoveSocketFile(socket_file);
    }
    if (tcp_fd >= 0) {
      ::close(tcp_fd);
      tcp_fd = -1;
    }
  }

  void BeginStop() noexcept {
    stopping = true;
    CloseListeners();
    // Requests still arriving (or waiting for budget) are refused; received ones go on.
    scratch.clear();
    for (auto& [id, c] : conns) {
      if (c->state == ConnState::kLine || c->state == ConnState::kWaiting ||
          c->state == ConnState::kBody) {
        scratch.push_back(id);
      }
    }
    for (uint64_t id : scratch) {
      Guarded(id, [&] { SendError(*conns.at(id), "shutting_down", "server is stopping"); });
    }
  }

  // One round: poll, then every ready event. Returns false once shutdown is complete.
  bool Round() {
    if (!stopping && stop_requested.load()) BeginStop();
    if (stopping && conns.empty() && in_workers == 0) return false;

    fds.clear();
    ids.clear();
    fds.push_back({wake_read, POLLIN, 0});
    ids.push_back(0);
    Clock::time_point now = Clock::now();
    Clock::time_point next = now + std::chrono::seconds(1);
    if (now >= accept_paused_until) {
      for (int fd : {unix_fd, tcp_fd}) {
        if (fd < 0) continue;
        fds.push_back({fd, POLLIN, 0});
        ids.push_back(0);
      }
    } else {
      next = std::min(next, accept_paused_until);
    }
    const size_t first_conn = fds.size();
    for (auto& [id, c] : conns) {
      if (c->state == ConnState::kEvaluating) continue;
      if (c->deadline < next) next = c->deadline;
      if (c->state == ConnState::kWaiting) continue;  // not read until admitted
      short events = c->state == ConnState::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c->fd, events, 0});
      ids.push_back(id);
    }
    auto wait = std::chrono::duration_cast<milliseconds>(next - now).count();
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0)) + 1);
    if (n < 0 && errno != EINTR) return true;  // cannot happen with valid descriptors

    if (fds[0].revents & POLLIN) {
      char buf[256];
      while (::read(wake_read, buf, sizeof buf) > 0) {
      }
      DrainDone();
    }
    for (size_t i = 1; i < first_conn; ++i) {
      if (fds[i].revents & POLLIN) AcceptSome(fds[i].fd, fds[i].fd == tcp_fd);
    }
    for (size_t i = first_conn; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      uint64_t id = ids[i];
      Guarded(id, [&] { OnEvent(id); });
    }
    ExpireDeadlines();
    return true;
  }

  void IoLoop() {
    for (;;) {
      try {
        if (!Round()) break;
      } catch (...) {
        // Outside any one connection (should not happen: the round's own vectors are
        // reserved). Count it and go on rather than die with every client.
        ++failures;
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    CloseListeners();
    pool.Close();
  }
};

Result<ServerOptions> Server::Resolve(ServerOptions o) {
  if (o.workers < 1 || o.workers > 256) return Status::Invalid("workers must be 1..256");
  if (o.request_timeout.count() < 1 || o.header_timeout.count() < 1) {
    return Status::Invalid("request and header timeouts must be > 0");
  }
  if (o.max_connections < 1 || o.max_queued < 1) {
    return Status::Invalid("max_connections and max_queued must be > 0");
  }
  if (o.max_connections_per_peer < 1 || o.max_connections_per_peer > o.max_connections) {
    return Status::Invalid("--max-connections-per-peer must be 1..--max-connections (" +
                           std::to_string(o.max_connections) + ")");
  }
  if (o.max_request_bytes < 1) return Status::Invalid("--max-request-bytes must be > 0");
  if (o.max_inflight_bytes == 0) {
    if (o.max_request_bytes > std::numeric_limits<size_t>::max() / 4) {
      return Status::Invalid("--max-request-bytes is too large");
    }
    o.max_inflight_bytes = std::max(kDefaultInflightBytes, 4 * o.max_request_bytes);
  }
  if (o.max_inflight_bytes < o.max_request_bytes) {
    return Status::Invalid("--max-inflight-bytes (" + std::to_string(o.max_inflight_bytes) +
                           ") must be at least --max-request-bytes (" +
                           std::to_string(o.max_request_bytes) + ")");
  }
  if (o.max_inflight_bytes_per_peer == 0) {
    o.max_inflight_bytes_per_peer = std::max(o.max_inflight_bytes / 2, o.max_request_bytes);
  }
  if (o.max_inflight_bytes_per_peer < o.max_request_bytes ||
      o.max_inflight_bytes_per_peer > o.max_inflight_bytes) {
    return Status::Invalid(
        "--max-inflight-bytes-per-peer (" + std::to_string(o.max_inflight_bytes_per_peer) +
        ") must be from --max-request-bytes (" + std::to_string(o.max_request_bytes) +
        ") to --max-inflight-bytes (" + std::to_string(o.max_inflight_bytes) + ")");
  }
  return o;
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& given, HandlerFactory factory) {
  if (given.socket_path.empty() && given.listen.empty()) {
    return Status::Invalid("nothing to listen on: give a socket path or a TCP address");
  }
  Result<ServerOptions> resolved = Resolve(given);
  if (!resolved.ok()) return resolved.status();
  const ServerOptions& options = *resolved;
  auto impl = std::make_unique<Impl>(options);
  std::string host;
  uint16_t port = 0;
  if (!options.listen.empty()) {
    Status s = ParseListenAddress(options.listen, &host, &port);
    if (!s.ok()) return s;
  }
  // Handlers first: a bad configuration should not leave a socket file behind.
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (size_t i = 0; i < options.workers; ++i) {
    Result<std::unique_ptr<RequestHandler>> h = factory();
    if (!h.ok()) return h.status();
    handlers.push_back(std::move(h).value());
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  impl->wake_read = pipe_fds[0];
  impl->wake_write = pipe_fds[1];
  if (!options.listen.empty()) {
    Result<int> fd = ListenTcp(host, port, &impl->tcp_port);
    if (!fd.ok()) return fd.status();
    impl->tcp_fd = *fd;
  }
  if (!options.socket_path.empty()) {
    // Before any of our threads exists: ListenUnix sets the process umask around bind().
    Result<int> fd = ListenUnix(options.socket_path, options.socket_mode, options.socket_group,
                                &impl->socket_file);
    if (!fd.ok()) return fd.status();
    impl->unix_fd = *fd;
  }
  Impl* p = impl.get();
  impl->pool.Start(std::move(handlers));
  impl->io_thread = std::thread([p] { p->IoLoop(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop();
  Wait();
}

void Server::Stop() {
  if (!impl_->stop_requested.exchange(true)) impl_->Wake();
}

void Server::Wait() {
  std::call_once(impl_->wait_once, [this] {
    if (impl_->io_thread.joinable()) impl_->io_thread.join();
    impl_->pool.Join();
  });
}

Status Server::Reload(const HandlerFactory& factory) {
  std::vector<std::unique_ptr<RequestHandler>> fresh;
  for (size_t i = 0; i < impl_->options.workers; ++i) {
    Result<std::unique_ptr<RequestHandler>> h = factory();
    if (!h.ok()) return h.status();
    if (*h == nullptr) return Status::Invalid("the handler factory returned no handler");
    fresh.push_back(std::move(h).value());
  }
  impl_->pool.Reload(std::move(fresh));
  ++impl_->reloads;
  return Status::Ok();
}

RequestContext::TimePoint AnswerDeadline(RequestContext::TimePoint accepted,
                                         std::chrono::milliseconds timeout) {
  std::chrono::milliseconds margin = std::max(std::chrono::milliseconds(200), timeout / 10);
  return accepted + timeout - margin;
}

uint16_t Server::tcp_port() const { return impl_->tcp_port; }

ServerStats Server::stats() const {
  ServerStats s;
  s.accepted = impl_->accepted.load();
  s.completed = impl_->completed.load();
  s.errors = impl_->errors.load();
  s.timeouts = impl_->timeouts.load();
  s.refused = impl_->refused.load();
  s.failures = impl_->failures.load();
  s.truncated = impl_->truncated.load();
  s.gave_up = impl_->gave_up.load();
  s.reloads = impl_->reloads.load();
  s.peak_inflight_bytes = impl_->peak_inflight.load();
  return s;
}

}  // namespace credence::serve
