// `credence verify [options] INPUT...`: verifies every message of every input (message files,
// mbox, gzip mbox, maildir, stdin) in parallel with one DNS cache for the run, and prints one
// report per message in input order (text or JSON Lines), a progress line on a terminal and a
// closing summary on stderr.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "credence/ascii.h"
#include "archive/runner.h"
#include "command.h"
#include "credence/policy/config.h"
#include "credence/policy/history.h"
#include "options.h"
#include "output.h"
#include "report.h"
#include "resume.h"

namespace credence::cli {
namespace {

// Bytes the inputs hold, for the progress ETA; 0 when unknown (stdin, gzip).
uint64_t InputBytes(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (p == "-" || p.ends_with(".gz")) return 0;
    if (fs::is_directory(p, ec)) {
      for (const char* sub : {"/cur", "/new"}) {
        for (const auto& e : fs::directory_iterator(p + sub, ec)) {
          if (e.is_regular_file(ec)) total += e.file_size(ec);
        }
      }
    } else if (fs::is_regular_file(p, ec)) {
      total += fs::file_size(p, ec);
    }
  }
  return total;
}

// The --record FILE: made first as a temporary file beside FILE (so a place that cannot be
// written is known before the first message, with the reason), written whole at the end and
// renamed over FILE (so an interrupted run leaves no half recording and no half-old one).
class RecordFile {
 public:
  ~RecordFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }

  Status Open(const std::string& path) {
    path_ = path;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::IoError("is a directory");
      if (::access(path.c_str(), W_OK) != 0) return Status::IoError(std::strerror(errno));
    }
    std::string tmp = path + ".XXXXXX";
    fd_ = ::mkstemp(tmp.data());
    if (fd_ < 0) return Status::IoError(std::strerror(errno));
    tmp_ = tmp;
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
    ::fchmod(fd_, 0644);  // as a file made with the usual umask, not mkstemp's 0600
    return Status::Ok();
  }

  Status Commit(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::IoError(std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Status::IoError(std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Status::IoError(std::strerror(errno));
    tmp_.clear();
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// The recording's end: written, and loud when it holds temporary failures (evidence that
// cannot reproduce the run). Returns the exit code it adds.
int FinishRecording(const Resolver& recording, const std::string& path, RecordFile* file) {
  Result<std::string> zone = RecordedZoneText(recording);
  Status written = zone.ok() ? file->Commit(*zone) : zone.status();
  if (!written.ok()) {
    std::fprintf(stderr, "credence verify: --record %s: cannot write the zone file: %s\n",
                 path.c_str(), written.message().c_str());
    return kExitInputError;
  }
  Result<std::vector<std::string>> failed = RecordedTempFailures(recording);
  if (!failed.ok() || failed->empty()) return kExitOk;
  std::string names;
  for (size_t i = 0; i < failed->size() && i < 3; ++i) names += (i ? ", " : "") + (*failed)[i];
  if (failed->size() > 3) names += ", ...";
  std::fprintf(stderr,
               "credence verify: --record %s: %zu DNS question(s) got a temporary failure (%s):"
               " the recording does not hold their answers, so it cannot reproduce this run's "
               "verdicts for them (a replay answers them as temporary failures again)\n",
               path.c_str(), failed->size(), names.c_str());
  return kExitInputError;
}

// The notice for an input that held no message: what it was, in words.
std::string EmptyInputNotice(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string what = "no message in it";
  if (path == "-") {
    what = "standard input held no message";
  } else if (fs::is_directory(path, ec)) {
    what = "a maildir with no message files in cur/ or new/";
  } else if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == 0) {
    what = "an empty file (0 bytes)";
  } else {
    what = "an mbox with no message in it (an emptied mailbox)";
  }
  return "credence verify: " + path + ": 0 messages: " + what + "\n";
}

// `name` is `domain` or below it ("mail.example.com" is below "example.com").
bool AtOrBelow(const std::string& name, const std::string& domain) {
  const std::string n = ToLower(name);
  return n == domain || (n.size() > domain.size() && n.ends_with(domain) &&
                         n[n.size() - domain.size() - 1] == '.');
}

// --only failing and --domain: whether a result is printed. Errors always are.
bool Printed(const ItemResult& r, const VerifyOptions& o) {
  if (!r.error.ok()) return true;
  const Evaluation& ev = r.evaluation;
  if (o.only == "failing") {
    bool failing = ev.dmarc.verdict == DmarcVerdict::kFail ||
                   ev.dmarc.verdict == DmarcVerdict::kTempError ||
                   ev.dmarc.verdict == DmarcVerdict::kPermError;
    for (const DkimResult& d : ev.dkim) failing = failing || d.result != DkimVerdict::kPass;
    if (!failing) return false;
  }
  if (!o.domains.empty()) {
    bool mine = false;
    for (std::string d : o.domains) {
      d = ToLower(d);
      while (!d.empty() && d.back() == '.') d.pop_back();
      mine = mine || AtOrBelow(ev.dmarc.from_domain, d);
      for (const DkimResult& s : ev.dkim) mine = mine || AtOrBelow(s.domain, d);
    }
    if (!mine) return false;
  }
  return true;
}

// The options that shape the output, as one line: what a resumed run must share with the run
// it goes on with (--jobs does not: the order is the same whatever it is).
std::string OutputShapingOptions(const VerifyOptions& o) {
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& x : v) out += (out.empty() ? "" : ",") + x;
    return out;
  };
  const bool max_given = o.max_signatures_option != nullptr && o.max_signatures_option->count();
  return "format=" + o.format + " at=" + o.at + " only=" + o.only + " domain=" +
         list(o.domains) + " envelope=" + o.envelope + " client-ip=" + o.client_ip +
         " helo=" + o.helo + " mail-from=" + o.mail_from +
         " compare-authres=" + (o.compare_authres ? "yes" : "no") +
         " authserv-id=" + o.authserv_id + " config=" + o.config +
         " max-signatures=" + (max_given ? std::to_string(o.max_signatures) : "") +
         " mbox-format=" + o.mbox_format +
         " maildir-subfolders=" + (o.maildir_subfolders ? "yes" : "no") + " dns=" + o.dns.dns +
         " zone=" + list(o.dns.zones);
}

