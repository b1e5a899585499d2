#include "archive/quoting.h"

#include <vector>

#include "credence/message.h"

namespace credence {
namespace {

// Offsets of the body lines of `bytes` that start with ">*From " (the body starts after the
// first empty line, RFC 5322 §2.1).
std::vector<size_t> FromLines(std::string_view bytes) {
  std::vector<size_t> out;
  size_t body = bytes.find("\n\r\n");
  size_t lf = bytes.find("\n\n");
  if (body == std::string_view::npos || (lf != std::string_view::npos && lf < body)) {
    body = lf == std::string_view::npos ? bytes.size() : lf + 2;
  } else {
    body += 3;
  }
  for (size_t line = body; line < bytes.size();) {
    size_t k = line;
    while (k < bytes.size() && bytes[k] == '>') ++k;
    if (bytes.substr(k, 5) == "From ") out.push_back(line);
    const size_t nl = bytes.find('\n', line);
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

// True when the signature at `index` of `bytes` gets past its body hash.
bool BodyHashMatches(const std::string& bytes, size_t index, const DkimVerifier& verifier,
                     const Limits& limits, Resolver& resolver, Deadline deadline) {
  Result<Message> m = Message::Parse(bytes, limits);
  if (!m.ok()) return false;
  for (const DkimResult& r : verifier.Verify(*m, resolver, deadline)) {
    if (r.header_index == index) return r.reason != DkimReason::kBodyHashMismatch;
  }
  return false;
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

std::string QuotingExplainsBodyHash(std::string_view bytes, const DkimResult& failed,
                                    const DkimVerifier& verifier, const Limits& limits,
                                    Resolver& resolver, Deadline deadline,
                                    size_t* budget_bytes) {
  if (failed.reason != DkimReason::kBodyHashMismatch || *budget_bytes < bytes.size()) return "";
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
    if (BodyHashMatches(Variant(bytes, lines, change), failed.header_index, verifier, limits,
                        resolver, deadline)) {
      return Describe(change);
    }
  }
  return "";
}

}  // namespace credence
