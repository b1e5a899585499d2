// The I/O thread (poll over listeners, connections and a wake pipe) and the worker pool.
// Connection life: kReading (request arrives, deadline = accept + request_timeout) ->
// kQueued/kEvaluating (a worker has it; no deadline: the evaluation has its own) ->
// kWriting (deadline = ready + request_timeout) -> closed. Errors jump to kWriting with an
// error document. Nothing here blocks on a client.
#include "serve/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/listener.h"

namespace credence::serve {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 64 * 1024;

enum class ConnState { kReading, kEvaluating, kWriting };

struct Connection {
  int fd = -1;
  ConnState state = ConnState::kReading;
  RequestReader reader;
  Clock::time_point deadline;
  std::string out;
  size_t out_pos = 0;
  bool is_error = false;
  explicit Connection(size_t max_length) : reader(max_length) {}
};

struct Job {
  uint64_t conn_id;
  RequestHeader header;
  std::string body;
};

struct Done {
  uint64_t conn_id;
  std::string json;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  int unix_fd = -1;
  int tcp_fd = -1;
  uint16_t tcp_port = 0;
  int wake_read = -1;
  int wake_write = -1;

  std::vector<std::unique_ptr<RequestHandler>> handlers;
  std::vector<std::thread> workers;
  std::thread io_thread;

  // Worker queue.
  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<Job> jobs;
  bool jobs_closed = false;

  // Results back to the I/O thread.
  std::mutex done_mu;
  std::vector<Done> done;

  std::atomic<bool> stop_requested{false};
  std::once_flag wait_once;

  std::atomic<uint64_t> accepted{0}, completed{0}, errors{0}, timeouts{0};

  // I/O thread state.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  uint64_t next_id = 1;
  size_t in_workers = 0;  // connections in kEvaluating

  ~Impl() {
    for (int fd : {unix_fd, tcp_fd, wake_read, wake_write}) {
      if (fd >= 0) ::close(fd);
    }
  }

  void Wake() {
    char c = 1;
    // A full pipe already guarantees a wake-up.
    [[maybe_unused]] ssize_t n = ::write(wake_write, &c, 1);
  }

  void WorkerLoop(RequestHandler* handler) {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(jobs_mu);
        jobs_cv.wait(lock, [this] { return jobs_closed || !jobs.empty(); });
        if (jobs.empty()) return;  // closed and drained
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      std::string json;
      try {
        json = handler->Handle(job.header, std::move(job.body));
      } catch (const std::exception& e) {
        json = ErrorJson("internal", std::string("internal error: ") + e.what(), job.header.id);
      } catch (...) {
        json = ErrorJson("internal", "internal error", job.header.id);
      }
      {
        std::lock_guard<std::mutex> lock(done_mu);
        done.push_back({job.conn_id, std::move(json)});
      }
      Wake();
    }
  }

  void StartWriting(Connection& c, std::string json, bool is_error) {
    c.state = ConnState::kWriting;
    c.out = FrameResponse(json);
    c.out_pos = 0;
    c.is_error = is_error;
    c.deadline = Clock::now() + options.request_timeout;
    c.reader = RequestReader(0);  // drop request buffers
  }

  void SendError(Connection& c, std::string_view code, std::string_view message) {
    ++errors;
    StartWriting(c, ErrorJson(code, message, c.reader.header_done() ? c.reader.header().id : ""),
                 true);
  }

