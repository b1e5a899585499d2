// RFC 7208 §7, iteratively: each macro is expanded once, in one left-to-right pass.
#include "spf/macro.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/ascii.h"

namespace credence::spf {
namespace {


std::string LowerName(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
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

// The reverse-mapping name of the client (RFC 7208 §5.5, RFC 3596 §2.5), "" if unparsable.
std::string ReverseName(const Session& s, unsigned char* address) {
  if (s.client_v6) {
    if (inet_pton(AF_INET6, s.client_ip.c_str(), address) != 1) return "";
    std::string rev;
    const char* hex = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      rev += hex[address[i] & 15];
      rev += '.';
      rev += hex[address[i] >> 4];
      rev += '.';
    }
    return rev + "ip6.arpa";
  }
  if (inet_pton(AF_INET, s.client_ip.c_str(), address) != 1) return "";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u.in-addr.arpa", address[3], address[2],
                address[1], address[0]);
  return buf;
}

// RFC 7208 §7.3 %{p}: a validated name of the client (§5.5), preferring `domain` itself, then
// a name under it, then the first; "unknown" when none validates.
std::string ValidatedName(std::string_view domain, Session& s, bool term) {
  // RFC 7208 §4.6.4: "When evaluating ... the %{p} macro, the number of "PTR" resource
  // records queried is included in the overall limit of 10".
  if (term && !s.CountTerm()) return "unknown";
  std::vector<std::string> names = ValidatedNames(s, term);
  std::string want = LowerName(domain);
  for (const std::string& n : names) {
    if (n == want) return n;
  }
  for (const std::string& n : names) {
    if (IsSameOrSubdomain(n, want)) return n;
  }
  return names.empty() ? "unknown" : names.front();
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

// The value of one macro letter (RFC 7208 §7.2). %{p} may ask DNS (and, for a term, count).
std::string MacroValue(char letter, std::string_view domain, Session& s, bool term) {
  size_t at = s.sender.rfind('@');
  switch (AsciiLower(letter)) {
    case 's': return s.sender;
    case 'l': return at == std::string::npos ? "postmaster" : s.sender.substr(0, at);
    case 'o': return at == std::string::npos ? s.sender : s.sender.substr(at + 1);
    case 'd': return std::string(domain);
    case 'i': return IpForMacro(s);
    case 'p': return ValidatedName(domain, s, term);
    case 'v': return s.client_v6 ? "ip6" : "in-addr";
    case 'h': return s.helo;
    case 'c': return s.client_ip;
    case 'r': return s.options->receiving_host;
    case 't': return std::to_string(static_cast<long long>(std::time(nullptr)));
    default: return "";
  }
}

// RFC 7208 §7.3: the value split on the delimiters, reversed if asked, the rightmost `keep`
// parts (all of them when there are fewer, or when `keep` is 0: no digit) joined with ".",
// URL-escaped for an upper-case letter.
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
  return IsAsciiUpper(letter) ? UrlEscape(joined) : joined;
}

// Cuts `out` to at most `max` bytes without splitting a UTF-8 sequence.
void CutAtCharBoundary(std::string* out, size_t max) {
  if (out->size() <= max) return;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>((*out)[n]) & 0xC0) == 0x80) --n;
  out->resize(n);
}

struct Expansion {
  std::string out;
  bool value_budget_spent = false;  // kMaxMacroValueBytes reached: `out` is incomplete
};

// The one expander (RFC 7208 §7.1-§7.3). `term`: a domain-spec of a term (%{p} counted),
// else an explanation. Stops once `out` reaches `max_out` bytes or the value budget is spent.
Expansion Expand(std::string_view text, std::string_view domain, Session& s, bool term,
                 size_t max_out) {
  Expansion e;
  std::string& out = e.out;
  // Each letter's value once per expansion: %{p} costs DNS questions, and a text of the
  // same macro repeated would otherwise ask them again for every occurrence.
  std::optional<std::string> values[26];
  size_t value_bytes = 0;
  size_t i = 0;
  while (i < text.size() && out.size() < max_out) {
    if (value_bytes > kMaxMacroValueBytes) {
      e.value_budget_spent = true;
      break;
    }
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
      out += c;  // CheckMacroString refused it already
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
    bool reverse = j < body.size() && AsciiLower(body[j]) == 'r';
    if (reverse) ++j;
    std::string_view delims = body.substr(j);
    if (delims.empty()) delims = ".";
    const char lower = AsciiLower(letter);
    if (lower < 'a' || lower > 'z') continue;  // CheckMacroString refused it already
    std::optional<std::string>& value = values[lower - 'a'];
    if (!value) value = MacroValue(letter, domain, s, term);
    if (s.abort != Session::Abort::kNone) break;  // %{p} passed a limit
    value_bytes += value->size();
    out += Transform(*value, letter, keep, reverse, delims);
  }
  return e;
}

}  // namespace

