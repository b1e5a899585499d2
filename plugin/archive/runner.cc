#include "archive/runner.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "archive/quoting.h"
#include "credence/clock.h"
#include "credence/message.h"

namespace credence {
namespace {

class SerializedResolver final : public Resolver {
 public:
  explicit SerializedResolver(std::unique_ptr<Resolver> inner) : inner_(std::move(inner)) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_->Resolve(questions, deadline);
  }

 private:
  std::mutex mu_;
  std::unique_ptr<Resolver> inner_;
};

// The answers of one batch, in front of the shared resolver: the batch's questions are asked
// of the shared resolver in one call, then each message's questions are answered here without
// taking the shared resolver's lock; a question the batch did not foresee (SPF, DMARC
// organizational domains) goes to the shared resolver and is kept for the rest of the batch.
// One worker's, for one batch (the shared cache keeps TTLs).
class BatchResolver final : public Resolver {
 public:
  explicit BatchResolver(Resolver& shared) : shared_(shared) {}

  void Prefetch(std::vector<DnsQuestion> questions, Deadline deadline) {
    for (DnsQuestion& q : questions) q.name = ToLower(q.name);
    std::sort(questions.begin(), questions.end(), [](const DnsQuestion& a, const DnsQuestion& b) {
      return a.type != b.type ? a.type < b.type : a.name < b.name;
    });
    questions.erase(std::unique(questions.begin(), questions.end()), questions.end());
    if (questions.empty()) return;
    std::vector<DnsAnswer> answers = shared_.Resolve(questions, deadline);
    answers.resize(questions.size());  // a misbehaving resolver must not make us read past
    for (size_t i = 0; i < questions.size(); ++i) {
      known_.emplace(Key{std::move(questions[i].name), questions[i].type}, std::move(answers[i]));
    }
  }

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers(questions.size());
    std::vector<DnsQuestion> missing;
    std::vector<size_t> where;
    for (size_t i = 0; i < questions.size(); ++i) {
      auto it = known_.find(Key{ToLower(questions[i].name), questions[i].type});
      if (it != known_.end()) {
        answers[i] = it->second;
      } else {
        missing.push_back(questions[i]);
        where.push_back(i);
      }
    }
    if (missing.empty()) return answers;
    std::vector<DnsAnswer> got = shared_.Resolve(missing, deadline);
    got.resize(missing.size());
    for (size_t k = 0; k < missing.size(); ++k) {
      answers[where[k]] = got[k];
      known_.emplace(Key{ToLower(missing[k].name), missing[k].type}, std::move(got[k]));
    }
    return answers;
  }

 private:
  using Key = std::pair<std::string, RRType>;
  Resolver& shared_;
  std::map<Key, DnsAnswer> known_;
};

const Envelope kNoEnvelope;

// A message buffer up to this size is kept for reuse when its batch is recycled.
constexpr size_t kKeptItemBytes = 64 << 10;

struct RawItem {
  uint64_t seq;
  SourceItem item;
  bool empty_input = false;  // ItemResult::empty_input: item.name is an input with no message
};

