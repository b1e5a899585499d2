#include "archive/runner.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "archive/body_hint.h"
#include "archive/header_hint.h"
#include "archive/quoting.h"
#include "credence/clock.h"
#include "credence/message.h"

namespace credence {
namespace {

// The answers of one batch, in front of the shared resolver: the batch's questions are asked
// of the shared resolver in one call, then each message's questions are answered here without
// taking the shared resolver's lock; a question the batch did not foresee (SPF, DMARC
// organizational domains) goes to the shared resolver and is kept for the rest of the batch.
// One worker's, for one batch (the shared cache keeps TTLs).
class BatchResolver final : public Resolver {
 public:
  explicit BatchResolver(Resolver& shared) : shared_(shared) {}

  void Prefetch(std::vector<DnsQuestion> questions, Deadline deadline) {
    for (DnsQuestion& q : questions) {
      for (char& c : q.name) c = AsciiLower(c);  // in place: the names are ours
    }
    std::sort(questions.begin(), questions.end(), [](const DnsQuestion& a, const DnsQuestion& b) {
      return a.type != b.type ? a.type < b.type : a.name < b.name;
    });
    questions.erase(std::unique(questions.begin(), questions.end()), questions.end());
    if (questions.empty()) return;
    std::vector<DnsAnswer> answers = shared_.Resolve(questions, deadline);
    answers.resize(questions.size());  // a misbehaving resolver must not make us read past
    known_.reserve(questions.size());  // the batch's own; one more per unforeseen question
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
      auto it = known_.find(KeyView{questions[i].name, questions[i].type});
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

  // Every answer of the batch stays where it is until the batch ends: the table's nodes do not
  // move when it grows, and nothing is ever erased.
  const DnsAnswer* Pinned(std::string_view name, RRType type) const override {
    auto it = known_.find(KeyView{name, type});
    return it != known_.end() ? &it->second : nullptr;
  }

 private:
  using Key = std::pair<std::string, RRType>;  // the name in lower case
  using KeyView = std::pair<std::string_view, RRType>;
  // A hash table keyed by type and name, names ASCII case-insensitively: a question is looked
  // up as asked, with no lower-cased copy of its name, in one pass over the name for the hash
  // and one for the compare (a tree compared each question char by char with some eight
  // keys of the batch's, most sharing a "_dmarc." or "._domainkey." prefix). Unseeded:
  // the table holds one batch's questions (Options::batch messages, each within its DNS
  // budgets), so even names made to collide cost a bounded scan, never more than the batch.
  struct KeyHash {
    using is_transparent = void;
    template <typename K>
    size_t operator()(const K& key) const {
      uint64_t h = 14695981039346656037ull ^ static_cast<uint16_t>(key.second);  // FNV-1a
      for (char c : std::string_view(key.first)) {
        h = (h ^ static_cast<unsigned char>(AsciiLower(c))) * 1099511628211ull;
      }
      return static_cast<size_t>(h);
    }
  };
  struct KeyEqual {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return a.second == b.second && EqualsIgnoreCase(a.first, b.first);
    }
  };
  Resolver& shared_;
  std::unordered_map<Key, DnsAnswer, KeyHash, KeyEqual> known_;
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
  Reorder(uint64_t first, uint64_t window, size_t workers,
          const std::function<void(ItemResult&&)>& sink)
      : next_(first), window_(window), dead_(workers), sink_(sink) {}
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
  uint64_t next_;  // the next seq to deliver
  uint64_t window_;
  bool delivering_ = false;  // a worker is handing results to the sink
  std::vector<Dead> dead_;
  const std::function<void(ItemResult&&)>& sink_;
};

}  // namespace

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
  // The reader normalises line ends as it copies each mbox message (Message::ParseNormalised).
  options_.source.normalise_up_to = evaluator_options_.limits.max_message_bytes;
}

namespace {

// The reader's side: fills batches of RawItems from the inputs, in order, and hands each full
// batch to the queue. One per run, on the reader thread.
class BatchFiller {
 public:
  BatchFiller(const RunnerOptions& options, BatchQueue& queue)
      : options_(options), queue_(queue), batch_(queue.Reuse()) {}