// Set by SIGINT/SIGTERM while a --resume run is on: the next result saves the state and ends
// the run.
std::atomic<int> g_stop_signal{0};
extern "C" void OnStopSignal(int sig) { g_stop_signal.store(sig); }

// Where the reports go (--output FILE or standard output), and with --resume the state that
// lets an interrupted run go on: the output is fsync'd, then STATE replaced, so STATE never
// counts a result whose bytes could be lost.
class ReportSink {
 public:
  ~ReportSink() {
    if (file_ != nullptr && file_ != stdout) std::fclose(file_);
  }
  FILE* file() const { return file_; }
  uint64_t skip() const { return state_.done; }
  double seconds_before() const { return state_.seconds; }
  bool resuming() const { return !path_.empty(); }
  bool complete() const { return state_.complete; }  // STATE said the run had finished
  const std::string& path() const { return path_; }
  // The results delivered so far, counting those of the runs this one goes on with.
  uint64_t delivered() const { return std::max(delivered_, state_.done); }

  // Opens the output and, with --resume, reads or starts STATE (and cuts the output back to
  // what STATE counts). Every error comes before the first message. `csv_header`: written
  // first by a run that starts (not by one that goes on).
  Status Open(const VerifyOptions& o, const char* csv_header, Summary* summary) {
    path_ = o.resume;
    if (!resuming()) {
      if (o.output.empty()) {
        file_ = stdout;
      } else if ((file_ = std::fopen(o.output.c_str(), "w")) == nullptr) {
        return Status::IoError("--output " + o.output + ": " + std::strerror(errno));
      }
      UseLargeBuffer();
      if (csv_header != nullptr) std::fputs(csv_header, file_);
      return Status::Ok();
    }
    if (!o.record.empty() || o.history) {
      return Status::Invalid("--resume cannot be combined with --record or --history (a "
                             "resumed run would record only its own part)");
    }
    ResumeState now;
    Result<std::vector<std::string>> inputs = InputFingerprints(o.files);
    if (!inputs.ok()) return Status::Invalid("--resume: " + inputs.status().message());
    now.inputs = std::move(inputs).value();
    now.options = OutputShapingOptions(o);
    now.output = o.output.empty() ? "-" : o.output;
    Result<std::optional<ResumeState>> saved = ReadResumeState(path_);
    if (!saved.ok()) return Status::Invalid("--resume " + saved.status().message());
    const bool again = saved->has_value();
    if (again) {
      const std::string why = ResumeMismatch(**saved, now);
      if (!why.empty()) {
        return Status::Invalid("--resume " + path_ + ": cannot go on: " + why +
                               "; delete it to start again");
      }
    }
    int fd = STDOUT_FILENO;
    if (!o.output.empty()) {
      fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (again ? 0 : O_TRUNC),
                  0644);
      if (fd < 0) return Status::IoError("--output " + o.output + ": " + std::strerror(errno));
    }
    Status opened = Position(fd, again ? &**saved : nullptr, summary);
    if (!opened.ok()) {
      if (fd != STDOUT_FILENO) ::close(fd);
      return opened;
    }
    if (!again) {
      state_ = std::move(now);
      state_.output_start = size_;
      state_.output_bytes = size_;
    }
    file_ = fd == STDOUT_FILENO ? stdout : ::fdopen(fd, "w");
    if (file_ == nullptr) return Status::IoError(std::strerror(errno));
    UseLargeBuffer();
    if (!again && csv_header != nullptr) std::fputs(csv_header, file_);
    // STATE is written before the first message: a place that cannot hold it is known now.
    if (Status w = Save(state_.done, *summary, 0, state_.complete); !w.ok()) {
      return Status::IoError("--resume " + path_ + ": cannot write there: " + w.message());
    }
    std::signal(SIGINT, OnStopSignal);
    std::signal(SIGTERM, OnStopSignal);
    return Status::Ok();
  }

  // After result `seq` was handled: saves at most once a second.
  Status Progress(uint64_t seq, const Summary& summary, double seconds) {
    delivered_ = seq + 1;
    if (!resuming()) return Status::Ok();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_save_ < std::chrono::seconds(1)) return Status::Ok();
    last_save_ = now;
    return Save(delivered_, summary, seconds, false);
  }

  // The output made durable, then STATE says `done` results are in it.
  Status Save(uint64_t done, const Summary& summary, double seconds, bool complete) {
    if (!resuming()) return Status::Ok();
    if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
      return Status::IoError("the output: " + std::string(std::strerror(errno)));
    }
    struct stat st;
    if (::fstat(fileno(file_), &st) != 0) return Status::IoError(std::strerror(errno));
    ResumeState s = state_;
    s.done = done;
    s.output_bytes = static_cast<uint64_t>(st.st_size);
    s.seconds = state_.seconds + seconds;
    s.complete = complete;
    s.summary = summary.Save();
    return WriteResumeState(path_, s);
  }

 private:
  static constexpr size_t kBufferBytes = 64 << 10;

  // A JSON result is ~2 KB: stdio's default buffer (the block size, 4 KiB here) made a
  // write(2) per two messages, 64 KiB one per ~30. Not for a terminal, where Delivery flushes
  // each line as it comes. Called before the first byte goes out (setvbuf's rule); standard
  // output gets a static buffer, as it outlives the sink, and only once per process.
  void UseLargeBuffer() {
    if (isatty(fileno(file_)) == 1) return;
    if (file_ == stdout) {
      static char stdout_buffer[kBufferBytes];
      static bool set = false;
      if (!set) std::setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
      set = true;
      return;
    }
    buffer_ = std::make_unique<char[]>(kBufferBytes);  // freed after the destructor's fclose
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferBytes);
  }

  // The output must be a regular file (its bytes can be counted and cut back); going on, it
  // is cut to what STATE counts and the counters are loaded. Leaves the offset at the end.
  Status Position(int fd, const ResumeState* saved, Summary* summary) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::Invalid("--resume needs the reports in a file: --output FILE, or standard "
                             "output appended to a file (>> FILE), not a pipe or terminal");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (saved != nullptr) {
      if (size_ < saved->output_bytes) {
        return Status::Invalid("--resume " + path_ + ": the output holds " +
                               std::to_string(size_) + " bytes, fewer than the " +
                               std::to_string(saved->output_bytes) +
                               " written before: it was emptied or replaced (append with "
                               "'>>', not '>')");
      }
      if (!summary->Load(saved->summary)) {
        return Status::Invalid("--resume " + path_ + ": its summary counters do not read");
      }
      // What the stopped run wrote after its last save is written again, from the same place.
      if (::ftruncate(fd, static_cast<off_t>(saved->output_bytes)) != 0) {
        return Status::IoError("--resume: cannot cut the output back: " +
                               std::string(std::strerror(errno)));
      }
      state_ = *saved;
    }
    ::lseek(fd, 0, SEEK_END);
    return Status::Ok();
  }

  std::string path_;  // --resume STATE; "" without
  FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;  // file_'s stdio buffer (not for standard output)
  ResumeState state_;
  uint64_t size_ = 0;  // the output's size when opened
  uint64_t delivered_ = 0;
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
};