// A bounded multi-producer multi-consumer queue of batches, and the pool of spent batches
// going back to the reader: their strings keep their capacity, so the reader fills them again
// without allocating, and memory a thread allocates is freed by that thread (glibc frees a
// block allocated by another thread under that thread's arena lock).
class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}
  void Push(std::vector<RawItem> batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_; });
    q_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  bool Pop(std::vector<RawItem>* batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *batch = std::move(q_.front());
    q_.pop_front();
    // Wake the reader only once the queue is half empty: it then refills several batches per
    // wake-up instead of one.
    if (q_.size() <= capacity_ / 2) not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  // A worker hands back a batch it is done with (items emptied, capacity kept).
  void Recycle(std::vector<RawItem> batch) {
    std::lock_guard<std::mutex> lock(mu_);
    if (spent_.size() < capacity_) spent_.push_back(std::move(batch));
  }
  // The reader takes a spent batch to fill (empty vector when there is none).
  std::vector<RawItem> Reuse() {
    std::lock_guard<std::mutex> lock(mu_);
    if (spent_.empty()) return {};
    std::vector<RawItem> b = std::move(spent_.back());
    spent_.pop_back();
    return b;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::vector<RawItem>> q_;
  std::vector<std::vector<RawItem>> spent_;
  size_t capacity_;
  bool closed_ = false;
};

// Finished batches parked until every earlier result has been handed to the sink. A batch is
// a run of consecutive seqs, so it is parked and delivered whole. The worker whose batch is
// the next one to deliver delivers it, and every consecutive batch parked meanwhile: results
// reach the sink without waking another thread (a wake-up costs an interrupt between the
// cores, several per batch with a separate output thread). One worker delivers at a time, so
// sink calls never overlap and come in input order. Delivered batches go back to the worker
// that made them, which destroys them: memory is freed by the thread that allocated it.
class Reorder {
 public:
  Reorder(uint64_t window, size_t workers, const std::function<void(ItemResult&&)>& sink)
      : window_(window), dead_(workers), sink_(sink) {}
  // Parks worker `w`'s finished batch (results in seq order), then delivers if it is next.
  // Blocks while the batch's last result is `window` or more ahead of the next one to deliver,
  // so a slow message cannot make finished results pile up without bound.
  void PutBatch(size_t w, std::vector<ItemResult> batch) {
    if (batch.empty()) return;
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t first = batch.front().seq;
    const uint64_t last = batch.back().seq;
    space_.wait(lock, [&] { return first <= next_ || last < next_ + window_; });
    ready_.emplace(first, Parked{w, std::move(batch)});
    if (delivering_) return;  // the worker delivering now takes it too, when its turn comes
    delivering_ = true;
    std::vector<Parked> run;
    for (;;) {
      while (!ready_.empty() && ready_.begin()->first == next_) {
        auto node = ready_.extract(ready_.begin());
        next_ = node.mapped().results.back().seq + 1;
        run.push_back(std::move(node.mapped()));
      }
      if (run.empty()) break;
      space_.notify_all();
      lock.unlock();
      for (Parked& p : run) {
        for (ItemResult& r : p.results) sink_(std::move(r));
        std::lock_guard<std::mutex> dead_lock(dead_[p.worker].mu);
        dead_[p.worker].batches.push_back(std::move(p.results));
      }
      run.clear();
      lock.lock();
    }
    delivering_ = false;
    if (total_ && next_ >= *total_) done_.notify_all();
  }
  void SetTotal(uint64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ = total;
    done_.notify_all();
  }
  // Returns once all `total` results have been delivered.
  void WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return total_ && next_ >= *total_ && !delivering_; });
  }
  // Worker `w` destroys its delivered batches (outside any lock).
  void Bury(size_t w) {
    std::vector<std::vector<ItemResult>> batches;
    {
      std::lock_guard<std::mutex> lock(dead_[w].mu);
      batches.swap(dead_[w].batches);
    }
  }

 private:
  struct Parked {
    size_t worker;
    std::vector<ItemResult> results;
  };
  struct Dead {
    std::mutex mu;
    std::vector<std::vector<ItemResult>> batches;
  };
  std::mutex mu_;
  std::condition_variable space_, done_;
  std::map<uint64_t, Parked> ready_;  // by first seq
  std::optional<uint64_t> total_;
  uint64_t next_ = 0;  // the next seq to deliver
  uint64_t window_;
  bool delivering_ = false;  // a worker is handing results to the sink
  std::vector<Dead> dead_;
  const std::function<void(ItemResult&&)>& sink_;
};

int MonthIndex(std::string_view m) {
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (EqualsIgnoreCase(m, kMonths[i])) return i;
  return -1;
}