  // Every message of `arg` ("box.mbox:42": only that message of box.mbox, the name the output
  // gave it), an error item when it cannot be opened, an empty-input item when it holds none.
  void Read(const std::string& arg) {
    std::string path = arg;
    uint64_t only = 0;
    std::string wanted;
    if (SplitMessageAddress(arg, &path, &only)) wanted = arg;
    Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path, options_.source);
    if (!src.ok()) {
      // The source already names the path; keep only what went wrong.
      Status e = src.status();
      const std::string& m = e.message();
      if (m.rfind(path + ": ", 0) == 0) e = Status(e.code(), m.substr(path.size() + 2));
      Add(path, std::move(e), false);
      return;
    }
    uint64_t items = 0;
    bool found = false;
    for (;;) {
      RawItem& r = NextSlot();
      if (!(*src)->Next(&r.item)) {
        --used_;
        break;
      }
      if (only > 0) {
        // The addressed message (a single message file is path:1), and every error that
        // is not about another message (a damaged file's own error item).
        const bool match = r.item.name == wanted || (only == 1 && r.item.name == path);
        const bool file_error = !r.item.error.ok() && r.item.name == path;
        if (!match && !file_error) {
          --used_;
          continue;
        }
        found = found || match;
      }
      if (r.item.notice.empty()) ++items;
      r.seq = seq_++;
      if (r.seq < options_.skip) {  // delivered by the run this one resumes
        --used_;
        continue;
      }
      batch_bytes_ += r.item.bytes.size();  // what the batch holds (normalised text included)
      if (used_ >= options_.batch || batch_bytes_ >= options_.batch_bytes) Flush();
    }
    if (only > 0 && !found) {
      Add(arg, Status::NotFound("no message " + std::to_string(only) + " in " + path), false);
    } else if (items == 0) {
      Add(path, Status(), true);
    }
  }

  // Hands the last batch over; returns the number of items of the whole run.
  uint64_t Finish() {
    Flush();
    return seq_;
  }

 private:
  RawItem& NextSlot() {
    if (used_ == batch_.size()) batch_.emplace_back();
    return batch_[used_++];
  }
  // One item that is not a message: an error, or an input with none.
  void Add(const std::string& name, Status error, bool empty_input) {
    if (seq_ < options_.skip) {  // delivered by the run this one resumes
      ++seq_;
      return;
    }
    RawItem& r = NextSlot();
    r.seq = seq_++;
    r.item = SourceItem();
    r.item.name = name;
    r.item.error = std::move(error);
    r.empty_input = empty_input;
    if (used_ >= options_.batch) Flush();
  }
  void Flush() {
    if (used_ > 0) {
      batch_.resize(used_);
      queue_.Push(std::move(batch_));
      batch_ = queue_.Reuse();
    }
    used_ = 0;
    batch_bytes_ = 0;
  }

  const RunnerOptions& options_;
  BatchQueue& queue_;
  std::vector<RawItem> batch_;
  size_t used_ = 0;  // items of batch_ filled (the rest are spent items kept for reuse)
  size_t batch_bytes_ = 0;
  uint64_t seq_ = 0;
};

// Asks the CPU to bring the start of `text` into its caches (the next message's, while this
// one's RSA verification runs): the reader wrote it a batch or two ago, and by then it has
// left them. Up to 64 KiB: more would not stay until it is read.
void PrefetchText(std::string_view text) {
  const size_t n = std::min<size_t>(text.size(), 64 << 10);
  for (size_t i = 0; i < n; i += 64) __builtin_prefetch(text.data() + i, 0, 2);
}

// A worker's side: parses a batch, prefetches all of its DNS in one go, then evaluates each
// message. One per worker thread, with its own Evaluator and clock (the DKIM key cache inside
// an Evaluator is not thread-safe).
class BatchEvaluator {
 public:
  BatchEvaluator(const EvaluatorOptions& evaluator_options, const RunnerOptions& options,
                 Evaluator& evaluator, FixedClock& clock, Resolver& shared)
      : evaluator_options_(evaluator_options),
        options_(options),
        limits_(evaluator_options.limits),
        evaluator_(evaluator),
        clock_(clock),
        shared_(shared) {}

