// `credence verify --resume STATE`: a long run that is interrupted (Ctrl-C, SIGTERM, kill -9,
// a crash, a reboot) goes on where it stopped, and the output file ends up byte for byte what
// one uninterrupted run writes (docs/archive.md, "Resuming a long run").
//
// STATE is a small text file holding: the inputs (each path with its size and a 64-bit
// FNV-1a hash of its first and last 64 KiB; a directory: its files' relative names and
// sizes), the options that shape the output, the output file and the number of results whose
// output is durable (fsync'd before STATE is replaced), the output's size after them, and the
// summary counters of those results. It is replaced atomically (temporary file, fsync,
// rename), at most once a second, at the end, and when SIGINT or SIGTERM stops the run.
#ifndef CREDENCE_PLUGIN_CLI_RESUME_H_
#define CREDENCE_PLUGIN_CLI_RESUME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "credence/status.h"

namespace credence::cli {

struct ResumeState {
  std::vector<std::string> inputs;  // InputFingerprints(), one per FILE argument
  std::string options;              // the options that shape the output, as one line
  std::string output;               // the --output path, or "-" (standard output)
  uint64_t output_start = 0;  // the output's size before the run's first byte (stdout >>)
  uint64_t done = 0;          // results (by input order) whose output is durable
  uint64_t output_bytes = 0;  // the output's size after them
  double seconds = 0;         // wall time of the runs so far, up to the last save
  bool complete = false;      // every result was written
  std::string summary;        // Summary::Save() of those results
};

// One line per FILE argument that tells whether it changed: "file PATH SIZE HASH" (HASH: FNV-1a
// 64 of the first and last 64 KiB), "dir PATH FILES HASH" (of the sorted relative names and
// sizes of every file below it), "missing PATH". kInvalidInput for "-" (standard input cannot
// be read twice).
Result<std::vector<std::string>> InputFingerprints(const std::vector<std::string>& files);

// nullopt when `path` does not exist; kInvalidInput (naming what is wrong) when it is not a
// state file this version wrote, or is cut short.
Result<std::optional<ResumeState>> ReadResumeState(const std::string& path);

// Replaces `path` atomically and durably: a temporary file beside it, written, fsync'd,
// renamed over it, the directory fsync'd. kIoError with the reason.
Status WriteResumeState(const std::string& path, const ResumeState& state);

// Why `saved` cannot be resumed with `now` (the same fields filled from this command line);
// "" when it can. Names the first input or option that differs.
std::string ResumeMismatch(const ResumeState& saved, const ResumeState& now);

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_RESUME_H_
