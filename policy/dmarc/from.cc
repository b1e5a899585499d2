// RFC5322.From: the Author Domain (RFC 9989 §3.2.1 / §4.4, RFC 7489 §6.6.1).
// RFC 5322 §3.4 / §3.6.2 / §4.4: mailbox-list, name-addr, angle-addr, group, obs-route,
// obs-mbox-list (empty list elements). A flat tokenizer plus a state machine: comments are
// nested with a depth counter, never by recursion.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/idna.h"
#include "credence/ascii.h"
#include "credence/base64.h"
#include "credence/utf8.h"
#include "credence/policy/dmarc.h"
#include "dmarc/domain_util.h"

namespace credence {
namespace {

constexpr size_t kMaxAddresses = 100;

enum class TokKind { kAtom, kQuoted, kLiteral, kSpecial };
struct Token {
  TokKind kind;
  std::string_view text;  // atom text, quoted content, or the special character
};

bool IsSpecial(char c) {
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ':' || c == ';';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Whether `v` has a CR or LF that is not part of a fold (CRLF followed by WSP, RFC 5322
// §2.2.3), anywhere: in a quoted string or a comment too. Mail readers disagree about a bare
// CR: some end the field there and read what follows as another field (a second From), so it
// is refused rather than read as a space.
bool HasBareLineBreak(std::string_view v) {
  for (size_t i = v.find_first_of("\r\n"); i != std::string_view::npos;
       i = v.find_first_of("\r\n", i + 1)) {
    if (v[i] == '\n') return true;  // a fold's LF is skipped below with its CR
    if (i + 2 >= v.size() || v[i + 1] != '\n' || (v[i + 2] != ' ' && v[i + 2] != '\t')) {
      return true;
    }
    ++i;
  }
  return false;
}

Status Tokenize(std::string_view v, std::vector<Token>* out) {
  if (HasBareLineBreak(v)) return Status::Invalid("a CR or LF that is not a line fold");
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '(') {  // RFC 5322 §3.2.2 comment, nested: depth counter
      size_t depth = 0;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\') {
          ++i;
        } else if (v[i] == '(') {
          ++depth;
        } else if (v[i] == ')') {
          if (--depth == 0) break;
        }
      }
      if (i >= v.size()) return Status::Invalid("unterminated comment");
      ++i;
    } else if (c == '"') {  // §3.2.4 quoted-string
      size_t start = ++i;
      for (; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\') ++i;
      }
      if (i >= v.size()) return Status::Invalid("unterminated quoted string");
      out->push_back({TokKind::kQuoted, v.substr(start, i - start)});
      ++i;
    } else if (c == '[') {  // §3.4.1 domain-literal
      size_t start = i;
      for (; i < v.size() && v[i] != ']'; ++i) {
        if (v[i] == '\\') ++i;
      }
      if (i >= v.size()) return Status::Invalid("unterminated domain literal");
      ++i;
      out->push_back({TokKind::kLiteral, v.substr(start, i - start)});
    } else if (IsSpecial(c)) {
      out->push_back({TokKind::kSpecial, v.substr(i, 1)});
      ++i;
    } else if (c == ')' || c == ']' || c == '\\') {
      return Status::Invalid(std::string("unexpected '") + c + "'");
    } else {  // atext, '.', and UTF-8 (RFC 6532)
      size_t start = i;
      while (i < v.size() && !IsSpace(v[i]) && !IsSpecial(v[i]) && v[i] != '(' &&
             v[i] != ')' && v[i] != '"' && v[i] != '[' && v[i] != ']' && v[i] != '\\') {
        ++i;
      }
      out->push_back({TokKind::kAtom, v.substr(start, i - start)});
    }
  }
  return Status::Ok();
}

