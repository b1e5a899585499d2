#include "archive/runner.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
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
// One worker's, for one batch (the shared cache keeps TTLs). An answer the shared resolver
// pins (zone files: ZoneResolver::Pinned) is neither asked nor copied here: it is read where
// the shared resolver holds it.
class BatchResolver final : public Resolver {
 public:
  explicit BatchResolver(Resolver& shared) : shared_(shared) {}

  // `questions` leaves out what the shared resolver pins (BatchEvaluator::Prepare).
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
      if (const DnsAnswer* held = Pinned(questions[i].name, questions[i].type)) {
        answers[i] = *held;
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
  // move when it grows, and nothing is ever erased; the shared resolver's pinned ones outlive
  // the batch.
  const DnsAnswer* Pinned(std::string_view name, RRType type) const override {
    if (!known_.empty()) {
      auto it = known_.find(KeyView{name, type});
      if (it != known_.end()) return &it->second;
    }
    return shared_.Pinned(name, type);
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
      return AsciiCaseHash(key.first, static_cast<uint16_t>(key.second));
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
  // Line ends are normalised as each mbox message is copied (Message::ParseNormalised).
  options_.source.normalise_up_to = evaluator_options_.limits.max_message_bytes;
}

namespace {

// Fills batches of RawItems from the inputs, in order, one batch a call. There is no reader
// thread: the worker about to evaluate a batch reads it (under the run's read lock), so the
// message bytes are copied on the core that then evaluates them, into that worker's own
// buffers, still in its caches from the batch before. (With a reader thread, two workers took
// 5-12% more CPU than one: the reader's copy went into buffers a worker on the other core had
// just read.)
class BatchFiller {
 public:
  BatchFiller(const RunnerOptions& options, const std::vector<std::string>& paths)
      : options_(options), paths_(paths) {}

  // Fills `batch` with the next items (its RawItems are reused: their strings keep their
  // capacity). False, with `batch` empty, once every input has been read.
  bool Next(std::vector<RawItem>* batch) {
    batch_ = batch;
    used_ = 0;
    batch_bytes_ = 0;
    while (used_ < options_.batch && batch_bytes_ < options_.batch_bytes && Step()) {
    }
    batch->resize(used_);
    batch_ = nullptr;
    return used_ > 0;
  }

  // The number of items of the whole run, once Next has returned false.
  uint64_t total() const { return seq_; }

 private:
  // Adds the next item to the batch (or skips one); false when every input is done.
  bool Step() {
    if (!src_) return Open();
    RawItem& r = NextSlot();
    if (!src_->Next(&r.item)) {
      --used_;
      src_.reset();
      if (only_ > 0 && !found_) {
        Add(wanted_,
            Status::NotFound("no message " + std::to_string(only_) + " in " + path_), false);
      } else if (items_ == 0) {
        Add(path_, Status(), true);
      }
      return true;
    }
    if (only_ > 0) {
      // The addressed message (a single message file is path:1), and every error that is
      // not about another message (a damaged file's own error item).
      const bool match = r.item.name == wanted_ || (only_ == 1 && r.item.name == path_);
      const bool file_error = !r.item.error.ok() && r.item.name == path_;
      if (!match && !file_error) {
        --used_;
        return true;
      }
      found_ = found_ || match;
    }
    if (r.item.notice.empty()) ++items_;
    r.seq = seq_++;
    if (r.seq < options_.skip) {  // delivered by the run this one resumes
      --used_;
      return true;
    }
    batch_bytes_ += r.item.bytes.size();  // what the batch holds (normalised text included)
    return true;
  }

  // Opens the next input ("box.mbox:42": only that message of box.mbox, the name the output
  // gave it); an error item when it cannot be opened. False when there is none left.
  bool Open() {
    if (next_path_ == paths_.size()) return false;
    const std::string& arg = paths_[next_path_++];
    path_ = arg;
    only_ = 0;
    wanted_.clear();
    items_ = 0;
    found_ = false;
    if (SplitMessageAddress(arg, &path_, &only_)) wanted_ = arg;
    Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path_, options_.source);
    if (!src.ok()) {
      // The source already names the path; keep only what went wrong.
      Status e = src.status();
      const std::string& m = e.message();
      if (m.rfind(path_ + ": ", 0) == 0) e = Status(e.code(), m.substr(path_.size() + 2));
      Add(path_, std::move(e), false);
      return true;
    }
    src_ = std::move(src).value();
    return true;
  }

  RawItem& NextSlot() {
    if (used_ == batch_->size()) batch_->emplace_back();
    return (*batch_)[used_++];
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
  }

  const RunnerOptions& options_;
  const std::vector<std::string>& paths_;
  size_t next_path_ = 0;
  // The input being read, and what is known of it so far.
  std::unique_ptr<MessageSource> src_;
  std::string path_, wanted_;
  uint64_t only_ = 0;   // the message asked for by address (path:N), or 0 for all
  uint64_t items_ = 0;  // messages and error items read from it
  bool found_ = false;  // the addressed message was read
  std::vector<RawItem>* batch_ = nullptr;  // the batch being filled
  size_t used_ = 0;                        // its items filled so far
  size_t batch_bytes_ = 0;
  uint64_t seq_ = 0;
};

// Asks the CPU to bring the start of `text` into its caches (the next message's, while this
// one's RSA verification runs): it was copied when the batch was read, and a batch's texts do
// not all stay in them. Up to 64 KiB: more would not stay until it is read.
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

  // Takes each message text normalised as it was read (SourceItem::crlf) out of `batch`.
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
    result->name = raw.item.name;  // a copy: the batch's items are reused
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
      // The copy read is already the text Parse would make: the message takes it, and the
      // item gets the spare buffer's storage to fill next time.
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
    for (const DnsQuestion& q : prepared_[i].questions) {
      // What the shared resolver pins (zone files) is read in place: no copy to ask it.
      if (shared_.Pinned(q.name, q.type) == nullptr) questions->push_back(q);
    }
  }

