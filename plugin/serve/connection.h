// One client connection of `credence serve`, as the I/O thread (server.cc) drives it: reading
// the request off a non-blocking socket, its deadlines, the answer written back, the end and
// its request-log line. What is shared between connections (the in-flight budget and its
// queue of waiters, the worker pool, the slots) stays with the server; a step tells the server
// what it needs next (Next).
//
// Connection life:
//   kLine (header line arrives; deadline = accept + min(header_timeout, request_timeout))
//   -> kWaiting (no bytes read until the server grants the request's share of the in-flight
//      budget, Admit; deadline = accept + request_timeout)
//   -> kBody (the message arrives; same deadline)
//   -> kEvaluating (a worker has it, TakeJob; no deadline: the evaluation has its own)
//   -> kWriting (Answer; deadline = ready + request_timeout) -> Close.
// Errors jump to kWriting with an error document (Fail). A PING is answered at once.
//
// Single-threaded: only the I/O thread touches a connection. The steps may throw
// (std::bad_alloc); the server then calls Abandon, which never allocates.
#ifndef CREDENCE_PLUGIN_SERVE_CONNECTION_H_
#define CREDENCE_PLUGIN_SERVE_CONNECTION_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "serve/listener.h"
#include "serve/protocol.h"
#include "serve/server.h"
#include "serve/worker_pool.h"

namespace credence::serve {

// The service's counters (ServerStats is a snapshot of them): the I/O thread and the
// connections it drives add to them; Snapshot may be called from any thread.
struct ServeCounters {
  std::atomic<uint64_t> accepted{0}, completed{0}, errors{0}, timeouts{0}, refused{0}, failures{0},
      truncated{0}, gave_up{0}, reloads{0};
  std::atomic<size_t> peak_inflight_bytes{0};
  ServerStats Snapshot() const;
};

// What the connections of one server share. The pointers outlive every connection.
struct ConnectionSettings {
  size_t max_request_bytes = kDefaultMaxMessageBytes;  // message bytes kept per request
  std::chrono::milliseconds line_timeout{3000};        // min(header_timeout, request_timeout)
  std::chrono::milliseconds request_timeout{10000};
  // The request log (ServerOptions::log); null or empty = none.
  const std::function<void(std::string_view line)>* log = nullptr;
  ServeCounters* counters = nullptr;  // required
};

enum class ConnState { kLine, kWaiting, kBody, kEvaluating, kWriting };

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // What the server is to do after a step.
  enum class Next {
    kPoll,    // wait for the socket (PollEvents) or the deadline
    kBudget,  // the header line is in (kWaiting): Admit once wanted() bytes of budget are free
    kWorker,  // a complete VERIFY request: TakeJob and Submitted, or Fail("busy", ...)
    kClose,   // the conversation is over: Close(outcome())
  };

  // `fd`: a connected non-blocking socket, closed only by Close (the destructor leaves it
  // alone, so a connection that could not be registered does not close its socket twice).
  Connection(int fd, PeerId peer, const ConnectionSettings& settings, Clock::time_point accepted);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The socket is ready for what PollEvents asked: reads the request (kLine, kBody), and
  // writes the answer when one is ready (kWriting, also right after a read that produced one).
  Next OnReady();
  // kWaiting -> kBody: the request now holds `bytes` (= wanted()) of the in-flight budget.
  // Never throws.
  void Admit(size_t bytes) noexcept;
  // After kWorker: the request for a worker, tagged `id`, with the client's answer deadline;
  // the body leaves with it (its bytes stay held until the answer is back). Then Submitted
  // once the pool has it (a Submit that throws leaves the connection to Abandon).
  Job TakeJob(uint64_t id);
  // -> kEvaluating: a worker has the request. Never throws.
  void Submitted() noexcept;
  // kEvaluating -> kWriting: a worker's answer is back; keeps when it started and finished.
  // Never throws. Then Answer(done), or Abandon when done.failed.
  void Returned(const Done& done) noexcept;
  // Frames the worker's document (moved out of `done`) and writes what the socket takes.
  Next Answer(Done& done);
  // The request ends with an error document {"code", "error"[, "id"]}: -> kWriting.
  void Fail(std::string_view code, std::string_view message);
  // The deadline has passed: a request still arriving gets a "timeout" error document (one
  // best-effort send) and the outcome "timeout"; an answer the client does not read, "unread".
  // Always kClose. Never throws (a document that cannot be built is not sent).
  Next Expire() noexcept;
  // A step threw: buffers go, the prepared `frame` (which outlives the connection) is the
  // answer, written like any other. Never throws, never allocates. Not for kEvaluating.
  void Abandon(std::string_view frame) noexcept;
  // Once the answer is being written (kWriting) the request's budget bytes are no longer
  // needed: returns them, once, for the caller to give back; 0 otherwise. Never throws.
  size_t ReleaseBudget() noexcept;
  // Counts a client that gave up, writes the request-log line and closes the socket (after
  // an EOF and a bounded drain, CloseSocket). Never throws.
  void Close(std::string_view outcome) noexcept;

