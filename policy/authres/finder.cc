// Authentication-Results finder: which existing fields carry our authserv-id (RFC 8601 §5:
// a border MTA MUST remove fields claiming to be from inside its trust boundary).
// One forward pass over each value; comment nesting is counted, not recursed.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "credence/policy/authres.h"

namespace credence {
namespace {

// Bytes of one field value the finder reads; the authserv-id is at its start. Default 8 KiB.
constexpr size_t kMaxScan = 8192;

bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 §3.2.2 CFWS: skips whitespace and (nested) comments. Returns false on an
// unterminated comment.
bool SkipCfws(std::string_view s, size_t* pos) {
  size_t i = *pos;
  while (i < s.size()) {
    if (IsWsp(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      size_t depth = 1;
      ++i;
      while (i < s.size() && depth > 0) {
        if (s[i] == '\\') {
          i += 2;  // quoted-pair
          continue;
        }
        if (s[i] == '(') ++depth;
        if (s[i] == ')') --depth;
        ++i;
      }
      if (depth > 0) return false;
    } else {
      break;
    }
  }
  *pos = std::min(i, s.size());
  return true;
}

}  // namespace

std::string ParseAuthServId(std::string_view value) {
  std::string_view s = value.substr(0, kMaxScan);
  size_t i = 0;
  if (!SkipCfws(s, &i) || i >= s.size()) return "";
  std::string id;
  if (s[i] == '"') {
    // RFC 8601 §2.2: authserv-id = value; value may be a quoted-string.
    ++i;
    bool closed = false;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\\' && i + 1 < s.size()) {
        id.push_back(s[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') {
        closed = true;
        break;
      }
      if (c != '\r' && c != '\n') id.push_back(c);
      ++i;
    }
    if (!closed) return "";
  } else {
    // Token: up to CFWS, ";", a comment or a quote. Lenient on purpose: a field whose first
    // word is our id is treated as ours whatever follows (removing it is the safe side).
    while (i < s.size() && !IsWsp(s[i]) && s[i] != ';' && s[i] != '(' && s[i] != '"') {
      id.push_back(s[i]);
      ++i;
    }
  }
  return id;
}

bool AuthServIdIsOurs(std::string_view id, std::string_view ours) {
  if (id.empty() || ours.empty()) return false;
  if (id.size() == ours.size() + 1 && id.back() == '.' && ours.back() != '.') {
    id.remove_suffix(1);
  }
  // RFC 8601 §2.5: authserv-id comparison is case-insensitive.
  return EqualsIgnoreCase(id, ours);
}

std::vector<size_t> FindAuthResults(const Message& message, std::string_view authserv_id) {
  std::vector<size_t> found;
  if (authserv_id.empty()) return found;
  const std::vector<HeaderField>& headers = message.headers();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!EqualsIgnoreCase(headers[i].name, "Authentication-Results")) continue;
    if (AuthServIdIsOurs(ParseAuthServId(headers[i].value), authserv_id)) found.push_back(i);
  }
  return found;
}

std::vector<size_t> FindAuthResultsPositions(const Message& message,
                                             std::string_view authserv_id) {
  std::vector<size_t> found;
  if (authserv_id.empty()) return found;
  auto ours = [&](std::string_view name, std::string_view value) {
    if (!EqualsIgnoreCase(name, "Authentication-Results")) return false;
    return AuthServIdIsOurs(ParseAuthServId(value), authserv_id);
  };
  if (message.verdict_fields_skipped() == 0) {
    for (size_t i : FindAuthResults(message, authserv_id)) {
      found.push_back(message.FieldPosition(i));
    }
  } else {
    message.ForEachField([&](size_t position, std::string_view name, std::string_view value) {
      if (ours(name, value)) found.push_back(position);
    });
  }
  // One behind a bare CR inside another field (a reader splitting there shows it): the
  // position of the field it hides in. Hosts that remove only A-R fields by name leave that
  // one (Exim makes the bare CR a fold on receipt); the JSON still lists it as forged.
  auto hidden = [&](size_t position, std::string_view name, std::string_view value) {
    if (ours(name, value) && (found.empty() || found.back() != position)) {
      found.push_back(position);
    }
  };
  // All of them, read again, when more were found than the message keeps.
  if (message.hidden_fields_cut()) {
    message.ForEachHiddenFieldAll(hidden);
  } else {
    message.ForEachHiddenField(hidden);
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

}  // namespace credence
