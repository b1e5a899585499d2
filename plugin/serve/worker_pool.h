// The worker side of `credence serve`: a bounded queue of complete requests, one thread per
// handler, and the finished answers handed back to the I/O thread (server.cc), which `wake`
// rouses. Only the I/O thread submits and takes answers; each worker owns its handler.
// A free worker takes the next request of the peer (uid) with the fewest requests being
// evaluated, and among those of the one served least recently (round robin), not the oldest
// request of all: a peer with a burst of slow requests (a zone whose DNS never answers) gets
// its share of the workers, and another peer's request is taken next. Peers equal on both:
// the oldest request first.
// Reserve workers (the last handlers given to Start) take a request only while every regular
// worker is busy, and only of a peer with nothing being evaluated: one peer's slow requests
// holding every regular worker do not keep another peer waiting for one of them to end, and
// no peer holds more than one reserve worker at a time.
#ifndef CREDENCE_SERVE_WORKER_POOL_H_
#define CREDENCE_SERVE_WORKER_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/listener.h"
#include "serve/protocol.h"
#include "serve/server.h"

namespace credence::serve {

// A request a worker evaluates: the connection it came from, its header and body.
struct Job {
  uint64_t conn_id;
  RequestHeader header;
  std::string body;
  RequestContext context;
  PeerId peer = 0;  // whose request: the queue is fair between peers
};

// A worker's answer to one Job.
struct Done {
  uint64_t conn_id;
  std::string json;
  bool failed;  // not even an error document could be built: send the prepared one
  std::chrono::steady_clock::time_point started, finished;
  std::string outcome;     // the handler's, empty for an evaluation
  std::string log_fields;  // the handler's
};

class WorkerPool {
 public:
  // At most `max_queued` jobs wait; at most `max_done` answers are held before the I/O thread
  // takes them (one per connection: the capacity is reserved, so a worker's push never
  // allocates). `wake` is called after each answer.
  WorkerPool(size_t max_queued, size_t max_done, std::function<void()> wake);
  ~WorkerPool();  // Close(), then Join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts one thread per handler; each owns its handler until it takes a reloaded one. The
  // last `reserve` handlers are the reserve workers' (fewer than handlers.size()).
  void Start(std::vector<std::unique_ptr<RequestHandler>> handlers, size_t reserve = 0);
  // True when max_queued jobs wait. Only the I/O thread submits and workers only take, so a
  // queue that is not full stays so until the next Submit.
  bool Full() const;
  void Submit(Job&& job);
  // Moves the answers ready so far into *out (empty on entry), swapping buffers: both keep
  // their reserved capacity.
  void TakeDone(std::vector<Done>* out);
  // Handlers for the next requests, one per worker; each worker takes its own before its next
  // job. Handlers of an earlier reload that no worker took yet are dropped.
  void Reload(std::vector<std::unique_ptr<RequestHandler>> fresh);
  // No more jobs: the workers finish the queue and end.
  void Close();
  void Join();

 private:
  void WorkerLoop(size_t index, bool reserve, std::unique_ptr<RequestHandler> handler);
  void TakeReloaded(size_t index, std::unique_ptr<RequestHandler>& handler, uint64_t& seen);

  const size_t max_queued_;
  const std::function<void()> wake_;
  std::vector<std::thread> threads_;

  // One peer's waiting requests (each with its submission number) and how many of its
  // requests the workers are evaluating. Kept while either is non-zero.
  struct PeerJobs {
    std::deque<std::pair<uint64_t, Job>> waiting;  // with each its submission number
    size_t running = 0;
    uint64_t last_taken = 0;  // takes_ when a worker last took one of its requests; 0: never
  };
  // Under jobs_mu_: the next job by the rule above (for a reserve worker, among the peers with
  // nothing running); the peer's running count goes up.
  Job TakeNext(PeerId* peer, bool reserve);
  // Under jobs_mu_: whether a reserve worker may take a job now.
  bool ReserveMayTake() const;
  void Finished(PeerId peer, bool reserve);

  mutable std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;     // regular workers wait here
  std::condition_variable reserve_cv_;  // reserve workers wait here
  size_t regular_ = 0;                  // regular workers (set by Start)
  size_t busy_regular_ = 0;             // regular workers evaluating
  std::unordered_map<PeerId, PeerJobs> peers_;
  size_t queued_ = 0;
  uint64_t takes_ = 0;
  uint64_t submitted_ = 0;
  bool closed_ = false;

  std::mutex done_mu_;
  std::vector<Done> done_;

  std::mutex reload_mu_;
  std::vector<std::unique_ptr<RequestHandler>> reloaded_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace credence::serve

#endif  // CREDENCE_SERVE_WORKER_POOL_H_
