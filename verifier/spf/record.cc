// RFC 7208 §12 grammar checks. One pass over each term; every loop is bounded by the length
// of its input.
#include "spf/record.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <vector>

#include "credence/ascii.h"
#include "spf/session.h"

namespace credence::spf {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// True when s[slash] is followed by one or more digits up to the end of `s`.
bool DigitsFollow(std::string_view s, size_t slash) {
  if (slash + 1 >= s.size()) return false;
  for (size_t i = slash + 1; i < s.size(); ++i) {
    if (!IsAsciiDigit(s[i])) return false;
  }
  return true;
}

// RFC 7208 §7.1: delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
bool IsDelimiter(char c) {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

// RFC 7208 §7.1: macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
// ("c", "r", "t" only in exp text, §7.2).
bool IsMacroLetter(char c, bool in_exp) {
  switch (AsciiLower(c)) {
    case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v':
      return true;
    case 'c': case 'r': case 't':
      return in_exp;
    default:
      return false;
  }
}

// Parses one macro-expand at text[*pos] == '%'. Advances *pos past it.
Status ParseMacroExpand(std::string_view text, size_t* pos, bool in_exp) {
  size_t i = *pos + 1;
  if (i >= text.size()) return Status::Invalid("'%' at end of macro-string");
  char c = text[i];
  // RFC 7208 §7.1: "%%", "%_", "%-" are literal escapes.
  if (c == '%' || c == '_' || c == '-') {
    *pos = i + 1;
    return Status::Ok();
  }
  if (c != '{') return Status::Invalid(std::string("invalid macro escape '%") + c + "'");
  ++i;
  if (i >= text.size() || !IsMacroLetter(text[i], in_exp)) {
    return Status::Invalid("invalid macro letter in '" + std::string(text.substr(*pos)) + "'");
  }
  ++i;
  // transformers = *DIGIT [ "r" ]; RFC 7208 §7.3: a DIGIT transformer must be nonzero, and
  // one larger than the parts there are takes them all: any number of digits is valid
  // ("d1000", "d0001"), only its value is kept (saturated: a domain has at most 127 parts).
  size_t digits_start = i;
  unsigned value = 0;
  while (i < text.size() && IsAsciiDigit(text[i])) {
    value = std::min(1000u, value * 10 + static_cast<unsigned>(text[i] - '0'));
    ++i;
  }
  if (i > digits_start && value == 0) return Status::Invalid("macro transformer 0");
  if (i < text.size() && AsciiLower(text[i]) == 'r') ++i;
  while (i < text.size() && IsDelimiter(text[i])) ++i;
  if (i >= text.size() || text[i] != '}') return Status::Invalid("unterminated macro");
  *pos = i + 1;
  return Status::Ok();
}

// RFC 7208 §7.1 toplabel = ( *alphanum ALPHA *alphanum ) /
//                          ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool IsTopLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  bool has_alpha = false, has_dash = false;
  for (char c : label) {
    if (IsAsciiAlpha(c)) {
      has_alpha = true;
    } else if (c == '-') {
      has_dash = true;
    } else if (!IsAsciiDigit(c)) {
      return false;
    }
  }
  if (label.front() == '-' || label.back() == '-') return false;
  return has_alpha || has_dash;
}

// RFC 7208 §7.1 domain-spec = macro-string domain-end;
// domain-end = ( "." toplabel [ "." ] ) / macro-expand
Status CheckDomainSpec(std::string_view spec) {
  if (spec.empty()) return Status::Invalid("empty domain-spec");
  Status s = CheckMacroString(spec, /*in_exp=*/false);
  if (!s.ok()) return s;
  // Ends with a macro-expand?
  if (spec.back() == '}') return Status::Ok();
  if (spec.size() >= 2 && spec[spec.size() - 2] == '%' &&
      (spec.back() == '%' || spec.back() == '_' || spec.back() == '-')) {
    // "%%" could be the tail of "%%%" etc.; count the run of '%' before the last char.
    size_t run = 0;
    for (size_t i = spec.size() - 1; i > 0 && spec[i - 1] == '%'; --i) ++run;
    if (run % 2 == 1) return Status::Ok();
  }
  std::string_view body = spec;
  if (body.back() == '.') body.remove_suffix(1);
  size_t dot = body.rfind('.');
  if (dot == std::string_view::npos) {
    return Status::Invalid("domain-spec '" + std::string(spec) + "' has no domain-end");
  }
  if (!IsTopLabel(body.substr(dot + 1))) {
    return Status::Invalid("domain-spec '" + std::string(spec) + "' has an invalid toplabel");
  }
  return Status::Ok();
}

// Parses "/NN" (ip4, max 32) or "/NNN" (ip6, max 128) at the whole of `text`.
// RFC 7208 §12: ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT ), likewise ip6 with 0*2DIGIT.
bool ParseCidr(std::string_view text, unsigned max) {
  if (text.size() < 2 || text[0] != '/') return false;
  std::string_view digits = text.substr(1);
  if (digits.size() > 3) return false;
  if (digits.size() > 1 && digits[0] == '0') return false;
  unsigned value = 0;
  for (char c : digits) {
    if (!IsAsciiDigit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= max;
}

// Splits an optional dual-cidr-length ( [ ip4-cidr-length ] [ "/" ip6-cidr-length ] ) off the
// end of `arg`. Only "/" followed by digits up to the end is a prefix length: a "/" elsewhere
// belongs to the domain-spec (a macro-literal, or a macro delimiter as in "%{l/}"). Returns
// false when a prefix length is present but malformed (leading zero, too large).
bool SplitDualCidr(std::string_view arg, std::string_view* rest) {
  size_t dd = arg.rfind("//");
  if (dd != std::string_view::npos && DigitsFollow(arg, dd + 1)) {
    if (!ParseCidr(arg.substr(dd + 1), 128)) return false;
    arg = arg.substr(0, dd);
  }
  size_t slash = arg.rfind('/');
  if (slash != std::string_view::npos && DigitsFollow(arg, slash)) {
    if (!ParseCidr(arg.substr(slash), 32)) return false;
    arg = arg.substr(0, slash);
  }
  *rest = arg;
  return true;
}

Status Bad(std::string_view what, std::string_view term) {
  return Status::Invalid(std::string(what) + " in term '" + std::string(term) + "'");
}

// Checks one directive (RFC 7208 §12: directive = [ qualifier ] mechanism).
Status CheckDirective(std::string_view term) {
  std::string_view t = term;
  if (!t.empty() && (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?')) {
    t.remove_prefix(1);
  }
  size_t name_end = 0;
  while (name_end < t.size() && IsAsciiAlnum(t[name_end])) ++name_end;
  std::string_view name = t.substr(0, name_end);
  std::string_view rest = t.substr(name_end);
  std::string_view arg;  // after ':'
  bool has_arg = !rest.empty() && rest[0] == ':';
  if (has_arg) arg = rest.substr(1);

  if (EqualsIgnoreCase(name, "all")) {
    if (!rest.empty()) return Bad("'all' takes no argument", term);
    return Status::Ok();
  }
  if (EqualsIgnoreCase(name, "include") || EqualsIgnoreCase(name, "exists")) {
    if (!has_arg) return Bad("missing domain-spec", term);
    Status s = CheckDomainSpec(arg);
    return s.ok() ? s : Bad(s.message(), term);
  }
  if (EqualsIgnoreCase(name, "a") || EqualsIgnoreCase(name, "mx")) {
    std::string_view body = has_arg ? arg : rest;
    std::string_view domain;
    if (!SplitDualCidr(body, &domain)) return Bad("invalid cidr length", term);
    if (has_arg) {
      Status s = CheckDomainSpec(domain);
      return s.ok() ? s : Bad(s.message(), term);
    }
    if (!domain.empty()) return Bad("unexpected text", term);
    return Status::Ok();
  }
  if (EqualsIgnoreCase(name, "ptr")) {
    if (has_arg) {
      Status s = CheckDomainSpec(arg);
      return s.ok() ? s : Bad(s.message(), term);
    }
    if (!rest.empty()) return Bad("unexpected text", term);
    return Status::Ok();
  }
  if (EqualsIgnoreCase(name, "ip4") || EqualsIgnoreCase(name, "ip6")) {
    bool v6 = EqualsIgnoreCase(name, "ip6");
    if (!has_arg) return Bad("missing address", term);
    std::string_view addr = arg;
    size_t slash = arg.find('/');
    if (slash != std::string_view::npos) {
      if (!ParseCidr(arg.substr(slash), v6 ? 128 : 32)) return Bad("invalid cidr length", term);
      addr = arg.substr(0, slash);
    }
    std::string a(addr);
    unsigned char buf[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, a.c_str(), buf) != 1) {
      return Bad(v6 ? "invalid ip6 address" : "invalid ip4 address", term);
    }
    return Status::Ok();
  }
  return Bad("unknown mechanism", term);
}

// The next term of the record's `rest` (after "v=spf1") from *pos: RFC 7208 §4.6.1 separates
// terms by one or more SP (%x20) only. False when there is none left.
bool NextTerm(std::string_view rest, size_t* pos, std::string_view* term) {
  while (*pos < rest.size() && rest[*pos] == ' ') ++*pos;
  if (*pos >= rest.size()) return false;
  size_t end = rest.find(' ', *pos);
  if (end == std::string_view::npos) end = rest.size();
  *term = rest.substr(*pos, end - *pos);
  *pos = end;
  return true;
}

// RFC 7208 §12: modifier = redirect / explanation / unknown-modifier;
// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ). The length of the name `term` starts
// with (0 when it does not start with a letter); a modifier when '=' follows it.
size_t ModifierNameLength(std::string_view term) {
  if (term.empty() || !IsAsciiAlpha(term[0])) return 0;
  size_t n = 1;
  while (n < term.size() &&
         (IsAsciiAlnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.')) {
    ++n;
  }
  return n;
}

}  // namespace

bool IsSpfRecord(std::string_view txt) {
  constexpr std::string_view kVersion = "v=spf1";
  if (txt.size() < kVersion.size()) return false;
  if (!EqualsIgnoreCase(txt.substr(0, kVersion.size()), kVersion)) return false;
  return txt.size() == kVersion.size() || txt[kVersion.size()] == ' ';
}

Status CheckMacroString(std::string_view text, bool in_exp) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '%') {
      Status s = ParseMacroExpand(text, &i, in_exp);
      if (!s.ok()) return s;
      continue;
    }
    // RFC 7208 §7.1 macro-literal = %x21-24 / %x26-7E (explain-string also allows SP).
    unsigned char u = static_cast<unsigned char>(c);
    if (!((u >= 0x21 && u <= 0x7E) || (in_exp && u == ' '))) {
      return Status::Invalid("invalid character in macro-string");
    }
    ++i;
  }
  return Status::Ok();
}

