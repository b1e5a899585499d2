// Parallel re-verification of many messages (files, mbox, maildir) with DNS asked in batches
// and shared across workers. Results come back in input order, streaming: memory stays
// bounded by the batch sizes, whatever the archive size.
//
// Threads: `jobs` workers; the calling thread waits. Each worker reads the next batch of
// messages from the inputs (one worker at a time), parses them, asks every DNS question of the
// batch in one Resolve call (so c-ares asks them in parallel and the shared cache answers the
// rest), then evaluates each message with its own Evaluator. Results reach the sink in input
// order from whichever worker finishes the next batch.
#ifndef CREDENCE_PLUGIN_ARCHIVE_RUNNER_H_
#define CREDENCE_PLUGIN_ARCHIVE_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "archive/delivered.h"
#include "archive/mailbox.h"
#include "credence/dns.h"
#include "credence/policy/evaluate.h"
#include "credence/status.h"

namespace credence {

// Which moment signature times (x=, t=) are judged at.
enum class TimeMode {
  kNow,       // the system clock (default)
  kFixed,     // RunnerOptions::at
  kReceived,  // the date of the message's topmost Received field (now, if it has none)
};

// Where ItemResult::evaluated_at came from.
enum class TimeSource {
  kNow,       // the system clock at evaluation (also kReceived without a parsable date)
  kFixed,     // --at TIME
  kReceived,  // the date of the message's topmost Received field
};
// "now", "at", "received" (the JSON field evaluated_at_source).
const char* TimeSourceName(TimeSource source);

struct ItemResult;

struct RunnerOptions {
  size_t jobs = 0;    // worker threads; 0 = the number of cores
  size_t batch = 32;  // messages per DNS batch
  // A batch is also closed once its messages hold this many bytes, so that the message bytes
  // in flight (one batch per worker: each text is held once, as read and then as parsed) stay
  // near jobs * batch_bytes whatever the message sizes, plus each worker's buffers kept for
  // reuse (at most 64 KiB per message slot). Default 2 MiB.
  size_t batch_bytes = 2u << 20;
  SourceOptions source;
  TimeMode time_mode = TimeMode::kNow;
  int64_t at = 0;     // for kFixed: seconds since the epoch
  Envelope envelope;  // the same envelope for every message (usually empty: SPF none)
  // Each message's own envelope from its topmost Received field (and a Return-Path above it),
  // instead of `envelope` (credence verify --envelope received[=HOST]; archive/delivered.h).
  bool envelope_from_received = false;
  std::string received_host;  // "" = the topmost Received field, whatever host wrote it
  // Compare our own recorded A-R (authserv-id of the evaluator options) with today's verdict
  // (--compare-authres); the recorded field is then not listed as forged.
  bool compare_authres = false;
  // Resuming an interrupted run (credence verify --resume): the first `skip` items (by seq,
  // the numbering a run of the same inputs gives) are read but neither evaluated nor handed
  // to the sink; the first item delivered has seq == skip.
  uint64_t skip = 0;
  // Called in the worker threads (several at once) after each message is evaluated, with the
  // message, its result and the envelope used (credence verify --history records it).
  std::function<void(const Message&, const ItemResult&, const Envelope&)> observe;
};

struct ItemResult {
  uint64_t seq = 0;           // 0-based position in the input
  std::string name;           // "file", "mbox:N", "maildir/cur/x"
  Status error;               // not OK: the item could not be read or parsed
  Evaluation evaluation;      // valid when error is OK
  int64_t evaluated_at = 0;   // the time signatures were judged at
  TimeSource evaluated_at_source = TimeSource::kNow;  // and where that time came from
  size_t bytes = 0;           // size of the message as read (for progress and rates)
  std::string output;         // what Run's `format` made of this result (in the worker)
  std::optional<DeliveredEnvelope> delivered;   // with envelope_from_received
  std::optional<AuthResComparison> comparison;  // with compare_authres
  // One per evaluation.dkim entry: what a failed body or header hash is put down to
  // (archive/body_hint.h, archive/header_hint.h); both empty when the signature did not fail
  // on a hash, or no cause was found for a body hash.
  struct DkimCause {
    std::string kind;      // for the summary: "body hash: footer appended", "header hash: ..."
    std::string sentence;  // as added to the signature's detail
  };
  std::vector<DkimCause> dkim_causes;
  // Not a message: `name` is an input (path) that held none (an empty file, an mbox of only
  // a "From " line, a maildir with no files). `output` stays empty; error is OK.
  bool empty_input = false;
  // Not a message either: what reading tells about the input at `name` (SourceItem::notice,
  // a Maildir++ subfolder left unread). `output` stays empty; error is OK.
  std::string notice;
};


class Runner {
 public:
  // `resolver` is shared by every worker and must be thread-safe (wrap one that is not with
  // MakeSerializedResolver).
  Runner(const EvaluatorOptions& evaluator_options, const RunnerOptions& options,
         Resolver& resolver);

  // Verifies every message of every path, calling `sink` in input order, one call at a time
  // (from the worker threads: the worker that finishes the next batch in order delivers it;
  // each call happens-after the previous one, so a sink needs no lock of its own). `format`,
  // when given, runs in the worker threads (in parallel) and its text is put in
  // ItemResult::output, so the sink only writes. A path that cannot be opened gives one error
  // item; a path that holds no message gives one ItemResult with empty_input set. Returns an
  // error only when an Evaluator cannot be created (bad options).
  Status Run(const std::vector<std::string>& paths, const std::function<void(ItemResult&&)>& sink,
             const std::function<std::string(const ItemResult&)>& format = nullptr);

 private:
  EvaluatorOptions evaluator_options_;
  RunnerOptions options_;
  Resolver& resolver_;
};

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_RUNNER_H_
