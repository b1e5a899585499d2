#include "archive/quoting.h"

#include <vector>

#include "credence/message.h"

namespace credence {
namespace {

// Offsets of the lines of `body` that start with ">*From ".
std::vector<size_t> FromLines(std::string_view body) {
  std::vector<size_t> out;
  for (size_t line = 0; line < body.size();) {
    size_t k = line;
    while (k < body.size() && body[k] == '>') ++k;
    if (body.substr(k, 5) == "From ") out.push_back(line);
    const size_t nl = body.find('\n', line);
    if (nl == std::string_view::npos) break;
    line = nl + 1;
  }
  return out;
}

// `bytes` with the line at lines[i] changed by change[i]: 0 as is, +1 one '>' more, -1 one
// fewer (only where there is one).
std::string Variant(std::string_view bytes, const std::vector<size_t>& lines,
                    const std::vector<int>& change) {
  std::string out;
  out.reserve(bytes.size() + lines.size());
  size_t from = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    out.append(bytes.substr(from, lines[i] - from));
    from = lines[i];
    if (change[i] > 0) out += '>';
    if (change[i] < 0 && bytes[from] == '>') ++from;
  }
  out.append(bytes.substr(from));
  return out;
}

std::string Describe(const std::vector<int>& change) {
  size_t more = 0, fewer = 0;
  for (int c : change) {
    if (c > 0) ++more;
    if (c < 0) ++fewer;
  }
  auto part = [](size_t n, const char* how) {
    return std::to_string(n) + (n == 1 ? " line" : " lines") + " starting '>*From ' with " + how;
  };
  std::string what;
  if (more) what = part(more, "one '>' more");
  if (fewer) what += (what.empty() ? "" : " and ") + part(fewer, "one '>' fewer");
  return "the body hash matches with " + what +
         ": mbox quoting changed the body, not the sender (the writer's quoting and "
         "--mbox-format disagree; docs/archive.md gives the format per writer)";
}

}  // namespace

std::string QuotingExplainsBodyHash(const Message& message, const DkimResult& failed,
                                    size_t* budget_bytes) {
  const std::string_view bytes = message.body();
  if (failed.reason != DkimReason::kBodyHashMismatch || *budget_bytes < bytes.size() ||
      failed.header_index >= message.headers().size()) {
    return "";
  }
  const std::string_view signature = message.headers()[failed.header_index].value;
  const std::vector<size_t> lines = FromLines(bytes);
  if (lines.empty()) return "";
  std::vector<std::vector<int>> tries;
  if (lines.size() <= kMaxQuotedLinesTried) {
    // Every combination but "all as read", fewest changes first (the likeliest explanation).
    size_t total = 1;
    for (size_t i = 0; i < lines.size(); ++i) total *= 3;
    for (size_t changes = 1; changes <= lines.size(); ++changes) {
      for (size_t code = 1; code < total; ++code) {
        std::vector<int> change(lines.size());
        size_t c = code, n = 0;
        bool possible = true;
        for (size_t i = 0; i < lines.size(); ++i, c /= 3) {
          change[i] = static_cast<int>(c % 3) == 2 ? -1 : static_cast<int>(c % 3);
          n += change[i] != 0;
          if (change[i] < 0 && bytes[lines[i]] != '>') possible = false;  // no '>' to take
        }
        if (n == changes && possible) tries.push_back(std::move(change));
      }
    }
  } else {
    tries.push_back(std::vector<int>(lines.size(), 1));
    tries.push_back(std::vector<int>(lines.size(), -1));
  }
  for (const std::vector<int>& change : tries) {
    if (*budget_bytes < bytes.size()) return "";
    *budget_bytes -= bytes.size();
    if (DkimBodyHashMatches(signature, Variant(bytes, lines, change))) {
      return Describe(change);
    }
  }
  return "";
}

}  // namespace credence