Status CheckSpfRecordSyntax(std::string_view record) {
  if (record.size() > kMaxRecordBytes) return Status::Invalid("record too long");
  if (!IsSpfRecord(record)) return Status::Invalid("not an SPF record");
  std::string_view rest = record.substr(6);
  bool seen_redirect = false, seen_exp = false;
  size_t pos = 0;
  std::string_view term;
  while (NextTerm(rest, &pos, &term)) {
    for (char c : term) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x21 || u > 0x7E) return Bad("invalid character", term);
    }
    size_t n = ModifierNameLength(term);
    if (n > 0 && n < term.size() && term[n] == '=') {
      std::string_view name = term.substr(0, n);
      std::string_view value = term.substr(n + 1);
      if (EqualsIgnoreCase(name, "redirect") || EqualsIgnoreCase(name, "exp")) {
        bool is_redirect = EqualsIgnoreCase(name, "redirect");
        // RFC 7208 §6: each of these may appear at most once.
        bool& seen = is_redirect ? seen_redirect : seen_exp;
        if (seen) return Bad("duplicate modifier", term);
        seen = true;
        Status s = CheckDomainSpec(value);
        if (!s.ok()) return Bad(s.message(), term);
      } else {
        Status s = CheckMacroString(value, /*in_exp=*/false);
        if (!s.ok()) return Bad(s.message(), term);
      }
      continue;
    }
    Status s = CheckDirective(term);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