// RFC 5322 §4.3 obsolete zones.
std::optional<int> ObsZoneMinutes(std::string_view z) {
  struct Zone {
    const char* name;
    int minutes;
  };
  static const Zone kZones[] = {{"UT", 0},        {"GMT", 0},       {"Z", 0},
                                {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60},
                                {"CDT", -5 * 60}, {"MST", -7 * 60}, {"MDT", -6 * 60},
                                {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const Zone& zone : kZones)
    if (EqualsIgnoreCase(z, zone.name)) return zone.minutes;
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Resolver> MakeSerializedResolver(std::unique_ptr<Resolver> inner) {
  return std::make_unique<SerializedResolver>(std::move(inner));
}

std::optional<int64_t> ParseRfc5322DateTime(std::string_view text) {
  // Tokenise on white space and commas, dropping comments "( ... )" (bounded, no nesting needed
  // for the tokens we read).
  std::vector<std::string_view> tok;
  size_t i = 0;
  int depth = 0;
  while (i < text.size() && tok.size() < 16) {
    char c = text[i];
    if (c == '(') { ++depth; ++i; continue; }
    if (c == ')') { if (depth) --depth; ++i; continue; }
    if (depth || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') { ++i; continue; }
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\r' &&
           text[j] != '\n' && text[j] != ',' && text[j] != '(')
      ++j;
    tok.push_back(text.substr(i, j - i));
    i = j;
  }
  size_t k = 0;
  if (k < tok.size() && tok[k].size() >= 3 && !(tok[k][0] >= '0' && tok[k][0] <= '9')) ++k;  // day
  if (tok.size() < k + 4) return std::nullopt;
  auto number = [](std::string_view s, int* out) {
    if (s.empty() || s.size() > 4) return false;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  int day, year;
  if (!number(tok[k], &day) || day < 1 || day > 31) return std::nullopt;
  int month = MonthIndex(tok[k + 1]);
  if (month < 0 || !number(tok[k + 2], &year)) return std::nullopt;
  if (tok[k + 2].size() == 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 §4.3
  else if (tok[k + 2].size() == 3) year += 1900;
  // hh:mm[:ss]
  std::string_view t = tok[k + 3];
  int hh = 0, mm = 0, ss = 0;
  size_t c1 = t.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  size_t c2 = t.find(':', c1 + 1);
  if (!number(t.substr(0, c1), &hh) ||
      !number(t.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1), &mm) ||
      (c2 != std::string_view::npos && !number(t.substr(c2 + 1), &ss)) || hh > 23 || mm > 59 ||
      ss > 60)
    return std::nullopt;
  int offset = 0;  // minutes east of UTC
  if (tok.size() > k + 4) {
    std::string_view z = tok[k + 4];
    if ((z[0] == '+' || z[0] == '-') && z.size() == 5) {
      int v;
      if (!number(z.substr(1), &v)) return std::nullopt;
      offset = (v / 100) * 60 + v % 100;
      if (z[0] == '-') offset = -offset;
    } else if (auto m = ObsZoneMinutes(z)) {
      offset = *m;
    }  // other obsolete military zones: RFC 5322 says treat as -0000
  }
  struct tm tmv = {};
  tmv.tm_year = year - 1900;
  tmv.tm_mon = month;
  tmv.tm_mday = day;
  tmv.tm_hour = hh;
  tmv.tm_min = mm;
  tmv.tm_sec = ss;
  time_t t0 = timegm(&tmv);
  return static_cast<int64_t>(t0) - static_cast<int64_t>(offset) * 60;
}

std::optional<int64_t> TopReceivedTime(const Message& message) {
  const HeaderField* received = message.Find("Received");
  if (!received) return std::nullopt;
  size_t semi = received->value.rfind(';');
  if (semi == std::string_view::npos) return std::nullopt;
  return ParseRfc5322DateTime(received->value.substr(semi + 1));
}

const char* TimeSourceName(TimeSource source) {
  switch (source) {
    case TimeSource::kNow: return "now";
    case TimeSource::kFixed: return "at";
    case TimeSource::kReceived: return "received";
  }
  return "now";
}

Runner::Runner(const EvaluatorOptions& evaluator_options, const RunnerOptions& options,
               Resolver& resolver)
    : evaluator_options_(evaluator_options), options_(options), resolver_(resolver) {
  if (options_.jobs == 0) options_.jobs = std::max(1u, std::thread::hardware_concurrency());
  if (options_.batch == 0) options_.batch = 1;
}

Status Runner::Run(const std::vector<std::string>& paths,
                   const std::function<void(ItemResult&&)>& sink,
                   const std::function<std::string(const ItemResult&)>& format) {
  // One Evaluator and clock per worker (the DKIM key cache inside is not thread-safe).
  std::vector<std::unique_ptr<FixedClock>> clocks;
  std::vector<std::unique_ptr<Evaluator>> evaluators;
  SystemClock system;
  for (size_t w = 0; w < options_.jobs; ++w) {
    clocks.push_back(std::make_unique<FixedClock>(system.Now()));
    Result<std::unique_ptr<Evaluator>> e = Evaluator::Create(evaluator_options_, *clocks.back());
    if (!e.ok()) return e.status();
    evaluators.push_back(std::move(e).value());
  }

  BatchQueue queue(options_.jobs * 2);
  Reorder reorder(options_.jobs * options_.batch * 4 + 1, options_.jobs, sink);

  std::thread reader([&] {
    uint64_t seq = 0;
    std::vector<RawItem> batch = queue.Reuse();
    size_t used = 0;  // items of `batch` filled (the rest are spent items kept for reuse)
    size_t batch_bytes = 0;
    auto flush = [&] {
      if (used > 0) {
        batch.resize(used);
        queue.Push(std::move(batch));
        batch = queue.Reuse();
      }
      used = 0;
      batch_bytes = 0;
    };
    auto next_slot = [&]() -> RawItem& {
      if (used == batch.size()) batch.emplace_back();
      return batch[used++];
    };
    for (const std::string& arg : paths) {
      // "box.mbox:42": only that message of box.mbox (the name the output gave it).
      std::string path = arg;
      uint64_t only = 0;
      std::string wanted;
      if (SplitMessageAddress(arg, &path, &only)) wanted = arg;
      Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path, options_.source);
      if (!src.ok()) {
        RawItem& r = next_slot();
        r.seq = seq++;
        r.item = SourceItem();
        r.item.name = path;
        r.item.error = src.status();
        // The source already names the path; keep only what went wrong.
        std::string m = r.item.error.message();
        if (m.rfind(path + ": ", 0) == 0) r.item.error = Status(r.item.error.code(), m.substr(path.size() + 2));
        if (used >= options_.batch) flush();
        continue;
      }
      uint64_t items = 0;
      bool found = false;
      for (;;) {
        RawItem& r = next_slot();
        if (!(*src)->Next(&r.item)) {
          --used;
          break;
        }
        if (only > 0) {
          // The addressed message (a single message file is path:1), and every error that
          // is not about another message (a damaged file's own error item).
          const bool match = r.item.name == wanted || (only == 1 && r.item.name == path);
          const bool file_error = !r.item.error.ok() && r.item.name == path;
          if (!match && !file_error) {
            --used;
            continue;
          }
          found = found || match;
        }
        if (r.item.notice.empty()) ++items;
        r.seq = seq++;
        batch_bytes += r.item.bytes.size();
        if (used >= options_.batch || batch_bytes >= options_.batch_bytes) flush();
      }
      if (only > 0 && !found) {
        RawItem& r = next_slot();
        r.seq = seq++;
        r.item = SourceItem();
        r.item.name = arg;
        r.item.error = Status::NotFound("no message " + std::to_string(only) + " in " + path);
        if (used >= options_.batch) flush();
      } else if (items == 0) {
        RawItem& r = next_slot();
        r.seq = seq++;
        r.item = SourceItem();
        r.item.name = path;
        r.empty_input = true;
        if (used >= options_.batch) flush();
      }
    }
    flush();
    queue.Close();
    reorder.SetTotal(seq);
  });

  const Limits& limits = evaluator_options_.limits;
  std::vector<std::thread> workers;
  for (size_t w = 0; w < options_.jobs; ++w) {
    workers.emplace_back([&, w] {
      Evaluator& evaluator = *evaluators[w];
      FixedClock& clock = *clocks[w];
      DkimOptions quoting_options;
      quoting_options.limits = evaluator_options_.limits;
      const DkimVerifier quoting_check(clock, quoting_options);
      std::vector<RawItem> batch;
      while (queue.Pop(&batch)) {
        // Parse the batch and prefetch all of its DNS in one go. One deadline covers the
        // batch's DNS, prefetch and evaluation alike, so unreachable DNS costs one deadline
        // per batch, not one per step (what the prefetch answered is cached for the rest).
        const auto start = std::chrono::steady_clock::now();
        const Deadline deadline = start + limits.deadline;
        // As in Evaluator::Evaluate: the prefetch of keys and DMARC records may use half of
        // the time, so a slow name server of one message cannot leave its SPF check none.
        const Deadline prefetch_deadline = start + limits.deadline / 2;
        std::vector<std::optional<Message>> messages(batch.size());
        std::vector<Evaluator::Prepared> prepared(batch.size());
        std::vector<DnsQuestion> questions;
        std::vector<ItemResult> results(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
          results[i].seq = batch[i].seq;
          results[i].name = batch[i].item.name;  // a copy: the reader reuses its buffers
          if (batch[i].empty_input) {
            results[i].empty_input = true;
            continue;
          }
          if (!batch[i].item.notice.empty()) {
            results[i].notice = batch[i].item.notice;
            continue;
          }
          if (!batch[i].item.error.ok()) {
            const Status& e = batch[i].item.error;
            results[i].error = Status(e.code(), "cannot read: " + e.message());
            continue;
          }
          results[i].bytes = batch[i].item.bytes.size();
          Result<Message> m =
              Message::Parse(batch[i].item.bytes, limits, batch[i].item.original_size);
          if (!m.ok()) {
            results[i].error = Status(m.status().code(), "not a message: " + m.status().message());
            continue;
          }
          messages[i].emplace(std::move(m).value());
          if (options_.envelope_from_received || options_.compare_authres) {
            results[i].delivered = EnvelopeFromReceived(*messages[i], options_.received_host);
          }
          int64_t at = system.Now();
          TimeSource source = TimeSource::kNow;
          if (options_.time_mode == TimeMode::kFixed) {
            at = options_.at;
            source = TimeSource::kFixed;
          } else if (options_.time_mode == TimeMode::kReceived) {
            if (auto t = TopReceivedTime(*messages[i])) {
              at = *t;
              source = TimeSource::kReceived;
            }
          }
          results[i].evaluated_at = at;
          results[i].evaluated_at_source = source;
          clock.Set(at);  // Prepare checks signature times
          prepared[i] = evaluator.Prepare(*messages[i]);
          questions.insert(questions.end(), prepared[i].questions.begin(),
                           prepared[i].questions.end());
        }
        BatchResolver dns(resolver_);
        dns.Prefetch(std::move(questions), prefetch_deadline);
        for (size_t i = 0; i < batch.size(); ++i) {
          if (messages[i]) {
            clock.Set(results[i].evaluated_at);
            const Envelope& envelope = !options_.envelope_from_received ? options_.envelope
                                       : results[i].delivered->found
                                           ? results[i].delivered->envelope
                                           : kNoEnvelope;
            results[i].evaluation = evaluator.Evaluate(*messages[i], std::move(prepared[i]),
                                                       envelope, dns, deadline);
            // Issue 17: a body hash that fails only because of mbox ">From " quoting says so.
            size_t quoting_budget = kQuotingBudgetBytes;
            for (DkimResult& d : results[i].evaluation.dkim) {
              std::string hint = QuotingExplainsBodyHash(batch[i].item.bytes, d, quoting_check,
                                                         limits, dns, deadline, &quoting_budget);
              if (!hint.empty()) d.detail += (d.detail.empty() ? "" : "; ") + hint;
            }
            if (options_.compare_authres) {
              results[i].comparison = CompareWithRecorded(
                  *messages[i], evaluator_options_.authres.authserv_id,
                  results[i].delivered->received_index, &results[i].evaluation);
            }
            if (options_.observe) options_.observe(*messages[i], results[i], envelope);
            if (!options_.envelope_from_received) results[i].delivered.reset();
            messages[i].reset();
          }
          if (format && !results[i].empty_input && results[i].notice.empty()) {
            results[i].output = format(results[i]);
          }
        }
        // Back to the reader, emptied. A buffer that a large message grew is released rather
        // than kept: what the pool keeps stays small (at most kKeptItemBytes per item).
        for (RawItem& r : batch) {
          if (r.item.bytes.capacity() > kKeptItemBytes) std::string().swap(r.item.bytes);
          r.item.bytes.clear();
          r.item.error = Status();
          r.item.original_size = 0;
          r.empty_input = false;
          r.item.notice.clear();
        }
        queue.Recycle(std::move(batch));
        batch.clear();
        reorder.PutBatch(w, std::move(results));
        reorder.Bury(w);
      }
    });
  }

  reorder.WaitDone();
  reader.join();
  for (std::thread& t : workers) t.join();
  return Status();
}

}  // namespace credence