  // Takes each message text normalised by the reader (SourceItem::crlf) out of `batch`.
  std::vector<ItemResult> Run(std::vector<RawItem>& batch,
                              const std::function<std::string(const ItemResult&)>& format) {
    // One deadline covers the batch's DNS, prefetch and evaluation alike, so unreachable DNS
    // costs one deadline per batch, not one per step (what the prefetch answered is cached
    // for the rest). As in Evaluator::Evaluate, the prefetch of keys and DMARC records may use
    // half of the time, so a slow name server of one message cannot leave its SPF check none.
    const auto start = std::chrono::steady_clock::now();
    const Deadline deadline = start + limits_.deadline;
    const Deadline prefetch_deadline = start + limits_.deadline / 2;
    messages_.clear();
    messages_.resize(batch.size());
    prepared_.clear();
    prepared_.resize(batch.size());
    std::vector<DnsQuestion> questions;
    std::vector<ItemResult> results(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) Prepare(batch[i], i, &results[i], &questions);
    BatchResolver dns(shared_);
    dns.Prefetch(std::move(questions), prefetch_deadline);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + 1 < batch.size() && messages_[i + 1]) PrefetchText(messages_[i + 1]->data());
      if (messages_[i]) Evaluate(i, dns, deadline, &results[i]);
      if (format && !results[i].empty_input && results[i].notice.empty()) {
        results[i].output = format(results[i]);
      }
    }
    return results;
  }

 private:
  // Step 1 for one item: what it is, its parse, its evaluation time and DNS questions.
  void Prepare(RawItem& raw, size_t i, ItemResult* result,
               std::vector<DnsQuestion>* questions) {
    result->seq = raw.seq;
    result->name = raw.item.name;  // a copy: the reader reuses its buffers
    if (raw.empty_input) {
      result->empty_input = true;
      return;
    }
    if (!raw.item.notice.empty()) {
      result->notice = raw.item.notice;
      return;
    }
    if (!raw.item.error.ok()) {
      const Status& e = raw.item.error;
      result->error = Status(e.code(), "cannot read: " + e.message());
      return;
    }
    result->bytes = raw.item.crlf ? raw.item.stored_size : raw.item.bytes.size();
    std::unique_ptr<std::string> buffer;
    if (!spare_.empty()) {
      buffer = std::move(spare_.back());
      spare_.pop_back();
    } else {
      buffer = std::make_unique<std::string>();
    }
    if (raw.item.crlf) {
      // The reader's copy is already the text Parse would make: the message takes it, and
      // the item gets the spare buffer's storage to fill next time.
      buffer->clear();
      buffer->swap(raw.item.bytes);
    }
    Result<Message> m =
        raw.item.crlf
            ? Message::ParseNormalised(std::move(buffer), limits_)
            : Message::Parse(raw.item.bytes, limits_, raw.item.original_size, std::move(buffer));
    if (!m.ok()) {
      result->error = Status(m.status().code(), "not a message: " + m.status().message());
      return;
    }
    const Message& message = messages_[i].emplace(std::move(m).value());
    if (options_.envelope_from_received || options_.compare_authres) {
      result->delivered = EnvelopeFromReceived(message, options_.received_host);
    }
    SetEvaluationTime(message, result);
    clock_.Set(result->evaluated_at);  // Prepare checks signature times
    prepared_[i] = evaluator_.Prepare(message);
    questions->insert(questions->end(), prepared_[i].questions.begin(),
                      prepared_[i].questions.end());
  }

  // --at, the top Received field's date, or now (docs/archive.md).
  void SetEvaluationTime(const Message& message, ItemResult* result) const {
    int64_t at = system_.Now();
    TimeSource source = TimeSource::kNow;
    if (options_.time_mode == TimeMode::kFixed) {
      at = options_.at;
      source = TimeSource::kFixed;
    } else if (options_.time_mode == TimeMode::kReceived) {
      if (auto t = TopReceivedTime(message)) {
        at = *t;
        source = TimeSource::kReceived;
      }
    }
    result->evaluated_at = at;
    result->evaluated_at_source = source;
  }

  // The key record text the verifier used for `d` (the first TXT record that reads as a key),
  // from the batch's answers (already asked: no new DNS question); "" when there is none.
  static std::string KeyRecordOf(const DkimResult& d, Resolver& dns, Deadline deadline) {
    const DnsQuestion q{ToLower(d.selector + "._domainkey." + d.domain), RRType::kTXT};
    std::vector<DnsAnswer> answers = dns.Resolve(std::span<const DnsQuestion>(&q, 1), deadline);
    if (answers.empty() || answers[0].outcome != DnsOutcome::kOk) return "";
    for (const ResourceRecord& rr : answers[0].records) {
      if (rr.type == RRType::kTXT &&
          InspectDkimKeyRecord(rr.data).problem == DkimReason::kNone) {
        return rr.data;
      }
    }
    return "";
  }

  // Step 2 for one parsed message: the evaluation and what the archive adds to it.
  void Evaluate(size_t i, Resolver& dns, Deadline deadline, ItemResult* result) {
    clock_.Set(result->evaluated_at);
    const Envelope& envelope = !options_.envelope_from_received ? options_.envelope
                               : result->delivered->found       ? result->delivered->envelope
                                                                : kNoEnvelope;
    result->evaluation =
        evaluator_.Evaluate(*messages_[i], std::move(prepared_[i]), envelope, dns, deadline);
    // Issue 17: a body hash failure says why where that can be told (text appended, LF line
    // ends, white space, mbox ">From " quoting), and so does a header hash failure (Subject
    // tag, From rewritten, a field added, white space under c=simple). The A-R is written
    // again with the cause (its reason= is where a reader of the message looks); the two
    // hashes go to the detail only.
    size_t hint_budget = kQuotingBudgetBytes;
    HeaderHintBudget header_budget;
    std::vector<std::pair<size_t, std::string>> hashes;
    bool hinted = false;
    result->dkim_causes.assign(result->evaluation.dkim.size(), ItemResult::DkimCause());
    for (size_t k = 0; k < result->evaluation.dkim.size(); ++k) {
      DkimResult& d = result->evaluation.dkim[k];
      std::string cause;
      if (d.reason == DkimReason::kSignatureMismatch) {
        HeaderHashHint hint = ExplainHeaderHash(*messages_[i], d, KeyRecordOf(d, dns, deadline),
                                                &header_budget);
        cause = std::move(hint.cause);
        if (!hint.kind.empty()) result->dkim_causes[k] = {"header hash: " + hint.kind, cause};
      } else {
        BodyHashHint hint = ExplainBodyHash(*messages_[i], d, &hint_budget);
        cause = std::move(hint.cause);
        if (!hint.kind.empty()) result->dkim_causes[k] = {"body hash: " + hint.kind, cause};
        if (hint.kind.empty() && d.reason == DkimReason::kBodyHashMismatch) {
          result->dkim_causes[k].kind = "body hash: not explained";
        }
        if (!hint.hashes.empty()) hashes.emplace_back(k, std::move(hint.hashes));
      }
      // The verifier's detail for these two is only the reason again ("body hash did not
      // verify"): the cause takes its place, so the A-R reason= (reason: detail) says each once.
      if (!cause.empty()) {
        const bool generic = d.detail == "body hash did not verify" ||
                             d.detail == "signature did not verify";
        d.detail = generic || d.detail.empty() ? cause : d.detail + "; " + cause;
      }
      hinted = hinted || !cause.empty();
    }
    if (hinted) {
      Result<AuthResHeader> header = WriteAuthResults(
          AuthResInputOf(result->evaluation, envelope), evaluator_options_.authres);
      if (header.ok()) result->evaluation.authres = std::move(header).value();
    }
    for (auto& [k, text] : hashes) result->evaluation.dkim[k].detail += " (" + text + ")";
    if (options_.compare_authres) {
      result->comparison =
          CompareWithRecorded(*messages_[i], evaluator_options_.authres.authserv_id,
                              result->delivered->received_index, &result->evaluation);
    }
    if (options_.observe) options_.observe(*messages_[i], *result, envelope);
    if (!options_.envelope_from_received) result->delivered.reset();
    // The text's storage serves the next message (glibc's malloc of ~10 KB blocks is its
    // slow path), unless it is large: kept are at most a batch of up to 64 KiB each.
    std::unique_ptr<std::string> buffer = std::move(*messages_[i]).TakeBuffer();
    if (buffer && buffer->capacity() <= kKeptItemBytes && spare_.size() < options_.batch) {
      spare_.push_back(std::move(buffer));
    }
    messages_[i].reset();
  }

  const EvaluatorOptions& evaluator_options_;
  const RunnerOptions& options_;
  const Limits& limits_;
  Evaluator& evaluator_;
  FixedClock& clock_;
  Resolver& shared_;
  SystemClock system_;
  std::vector<std::optional<Message>> messages_;  // of the current batch
  std::vector<std::unique_ptr<std::string>> spare_;  // texts of evaluated messages, for reuse
  std::vector<Evaluator::Prepared> prepared_;
};

