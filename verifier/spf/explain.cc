// RFC 7208 §6.2 and §7, iteratively: each macro is expanded once, in one left-to-right pass.
#include "spf/explain.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spf/record.h"

namespace credence::spf {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

std::string LowerAll(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// %{i}: dotted IPv4, or RFC 7208 §7.3 dot-separated nibbles for IPv6.
std::string IpForMacro(const Session& s) {
  if (!s.client_v6) return s.client_ip;
  unsigned char a[16];
  if (inet_pton(AF_INET6, s.client_ip.c_str(), a) != 1) return s.client_ip;
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (int i = 0; i < 16; ++i) {
    if (!out.empty()) out += '.';
    out += hex[a[i] >> 4];
    out += '.';
    out += hex[a[i] & 15];
  }
  return out;
}

bool EndsWithDomain(std::string_view name, std::string_view domain) {
  if (name == domain) return true;
  return name.size() > domain.size() && name.substr(name.size() - domain.size()) == domain &&
         name[name.size() - domain.size() - 1] == '.';
}

// RFC 7208 §7.3 %{p}: a validated name of the client (§5.5), preferring `domain` or a name
// under it; "unknown" when none validates.
std::string ValidatedName(std::string_view domain, Session& s) {
  std::string rev;
  unsigned char a[16];
  if (s.client_v6) {
    if (inet_pton(AF_INET6, s.client_ip.c_str(), a) != 1) return "unknown";
    const char* hex = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      rev += hex[a[i] & 15];
      rev += '.';
      rev += hex[a[i] >> 4];
      rev += '.';
    }
    rev += "ip6.arpa";
  } else {
    if (inet_pton(AF_INET, s.client_ip.c_str(), a) != 1) return "unknown";
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
    rev = buf;
  }
  DnsAnswer ptr = s.resolver->ResolveOne({rev, RRType::kPTR}, s.deadline);
  if (ptr.outcome != DnsOutcome::kOk) return "unknown";
  std::string first;
  std::string want_domain = LowerAll(domain);
  size_t n = 0;
  for (const ResourceRecord& r : ptr.records) {
    if (r.type != RRType::kPTR || ++n > s.options->max_ptr_names) continue;
    std::string name = LowerAll(r.data);
    DnsAnswer addr = s.resolver->ResolveOne(
        {name, s.client_v6 ? RRType::kAAAA : RRType::kA}, s.deadline);
    bool valid = false;
    for (const ResourceRecord& ar : addr.records) {
      unsigned char b[16];
      if (inet_pton(s.client_v6 ? AF_INET6 : AF_INET, ar.data.c_str(), b) == 1 &&
          std::equal(a, a + (s.client_v6 ? 16 : 4), b)) {
        valid = true;
      }
    }
    if (!valid) continue;
    if (EndsWithDomain(name, want_domain)) return r.data;
    if (first.empty()) first = r.data;
  }
  return first.empty() ? "unknown" : first;
}

// RFC 7208 §7.3: unreserved characters stay, everything else is %XX.
std::string UrlEscape(std::string_view v) {
  std::string out;
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string MacroValue(char letter, std::string_view domain, Session& s) {
  size_t at = s.sender.rfind('@');
  switch (Lower(letter)) {
    case 's': return s.sender;
    case 'l': return at == std::string::npos ? "postmaster" : s.sender.substr(0, at);
    case 'o': return at == std::string::npos ? s.sender : s.sender.substr(at + 1);
    case 'd': return std::string(domain);
    case 'i': return IpForMacro(s);
    case 'p': return ValidatedName(domain, s);
    case 'v': return s.client_v6 ? "ip6" : "in-addr";
    case 'h': return s.helo;
    case 'c': return s.client_ip;
    case 'r': return s.options->receiving_host;
    case 't': return std::to_string(static_cast<long long>(std::time(nullptr)));
    default: return "";
  }
}

// RFC 7208 §7.3: the value split on the delimiters, reversed if asked, the rightmost `keep`
// parts joined with ".", URL-escaped for an upper-case letter.
std::string Transform(const std::string& value, char letter, size_t keep, bool reverse,
                      std::string_view delims) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t k = 0; k <= value.size(); ++k) {
    if (k == value.size() || delims.find(value[k]) != std::string_view::npos) {
      parts.push_back(std::string_view(value).substr(start, k - start));
      start = k + 1;
    }
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  size_t from = (keep > 0 && keep < parts.size()) ? parts.size() - keep : 0;
  std::string joined;
  for (size_t k = from; k < parts.size(); ++k) {
    if (k > from) joined += '.';
    joined += parts[k];
  }
  return IsUpper(letter) ? UrlEscape(joined) : joined;
}

// Cuts `out` to at most `max` bytes without splitting a UTF-8 sequence.
void CutAtCharBoundary(std::string* out, size_t max) {
  if (out->size() <= max) return;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>((*out)[n]) & 0xC0) == 0x80) --n;
  out->resize(n);
}

}  // namespace

std::string ExpandMacros(std::string_view text, std::string_view domain, Session& s,
                         bool in_exp) {
  std::string out;
  // Each letter's value once per expansion: %{p} costs DNS questions, and a text of the
  // same macro repeated would otherwise ask them again for every occurrence.
  std::optional<std::string> values[26];
  size_t value_bytes = 0;
  size_t i = 0;
  while (i < text.size() && out.size() < kMaxExplanationBytes &&
         value_bytes <= kMaxMacroValueBytes) {
    char c = text[i];
    if (c != '%' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '%') { out += '%'; i += 2; continue; }
    if (next == '_') { out += ' '; i += 2; continue; }
    if (next == '-') { out += "%20"; i += 2; continue; }
    size_t close = text.find('}', i);
    if (next != '{' || close == std::string_view::npos || close < i + 3) {
      out += c;
      ++i;
      continue;
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    i = close + 1;
    char letter = body[0];
    size_t j = 1;
    size_t keep = 0;
    while (j < body.size() && body[j] >= '0' && body[j] <= '9') {
      const size_t digit = static_cast<size_t>(body[j] - '0');
      keep = keep > (SIZE_MAX - digit) / 10 ? SIZE_MAX : keep * 10 + digit;  // saturates
      ++j;
    }
    bool reverse = j < body.size() && Lower(body[j]) == 'r';
    if (reverse) ++j;
    std::string_view delims = body.substr(j);
    if (delims.empty()) delims = ".";
    const char lower = Lower(letter);
    if (lower < 'a' || lower > 'z') continue;  // CheckMacroString refused it already
    std::optional<std::string>& value = values[lower - 'a'];
    if (!value) value = MacroValue(letter, domain, s);
    value_bytes += value->size();
    out += Transform(*value, letter, keep, reverse, delims);
  }
  CutAtCharBoundary(&out, kMaxExplanationBytes);
  (void)in_exp;
  return out;
}

std::string FetchExplanation(const std::string& name, std::string_view domain, Session& s) {
  DnsAnswer answer = s.resolver->ResolveOne({name, RRType::kTXT}, s.deadline);
  if (answer.outcome != DnsOutcome::kOk) return "";
  std::vector<const ResourceRecord*> txt;
  for (const ResourceRecord& r : answer.records) {
    if (r.type == RRType::kTXT) txt.push_back(&r);
  }
  // RFC 7208 §6.2: exactly one TXT record, 7-bit ASCII, valid macro-string; else default.
  if (txt.size() != 1) return "";
  const std::string& text = txt[0]->data;
  if (!CheckMacroString(text, /*in_exp=*/true).ok()) return "";
  return ExpandMacros(text, domain, s, /*in_exp=*/true);
}

}  // namespace credence::spf