// addr-spec tokens -> lower-case domain. Exactly one '@'; the domain is dot-atoms (obs-domain
// CFWS between labels allowed); a domain-literal has no DMARC meaning and is refused.
Status DomainOf(const std::vector<Token>& toks, size_t begin, size_t end, std::string* domain) {
  size_t at = end;
  for (size_t i = begin; i < end; ++i) {
    if (toks[i].kind == TokKind::kSpecial && toks[i].text == "@") {
      if (at != end) return Status::Invalid("more than one '@' in an address");
      at = i;
    }
  }
  if (at == end) return Status::Invalid("address without '@'");
  if (at == begin) return Status::Invalid("empty local part");
  if (at + 1 == end) return Status::Invalid("empty domain");
  std::string d;
  for (size_t i = at + 1; i < end; ++i) {
    if (toks[i].kind == TokKind::kLiteral) return Status::Invalid("domain literal");
    if (toks[i].kind != TokKind::kAtom) return Status::Invalid("malformed domain");
    d += toks[i].text;
  }
  std::string local;  // the local part's text, its tokens joined (comments and quotes gone)
  for (size_t i = begin; i < at; ++i) {
    if (toks[i].kind == TokKind::kSpecial || toks[i].kind == TokKind::kLiteral) {
      return Status::Invalid("malformed local part");
    }
    local.append(toks[i].text);  // linear: the field is bounded by the header limits
  }
  // RFC 2047 §5 (3): no encoded-word in an addr-spec. Readers that decode one anyway show
  // whatever it encodes ("ceo@bank.example" and a NUL that hides the rest) as the address;
  // looked for in the joined text, so a comment or a quote between "=?" and "?=" hides none.
  const size_t open = local.find("=?");
  if (open != std::string::npos && local.find("?=", open + 2) != std::string::npos) {
    return Status::Invalid("an encoded-word in an address (RFC 2047 §5)");
  }
  if (std::any_of(local.begin(), local.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
      })) {
    return Status::Invalid("a control character in the local part");
  }
  std::string norm = dmarc_internal::NormalizeDomain(d);
  if (norm.empty()) return Status::Invalid("From domain is not a valid domain name");
  // RFC 8616 §6, RFC 9989 §4.4: U-labels (RFC 6532 mail) are looked up and aligned as
  // A-labels; IDNA2008 refuses what is not a domain name. An ASCII name is final already.
  const auto non_ascii = [](char c) { return static_cast<unsigned char>(c) >= 0x80; };
  if (std::any_of(norm.begin(), norm.end(), non_ascii)) {
    Result<std::string> a_labels = ToALabels(norm);
    if (!a_labels.ok()) return Status::Invalid("From domain: " + a_labels.status().message());
    norm = dmarc_internal::NormalizeDomain(*a_labels);
    if (norm.empty()) return Status::Invalid("From domain is too long as A-labels");
  }
  *domain = std::move(norm);
  return Status::Ok();
}

}  // namespace

namespace {

// RFC 5322 §3.4 address-list (with the obsolete forms of §4.4) over the tokens of a From
// value: the domain of each mailbox, group members included, display names dropped.
class AddressListReader {
 public:
  explicit AddressListReader(const std::vector<Token>& toks) : toks_(toks) {}

  Result<std::vector<std::string>> Read() {
    for (size_t i = 0; i < toks_.size(); ++i) {
      const Token& t = toks_[i];
      if (t.kind != TokKind::kSpecial) {
        if (angle_ == kAfterAngle) return Status::Invalid("text after angle address");
        continue;
      }
      Status s = angle_ == kInAngle ? InAngle(t.text[0], i) : Outside(t.text[0], i);
      if (!s.ok()) return s;
    }
    // A group missing its final ';' is accepted (seen in the wild: "Mail From:<a@b>").
    if (Status s = Finish(toks_.size()); !s.ok()) return s;
    if (domains_.empty()) return Status::Invalid("no address");
    return std::move(domains_);
  }

 private:
  // A special inside <...>: '@', ',' and ':' belong to the address or its obs-route.
  Status InAngle(char c, size_t i) {
    if (c == '>') {
      angle_end_ = i;
      angle_ = kAfterAngle;
    } else if (c == '<') {
      return Status::Invalid("nested angle brackets");
    } else if (c == ';') {
      return Status::Invalid("';' inside angle address");
    }
    return Status::Ok();
  }

  Status Outside(char c, size_t i) {
    switch (c) {
      case '<':
        if (angle_ == kAfterAngle) return Status::Invalid("second angle address");
        // An '@' in the display name: checked once the angle address is read (Finish).
        display_at_ = at_in_mailbox_;
        display_end_ = i;
        angle_ = kInAngle;
        angle_begin_ = i + 1;
        return Status::Ok();
      case '>':
        return Status::Invalid("unbalanced '>'");
      case ',':
        return Finish(i);
      case ':':
        // group = display-name ":" [group-list] ";" — the display name is dropped.
        if (in_group_ || angle_ != kOutside) return Status::Invalid("unexpected ':'");
        if (i == mb_begin_) return Status::Invalid("group without display name");
        if (at_in_mailbox_) return Status::Invalid("'@' in a group's display name (not quoted)");
        in_group_ = true;
        mb_begin_ = i + 1;
        return Status::Ok();
      case ';': {
        if (!in_group_) return Status::Invalid("';' outside a group");
        Status s = Finish(i);
        in_group_ = false;
        return s;
      }
      case '@':
        if (angle_ == kAfterAngle) return Status::Invalid("text after angle address");
        // An addr-spec's, unless a '<' or ':' follows: then a display name's, which readers
        // differ on (some show it as the address), so it is refused.
        at_in_mailbox_ = true;
        return Status::Ok();
    }
    return Status::Ok();
  }

