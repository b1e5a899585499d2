// The `credence serve` engine, host-neutral: listeners (a Unix socket and/or a TCP address),
// one I/O thread that reads and writes every connection without blocking, and a pool of
// worker threads that each own a RequestHandler (one Evaluator per worker).
//
// A slow client only holds its own connection: requests are read by the I/O thread, and only
// complete requests reach a worker. Every connection has a deadline (request_timeout) for
// sending its request and another for reading its response; past it the client gets an error
// document (best effort) and is dropped. Oversized requests are refused after the header line.
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
  // Largest message a request may announce. Default 64 MiB (Limits::max_message_bytes).
  size_t max_request_bytes = 64u << 20;
  // Time a client has to send its whole request once connected, and again to read its
  // response once it is ready. Default 10 s.
  std::chrono::milliseconds request_timeout{10000};
  // Open connections; more are answered "busy" and closed at once. Default 256.
  size_t max_connections = 256;
  // Complete requests waiting for a worker; more are answered "busy". Default 128.
  size_t max_queued = 128;
};

// Evaluates one complete request and returns the JSON document to send (unframed). Called on
// one worker thread only; must not throw (exceptions are caught and reported as "internal").
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual std::string Handle(const RequestHeader& header, std::string body) = 0;
};
// Called once per worker, on the starting thread, before anything is accepted.
using HandlerFactory = std::function<Result<std::unique_ptr<RequestHandler>>()>;

struct ServerStats {
  uint64_t accepted = 0;   // connections accepted
  uint64_t completed = 0;  // responses fully written (evaluations and errors)
  uint64_t errors = 0;     // error documents sent (bad request, too large, timeout, busy, ...)
  uint64_t timeouts = 0;   // connections dropped for their deadline
};

class Server {
 public:
  // Binds the listeners, creates the handlers and starts the threads. Errors: kInvalidInput
  // for bad options (workers, listen address, socket path too long), kIoError when a socket
  // cannot be created or bound (the message names it), or the factory's error.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               HandlerFactory factory);
  // Stops (if not yet) and waits.
  ~Server();

  // Begins a clean shutdown: stop accepting and remove the socket file; requests already
  // received are evaluated and answered; connections still sending a request get a
  // "shutting_down" error. Thread-safe, idempotent; does not wait.
  void Stop();
  // Waits until shutdown is complete (every thread joined).
  void Wait();

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
