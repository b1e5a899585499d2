// The `credence serve` engine, host-neutral: listeners (a Unix socket and/or a TCP address),
// one I/O thread that reads and writes every connection without blocking, and a pool of
// worker threads that each own a RequestHandler (one Evaluator per worker).
//
// No client can exhaust it (docs/serve.md, "Bounds"): a slow client holds only its own
// connection, with a short deadline for the header line and request_timeout for the rest;
// request bytes in memory stay within an in-flight budget, taken per request when its header
// line arrives (min(announced, max_request_bytes)) and shared fairly among peers (uids); each
// peer holds at most its share of the connection slots; an exception (std::bad_alloc
// included) ends only the connection it happened on, which gets an error document.
#ifndef CREDENCE_PLUGIN_SERVE_SERVER_H_
#define CREDENCE_PLUGIN_SERVE_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "credence/limits.h"
#include "credence/status.h"
#include "serve/protocol.h"

namespace credence::serve {

struct ServerOptions {
  // Unix socket path; empty = no Unix socket. A stale socket file (nobody listening) is
  // replaced; a live one or a non-socket file is an error.
  std::string socket_path;
  // Permissions of the socket file. Default 0660 (owner and group may connect).
  mode_t socket_mode = 0660;
  // Group to give the socket file (name); empty = the process's group.
  std::string socket_group;
  // TCP "HOST:PORT" or "[V6]:PORT" (numeric host); empty = no TCP listener. Port 0 picks a
  // free port (see Server::tcp_port()).
  std::string listen;
  // Worker threads (concurrent evaluations). Default 2. 1..256.
  size_t workers = 2;
  // Reserve worker threads, used only while every worker above is busy and only for a peer
  // with nothing being evaluated (worker_pool.h): one peer's slow requests do not keep
  // another waiting. Default 1. 0..256.
  size_t reserve_workers = 1;
  // Message bytes kept per request. A longer message is not refused: its first
  // max_request_bytes bytes go to the handler (body.size() < header.length) and the rest is
  // read and dropped. Default 64 MiB (Limits::max_message_bytes).
  size_t max_request_bytes = kDefaultMaxMessageBytes;
  // Time a client has to send its whole request once connected, and again to read its
  // response once it is ready. Default 10 s.
  std::chrono::milliseconds request_timeout{10000};
  // Time a client has to send its header line once connected (the lesser of this and
  // request_timeout applies). Default 3 s: a real client sends it at once; an idle connection
  // gives its slot back soon.
  std::chrono::milliseconds header_timeout{3000};
  // Open connections; more are answered "busy" and closed at once. Default 256.
  size_t max_connections = 256;
  // Open connections of one peer (a uid on the Unix socket; all TCP clients count as one
  // peer); more are answered "busy". Default 64, so one peer's flood leaves 192 slots to the
  // others. 1..max_connections.
  size_t max_connections_per_peer = 64;
  // Complete requests waiting for a worker; more are answered "busy". Default 128.
  size_t max_queued = 128;
  // The in-flight budget: request bytes held at once, from the header line to the answer
  // (buffers being received, queued and being evaluated). A request takes
  // min(announced length, max_request_bytes) of it when its header line arrives and waits,
  // unread, until that much is free. 0 = the default: the larger of 256 MiB and
  // 4 x max_request_bytes. At least max_request_bytes.
  size_t max_inflight_bytes = 0;
  // The share of the budget one peer may hold. 0 = the default: half the budget. From
  // max_request_bytes to max_inflight_bytes.
  size_t max_inflight_bytes_per_peer = 0;
  // The request log: called once per connection, on the I/O thread, when it ends, with one
  // line of key=value fields (no newline; docs/serve.md "The request log"). Empty = no log.
  // Should be quick (it runs on the I/O thread); an exception from it is swallowed.
  std::function<void(std::string_view line)> log;
};

// What the server tells a handler about a request, and what the handler tells the log.
struct RequestContext {
  using TimePoint = std::chrono::steady_clock::time_point;
  // When the connection was accepted (the client's timer started about then).
  TimePoint accepted;
  // When the answer should be on its way: accepted + the client's "timeout=" less a margin
  // (AnswerDeadline), or TimePoint::max() when the client gave none.
  TimePoint answer_by = TimePoint::max();
  // Set by the handler: the outcome for the log when it is not an evaluation (e.g.
  // "not_a_message"; empty = "verdict"), and key=value fields for the log line.
  std::string outcome;
  std::string log_fields;
};

// The answer deadline for a client that waits `timeout` from `accepted`: 10% of it (at least
// 200 ms) before, so that the answer is written and read before the client gives up.
RequestContext::TimePoint AnswerDeadline(RequestContext::TimePoint accepted,
                                         std::chrono::milliseconds timeout);

// Evaluates one complete request and returns the JSON document to send (unframed). Called on
// one worker thread only. `body` is the whole message, or its first max_request_bytes bytes
// when body.size() < header.length. Should not throw; an exception (std::bad_alloc included)
// is caught and answered as "internal". The server calls HandleRequest; a handler that needs
// the context (deadlines, log fields) overrides it, the others only Handle.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual std::string Handle(const RequestHeader& header, std::string body) = 0;
  virtual std::string HandleRequest(const RequestHeader& header, std::string body,
                                    RequestContext& context) {
    (void)context;
    return Handle(header, std::move(body));
  }
};
// Called once per worker, on the starting thread, before anything is accepted.
using HandlerFactory = std::function<Result<std::unique_ptr<RequestHandler>>()>;