  // Ends the mailbox [mb_begin_, end). Empty elements are allowed (obs-mbox-list).
  Status Finish(size_t end) {
    if (angle_ == kInAngle) return Status::Invalid("unterminated angle address");
    if (angle_ == kAfterAngle) {
      size_t b = angle_begin_;
      // RFC 5322 §4.4 obs-angle-addr: an obs-route "@a,@b:" before the addr-spec.
      if (b < angle_end_ && IsSpecial(b, "@")) {
        while (b < angle_end_ && !IsSpecial(b, ":")) ++b;
        if (b == angle_end_) return Status::Invalid("malformed route");
        ++b;
      }
      if (b == angle_end_) return Status::Invalid("empty angle address");
      if (Status s = AddDomain(b, angle_end_); !s.ok()) return s;
      // An unquoted '@' in the display name: some readers show the display name as the
      // address. Harmless only when it reads as an address of the same domain
      // ("info@shop.example <info@shop.example>", common in bulk mail); else refused.
      if (display_at_) {
        std::string shown;
        if (!DomainOf(toks_, mb_begin_, display_end_, &shown).ok() || shown != domains_.back()) {
          return Status::Invalid("'@' in a display name (not quoted)");
        }
      }
    } else if (end > mb_begin_) {
      if (Status s = AddDomain(mb_begin_, end); !s.ok()) return s;
    }
    if (domains_.size() > kMaxAddresses) return Status::Invalid("too many addresses");
    angle_ = kOutside;
    at_in_mailbox_ = false;
    display_at_ = false;
    mb_begin_ = end + 1;
    return Status::Ok();
  }

  Status AddDomain(size_t begin, size_t end) {
    std::string d;
    if (Status s = DomainOf(toks_, begin, end, &d); !s.ok()) return s;
    domains_.push_back(std::move(d));
    return Status::Ok();
  }

  bool IsSpecial(size_t i, std::string_view text) const {
    return toks_[i].kind == TokKind::kSpecial && toks_[i].text == text;
  }

  const std::vector<Token>& toks_;
  std::vector<std::string> domains_;
  bool in_group_ = false;
  bool at_in_mailbox_ = false;  // an '@' outside <...> since the current mailbox began
  bool display_at_ = false;     // ... before the '<': in the display name
  size_t display_end_ = 0;      // index of the '<'
  size_t mb_begin_ = 0;     // first token of the current mailbox
  size_t angle_begin_ = 0;  // first token inside <...>
  size_t angle_end_ = 0;    // index of '>'
  enum { kOutside, kInAngle, kAfterAngle } angle_ = kOutside;
};

}  // namespace

Result<std::vector<std::string>> ParseFromDomains(std::string_view from_value) {
  std::vector<Token> toks;
  toks.reserve(16);  // "Name <user@example.com>" is 7 tokens: one allocation for most fields
  if (Status s = Tokenize(from_value, &toks); !s.ok()) return s;
  return AddressListReader(toks).Read();
}

namespace {

// RFC 2047 §2 encoded-word "=?charset?B|Q?text?=" at v[i]: its decoded bytes appended to
// `out` (the charset is not needed to find an address) and where it ends; false when it is
// not one. Words longer than §2's 75 characters are decoded too (mail readers do). `*close`
// memoises where the next "?=" is, so a value of many "=?" is read in linear time.
bool DecodeEncodedWord(std::string_view v, size_t i, std::string* out, size_t* end,
                       size_t* close_memo) {
  if (v.substr(i, 2) != "=?") return false;
  const size_t q1 = v.find_first_of("?\r\n\t ", i + 2);
  if (q1 == std::string_view::npos || v[q1] != '?' || q1 + 2 >= v.size() || v[q1 + 2] != '?') {
    return false;
  }
  const char enc = static_cast<char>(v[q1 + 1] | 0x20);
  if (enc != 'b' && enc != 'q') return false;
  if (*close_memo < q1 + 3) *close_memo = v.find("?=", q1 + 3);
  const size_t close = *close_memo;
  if (close == std::string_view::npos) return false;
  const std::string_view text = v.substr(q1 + 3, close - q1 - 3);
  if (enc == 'b') {
    Result<std::string> bytes = DecodeBase64(text);
    if (!bytes.ok()) return false;
    out->append(*bytes);
  } else {
    // RFC 2047 §4.2: "_" is a space, "=XX" a byte in hexadecimal.
    auto hex = [](char c) {
      const char l = static_cast<char>(c | 0x20);
      return c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
    };
    for (size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '_') {
        out->push_back(' ');
      } else if (text[k] == '=' && k + 2 < text.size() && hex(text[k + 1]) >= 0 &&
                 hex(text[k + 2]) >= 0) {
        out->push_back(static_cast<char>(hex(text[k + 1]) * 16 + hex(text[k + 2])));
        k += 2;
      } else {
        out->push_back(text[k]);
      }
    }
  }
  *end = close + 2;
  return true;
}