  // --at received: the date of the Received field the envelope rule trusts. Without
  // --envelope received, the topmost field; with it, the field EnvelopeFromReceived took
  // (the topmost, when it names HOST): a field it did not trust is not ours, and its date is
  // whatever the sender wrote (an x= that expired long ago would pass). None trusted: nullopt
  // (judged now), and the envelope's note says so.
  static std::optional<int64_t> ReceivedTime(const Message& message, ItemResult* result) {
    if (!result->delivered) return TopReceivedTime(message);
    DeliveredEnvelope& d = *result->delivered;
    if (!d.received_index) {
      d.note += "; --at received: judged now (no Received field of this server to date it)";
      return std::nullopt;
    }
    std::optional<int64_t> t = ReceivedFieldTime(message.headers()[*d.received_index]);
    if (!t) d.note += "; --at received: judged now (the date of this server's Received field does not parse)";
    return t;
  }

  // --at, the top Received field's date, or now (docs/archive.md).
  void SetEvaluationTime(const Message& message, ItemResult* result) const {
    int64_t at = system_.Now();
    TimeSource source = TimeSource::kNow;
    if (options_.time_mode == TimeMode::kFixed) {
      at = options_.at;
      source = TimeSource::kFixed;
    } else if (options_.time_mode == TimeMode::kReceived) {
      if (auto t = ReceivedTime(message, result)) {
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

// Emptied for the worker's next batch. A buffer that a large message grew is released rather
// than kept: what a batch keeps stays small (at most kKeptItemBytes per item).
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

  Reorder reorder(options_.skip, options_.jobs * options_.batch * 4 + 1, options_.jobs, sink);
  BatchFiller filler(options_, paths);
  std::mutex read_mu;  // one worker at a time reads the inputs (filler, read_done)
  bool read_done = false;

  std::vector<std::thread> workers;
  for (size_t w = 0; w < options_.jobs; ++w) {
    workers.emplace_back([&, w] {
      BatchEvaluator evaluate(evaluator_options_, options_, *evaluators[w], *clocks[w],
                              resolver_);
      std::vector<RawItem> batch;  // this worker's: its buffers are reused batch after batch
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(read_mu);
          if (read_done) break;
          if (!filler.Next(&batch)) {
            read_done = true;
            reorder.SetTotal(filler.total());
            break;
          }
        }
        std::vector<ItemResult> results = evaluate.Run(batch, format);
        Empty(&batch);
        reorder.PutBatch(w, std::move(results));
        reorder.Bury(w);
      }
    });
  }

  reorder.WaitDone();
  for (std::thread& t : workers) t.join();
  return Status();
}

}  // namespace credence