  // The request-log line of a connection that ends now with `outcome` (docs/serve.md, "The
  // request log"): outcome, answer, stage, id, peer, sizes and where the time went.
  std::string LogLine(std::string_view outcome, Clock::time_point now) const;

  ConnState state() const { return state_; }
  int fd() const { return fd_; }
  PeerId peer() const { return peer_; }
  Clock::time_point deadline() const { return deadline_; }
  // Bytes of budget this request asks for (kWaiting): min(announced length, max_request_bytes).
  size_t wanted() const { return reader_.keep(); }
  // Bytes of budget held (from Admit until ReleaseBudget; the server gives them back at Close).
  size_t reserved() const { return reserved_; }
  // What poll() should wait for: POLLIN, POLLOUT, or 0 (kWaiting, kEvaluating: not polled).
  short PollEvents() const;
  // The outcome of the last kClose.
  std::string_view outcome() const { return outcome_; }

 private:
  Next ReadLine();
  Next ReadBody();
  Next Write() noexcept;
  Next AfterRequest();
  Next CloseWith(std::string_view outcome, std::string_view stage = {});
  void StartWriting(std::string_view json, std::string_view answer);
  std::string_view RequestId() const;

  const int fd_;
  const PeerId peer_;
  const ConnectionSettings& settings_;
  ConnState state_ = ConnState::kLine;
  RequestReader reader_;
  const Clock::time_point accepted_;
  Clock::time_point deadline_;
  size_t reserved_ = 0;       // bytes of the in-flight budget this request holds
  std::string out_;           // the framed answer built for this connection
  std::string_view pending_;  // what is left to send: in out_, or a frame built at start
  std::string_view outcome_;  // of the last kClose: a literal or answer_
  // For the request log: the header line's fields it shows (kept after the reader goes) ...
  struct {
    bool seen = false, verify = false;
    std::string id;
    size_t length = 0;
    int64_t timeout_ms = 0;
  } req_;
  // ... and where the time went.
  Clock::time_point queued_{}, started_{}, finished_{};  // request complete; worker start, end
  std::string answer_;       // what is being sent: "verdict", "pong" or an error code
  std::string stage_;        // where a timeout struck: header, budget, body
  std::string detail_;       // an error document's message
  std::string handler_log_;  // the handler's key=value fields
};

// A value for the request log: bare when it is printable ASCII without spaces, quotes,
// backslashes or '='; otherwise in double quotes, with '"' and '\\' escaped and bytes outside
// printable ASCII as \xHH (a client's bytes never break the line or the terminal). At most
// `max` input bytes, then "...".
std::string LogValue(std::string_view v, size_t max = 256);

// "uid:N", "tcp" or "unknown", as the request log names a peer.
std::string PeerName(PeerId peer);

// Ends the conversation on `fd`: EOF after what was sent, then away with what the client sent
// that was never read (at most 1 MiB), then close. Never throws.
void CloseSocket(int fd) noexcept;

// A connection refused at accept (no slot, or no memory for it): one best-effort
// non-blocking send of a prepared `frame`, CloseSocket, and its request-log line with
// `outcome` and `why`. Counts an error. Never throws.
void Refuse(int fd, std::string_view frame, PeerId peer, std::string_view outcome,
            std::string_view why, const ConnectionSettings& settings) noexcept;

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_CONNECTION_H_