// What a reader shows for one code point, where it matters for finding an address: '@' for
// the full-width and small commercial at (U+FF20, U+FE6B); '.' for the full stops that look
// like one (ideographic, full-width, half-width, small, one-dot leader, middle dot, word
// separator middle dot: RFC 3490 §3.1 reads the first three as label dots); 0 for what shows
// nothing (zero-width characters and joiners, direction marks, embeddings and isolates,
// invisible operators, variation selectors, tags, BOM, soft hyphen, combining grapheme
// joiner, Mongolian vowel separator); -1 for anything else, kept as it is.
int Shown(uint32_t cp) {
  switch (cp) {
    case 0xFF20: case 0xFE6B: return '@';
    case 0x3002: case 0xFF0E: case 0xFF61: case 0xFE52: case 0x2024: case 0x00B7: case 0x2E31:
      return '.';
    case 0x00AD: case 0x034F: case 0x180E: case 0xFEFF: return 0;
    default: break;
  }
  if ((cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2060 && cp <= 0x206F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xE0000 && cp <= 0xE0FFF)) {
    return 0;
  }
  return -1;
}

// The text a reader shows for a From value. First the encoded-words are decoded, the white
// space between adjacent ones dropped (RFC 2047 §6.2), and quoted-pairs unescaped (`\@` is
// '@'; before an 8-bit character only the backslash goes); then, over all of it, each code
// point is read as Shown() says.
std::string ShownText(std::string_view v) {
  std::string text;
  text.reserve(v.size());
  size_t close_memo = 0;
  bool after_word = false;  // the last thing appended was an encoded-word
  for (size_t i = 0; i < v.size();) {
    size_t end = 0;
    if (after_word) {
      // §6.2: white space between two encoded-words is not shown.
      size_t j = v.find_first_not_of(" \t\r\n", i);
      if (j != i && j != std::string_view::npos && v.substr(j, 2) == "=?") {
        std::string word;
        if (DecodeEncodedWord(v, j, &word, &end, &close_memo)) {
          text += word;
          i = end;
          continue;
        }
      }
    }
    if (DecodeEncodedWord(v, i, &text, &end, &close_memo)) {
      i = end;
      after_word = true;
      continue;
    }
    after_word = false;
    if (v[i] == '\\' && i + 1 < v.size()) {  // RFC 5322 §3.2.1 quoted-pair
      if ((v[i + 1] & 0x80) == 0) text.push_back(v[i + 1]);
      i += (v[i + 1] & 0x80) == 0 ? 2 : 1;    // an 8-bit character is read whole below
      continue;
    }
    text.push_back(v[i++]);
  }
  std::string shown;
  shown.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = (text[i] & 0x80) != 0 ? Utf8Sequence(text, i, &cp) : 0;
    const int as = n > 0 ? Shown(cp) : -1;
    if (as < 0) {
      const size_t k = n > 0 ? n : 1;
      shown.append(text, i, k);
      i += k;
      continue;
    }
    if (as > 0) shown.push_back(static_cast<char>(as));
    i += n;
  }
  return shown;
}

