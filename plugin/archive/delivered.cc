#include "archive/delivered.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

namespace credence {
namespace {

constexpr int kMaxCommentDepth = 8;
constexpr size_t kMaxResInfos = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A word of a Received field at comment depth `depth` (0 = outside comments).
struct Word {
  std::string_view text;
  int depth;
  int comment = 0;  // which top-level comment it is in (1, 2, ...); 0 outside comments
};

// Splits `text` into words at white space and comment parentheses, remembering each word's
// comment depth. A '\' quotes the next byte inside comments (RFC 5322 §3.2.2).
std::vector<Word> Words(std::string_view text) {
  std::vector<Word> words;
  int depth = 0;
  int comments = 0;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '(') {
      if (depth == 0) ++comments;
      depth = std::min(depth + 1, kMaxCommentDepth);
      ++i;
    } else if (c == ')') {
      if (depth > 0) --depth;
      ++i;
    } else {
      size_t j = i;
      while (j < text.size() && !IsSpace(text[j]) && text[j] != '(' && text[j] != ')') {
        if (text[j] == '\\' && depth > 0 && j + 1 < text.size()) ++j;
        ++j;
      }
      words.push_back({text.substr(i, j - i), depth, depth > 0 ? comments : 0});
      i = j;
    }
  }
  return words;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// The address inside the first "[...]" of `word`, when it is an IPv4 or IPv6 address
// (RFC 5321 §4.1.3 address-literal; "IPv6:" dropped).
std::string AddressLiteral(std::string_view word) {
  size_t open = word.find('[');
  if (open == std::string_view::npos) return "";
  size_t close = word.find(']', open);
  if (close == std::string_view::npos) return "";
  std::string ip(word.substr(open + 1, close - open - 1));
  if (StartsWithIgnoreCase(ip, "IPv6:")) ip.erase(0, 5);
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    return ip;
  }
  return "";
}

// The length of the "<...>" that `s` starts with, to its '>' outside a quoted string (all
// of `s` when there is none, or when it does not start with '<': its first word then).
size_t AngleAddressEnd(std::string_view s) {
  if (s.empty() || s.front() != '<') {
    size_t end = 0;
    while (end < s.size() && !IsSpace(s[end]) && s[end] != ')') ++end;
    return end;
  }
  bool quoted = false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == '>') {
      return i + 1;
    }
  }
  return s.size();
}

// "<a@b>" -> "a@b"; "<>" -> "".
std::string AngleAddress(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  if (!s.empty() && s.front() == '<') s.remove_prefix(1);
  if (!s.empty() && s.back() == '>') s.remove_suffix(1);
  return std::string(s);
}

// RFC 8601 §2.2 with comments removed: the value with every comment dropped (nested, quoted
// pairs honoured) and quoted strings kept as written.
std::string StripComments(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
      } else if (c == '"') {
        quoted = false;
      }
    } else if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        depth = std::min(depth + 1, kMaxCommentDepth);
      } else if (c == ')') {
        --depth;
      }
    } else if (c == '(') {
      depth = 1;
      out.push_back(' ');
    } else {
      if (c == '"') quoted = true;
      out.push_back(IsSpace(c) ? ' ' : c);
    }
  }
  return out;
}

// The resinfos of a comment-free A-R value: the parts between ';' outside quoted strings (the
// first is the authserv-id and version).
std::vector<std::string_view> SplitResInfos(std::string_view s) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (s[i] == ';' && !quoted) {
      parts.push_back(s.substr(start, i - start));
      if (parts.size() > kMaxResInfos) return parts;
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// One "key=value" of a resinfo (RFC 8601 §2.2), the value unquoted (RFC 5322 §3.2.4).
struct Pair {
  std::string_view key;
  std::string value;
};

// The "key = value" pairs of one comment-free resinfo, in order; words without "=" are
// skipped. One pass, no copy but the values.
std::vector<Pair> ReadPairs(std::string_view s) {
  std::vector<Pair> out;
  size_t i = 0;
  auto skip_spaces = [&] {
    while (i < s.size() && s[i] == ' ') ++i;
  };
  auto read_quoted = [&](std::string* value) {  // at the opening quote
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      if (value != nullptr) value->push_back(s[i]);
      ++i;
    }
    if (i < s.size()) ++i;  // the closing quote
  };
  while (i < s.size()) {
    skip_spaces();
    const size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '=' && s[i] != '"') ++i;
    std::string_view key = s.substr(start, i - start);
    skip_spaces();
    if (i >= s.size()) break;
    if (s[i] != '=') {
      if (s[i] == '"') read_quoted(nullptr);  // a quoted word without a key
      continue;
    }
    ++i;
    skip_spaces();
    std::string value;
    if (i < s.size() && s[i] == '"') {
      read_quoted(&value);
    } else {
      const size_t v = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '"') ++i;  // '=' may end a base64 value
      value.assign(s.substr(v, i - v));
    }
    if (!key.empty()) out.push_back({key, std::move(value)});
  }
  return out;
}

