#include "archive/body_hint.h"

#include <string_view>

#include "archive/quoting.h"

namespace credence {
namespace {

// One try: charges the budget, then hashes.
bool Matches(std::string_view signature, std::string_view body, size_t* budget) {
  if (*budget < body.size()) return false;
  *budget -= body.size();
  return DkimBodyHashMatches(signature, body);
}

// Text appended after signing: the body without its last k lines matches, for the smallest k.
std::string Appended(std::string_view signature, std::string_view body, size_t* budget) {
  size_t end = body.size();
  for (size_t k = 1; k <= kMaxAppendedLinesTried && end > 0; ++k) {
    // The start of the last line before `end` (lines end with CRLF).
    size_t start = end >= 2 ? body.rfind('\n', end - 2) : std::string_view::npos;
    start = start == std::string_view::npos ? 0 : start + 1;
    end = start;
    if (Matches(signature, body.substr(0, end), budget)) {
      return "the body hash matches without the last " + std::to_string(k) +
             (k == 1 ? " line (" : " lines (") + std::to_string(body.size() - end) +
             " bytes): text was appended after signing (a mailing list footer or a "
             "disclaimer added in transit), the signed part is intact";
    }
    if (*budget < end) break;
  }
  return "";
}

// The signer hashed LF line ends instead of CRLF (RFC 6376 §5.3 asks for CRLF).
std::string LfLineEnds(std::string_view signature, std::string_view body, size_t* budget) {
  std::string lf;
  lf.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    lf += body[i];
  }
  if (lf.size() == body.size() || !Matches(signature, lf, budget)) return "";
  return "the body hash matches the body with LF line ends: the signer hashed bare LF lines "
         "(a signer bug; RFC 6376 §5.3 asks for CRLF), the content is intact";
}

// White space at line ends added in transit; only c=simple sees it (relaxed ignores it).
std::string TrailingSpace(std::string_view signature, std::string_view body, size_t* budget) {
  // White space the signer's body had and transit removed cannot be put back; what can be
  // told is the reverse: white space added in transit, which stripping undoes.
  std::string with;
  bool changed = false;
  with.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    size_t nl = body.find("\r\n", i);
    size_t end = nl == std::string_view::npos ? body.size() : nl;
    size_t cut = end;
    while (cut > i && (body[cut - 1] == ' ' || body[cut - 1] == '\t')) --cut;
    changed = changed || cut != end;
    with.append(body.substr(i, cut - i));
    if (nl == std::string_view::npos) break;
    with += "\r\n";
    i = nl + 2;
  }
  if (!changed || !Matches(signature, with, budget)) return "";
  return "the body hash matches with the white space at line ends removed: white space was "
         "added in transit (c=simple counts it; c=relaxed would not)";
}

}  // namespace

BodyHashHint ExplainBodyHash(const Message& message, const DkimResult& failed,
                             size_t* budget_bytes) {
  BodyHashHint hint;
  if (failed.reason != DkimReason::kBodyHashMismatch ||
      failed.header_index >= message.headers().size()) {
    return hint;
  }
  const std::string_view signature = message.headers()[failed.header_index].value;
  const std::string_view body = message.body();
  DkimBodyHashSides sides = DkimBodyHashOf(signature, body);
  if (!sides.parsed) return hint;
  hint.hashes = "bh=" + sides.expected + "; the body as received hashes to " + sides.computed +
                " (" + std::to_string(sides.canonical_bytes) + " canonicalized bytes" +
                (sides.l ? ", l=" + std::to_string(*sides.l) : std::string()) + ")";
  if (message.body_truncated()) return hint;
  struct Step {
    const char* kind;
    std::string (*explain)(std::string_view, std::string_view, size_t*);
  };
  static const Step kSteps[] = {{"footer appended", Appended},
                                {"LF line ends hashed", LfLineEnds},
                                {"white space added (c=simple)", TrailingSpace}};
  for (const Step& step : kSteps) {
    hint.cause = step.explain(signature, body, budget_bytes);
    if (!hint.cause.empty()) {
      hint.kind = step.kind;
      return hint;
    }
  }
  hint.cause = QuotingExplainsBodyHash(message, failed, budget_bytes);
  if (!hint.cause.empty()) hint.kind = "mbox quoting";
  return hint;
}

}  // namespace credence