// Where a local part stops, reading back from its '@' in shown text.
bool EndsLocalPart(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<' || c == '>' || c == '(' ||
         c == ')' || c == '[' || c == ']' || c == ',' || c == ';' || c == ':' || c == '"' ||
         c == '\'';
}

// Where a domain that starts at `i` of shown text ends: ASCII letters, digits, '.' and '-',
// and UTF-8 sequences of letters (not Latin-1 symbols, general punctuation, CJK or full-width
// punctuation and spaces: a quote, a bracket or NBSP after an address ends it). Bytes that
// are not UTF-8 (an encoded-word of another charset) end it too.
size_t DomainEnd(std::string_view text, size_t i) {
  while (i < text.size()) {
    const char c = text[i];
    if ((c & 0x80) == 0) {
      if (!IsAsciiAlnum(c) && c != '.' && c != '-') break;
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t n = Utf8Sequence(text, i, &cp);
    const bool letter = n > 0 && cp >= 0xC0 && cp != 0xD7 && cp != 0xF7 &&
                        !(cp >= 0x2000 && cp <= 0x2BFF) && !(cp >= 0x3000 && cp <= 0x303F) &&
                        !(cp >= 0xFE30 && cp <= 0xFE6F) && !(cp >= 0xFF00 && cp <= 0xFF20) &&
                        !(cp >= 0xFF3B && cp <= 0xFF40) && !(cp >= 0xFF5B && cp <= 0xFF65) &&
                        cp < 0xFFF0;
    if (!letter) break;
    i += n;
  }
  return i;
}

// `d` without the dots and hyphens that end a sentence after it.
std::string Trimmed(std::string d) {
  while (!d.empty() && (d.back() == '.' || d.back() == '-')) d.pop_back();
  return d;
}

// What reads as a host name: a dot inside, a last label of two bytes or more, not all digits
// (an address literal or a version number is no domain).
bool ReadsAsDomain(std::string_view d) {
  const size_t dot = d.rfind('.');
  return dot != std::string_view::npos && dot != 0 && d.size() - dot >= 3 &&
         !std::all_of(d.begin() + static_cast<std::ptrdiff_t>(dot) + 1, d.end(),
                      [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::vector<ShownDomain> DomainsShownInFrom(std::string_view from_value) {
  constexpr size_t kMaxRead = 4096, kMaxDomains = 8;
  const std::string_view v = from_value.substr(0, kMaxRead);
  std::vector<ShownDomain> out;
  // One '@', no encoded-word and no 8-bit byte (most From fields): the address itself is all
  // it shows, and its domain is the one DMARC judges.
  if (std::count(v.begin(), v.end(), '@') <= 1 && v.find("=?") == std::string_view::npos &&
      std::none_of(v.begin(), v.end(), [](char c) { return (c & 0x80) != 0; })) {
    return out;
  }
  const std::string text = ShownText(v);
  for (size_t at = text.find('@'); at != std::string::npos && out.size() < kMaxDomains;
       at = text.find('@', at + 1)) {
    if (at == 0 || EndsLocalPart(text[at - 1]) || text[at - 1] == '@') continue;
    const size_t e = DomainEnd(text, at + 1);
    ShownDomain shown;
    std::string domain = Trimmed(ToLower(std::string_view(text).substr(at + 1, e - at - 1)));
    if (std::any_of(domain.begin(), domain.end(), [](char c) { return (c & 0x80) != 0; })) {
      // U-labels as DMARC reads the address (A-labels), so an internationalised From domain
      // shown in its own name is not another domain; what IDNA refuses is kept as shown.
      // Text written right after an address (CJK has no spaces: "info@acme.exampleより")
      // runs into the domain: the part before the first 8-bit character is a second reading.
      std::string ascii = Trimmed(domain.substr(
          0, static_cast<size_t>(std::find_if(domain.begin(), domain.end(),
                                              [](char c) { return (c & 0x80) != 0; }) -
                                 domain.begin())));
      if (Result<std::string> a = ToALabels(domain); a.ok()) domain = std::move(a).value();
      if (ReadsAsDomain(ascii)) {
        if (!ReadsAsDomain(domain)) domain = std::move(ascii);
        else shown.ascii_prefix = std::move(ascii);
      }
    }
    if (!ReadsAsDomain(domain)) continue;
    shown.domain = std::move(domain);
    if (std::find_if(out.begin(), out.end(), [&](const ShownDomain& o) {
          return o.domain == shown.domain;
        }) == out.end()) {
      out.push_back(std::move(shown));
    }
  }
  return out;
}

Result<std::string> ExtractAuthorDomain(const Message& message) {
  const dmarc_internal::FromFields froms = dmarc_internal::FindFromFields(message);
  // RFC 5322 §3.6: exactly one From field. RFC 9989 §4.4 (and RFC 7489 §6.6.1) leave
  // messages with several From fields to local policy; credence calls them permerror
  // (docs/dmarc.md: the classic spoofing attack shows one, authenticates another).
  if (froms.count == 0) return Status::Invalid("no From field");
  if (froms.count > 1) return Status::Invalid("multiple From fields");
  Result<std::vector<std::string>> domains = ParseFromDomains(froms.first->value);
  if (!domains.ok()) return Status::Invalid("From: " + domains.status().message());
  for (const std::string& d : *domains) {
    if (d != domains->front()) return Status::Invalid("multiple From addresses");
  }
  return domains->front();
}

}  // namespace credence