bool IsValidCheckDomain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return false;
  if (domain.front() == '[') return false;  // address literal
  size_t labels = 0, start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    size_t len = dot - start;
    if (len == 0 || len > 63) return false;
    ++labels;
    start = dot + 1;
  }
  return labels >= 2;
}

bool HasValidTopLabel(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos) return false;
  return IsTopLabel(domain.substr(dot + 1));
}

namespace {

// Splits "[:domain-spec][/ip4][//ip6]" (what follows "a" or "mx") into its parts; as in
// SplitDualCidr, only "/" followed by digits up to the end is a prefix length.
void SplitAddressTerm(std::string_view after, std::string_view* spec, std::string_view* ip4,
                      std::string_view* ip6) {
  std::string_view body = after;
  size_t dd = body.rfind("//");
  if (dd != std::string_view::npos && DigitsFollow(body, dd + 1)) {
    *ip6 = body.substr(dd + 2);
    body = body.substr(0, dd);
  }
  size_t slash = body.rfind('/');
  if (slash != std::string_view::npos && DigitsFollow(body, slash)) {
    *ip4 = body.substr(slash + 1);
    body = body.substr(0, slash);
  }
  *spec = body.empty() ? body : body.substr(1);  // drop the ':'
}

}  // namespace

std::string RewriteForLibspf2(std::string_view record, bool client_v6, const AddTarget& add) {
  std::string out = "v=spf1";
  std::string_view rest = record.substr(6);
  std::string_view redirect;
  bool has_redirect = false, has_all = false;
  size_t pos = 0;
  std::string_view term;
  while (NextTerm(rest, &pos, &term)) {
    std::string_view t = term;
    std::string qualifier;
    if (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?') {
      qualifier = std::string(1, t[0]);
      t.remove_prefix(1);
    }
    size_t name_end = 0;
    while (name_end < t.size() && IsAsciiAlnum(t[name_end])) ++name_end;
    std::string_view name = t.substr(0, name_end);
    std::string_view after = t.substr(name_end);
    size_t eq = t.find('=');
    bool modifier = qualifier.empty() && eq != std::string_view::npos && eq > 0 &&
                    t.find_first_of(":/") > eq;
    if (modifier) {
      std::string_view mod = t.substr(0, eq);
      if (EqualsIgnoreCase(mod, "redirect")) {
        redirect = t.substr(eq + 1);
        has_redirect = true;
      } else if (EqualsIgnoreCase(mod, "exp")) {
        out += " exp=" + add(t.substr(eq + 1), false);
      }
      continue;  // RFC 7208 §6: unknown modifiers are ignored
    }
    out += ' ';
    if (EqualsIgnoreCase(name, "all")) has_all = true;
    if ((EqualsIgnoreCase(name, "ip4") || EqualsIgnoreCase(name, "ip6")) && EndsWith(after, "/0")) {
      bool v6 = EqualsIgnoreCase(name, "ip6");
      out += qualifier + (v6 ? "ip6:::/1 " : "ip4:0.0.0.0/1 ") + qualifier +
             (v6 ? "ip6:8000::/1" : "ip4:128.0.0.0/1");
      continue;
    }
    if (EqualsIgnoreCase(name, "a") || EqualsIgnoreCase(name, "mx")) {
      std::string_view spec, ip4, ip6;
      SplitAddressTerm(after, &spec, &ip4, &ip6);
      out += qualifier + std::string(name) + ":" + add(spec, false);
      if ((client_v6 ? ip6 : ip4) == "0") {
        out += kAnyAddressSuffix;
        continue;
      }
      // A zero prefix for the other family cannot matter: dropped.
      if (!ip4.empty() && ip4 != "0") out += "/" + std::string(ip4);
      if (!ip6.empty() && ip6 != "0") out += "//" + std::string(ip6);
      continue;
    }
    if (EqualsIgnoreCase(name, "ptr")) {
      std::string_view spec = after.empty() ? after : after.substr(1);
      out += qualifier + "exists:" + add(spec, true);
      continue;
    }
    if (EqualsIgnoreCase(name, "exists") || EqualsIgnoreCase(name, "include")) {
      out += qualifier + std::string(name) + ":" + add(after.substr(1), false);
      continue;
    }
    out += term;
  }
  // RFC 7208 §5.1: "redirect" MUST be ignored when the record has an "all" mechanism; §6.1:
  // it applies only after every mechanism failed to match, so it goes last.
  if (has_redirect && !has_all) out += " redirect=" + add(redirect, false);
  return out;
}

