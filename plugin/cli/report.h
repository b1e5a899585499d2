// The closing summary and the progress line of `credence verify` (both on stderr).
#ifndef CREDENCE_PLUGIN_CLI_REPORT_H_
#define CREDENCE_PLUGIN_CLI_REPORT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "archive/runner.h"

namespace credence::cli {

// Counts per method and result, the domains failing most, testing-mode signatures.
class Summary {
 public:
  void Add(const ItemResult& r);
  // The summary text (several lines). `seconds` is the run's wall time.
  std::string Format(double seconds) const;
  uint64_t messages() const { return messages_; }
  // Every counter as text lines ("name value", "name\tkey\tvalue"), and back: a resumed run
  // (--resume) starts from the counters of the results written before it. Load is false (and
  // the summary unchanged) when `text` is not what Save wrote.
  std::string Save() const;
  bool Load(const std::string& text);
  uint64_t errors() const { return errors_; }

 private:
  // Calls counter(name, field) for each number and map(name, field) for each map.
  template <typename S, typename Counter, typename Map>
  static void ForEachCounter(S& s, Counter counter, Map map);

  uint64_t messages_ = 0, errors_ = 0, signatures_ = 0, unsigned_ = 0, bytes_ = 0;
  std::map<std::string, uint64_t> dkim_, spf_, dmarc_, disposition_;
  std::map<std::string, uint64_t> dkim_fail_domains_, dmarc_fail_domains_;
  std::map<std::string, uint64_t> testing_domains_;
  // Failing signatures (fail, permerror, temperror) by reason and by selector name.
  std::map<std::string, uint64_t> dkim_fail_reasons_, dkim_fail_selectors_;
  // Failed body and header hashes by the cause the archive's hints found.
  std::map<std::string, uint64_t> body_causes_, header_causes_;
  // Passing l= signatures that leave body bytes unsigned (RFC 6376 §8.2), by d=.
  std::map<std::string, uint64_t> partial_domains_;
  uint64_t partial_ = 0, partial_bytes_ = 0;
  uint64_t testing_ = 0;
  // --compare-authres: messages whose verdicts are the recorded ones, differ, have no record.
  uint64_t recorded_same_ = 0, recorded_differ_ = 0, recorded_none_ = 0;
};

// "\r12345 messages  2345/s  ETA 0:12" on a terminal, at most 5 times a second.
class Progress {
 public:
  // `total_bytes` 0 = unknown (no ETA). Off when `enabled` is false.
  Progress(bool enabled, uint64_t total_bytes);
  void Add(const ItemResult& r);
  // Erases the line if it is shown, so that text written next to the same terminal starts at
  // column 0 (the next Add redraws it).
  void Hide();
  void Finish();  // clears the line

 private:
  void Draw();
  bool enabled_;
  bool drawn_ = false;  // the line is on the terminal now
  uint64_t total_bytes_;
  uint64_t messages_ = 0, bytes_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace credence::cli

#endif  // CREDENCE_PLUGIN_CLI_REPORT_H_