// Back to the reader, emptied. A buffer that a large message grew is released rather than
// kept: what the pool keeps stays small (at most kKeptItemBytes per item).
void Empty(std::vector<RawItem>* batch) {
  for (RawItem& r : *batch) {
    if (r.item.bytes.capacity() > kKeptItemBytes) std::string().swap(r.item.bytes);
    r.item.bytes.clear();
    r.item.error = Status();
    r.item.original_size = 0;
    r.empty_input = false;
    r.item.notice.clear();
  }
}

}  // namespace

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
  Reorder reorder(options_.skip, options_.jobs * options_.batch * 4 + 1, options_.jobs, sink);

  std::thread reader([&] {
    BatchFiller filler(options_, queue);
    for (const std::string& arg : paths) filler.Read(arg);
    const uint64_t total = filler.Finish();
    queue.Close();
    reorder.SetTotal(total);
  });

  std::vector<std::thread> workers;
  for (size_t w = 0; w < options_.jobs; ++w) {
    workers.emplace_back([&, w] {
      BatchEvaluator evaluate(evaluator_options_, options_, *evaluators[w], *clocks[w],
                              resolver_);
      std::vector<RawItem> batch;
      while (queue.Pop(&batch)) {
        std::vector<ItemResult> results = evaluate.Run(batch, format);
        Empty(&batch);
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
