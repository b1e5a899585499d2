#include "serve/worker_pool.h"

#include <algorithm>
#include <exception>
#include <new>
#include <utility>

namespace credence::serve {
namespace {

// The handler's document, or an "internal" error document; `*failed` when even that could
// not be built (out of memory).
std::string HandleSafely(RequestHandler& handler, Job& job, bool* failed) {
  std::string what;
  try {
    return handler.HandleRequest(job.header, std::move(job.body), job.context);
  } catch (const std::bad_alloc&) {
    what = "out of memory";
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  try {
    return ErrorJson("internal", "internal error: " + what, job.header.id);
  } catch (...) {
    *failed = true;
    return std::string();
  }
}

}  // namespace

WorkerPool::WorkerPool(size_t max_queued, size_t max_done, std::function<void()> wake)
    : max_queued_(max_queued), wake_(std::move(wake)) {
  done_.reserve(max_done);
}

WorkerPool::~WorkerPool() {
  Close();
  Join();
}

void WorkerPool::Start(std::vector<std::unique_ptr<RequestHandler>> handlers, size_t reserve) {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    regular_ = handlers.size() - std::min(reserve, handlers.size());
  }
  for (size_t i = 0; i < handlers.size(); ++i) {
    const bool is_reserve = i >= regular_;
    threads_.emplace_back([this, i, is_reserve, h = std::move(handlers[i])]() mutable {
      WorkerLoop(i, is_reserve, std::move(h));
    });
  }
}

bool WorkerPool::Full() const {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  return queued_ >= max_queued_;
}

void WorkerPool::Submit(Job&& job) {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    const PeerId peer = job.peer;
    peers_[peer].waiting.emplace_back(submitted_++, std::move(job));
    ++queued_;
    if (ReserveMayTake()) reserve_cv_.notify_one();
  }
  jobs_cv_.notify_one();
}

bool WorkerPool::ReserveMayTake() const {
  if (busy_regular_ < regular_) return false;
  for (const auto& [id, p] : peers_) {
    if (p.running == 0 && !p.waiting.empty()) return true;
  }
  return false;
}

Job WorkerPool::TakeNext(PeerId* peer, bool reserve) {
  // Fewest running first, then the peer served least recently: a linear pass over the peers
  // with requests waiting (at most one a connection).
  PeerJobs* best = nullptr;
  for (auto& [id, p] : peers_) {
    if (p.waiting.empty() || (reserve && p.running > 0)) continue;
    if (best == nullptr || p.running < best->running ||
        (p.running == best->running &&
         (p.last_taken < best->last_taken ||
          (p.last_taken == best->last_taken &&
           p.waiting.front().first < best->waiting.front().first)))) {
      best = &p;
      *peer = id;
    }
  }
  Job job = std::move(best->waiting.front().second);
  best->waiting.pop_front();
  ++best->running;
  best->last_taken = ++takes_;
  --queued_;
  if (!reserve) ++busy_regular_;
  // The last regular worker just got busy, or a reserve worker took one of several peers'
  // requests: another reserve worker may serve the next peer (a chain of wakeups, one each).
  if (queued_ > 0 && ReserveMayTake()) reserve_cv_.notify_one();
  return job;
}

void WorkerPool::Finished(PeerId peer, bool reserve) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  if (!reserve) --busy_regular_;
  auto it = peers_.find(peer);
  if (--it->second.running == 0) {
    if (it->second.waiting.empty()) {
      peers_.erase(it);
    } else if (ReserveMayTake()) {
      reserve_cv_.notify_one();  // this peer may go to a reserve worker again
    }
  }
}

void WorkerPool::TakeDone(std::vector<Done>* out) {
  std::lock_guard<std::mutex> lock(done_mu_);
  out->swap(done_);
}

void WorkerPool::Reload(std::vector<std::unique_ptr<RequestHandler>> fresh) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  reloaded_.swap(fresh);  // the handlers of an earlier reload, not yet taken, end below
  ++generation_;
}

void WorkerPool::Close() {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    closed_ = true;
  }
  jobs_cv_.notify_all();
  reserve_cv_.notify_all();
}

void WorkerPool::Join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

// The handler a worker gives up is destroyed here, outside the lock.
void WorkerPool::TakeReloaded(size_t index, std::unique_ptr<RequestHandler>& handler,
                              uint64_t& seen) {
  std::unique_ptr<RequestHandler> old;
  std::lock_guard<std::mutex> lock(reload_mu_);
  seen = generation_.load();
  if (index < reloaded_.size() && reloaded_[index]) {
    old = std::move(handler);
    handler = std::move(reloaded_[index]);
  }
}

void WorkerPool::WorkerLoop(size_t index, bool reserve, std::unique_ptr<RequestHandler> handler) {
  // The handler given at Start is generation 0, whenever this thread gets to run: a Reload
  // that came before it did is taken with its first job (reading generation_ here would skip
  // it).
  uint64_t seen = 0;
  for (;;) {
    Job job;
    PeerId peer = 0;
    {
      std::unique_lock<std::mutex> lock(jobs_mu_);
      if (reserve) {
        // The regular workers finish the queue at Close.
        reserve_cv_.wait(lock, [this] { return closed_ || ReserveMayTake(); });
        if (closed_) return;
      } else {
        jobs_cv_.wait(lock, [this] { return closed_ || queued_ > 0; });
        if (queued_ == 0) return;  // closed and drained
      }
      job = TakeNext(&peer, reserve);
    }
    if (generation_.load() != seen) TakeReloaded(index, handler, seen);
    Done d{job.conn_id, std::string(), false, std::chrono::steady_clock::now(), {}, {}, {}};
    d.json = HandleSafely(*handler, job, &d.failed);
    d.finished = std::chrono::steady_clock::now();
    d.outcome = std::move(job.context.outcome);
    d.log_fields = std::move(job.context.log_fields);
    Finished(peer, reserve);
    {
      std::lock_guard<std::mutex> lock(done_mu_);
      done_.push_back(std::move(d));  // within the reserved capacity: does not throw
    }
    wake_();
  }
}

}  // namespace credence::serve