  // One best-effort non-blocking send of an error, then close (busy, timeouts).
  void RefuseAndClose(int fd, std::string_view code, std::string_view message) {
    ++errors;
    std::string framed = FrameResponse(ErrorJson(code, message));
    [[maybe_unused]] ssize_t n = ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

  void Close(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    ::close(it->second->fd);
    conns.erase(it);
  }

  void AcceptAll(int listen_fd) {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED)
      ++accepted;
      if (conns.size() >= options.max_connections) {
        RefuseAndClose(fd, "busy", "too many connections");
        continue;
      }
      auto c = std::make_unique<Connection>(options.max_request_bytes);
      c->fd = fd;
      c->deadline = Clock::now() + options.request_timeout;
      conns.emplace(next_id++, std::move(c));
    }
  }

  void OnRequestComplete(uint64_t id, Connection& c) {
    if (c.reader.header().kind == RequestKind::kPing) {
      StartWriting(c, R"({"pong":true})", false);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(jobs_mu);
      if (jobs.size() < options.max_queued) {
        jobs.push_back({id, c.reader.header(), c.reader.TakeBody()});
        c.state = ConnState::kEvaluating;
        ++in_workers;
      }
    }
    if (c.state == ConnState::kEvaluating) {
      jobs_cv.notify_one();
    } else {
      SendError(c, "busy", "too many requests waiting");
    }
  }

  void OnReadable(uint64_t id, Connection& c) {
    char buf[kReadChunk];
    for (int rounds = 0; rounds < 16 && c.state == ConnState::kReading; ++rounds) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        Close(id);
        return;
      }
      if (n == 0) {  // the client finished sending before the request was complete
        SendError(c, "bad_request", c.reader.header_done() ? "truncated message"
                                                           : "connection closed before a header line");
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

  // Returns false when the connection was closed.
  bool OnWritable(uint64_t id, Connection& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        Close(id);
        return false;
      }
      c.out_pos += static_cast<size_t>(n);
    }
    ++completed;
    ::shutdown(c.fd, SHUT_WR);
    Close(id);
    return false;
  }

  void DrainDone() {
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      ready.swap(done);
    }
    for (Done& d : ready) {
      --in_workers;
      auto it = conns.find(d.conn_id);
      if (it == conns.end()) continue;
      StartWriting(*it->second, std::move(d.json), false);
      OnWritable(d.conn_id, *it->second);
    }
  }

  void CloseListeners() {
    if (unix_fd >= 0) {
      ::close(unix_fd);
      unix_fd = -1;
      ::unlink(options.socket_path.c_str());
    }
    if (tcp_fd >= 0) {
      ::close(tcp_fd);
      tcp_fd = -1;
    }
  }

  void IoLoop() {
    bool stopping = false;
    std::vector<pollfd> fds;
    std::vector<uint64_t> ids;
    for (;;) {
      if (!stopping && stop_requested.load()) {
        stopping = true;
        CloseListeners();
        // Requests still arriving are refused; received ones go on.
        for (auto& [id, c] : conns) {
          if (c->state == ConnState::kReading) SendError(*c, "shutting_down", "server is stopping");
        }
      }
      if (stopping && conns.empty() && in_workers == 0) break;

      fds.clear();
      ids.clear();
      fds.push_back({wake_read, POLLIN, 0});
      ids.push_back(0);
      if (unix_fd >= 0) {
        fds.push_back({unix_fd, POLLIN, 0});
        ids.push_back(0);
      }
      if (tcp_fd >= 0) {
        fds.push_back({tcp_fd, POLLIN, 0});
        ids.push_back(0);
      }
      const size_t first_conn = fds.size();
      Clock::time_point now = Clock::now();
      Clock::time_point next = now + std::chrono::seconds(1);
      for (auto& [id, c] : conns) {
        if (c->state == ConnState::kEvaluating) continue;
        fds.push_back({c->fd, static_cast<short>(c->state == ConnState::kReading ? POLLIN : POLLOUT),
                       0});
        ids.push_back(id);
        if (c->deadline < next) next = c->deadline;
      }
      int timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count());
      if (timeout_ms < 0) timeout_ms = 0;
      int n = ::poll(fds.data(), fds.size(), timeout_ms + 1);
      if (n < 0 && errno != EINTR) break;  // cannot happen with valid descriptors

      if (fds[0].revents & POLLIN) {
        char buf[256];
        while (::read(wake_read, buf, sizeof buf) > 0) {
        }
        DrainDone();
      }
      for (size_t i = 1; i < first_conn; ++i) {
        if (fds[i].revents & POLLIN) AcceptAll(fds[i].fd);
      }
      for (size_t i = first_conn; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = conns.find(ids[i]);
        if (it == conns.end()) continue;
        Connection& c = *it->second;
        if (c.state == ConnState::kReading) {
          OnReadable(ids[i], c);
          auto again = conns.find(ids[i]);
          if (again != conns.end() && again->second->state == ConnState::kWriting) {
            OnWritable(ids[i], *again->second);
          }
        } else if (c.state == ConnState::kWriting) {
          OnWritable(ids[i], c);
        }
      }
      // Deadlines.
      now = Clock::now();
      std::vector<uint64_t> expired;
      for (auto& [id, c] : conns) {
        if (c->state != ConnState::kEvaluating && c->deadline <= now) expired.push_back(id);
      }
      for (uint64_t id : expired) {
        Connection& c = *conns[id];
        ++timeouts;
        if (c.state == ConnState::kReading) {
          RefuseAndClose(c.fd, "timeout", "request not received within the request timeout");
          conns.erase(id);
        } else {
          Close(id);  // the client does not read its response
        }
      }
    }
    CloseListeners();
    {
      std::lock_guard<std::mutex> lock(jobs_mu);
      jobs_closed = true;
    }
    jobs_cv.notify_all();
  }
};

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              HandlerFactory factory) {
  if (options.workers < 1 || options.workers > 256) {
    return Status::Invalid("workers must be 1..256");
  }
  if (options.socket_path.empty() && options.listen.empty()) {
    return Status::Invalid("nothing to listen on: give a socket path or a TCP address");
  }
  if (options.request_timeout.count() < 1) return Status::Invalid("request timeout must be > 0");
  if (options.max_connections < 1 || options.max_queued < 1) {
    return Status::Invalid("max_connections and max_queued must be > 0");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string host;
  uint16_t port = 0;
  if (!options.listen.empty()) {
    Status s = ParseListenAddress(options.listen, &host, &port);
    if (!s.ok()) return s;
  }
  // Handlers first: a bad configuration should not leave a socket file behind.
  for (size_t i = 0; i < options.workers; ++i) {
    Result<std::unique_ptr<RequestHandler>> h = factory();
    if (!h.ok()) return h.status();
    impl->handlers.push_back(std::move(h).value());
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
    Result<int> fd = ListenUnix(options.socket_path, options.socket_mode, options.socket_group);
    if (!fd.ok()) return fd.status();
    impl->unix_fd = *fd;
  }
  Impl* p = impl.get();
  for (auto& h : impl->handlers) {
    RequestHandler* handler = h.get();
    impl->workers.emplace_back([p, handler] { p->WorkerLoop(handler); });
  }
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
    for (std::thread& t : impl_->workers) {
      if (t.joinable()) t.join();
    }
  });
}

uint16_t Server::tcp_port() const { return impl_->tcp_port; }

ServerStats Server::stats() const {
  ServerStats s;
  s.accepted = impl_->accepted.load();
  s.completed = impl_->completed.load();
  s.errors = impl_->errors.load();
  s.timeouts = impl_->timeouts.load();
  return s;
}

}  // namespace credence::serve