std::string PropertyValue(const AuthResEntry& e, std::string_view ptype,
                          std::string_view property) {
  for (const AuthResProperty& p : e.properties) {
    if (EqualsIgnoreCase(p.ptype, ptype) && EqualsIgnoreCase(p.property, property)) {
      return p.value;
    }
  }
  return "";
}

// What a result is about, so that the recorded and today's results of one thing are
// compared: a signature by its d= and s=, SPF by the identity checked, DMARC by the From
// domain.
std::string Identity(const AuthResEntry& e) {
  if (EqualsIgnoreCase(e.method, "dkim")) {
    std::string d = ToLower(PropertyValue(e, "header", "d"));
    if (d.empty()) return "";
    return "header.d=" + d + " header.s=" + PropertyValue(e, "header", "s");
  }
  if (EqualsIgnoreCase(e.method, "spf")) {
    for (const AuthResProperty& p : e.properties) {
      if (EqualsIgnoreCase(p.ptype, "smtp")) return "smtp." + ToLower(p.property);
    }
    return "";
  }
  if (EqualsIgnoreCase(e.method, "dmarc")) {
    std::string from = ToLower(PropertyValue(e, "header", "from"));
    return from.empty() ? "" : "header.from=" + from;
  }
  return "";
}

// Results by (method, identity), in message order; methods other than dkim, spf and dmarc
// are not compared (credence writes only these).
using ResultMap = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;
ResultMap Results(const std::vector<AuthResEntry>& entries) {
  ResultMap m;
  for (const AuthResEntry& e : entries) {
    std::string method = ToLower(e.method);
    if (method != "dkim" && method != "spf" && method != "dmarc") continue;
    m[{method, Identity(e)}].push_back(ToLower(e.result));
  }
  return m;
}

}  // namespace

ReceivedClauses ParseReceived(std::string_view value) {
  ReceivedClauses out;
  // RFC 5322 §3.6.7: the date-time follows the last ';'.
  size_t semi = value.rfind(';');
  const std::string_view text = semi == std::string_view::npos ? value : value.substr(0, semi);
  std::vector<Word> words = Words(text);
  enum { kNone, kFrom, kBy, kAfterBy } clause = kNone;
  std::string from_domain;
  int first_comment = 0;  // the from clause's first comment: the MTA's view of the client
  for (size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    if (w.depth == 0 && EqualsIgnoreCase(w.text, "from") && clause == kNone) {
      clause = kFrom;
      if (i + 1 < words.size() && words[i + 1].depth == 0) from_domain = words[++i].text;
      continue;
    }
    if (w.depth == 0 && EqualsIgnoreCase(w.text, "by") && clause != kAfterBy) {
      clause = kAfterBy;
      if (i + 1 < words.size() && words[i + 1].depth == 0) out.by = words[++i].text;
      continue;
    }
    if (clause == kFrom) {
      // The client's address is the first literal of the from clause's first comment, where
      // the MTA writes what it saw: "from HELO (RDNS [IP])" (Postfix, Sendmail, Gmail),
      // "from NAME ([IP] helo=X)" (Exim); else the from word itself ("from [IP] (helo=X)").
      // Never what the client wrote: a HELO outside comments (Postfix keeps its spaces and
      // brackets: "from x y [192.0.2.7] (...)"), a `helo=` or `ident=` token, or a later
      // comment (Postfix's "(Client CN \"[ip]\", ...)" holds a certificate's words).
      if (w.depth > 0 && first_comment == 0) first_comment = w.comment;
      if (w.depth > 0 && StartsWithIgnoreCase(w.text, "helo=")) {
        if (out.helo.empty()) out.helo = std::string(w.text.substr(5));
      } else if (out.client_ip.empty() && w.depth > 0 && w.comment == first_comment &&
                 !StartsWithIgnoreCase(w.text, "ident=")) {
        out.client_ip = AddressLiteral(w.text);
      }
    } else if (clause == kAfterBy && w.depth > 0 && !out.envelope_from &&
               EqualsIgnoreCase(w.text, "envelope-from") && i + 1 < words.size() &&
               words[i + 1].depth == w.depth) {
      // Exim: "(envelope-from <ADDR>)"; absent for the null sender. The address runs to its
      // '>' outside quotes: a quoted local part may hold spaces.
      const std::string_view rest =
          text.substr(static_cast<size_t>(words[i + 1].text.data() - text.data()));
      out.envelope_from = AngleAddress(rest.substr(0, AngleAddressEnd(rest)));
    }
  }
  if (out.client_ip.empty()) out.client_ip = AddressLiteral(from_domain);
  if (out.helo.empty() && !from_domain.empty() && from_domain.front() != '[') {
    out.helo = from_domain;
  }
  return out;
}