bool IsSameOrSubdomain(std::string_view name, std::string_view domain) {
  if (name == domain) return true;
  return name.size() > domain.size() && name.substr(name.size() - domain.size()) == domain &&
         name[name.size() - domain.size() - 1] == '.';
}

std::vector<std::string> ValidatedNames(Session& s, bool term) {
  std::vector<std::string> names;
  unsigned char address[16];
  const std::string rev = ReverseName(s, address);
  if (rev.empty()) return names;
  DnsAnswer ptr = s.Ask(rev, RRType::kPTR);
  if (ptr.outcome == DnsOutcome::kNotAsked) {
    if (term) s.Fail(Session::Abort::kNotEvaluated, ptr.detail);
    return names;
  }
  size_t ptr_records = 0;
  for (const ResourceRecord& r : ptr.records) ptr_records += r.type == RRType::kPTR;
  if (ptr.outcome == DnsOutcome::kTempFail) {
    // §5.5: a DNS error on the PTR question makes ptr fail to match; the check's own
    // deadline is no DNS error but the end of the check (§4.6.4: temperror).
    if (term && ptr.failure == DnsFailure::kDeadline) {
      s.Fail(Session::Abort::kTempError, "SPF deadline passed");
    }
    return names;
  }
  if (ptr_records == 0) {
    if (term) s.CountVoid();  // §4.6.4
    return names;
  }
  const RRType family = s.client_v6 ? RRType::kAAAA : RRType::kA;
  const int af = s.client_v6 ? AF_INET6 : AF_INET;
  const size_t length = s.client_v6 ? 16 : 4;
  size_t looked_at = 0;
  for (const ResourceRecord& r : ptr.records) {
    // §4.6.4, §5.5: only the first max_ptr_names names are looked at.
    if (r.type != RRType::kPTR || ++looked_at > s.options->max_ptr_names) continue;
    std::string name = LowerName(r.data);
    DnsAnswer addr = s.Ask(name, family);
    if (addr.outcome == DnsOutcome::kNotAsked) {
      if (term) s.Fail(Session::Abort::kNotEvaluated, addr.detail);
      return names;
    }
    if (addr.outcome == DnsOutcome::kTempFail && addr.failure == DnsFailure::kDeadline) {
      if (term) s.Fail(Session::Abort::kTempError, "SPF deadline passed");
      return names;
    }
    for (const ResourceRecord& ar : addr.records) {
      unsigned char b[16];
      if (ar.type == family && inet_pton(af, ar.data.c_str(), b) == 1 &&
          std::equal(address, address + length, b)) {
        names.push_back(name);
        break;
      }
    }
  }
  return names;
}

std::string ExpandExplanation(std::string_view text, std::string_view domain, Session& s) {
  Expansion e = Expand(text, domain, s, /*term=*/false, kMaxExplanationBytes);
  CutAtCharBoundary(&e.out, kMaxExplanationBytes);
  return std::move(e.out);
}

Status ExpandDomainSpec(std::string_view spec, std::string_view domain, Session& s,
                        std::string* name) {
  Expansion e = Expand(spec, domain, s, /*term=*/true, SIZE_MAX);
  if (s.abort != Session::Abort::kNone) return Status::Invalid(s.detail);
  if (e.value_budget_spent) {
    return Status::Invalid("macro expansion of '" + std::string(spec.substr(0, 64)) +
                           "' passes " + std::to_string(kMaxMacroValueBytes) + " bytes");
  }
  std::string out = std::move(e.out);
  if (!out.empty() && out.back() == '.') out.pop_back();
  // RFC 7208 §7.3: "if the expanded domain name exceeds 253 characters ..., the left side
  // is truncated to fit, by removing successive domain labels (and their following dots)
  // until the total length does not exceed 253 characters."
  size_t start = 0;
  while (out.size() - start > kMaxDomainBytes) {
    size_t dot = out.find('.', start);
    if (dot == std::string::npos) break;  // one label: left as is, and no valid name
    start = dot + 1;
  }
  *name = LowerName(std::string_view(out).substr(start));
  return Status::Ok();
}

}  // namespace credence::spf