// Where each result goes, in input order: to the output (errors of text output to stderr),
// counted in the summary and the progress line; notices to stderr.
class Delivery {
 public:
  Delivery(const VerifyOptions& options, OutputFormat format, FILE* out, Summary* summary,
           uint64_t input_bytes)
      : options_(options),
        format_(format),
        out_(out),
        // Results written to a terminal would land on the progress line: erase it first.
        out_tty_(isatty(fileno(out)) == 1),
        summary_(summary),
        progress_(isatty(STDERR_FILENO) == 1 && !options.quiet, input_bytes),
        exit_code_(summary->errors() > 0 ? kExitInputError : kExitOk) {}

  void Report(ItemResult&& r) {
    if (r.empty_input || !r.notice.empty()) {
      // Printed with --quiet too: each says what was not read, or read another way.
      progress_.Hide();
      const std::string line = r.empty_input
                                   ? EmptyInputNotice(r.name)
                                   : "credence verify: " + r.name + ": " + r.notice + "\n";
      std::fputs(line.c_str(), stderr);
      return;
    }
    if (!r.error.ok()) exit_code_ = kExitInputError;
    if (Printed(r, options_)) Write(r);
    summary_->Add(r);
    progress_.Add(r);
  }

  Progress& progress() { return progress_; }
  // 1 once an input could not be read (kExitInputError), else 0.
  int exit_code() const { return exit_code_; }

