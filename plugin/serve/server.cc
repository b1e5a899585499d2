// The I/O thread: one poll() over the listeners, the connections and a wake pipe, and what
// the connections share: their slots and the in-flight budget (PeerLimits, with the queue of
// requests waiting for their share), the worker pool, the counters. Each connection's own
// steps (reading, deadlines, writing, its log line) are in connection.{h,cc}. Nothing here
// blocks on a client, and no exception leaves a connection's event: it ends that connection
// (Guarded, Abandon). Every connection ends in Close (or Refuse at accept), which writes its
// request-log line (options.log).
#include "serve/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/connection.h"
#include "serve/listener.h"
#include "serve/peer_limits.h"
#include "serve/worker_pool.h"

namespace credence::serve {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Next = Connection::Next;
constexpr int kAcceptsPerRound = 64;       // accepts per listener per poll round
constexpr milliseconds kAcceptPause{100};  // after EMFILE and the like

std::string FramedError(std::string_view code, std::string_view message) {
  return FrameResponse(ErrorJson(code, message));
}

}  // namespace

struct Server::Impl {
  explicit Impl(const ServerOptions& o)
      : options(o),
        settings{o.max_request_bytes, std::min(o.header_timeout, o.request_timeout),
                 o.request_timeout, &options.log, &counters},
        limits({o.max_connections, o.max_connections_per_peer, o.max_inflight_bytes,
                o.max_inflight_bytes_per_peer}),
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
    for (int fd : {wake_read, wake_write}) {
      if (fd >= 0) ::close(fd);
    }
  }

  const ServerOptions options;
  ServeCounters counters;
  const ConnectionSettings settings;  // points at options.log and counters
  PeerLimits limits;
  // Error frames built at start: sent when building one now could fail.
  const std::string frame_out_of_memory, frame_internal, frame_busy, frame_busy_peer;

  Listeners listeners;
  int wake_read = -1;
  int wake_write = -1;

  std::thread io_thread;
  WorkerPool pool;  // wakes the I/O thread through wake_write

  std::atomic<bool> stop_requested{false};
  std::once_flag wait_once;

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

  // Gives back the budget of a connection whose answer is being written.
  void ReleaseBytes(Connection& c) noexcept {
    size_t bytes = c.ReleaseBudget();
    if (bytes == 0) return;
    limits.Release(c.peer(), bytes);
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
      if (found == conns.end() || found->second->state() != ConnState::kWaiting) {
        it = waiters.erase(it);
        continue;
      }
      Connection& c = *found->second;
      PeerLimits::Verdict v = limits.Reserve(c.peer(), c.wanted());
      if (v == PeerLimits::Verdict::kGranted) {
        c.Admit(c.wanted());
        size_t now = limits.bytes();
        if (now > counters.peak_inflight_bytes.load()) counters.peak_inflight_bytes = now;
        it = waiters.erase(it);
      } else if (v == PeerLimits::Verdict::kPeerFull) {
        ++it;
      } else {
        return;
      }
    }
  }

  // Closes and forgets a connection, giving back its slot and bytes, and logs it as ending
  // with `outcome`. Never throws.
  void Close(uint64_t id, std::string_view outcome) noexcept {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    c.Close(outcome);
    size_t reserved = c.reserved();
    PeerId peer = c.peer();
    conns.erase(it);
    limits.CloseConnection(peer);
    if (reserved > 0) {
      limits.Release(peer, reserved);
      AdmitWaiters();
    }
  }

  // Does what a connection's step asks for (Connection::Next).
  void Apply(uint64_t id, Connection& c, Next next) {
    ReleaseBytes(c);
    switch (next) {
      case Next::kPoll:
        return;
      case Next::kBudget:
        waiters.push_back(id);
        AdmitWaiters();
        return;
      case Next::kWorker:
        Submit(id, c);
        return;
      case Next::kClose:
        Close(id, c.outcome());
        return;
    }
  }

  // A complete request goes to a worker, or is answered "busy" when the queue is full.
  void Submit(uint64_t id, Connection& c) {
    if (pool.Full()) {
      c.Fail("busy", "too many requests waiting");
      Apply(id, c, c.OnReady());  // writes what the socket takes now
      return;
    }
    pool.Submit(c.TakeJob(id));
    c.Submitted();
    ++in_workers;
  }

  // The connection's event threw: its buffers go, it gets a prepared error frame (written by
  // the loop like any answer) and is closed after. A connection a worker holds is left alone:
  // its answer is on the way. Never throws, never allocates.
  void Abandon(uint64_t id, std::string_view frame) noexcept {
    ++counters.failures;
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = *it->second;
    if (c.state() == ConnState::kEvaluating) return;
    c.Abandon(frame);
    ReleaseBytes(c);
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

  void DrainDone() noexcept {
    pool.TakeDone(&ready);
    for (Done& d : ready) {
      --in_workers;
      auto it = conns.find(d.conn_id);
      if (it == conns.end()) continue;
      Connection& c = *it->second;
      c.Returned(d);
      if (d.failed) {
        Abandon(d.conn_id, frame_out_of_memory);
        continue;
      }
      Guarded(d.conn_id, [&] { Apply(d.conn_id, c, c.Answer(d)); });
    }
    ready.clear();
  }

  void AddConnection(int fd, bool tcp) {
    PeerId peer = PeerOf(fd, tcp);
    auto c = std::make_unique<Connection>(fd, peer, settings, Clock::now());
    PeerLimits::Verdict v = limits.OpenConnection(peer);
    if (v != PeerLimits::Verdict::kGranted) {
      ++counters.refused;
      bool peer_full = v == PeerLimits::Verdict::kPeerFull;
      Refuse(fd, peer_full ? frame_busy_peer : frame_busy, peer, "busy",
             peer_full ? "too many connections from this peer (uid)" : "too many connections",
             settings);
      return;
    }
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
      ++counters.accepted;
      try {
        AddConnection(fd, tcp);
      } catch (const std::bad_alloc&) {
        ++counters.failures;
        Refuse(fd, frame_out_of_memory, kUnknownPeer, "internal", "out of memory", settings);
      } catch (...) {
        ++counters.failures;
        Refuse(fd, frame_internal, kUnknownPeer, "internal", "internal error", settings);
      }
    }
  }

  void OnEvent(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Apply(id, *it->second, it->second->OnReady());
  }

  void ExpireDeadlines() noexcept {
    Clock::time_point now = Clock::now();
    scratch.clear();
    for (auto& [id, c] : conns) {
      if (c->state() != ConnState::kEvaluating && c->deadline() <= now) scratch.push_back(id);
    }
    for (uint64_t id : scratch) {
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      it->second->Expire();
      Close(id, it->second->outcome());
    }
  }

  void BeginStop() noexcept {
    stopping = true;
    listeners.Close();
    // Requests still arriving (or waiting for budget) are refused; received ones go on.
    scratch.clear();
    for (auto& [id, c] : conns) {
      if (c->state() == ConnState::kLine || c->state() == ConnState::kWaiting ||
          c->state() == ConnState::kBody) {
        scratch.push_back(id);
      }
    }
    for (uint64_t id : scratch) {
      Guarded(id, [&] {
        Connection& c = *conns.at(id);
        c.Fail("shutting_down", "server is stopping");
        ReleaseBytes(c);
      });
    }
  }

  // The poll set: the wake pipe, the listeners (unless paused), every connection that waits
  // for its socket. Returns the index of the first connection and sets *next to the nearest
  // deadline.
  size_t BuildPollSet(Clock::time_point now, Clock::time_point* next) {
    fds.clear();
    ids.clear();
    fds.push_back({wake_read, POLLIN, 0});
    ids.push_back(0);
    *next = now + std::chrono::seconds(1);
    if (now >= accept_paused_until) {
      for (int fd : {listeners.unix_fd, listeners.tcp_fd}) {
        if (fd < 0) continue;
        fds.push_back({fd, POLLIN, 0});
        ids.push_back(0);
      }
    } else {
      *next = std::min(*next, accept_paused_until);
    }
    const size_t first_conn = fds.size();
    for (auto& [id, c] : conns) {
      if (c->state() == ConnState::kEvaluating) continue;
      if (c->deadline() < *next) *next = c->deadline();
      short events = c->PollEvents();
      if (events == 0) continue;  // kWaiting: not read until admitted
      fds.push_back({c->fd(), events, 0});
      ids.push_back(id);
    }
    return first_conn;
  }

  // One round: poll, then every ready event. Returns false once shutdown is complete.
  bool Round() {
    if (!stopping && stop_requested.load()) BeginStop();
    if (stopping && conns.empty() && in_workers == 0) return false;

    Clock::time_point now = Clock::now();
    Clock::time_point next;
    const size_t first_conn = BuildPollSet(now, &next);
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
      if (fds[i].revents & POLLIN) AcceptSome(fds[i].fd, fds[i].fd == listeners.tcp_fd);
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
        ++counters.failures;
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    listeners.Close();
    pool.Close();
  }
};

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& given, HandlerFactory factory) {
  if (given.socket_path.empty() && given.listen.empty()) {
    return Status::Invalid("nothing to listen on: give a socket path or a TCP address");
  }
  Result<ServerOptions> resolved = Resolve(given);
  if (!resolved.ok()) return resolved.status();
  const ServerOptions& options = *resolved;
  auto impl = std::make_unique<Impl>(options);
  if (!options.listen.empty()) {
    std::string host;
    uint16_t port = 0;
    Status s = ParseListenAddress(options.listen, &host, &port);
    if (!s.ok()) return s;
  }
  // Handlers first: a bad configuration should not leave a socket file behind.
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (size_t i = 0; i < options.workers + options.reserve_workers; ++i) {
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
  // Before any of our threads exists: ListenUnix sets the process umask around bind().
  Status s = impl->listeners.Open(options.listen, options.socket_path, options.socket_mode,
                                  options.socket_group);
  if (!s.ok()) return s;
  Impl* p = impl.get();
  impl->pool.Start(std::move(handlers), options.reserve_workers);
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
  for (size_t i = 0; i < impl_->options.workers + impl_->options.reserve_workers; ++i) {
    Result<std::unique_ptr<RequestHandler>> h = factory();
    if (!h.ok()) return h.status();
    if (*h == nullptr) return Status::Invalid("the handler factory returned no handler");
    fresh.push_back(std::move(h).value());
  }
  impl_->pool.Reload(std::move(fresh));
  ++impl_->counters.reloads;
  return Status::Ok();
}

RequestContext::TimePoint AnswerDeadline(RequestContext::TimePoint accepted,
                                         std::chrono::milliseconds timeout) {
  std::chrono::milliseconds margin = std::max(std::chrono::milliseconds(200), timeout / 10);
  return accepted + timeout - margin;
}

uint16_t Server::tcp_port() const { return impl_->listeners.tcp_port; }

ServerStats Server::stats() const { return impl_->counters.Snapshot(); }

}  // namespace credence::serve
