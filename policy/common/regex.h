// The one door to RE2 (re2 20220601, pre-Abseil API): every regular expression credence
// compiles goes through this wrapper, so an Abseil-era re2 changes one file.
#ifndef CREDENCE_POLICY_COMMON_REGEX_H_
#define CREDENCE_POLICY_COMMON_REGEX_H_

#include <memory>
#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence {

struct RegexOptions {
  bool case_sensitive = false;  // site rules match names: case-insensitive by default
  int64_t max_mem = 1 << 20;    // RE2 program memory cap per pattern. Default 1 MiB.
};

// A compiled RE2 pattern. Linear-time matching (no backtracking), safe for hostile input.
// Copies share the compiled program (immutable, thread-safe).
class Regex {
 public:
  // Compiles `pattern`. Returns kInvalidInput with RE2's own error text ("missing ): ...")
  // when the pattern cannot be parsed or exceeds max_mem.
  static Result<Regex> Compile(std::string_view pattern, const RegexOptions& options = {});

  // True when the whole of `text` matches.
  bool FullMatch(std::string_view text) const;
  // True when some substring of `text` matches.
  bool PartialMatch(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  Regex() = default;
  std::shared_ptr<const Impl> impl_;
  std::string pattern_;
};

}  // namespace credence

#endif  // CREDENCE_POLICY_COMMON_REGEX_H_