DeliveredEnvelope EnvelopeFromReceived(const Message& message, std::string_view host) {
  DeliveredEnvelope out;
  const std::vector<HeaderField>& headers = message.headers();
  size_t top = headers.size();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (EqualsIgnoreCase(headers[i].name, "Received")) {
      top = i;
      break;
    }
  }
  if (top == headers.size()) {
    out.note = "no Received field";
    return out;
  }
  ReceivedClauses r = ParseReceived(headers[top].value);
  if (!host.empty() && !EqualsIgnoreCase(r.by, host)) {
    out.note = "the topmost Received field is by '" + (r.by.empty() ? "?" : r.by) + "', not '" +
               std::string(host) + "'";
    return out;
  }
  out.received_index = top;
  if (r.client_ip.empty()) {
    out.note = "the topmost Received field names no client IP address";
    return out;
  }
  out.found = true;
  out.envelope.client_ip = r.client_ip;
  out.envelope.helo = r.helo;
  if (r.envelope_from) {
    out.envelope.mail_from = *r.envelope_from;
  } else {
    // A Return-Path our host wrote at delivery: above the trusted Received field only.
    for (size_t i = 0; i < top; ++i) {
      if (EqualsIgnoreCase(headers[i].name, "Return-Path")) {
        out.envelope.mail_from = AngleAddress(headers[i].value);
        break;
      }
    }
  }
  return out;
}

std::vector<AuthResEntry> ParseAuthResEntries(std::string_view value) {
  std::vector<AuthResEntry> entries;
  const std::string text = StripComments(value);
  const std::vector<std::string_view> resinfos = SplitResInfos(text);
  // The first part is the authserv-id (and a version); "none" alone means no results.
  for (size_t k = 1; k < resinfos.size() && entries.size() < kMaxResInfos; ++k) {
    std::vector<Pair> pairs = ReadPairs(resinfos[k]);
    if (pairs.empty()) continue;
    AuthResEntry e;
    std::string_view method = pairs[0].key;
    e.method = std::string(method.substr(0, method.find('/')));  // method/version
    e.result = std::move(pairs[0].value);
    for (size_t i = 1; i < pairs.size(); ++i) {
      std::string_view key = pairs[i].key;
      if (EqualsIgnoreCase(key, "reason")) {
        e.reason = std::move(pairs[i].value);
        continue;
      }
      size_t dot = key.find('.');
      if (dot == std::string_view::npos) continue;
      e.properties.push_back({std::string(key.substr(0, dot)), std::string(key.substr(dot + 1)),
                              std::move(pairs[i].value)});
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

AuthResComparison CompareWithRecorded(const Message& message, std::string_view authserv_id,
                                      std::optional<size_t> received_index,
                                      Evaluation* evaluation) {
  AuthResComparison out;
  if (!received_index) {
    out.note = "no trusted Received field: nothing shows what our host wrote";
    return out;
  }
  std::optional<size_t> recorded;
  for (size_t index : FindAuthResults(message, authserv_id)) {
    if (index < *received_index) {
      recorded = index;
      break;
    }
  }
  if (!recorded) {
    out.note = "no Authentication-Results field of " + std::string(authserv_id) +
               " above the topmost Received field";
    return out;
  }
  out.found = true;
  std::string_view value = message.headers()[*recorded].value;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;
    out.recorded.push_back(c == '\t' ? ' ' : c);
  }
  size_t position = message.FieldPosition(*recorded);
  std::vector<size_t>& forged = evaluation->forged_authres;
  forged.erase(std::remove(forged.begin(), forged.end(), position), forged.end());

  ResultMap then = Results(ParseAuthResEntries(value));
  ResultMap now = Results(evaluation->authres.entries);
  std::map<std::pair<std::string, std::string>, bool> keys;
  for (const auto& [k, v] : then) keys[k] = true;
  for (const auto& [k, v] : now) keys[k] = true;
  // Method order as credence writes them: dkim, spf, dmarc.
  for (const char* method : {"dkim", "spf", "dmarc"}) {
    for (const auto& [key, unused] : keys) {
      if (key.first != method) continue;
      static const std::vector<std::string> kNone;
      auto t = then.find(key);
      auto n = now.find(key);
      const std::vector<std::string>& tv = t == then.end() ? kNone : t->second;
      const std::vector<std::string>& nv = n == now.end() ? kNone : n->second;
      for (size_t i = 0; i < std::max(tv.size(), nv.size()); ++i) {
        // A method not reported is "none" (RFC 8601 §2.7: no result could be had), so a
        // writer that leaves out what it did not evaluate matches one that writes "none".
        std::string a = i < tv.size() ? tv[i] : "none";
        std::string b = i < nv.size() ? nv[i] : "none";
        if (a != b) out.differences.push_back({key.first, key.second, a, b});
      }
    }
  }
  return out;
}

}  // namespace credence