struct ServerStats {
  uint64_t accepted = 0;   // connections accepted
  uint64_t completed = 0;  // responses fully written (evaluations and errors)
  uint64_t errors = 0;     // error documents sent (bad request, too large, timeout, busy, ...)
  uint64_t timeouts = 0;   // connections dropped for their deadline
  uint64_t refused = 0;    // connections answered "busy" at accept (total or per-peer slots)
  uint64_t failures = 0;   // connections ended by an exception (std::bad_alloc included)
  uint64_t truncated = 0;  // requests over max_request_bytes handed on as a prefix
  uint64_t gave_up = 0;    // clients that closed the connection before their answer was sent
  uint64_t reloads = 0;    // successful Reload calls
  size_t peak_inflight_bytes = 0;  // the most of the in-flight budget held at once
};

class Server {
 public:
  // Binds the listeners, creates the handlers and starts the threads. Errors: kInvalidInput
  // for bad options (workers, limits out of range, listen address, socket path too long),
  // kIoError when a socket
  // cannot be created or bound (the message names it), or the factory's error.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               HandlerFactory factory);
  // Stops (if not yet) and waits.
  ~Server();

  // The options with every default filled in (max_inflight_bytes and its per-peer share), or
  // kInvalidInput naming the option out of range. Start applies it first.
  static Result<ServerOptions> Resolve(ServerOptions options);

  // Begins a clean shutdown: stop accepting and remove the socket file; requests already
  // received are evaluated and answered; connections still sending a request get a
  // "shutting_down" error. Thread-safe, idempotent; does not wait.
  void Stop();
  // Waits until shutdown is complete (every thread joined).
  void Wait();

  // Replaces every worker's handler with a new one from `factory` (a new configuration):
  // each worker takes its new handler before its next request; requests being evaluated
  // finish with the old one. All or nothing: when the factory fails, nothing changes and its
  // error is returned. Thread-safe (not concurrently with Start).
  Status Reload(const HandlerFactory& factory);

  // The bound TCP port (0 when there is no TCP listener).
  uint16_t tcp_port() const;
  ServerStats stats() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "HOST:PORT" / "[V6]:PORT" with a numeric host. Exposed for tests.
Status ParseListenAddress(std::string_view spec, std::string* host, uint16_t* port);

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_SERVER_H_