std::vector<SpfTerm> SplitSpfTerms(std::string_view record) {
  std::vector<SpfTerm> terms;
  if (record.size() > kMaxRecordBytes) record = record.substr(0, kMaxRecordBytes);
  if (!IsSpfRecord(record)) return terms;
  std::string_view rest = record.substr(6);
  size_t pos = 0;
  std::string_view text;
  while (NextTerm(rest, &pos, &text)) {
    SpfTerm term;
    term.text = text;
    size_t n = ModifierNameLength(text);
    if (n > 0 && n < text.size() && text[n] == '=') {
      term.modifier = true;
      term.name = text.substr(0, n);
      term.value = text.substr(n + 1);
      terms.push_back(term);
      continue;
    }
    std::string_view t = text;
    if (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?') {
      term.qualifier = t[0];
      t.remove_prefix(1);
    }
    size_t name_end = 0;
    while (name_end < t.size() && IsAsciiAlnum(t[name_end])) ++name_end;
    term.name = t.substr(0, name_end);
    std::string_view after = t.substr(name_end);
    if (EqualsIgnoreCase(term.name, "a") || EqualsIgnoreCase(term.name, "mx")) {
      std::string_view spec, ip4, ip6;
      SplitAddressTerm(after, &spec, &ip4, &ip6);
      size_t body = after.size();
      if (!ip6.empty()) body -= ip6.size() + 2;
      if (!ip4.empty()) body -= ip4.size() + 1;
      term.cidr = after.substr(body);
      term.value = spec;
    } else if (!after.empty() && after[0] == ':') {
      term.value = after.substr(1);
    }
    terms.push_back(term);
  }
  return terms;
}

}  // namespace credence::spf
