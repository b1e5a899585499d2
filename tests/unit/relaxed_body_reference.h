// RFC 6376 §3.4.4 relaxed body canonicalization read literally, for the unit tests and the
// fuzz targets to check the fast path against (tests/unit/dkim_canon_fast_test.cc,
// tests/fuzz/fuzz_header.cc). Slow and plain on purpose.
#ifndef CREDENCE_TESTS_UNIT_RELAXED_BODY_REFERENCE_H_
#define CREDENCE_TESTS_UNIT_RELAXED_BODY_REFERENCE_H_

#include <string>
#include <string_view>
#include <vector>

namespace credence::testing {

// RFC 6376 §3.4.4 read literally, one step at a time: split at CRLF, reduce WSP runs, drop
// WSP at line ends, drop empty lines at the end, end every line with CRLF.
inline std::string RelaxedBodyReference(std::string_view body) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t e = body.find("\r\n", pos);
    if (e == std::string_view::npos) {
      lines.emplace_back(body.substr(pos));
      break;
    }
    lines.emplace_back(body.substr(pos, e - pos));
    pos = e + 2;
  }
  for (std::string& line : lines) {
    std::string reduced;
    for (char c : line) {
      bool wsp = c == ' ' || c == '\t';
      if (wsp) {
        if (reduced.empty() || reduced.back() != ' ') reduced += ' ';
      } else {
        reduced += c;
      }
    }
    if (!reduced.empty() && reduced.back() == ' ') reduced.pop_back();
    line = reduced;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (const std::string& line : lines) out += line + "\r\n";
  return out;
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_RELAXED_BODY_REFERENCE_H_