 private:
  void Write(const ItemResult& r) {
    const bool to_stderr = format_ == OutputFormat::kText && !r.error.ok();
    if (out_tty_ || to_stderr) progress_.Hide();
    if (to_stderr) {
      std::fflush(out_);
      std::fputs(r.output.c_str(), stderr);
    } else {
      std::fwrite(r.output.data(), 1, r.output.size(), out_);
      if (out_tty_) std::fflush(out_);
    }
  }

  const VerifyOptions& options_;
  const OutputFormat format_;
  FILE* out_;
  const bool out_tty_;
  Summary* summary_;
  Progress progress_;
  int exit_code_;
};

class VerifyCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "verify",
        "Verify DKIM, SPF and DMARC of each message (files, mbox, maildir, stdin) and print "
        "one report per message");
    app->footer(
        "JSON output (--format json) is one object per message per line: {\"file\", "
        "\"evaluated_at\", \"evaluated_at_source\", \"dkim\": [{result, reason, detail, domain, selector, algorithm, "
        "canonicalization, identity, testing, key_bits, body_length, unsigned_body_bytes, "
        "unsigned_fields, timestamp, expiration, signed_headers, header_b, header_index}, ...] (header order, "
        "top first), \"spf\": {result, identity, domain, sender, explanation, detail, "
        "dns_queries, limit_reached}, \"spf_helo\", \"dmarc\": {result, domain, org_domain, "
        "record_domain, policy, policy_tag, disposition, testing, from_problem, "
        "temporary_identifier, local_policy, ...}, \"arc\": {result, reason, detail, "
        "oldest_pass, sealers, sets}, \"authentication_results\", "
        "\"limits\", \"score\", "
        "\"symbols\": [{name, weight, description}], \"forged_authentication_results\"}, "
        "with --envelope an \"envelope\" and with --compare-authres a \"compare_authres\" "
        "member; or "
        "{\"file\", \"error\"} for an input that could not be read. An input with no message "
        "(0 bytes, an mbox of only a From line, an empty maildir) is 0 messages, said on "
        "stderr; a 0-byte file inside a maildir is an error. Any other bytes are judged "
        "(limits fail closed). docs/cli.md has every field.\n"
        "Exit codes: 0 every input was verified (whatever the verdicts), 1 at least one input "
        "could not be read (a cut or corrupt gzip, an xz/bzip2/zstd file, a maildir folder "
        "that cannot be listed, a file that shrank while read included) or --record holds "
        "temporary DNS failures, 2 usage or configuration error.");
    AddVerifyOptions(app, &options_);
    return app;
  }

  int Run() override {
    Setup setup;
    if (int code = Prepare(&setup); code != kExitOk) return code;
    const OutputFormat format = FormatOf(options_);
    Summary summary;
    ReportSink sink;
    if (Status os = sink.Open(options_, format == OutputFormat::kCsv ? kCsvHeader : nullptr,
                              &summary);
        !os.ok()) {
      return Usage(os.message() + " (nothing was verified)");
    }
    setup.ro.skip = sink.skip();
    AnnounceResume(sink, setup.ro.skip);
    Delivery delivery(
        options_, format, sink.file(), &summary,
        isatty(STDERR_FILENO) == 1 && setup.ro.skip == 0 ? InputBytes(options_.files) : 0);
    const auto start = std::chrono::steady_clock::now();
    Status save_error;
    Status s = VerifyAll(setup, format, sink, summary, delivery, start, &save_error);
    std::fflush(sink.file());
    delivery.progress().Finish();
    if (!s.ok()) return Usage(s.message());
    return Finish(setup, sink, summary, delivery, start, save_error);
  }

 private:
  // What a run holds from its start to its end, in the order Prepare makes it (the resolver
  // reads the clock; the runner's options carry the history's observer).
  struct Setup {
    EvaluatorOptions eo;
    RunnerOptions ro;
    RecordFile record_file;
    SystemClock clock;
    const Resolver* recording = nullptr;  // the recorder inside `resolver` (--record)
    std::unique_ptr<Resolver> resolver;
    std::unique_ptr<HistoryWriter> history;
  };

  static double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // Checks the command line and makes what the run needs: kExitOk, or the exit status of a
  // usage error (said on stderr) before any message is read.
  int Prepare(Setup* setup) {
    // Standard input can be read once: a second "-" would only ever be empty.
    if (std::count(options_.files.begin(), options_.files.end(), std::string("-")) > 1) {
      return Usage("'-' (standard input) may be given only once");
    }
    Result<EvaluatorOptions> eo = EvaluatorOptionsOf(options_);
    if (!eo.ok()) return Usage(eo.status().message());
    setup->eo = std::move(eo).value();
    if (Status s = RunnerOptionsOf(setup->eo, &setup->ro); !s.ok()) return Usage(s.message());
    if (!options_.record.empty()) {
      if (Status rs = setup->record_file.Open(options_.record); !rs.ok()) {
        return Usage("--record " + options_.record + ": cannot write there: " + rs.message() +
                     " (nothing was verified)");
      }
    }
    Result<std::unique_ptr<Resolver>> resolver =
        MakeResolver(options_.dns, !options_.record.empty(), setup->clock, &setup->recording);
    if (!resolver.ok()) return Usage(resolver.status().message());
    setup->resolver = std::move(resolver).value();
    if (options_.history) {
      Result<std::unique_ptr<HistoryWriter>> w =
          OpenHistory(setup->eo.dmarc.org_domain_method, &setup->ro);
      if (!w.ok()) return Usage("--history: " + w.status().message());
      setup->history = std::move(w).value();
    }
    return kExitOk;
  }

  // Every input through the runner: formatting runs in the workers; this thread only
  // delivers, in input order, and saves the --resume state as it goes (*save_error: the
  // first save that failed). A stop signal ends the process here (StopOnSignal).
  Status VerifyAll(Setup& setup, OutputFormat format, ReportSink& sink, Summary& summary,
                   Delivery& delivery, std::chrono::steady_clock::time_point start,
                   Status* save_error) {
    Runner runner(setup.eo, setup.ro, *setup.resolver);
    auto formatter = [format](const ItemResult& r) {
      return format == OutputFormat::kJson  ? FormatJsonLine(r)
             : format == OutputFormat::kCsv ? FormatCsvLine(r)
                                            : FormatText(r);
    };
    return runner.Run(
        options_.files,
        [&](ItemResult&& r) {
          if (const int sig = g_stop_signal.load(); sig != 0) {
            delivery.progress().Hide();
            StopOnSignal(sig, sink, r.seq, summary, SecondsSince(start));
          }
          const uint64_t seq = r.seq;
          delivery.Report(std::move(r));
          if (Status w = sink.Progress(seq, summary, SecondsSince(start));
              !w.ok() && save_error->ok()) {
            *save_error = w;
          }
        },
        formatter);
  }

  // The end of a run that went through: the state saved as complete, the summary, the
  // recording written, the history's count; the exit status.
  int Finish(Setup& setup, ReportSink& sink, const Summary& summary, const Delivery& delivery,
             std::chrono::steady_clock::time_point start, Status save_error) {
    if (Status w = sink.Save(sink.delivered(), summary, SecondsSince(start), true);
        !w.ok() && save_error.ok()) {
      save_error = w;
    }
    int exit_code = Close(sink, save_error, delivery.exit_code());
    if (!options_.quiet && (options_.summary || summary.messages() != 1)) {
      std::fputs(summary.Format(sink.seconds_before() + SecondsSince(start)).c_str(), stderr);
    }
    if (setup.recording != nullptr &&
        FinishRecording(*setup.recording, options_.record, &setup.record_file) != kExitOk) {
      return kExitInputError;
    }
    if (setup.history != nullptr && !HistoryComplete(*setup.history)) return kExitInputError;
    return exit_code;
  }

  // --history's count at the end; false when rows were dropped.
  bool HistoryComplete(const HistoryWriter& history) const {
    if (!options_.quiet || history.dropped() > 0) {
      std::fprintf(stderr, "credence verify: history: %llu record(s) written, %llu dropped\n",
                   static_cast<unsigned long long>(history.written()),
                   static_cast<unsigned long long>(history.dropped()));
    }
    return history.dropped() == 0;
  }

  static int Usage(const std::string& message) {
    std::fprintf(stderr, "credence verify: %s\n", message.c_str());
    return kExitUsage;
  }

  // The runner's options from the command line: --at, --jobs, how inputs are read, the
  // envelope, --compare-authres.
  Status RunnerOptionsOf(const EvaluatorOptions& eo, RunnerOptions* ro) const {
    if (Status s = ParseAt(options_.at, &ro->time_mode, &ro->at); !s.ok()) return s;
    ro->jobs = options_.jobs;
    ro->source.mbox_format = options_.mbox_format == "mboxo" ? MboxFormat::kMboxo
                             : options_.mbox_format == "cl" ? MboxFormat::kContentLength
                                                            : MboxFormat::kMboxrd;
    ro->source.max_message_bytes = eo.limits.max_message_bytes;
    ro->source.maildir_subfolders = options_.maildir_subfolders;
    ro->envelope = Envelope{options_.client_ip, options_.helo, options_.mail_from};
    if (Status s = ParseEnvelope(options_.envelope, ro); !s.ok()) return s;
    ro->compare_authres = options_.compare_authres;
    return Status::Ok();
  }

  void AnnounceResume(const ReportSink& sink, uint64_t skip) const {
    if (!sink.resuming()) return;
    if (sink.complete()) {  // with --quiet too: nothing was done, and this says why
      std::fprintf(stderr, "credence verify: --resume %s: the run was complete (%llu results): "
                   "nothing is left to verify (delete it to start over)\n",
                   sink.path().c_str(), static_cast<unsigned long long>(skip));
    } else if (skip > 0 && !options_.quiet) {
      std::fprintf(stderr, "credence verify: --resume %s: going on after %llu results\n",
                   sink.path().c_str(), static_cast<unsigned long long>(skip));
    }
  }

  // Stopped by SIGINT/SIGTERM (--resume only): what is written is made durable and counted,
  // then the process ends with 128 + sig.
  [[noreturn]] static void StopOnSignal(int sig, ReportSink& sink, uint64_t seq,
                                        const Summary& summary, double seconds) {
    Status w = sink.Save(seq, summary, seconds, false);
    if (w.ok()) {
      std::fprintf(stderr, "credence verify: stopped by signal %d after %llu results; "
                   "the same command goes on from there (--resume %s)\n", sig,
                   static_cast<unsigned long long>(seq), sink.path().c_str());
    } else {
      std::fprintf(stderr, "credence verify: stopped by signal %d: --resume %s: %s\n", sig,
                   sink.path().c_str(), w.message().c_str());
    }
    std::fflush(stderr);
    std::_Exit(128 + sig);
  }

  // The exit status once every result is out: `exit_code` worsened by an output that could
  // not be written or a state that could not be saved, each said on stderr.
  int Close(const ReportSink& sink, const Status& save_error, int exit_code) const {
    if (std::ferror(sink.file())) {
      std::fprintf(stderr, "credence verify: the reports could not all be written%s%s\n",
                   options_.output.empty() ? "" : ": ", options_.output.c_str());
      exit_code = kExitInputError;
    }
    if (!save_error.ok()) {
      std::fprintf(stderr, "credence verify: --resume %s: the state could not be saved: %s "
                   "(a resume may repeat work, never lose it)\n", sink.path().c_str(),
                   save_error.message().c_str());
      exit_code = kExitInputError;
    }
    return exit_code;
  }

 private:
  // --history: the [history] store of --config, written from the runner's workers. Unlike a
  // mail host, a batch run tries every record (no pause after a failure) and says at the end
  // how many it could not write.
  Result<std::unique_ptr<HistoryWriter>> OpenHistory(OrgDomainMethod method, RunnerOptions* ro) {
    const std::string path = ConfigPathOf(options_.config);
    if (path.empty()) {
      return Status::Invalid("needs a configuration file with a [history] store (--config FILE, "
                             "or " + DefaultConfigPath() + ")");
    }
    Result<Config> config = LoadConfigFile(path);
    if (!config.ok()) return config.status();
    HistoryOptions h = config->history;
    if (h.store.empty()) return Status::Invalid(path + ": [history] has no store");
    h.retry_after_s = 0;
    auto writer = std::make_unique<HistoryWriter>(
        h, [](const std::string& m) { std::fprintf(stderr, "credence verify: %s\n", m.c_str()); });
    HistoryWriter* w = writer.get();
    ro->observe = [w, method](const Message& m, const ItemResult& r, const Envelope& envelope) {
      if (!HasReportableDmarc(r.evaluation)) return;
      w->Append(MakeHistoryRecord(r.evaluation, envelope, "", r.evaluated_at, method,
                                  LooksLikeDmarcReport(m)));
    };
    return writer;
  }

  VerifyOptions options_;
};

}  // namespace

std::unique_ptr<Command> MakeVerifyCommand() { return std::make_unique<VerifyCommand>(); }

}  // namespace credence::cli
