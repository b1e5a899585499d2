#include "dns/zone_parser.h"

#include <arpa/inet.h>

#include <charconv>

#include "credence/ascii.h"
#include "dns/dns_name.h"

namespace credence::dns_internal {

namespace {

struct Token {
  std::string text;  // quoted: unescaped content; unquoted: raw, escapes kept
  size_t line = 0;
  bool quoted = false;
};

// One logical record: the fields of a line, or of several lines joined by "( ... )".
struct Entry {
  std::vector<Token> tokens;
  bool leading_space = false;  // the owner field is omitted
  size_t line = 0;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits zone text into entries, one at a time. No recursion; every loop advances pos_.
class Tokenizer {
 public:
  Tokenizer(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  // Next entry into *out. Returns false at the end of the text or on error (*error set).
  bool Next(Entry* out, Status* error) {
    out->tokens.clear();
    out->leading_space = false;
    int depth = 0;
    size_t paren_line = 0;
    bool line_start = true;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (line_start && depth == 0 && out->tokens.empty()) {
        out->leading_space = IsSpace(c);
        out->line = line_;
      }
      line_start = false;
      if (c == '\n') {
        ++line_;
        ++pos_;
        line_start = true;
        if (depth == 0 && !out->tokens.empty()) return true;
        continue;
      }
      if (IsSpace(c)) {
        ++pos_;
        continue;
      }
      if (c == ';') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        continue;
      }
      if (c == '(') {
        if (depth > 0) return Fail(error, line_, "nested '('");
        depth = 1;
        paren_line = line_;
        ++pos_;
        continue;
      }
      if (c == ')') {
        if (depth == 0) return Fail(error, line_, "')' without '('");
        depth = 0;
        ++pos_;
        continue;
      }
      if (out->tokens.size() >= kMaxFieldsPerRecord) {
        return Fail(error, line_, "more than " + std::to_string(kMaxFieldsPerRecord) + " fields");
      }
      Token t;
      t.line = line_;
      if (c == '"') {
        if (!Quoted(&t, error)) return false;
      } else {
        if (!Unquoted(&t, error)) return false;
      }
      out->tokens.push_back(std::move(t));
    }
    if (depth > 0) return Fail(error, paren_line, "'(' without ')'");
    return !out->tokens.empty();
  }

  Status Error(size_t line, std::string_view what) const {
    return Status::Invalid(std::string(source_) + ":" + std::to_string(line) + ": " +
                           std::string(what));
  }

 private:
  bool Fail(Status* error, size_t line, std::string_view what) {
    *error = Error(line, what);
    pos_ = text_.size();
    return false;
  }

  // "..." with \" \\ \DDD and \X; the string must end on its line.
  bool Quoted(Token* t, Status* error) {
    t->quoted = true;
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') {
        return Fail(error, t->line, "unterminated quoted string");
      }
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (t->text.size() >= kMaxTokenBytes) return Fail(error, t->line, "field too long");
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) return Fail(error, t->line, "unterminated quoted string");
        char n = text_[pos_ + 1];
        if (IsAsciiDigit(n)) {
          int v = 0;
          for (size_t k = 1; k <= 3; ++k) {
            if (pos_ + k >= text_.size() || !IsAsciiDigit(text_[pos_ + k])) {
              return Fail(error, t->line, "bad \\DDD escape");
            }
            v = v * 10 + (text_[pos_ + k] - '0');
          }
          if (v > 255) return Fail(error, t->line, "bad \\DDD escape");
          t->text.push_back(static_cast<char>(v));
          pos_ += 4;
          continue;
        }
        if (n == '\n') ++line_;
        t->text.push_back(n);
        pos_ += 2;
        continue;
      }
      t->text.push_back(c);
      ++pos_;
    }
  }

  // Up to whitespace, newline, ';', '(', ')' or '"'; a backslash keeps the next character.
  bool Unquoted(Token* t, Status* error) {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (IsSpace(c) || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"') break;
      if (t->text.size() >= kMaxTokenBytes) return Fail(error, t->line, "field too long");
      if (c == '\\') {
        if (pos_ + 1 >= text_.size() || text_[pos_ + 1] == '\n') {
          return Fail(error, t->line, "dangling backslash");
        }
        t->text.push_back(c);
        t->text.push_back(text_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      t->text.push_back(c);
      ++pos_;
    }
    return true;
  }

  std::string_view text_;
  std::string_view source_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

// Unescapes an unquoted field (\DDD and \X) for TXT. False on a bad \DDD.
bool Unescape(std::string_view raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out->push_back(raw[i]);
      continue;
    }
    if (i + 1 >= raw.size()) return false;
    if (IsAsciiDigit(raw[i + 1])) {
      if (i + 3 >= raw.size()) return false;
      int v = 0;
      for (size_t k = 1; k <= 3; ++k) {
        if (!IsAsciiDigit(raw[i + k])) return false;
        v = v * 10 + (raw[i + k] - '0');
      }
      if (v > 255) return false;
      out->push_back(static_cast<char>(v));
      i += 3;
    } else {
      out->push_back(raw[i + 1]);
      ++i;
    }
  }
  return true;
}

bool ParseUint(std::string_view text, uint64_t max, uint64_t* value) {
  if (text.empty() || !IsAsciiDigit(text[0])) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size() && *value <= max;
}

class RecordParser {
 public:
  RecordParser(std::string_view origin, const Tokenizer& tok, ParsedZone* out)
      : origin_(NormalizeName(origin)), tok_(tok), out_(out) {}

  Status Handle(const Entry& e) {
    const std::vector<Token>& t = e.tokens;
    if (!e.leading_space && !t[0].quoted && t[0].text[0] == '$') return Directive(e);
    size_t i = 0;
    std::string owner;
    if (e.leading_space) {
      if (last_owner_.empty()) return tok_.Error(e.line, "no previous owner name to repeat");
      owner = last_owner_;
    } else {
      Status s = Name(t[0], &owner);
      if (!s.ok()) return s;
      i = 1;
    }
    last_owner_ = owner;
    // [TTL] [class] or [class] [TTL], then the type (RFC 1035 §5.1).
    bool have_ttl = false, have_class = false;
    uint32_t ttl = 0;
    for (; i < t.size(); ++i) {
      const Token& f = t[i];
      if (f.quoted) break;
      if (!have_ttl && IsAsciiDigit(f.text[0])) {
        if (!ParseTtl(f.text, &ttl)) return tok_.Error(f.line, "bad TTL '" + f.text + "'");
        have_ttl = true;
        continue;
      }
      if (!have_class && EqualsIgnoreCase(f.text, "IN")) {
        have_class = true;
        continue;
      }
      if (EqualsIgnoreCase(f.text, "CH") || EqualsIgnoreCase(f.text, "HS") ||
          EqualsIgnoreCase(f.text, "CS") || EqualsIgnoreCase(f.text, "ANY")) {
        return tok_.Error(f.line, "unsupported class '" + f.text + "'");
      }
      break;
    }
    if (i >= t.size()) return tok_.Error(e.line, "missing record type");
    const Token& type_token = t[i];
    if (have_ttl) {
      last_ttl_ = ttl;
      have_last_ttl_ = true;
    } else {
      ttl = have_default_ttl_ ? default_ttl_ : have_last_ttl_ ? last_ttl_ : kDefaultZoneTtl;
    }
    // RFC 7208 §3.1: the SPF RR type (99) is obsolete. Such a record is kept as RFC 3597
    // RDATA of type 99 (what a DNS reply gives), never as TXT, so that `credence check` can
    // tell an admin it is there.
    bool spf_type = !type_token.quoted && EqualsIgnoreCase(type_token.text, "SPF");
    RRType type = RRType::kTXT;  // read as TXT first when spf_type
    if (!spf_type && (type_token.quoted || !ParseRRType(type_token.text, &type))) {
      return tok_.Error(type_token.line, "unknown record type '" + type_token.text + "'");
    }
    ZoneRecord rec;
    rec.owner = owner;
    rec.line = e.line;
    rec.rr.type = type;
    rec.rr.ttl = ttl;
    std::span<const Token> rdata(t.data() + i + 1, t.size() - i - 1);
    Status s = Rdata(type, type_token, rdata, &rec.rr);
    if (!s.ok()) return s;
    if (spf_type) ToSpfRdata(&rec.rr);
    if (out_->records.size() >= kMaxZoneRecords) return tok_.Error(e.line, "too many records");
    if (type == RRType::kSOA) out_->origins.push_back(owner);
    out_->records.push_back(std::move(rec));
    return Status::Ok();
  }

 private:
  Status Directive(const Entry& e) {
    const std::vector<Token>& t = e.tokens;
    std::string d = ToLower(t[0].text);
    if (d == "$origin") {
      if (t.size() != 2) return tok_.Error(e.line, "$ORIGIN needs one name");
      std::string name;
      Status s = Name(t[1], &name);
      if (!s.ok()) return s;
      origin_ = name;
      out_->origins.push_back(name);
      return Status::Ok();
    }
    if (d == "$ttl") {
      if (t.size() != 2) return tok_.Error(e.line, "$TTL needs one value");
      if (!ParseTtl(t[1].text, &default_ttl_)) {
        return tok_.Error(t[1].line, "bad TTL '" + t[1].text + "'");
      }
      have_default_ttl_ = true;
      return Status::Ok();
    }
    return tok_.Error(e.line, "unsupported directive '" + t[0].text + "'");
  }

  // A domain name field: "@", absolute ("a.b.") or relative to the current origin, read to
  // the normalised spelling (dns_name.h: "a\\;b" and "a\\059b" are the name "a;b"). The root
  // (".") only where `allow_root`: RDATA names (RFC 7505 §3: the null MX is "0 .").
  Status Name(const Token& f, std::string* out, bool allow_root = false) {
    if (f.quoted) return tok_.Error(f.line, "quoted name '" + f.text + "'");
    std::string name;
    if (f.text == "@") {
      name = origin_;
    } else if (f.text == ".") {
      name.clear();
    } else {
      bool absolute = f.text.back() == '.';
      if (absolute) {
        size_t backslashes = 0;
        for (size_t k = f.text.size() - 1; k > 0 && f.text[k - 1] == '\\'; --k) ++backslashes;
        absolute = backslashes % 2 == 0;
      }
      if (absolute) {
        name = NormalizeName(f.text);
      } else if (origin_.empty()) {
        return tok_.Error(f.line, "relative name '" + f.text + "' and no $ORIGIN");
      } else {
        name = NormalizeName(f.text) + "." + origin_;
      }
    }
    if (name.empty()) {
      if (!allow_root) return tok_.Error(f.line, "the root name is not supported here");
      out->clear();
      return Status::Ok();
    }
    std::string bad = CheckName(name);
    if (!bad.empty()) return tok_.Error(f.line, "bad name '" + f.text + "': " + bad);
    *out = std::move(name);
    return Status::Ok();
  }

  // A record read as TXT becomes the RFC 3597 RDATA of type 99 (each character-string as a
  // length octet and its octets), as a DNS reply of that type gives it.
  static void ToSpfRdata(ResourceRecord* rr) {
    std::string raw;
    size_t start = 0;
    for (size_t i = 0; i <= rr->txt_breaks.size(); ++i) {
      size_t end = i < rr->txt_breaks.size() ? rr->txt_breaks[i] : rr->data.size();
      raw += static_cast<char>(end - start);
      raw.append(rr->data, start, end - start);
      start = end;
    }
    rr->type = static_cast<RRType>(99);
    rr->data = std::move(raw);
    rr->txt_breaks.clear();
  }

  Status Count(const Token& type, std::span<const Token> rdata, size_t want) {
    if (rdata.size() == want) return Status::Ok();
    return tok_.Error(type.line, type.text + " needs " + std::to_string(want) + " field" +
                                     (want == 1 ? "" : "s") + ", got " +
                                     std::to_string(rdata.size()));
  }

  Status Rdata(RRType type, const Token& type_token, std::span<const Token> f,
               ResourceRecord* rr) {
    switch (type) {
      case RRType::kA:
      case RRType::kAAAA:
        return AddressRdata(type == RRType::kA, type_token, f, rr);
      case RRType::kMX: {
        Status s = Count(type_token, f, 2);
        if (!s.ok()) return s;
        uint64_t pref = 0;
        if (f[0].quoted || !ParseUint(f[0].text, 65535, &pref)) {
          return tok_.Error(f[0].line, "bad MX preference '" + f[0].text + "'");
        }
        rr->preference = static_cast<uint16_t>(pref);
        return Name(f[1], &rr->data, /*allow_root=*/true);
      }
      case RRType::kNS:
      case RRType::kCNAME:
      case RRType::kPTR: {
        Status s = Count(type_token, f, 1);
        if (!s.ok()) return s;
        return Name(f[0], &rr->data, /*allow_root=*/true);
      }
      case RRType::kTXT:
        return TxtRdata(type_token, f, rr);
      case RRType::kSOA:
        return SoaRdata(type_token, f, rr);
    }
    return GenericRdata(type_token, f, rr);
  }

  Status AddressRdata(bool v4, const Token& type_token, std::span<const Token> f,
                      ResourceRecord* rr) {
    Status s = Count(type_token, f, 1);
    if (!s.ok()) return s;
    unsigned char buf[16];
    char text[INET6_ADDRSTRLEN];
    if (f[0].quoted || inet_pton(v4 ? AF_INET : AF_INET6, f[0].text.c_str(), buf) != 1 ||
        !inet_ntop(v4 ? AF_INET : AF_INET6, buf, text, sizeof text)) {
      return tok_.Error(f[0].line, std::string(v4 ? "bad IPv4" : "bad IPv6") + " address '" +
                                       f[0].text + "'");
    }
    rr->data = text;
    return Status::Ok();
  }

  // RFC 1035 §3.3.14: one or more character-strings of at most 255 octets each.
  Status TxtRdata(const Token& type_token, std::span<const Token> f, ResourceRecord* rr) {
    if (f.empty()) return tok_.Error(type_token.line, "TXT needs at least one string");
    rr->data.clear();
    rr->txt_breaks.clear();
    std::string piece;
    for (const Token& x : f) {
      if (x.quoted) {
        piece = x.text;
      } else if (!Unescape(x.text, &piece)) {
        return tok_.Error(x.line, "bad escape in '" + x.text + "'");
      }
      if (piece.size() > 255) return tok_.Error(x.line, "TXT string longer than 255 octets");
      if (&x != &f.front()) rr->txt_breaks.push_back(static_cast<uint16_t>(rr->data.size()));
      rr->data += piece;
    }
    if (rr->data.size() + f.size() > 65535) {
      return tok_.Error(type_token.line, "TXT record longer than 65535 octets");
    }
    return Status::Ok();
  }

  Status SoaRdata(const Token& type_token, std::span<const Token> f, ResourceRecord* rr) {
    Status s = Count(type_token, f, 7);
    if (!s.ok()) return s;
    std::string mname, rname;
    s = Name(f[0], &mname, /*allow_root=*/true);
    if (!s.ok()) return s;
    s = Name(f[1], &rname, /*allow_root=*/true);
    if (!s.ok()) return s;
    rr->data = mname + " " + rname;
    uint64_t serial = 0;
    if (f[2].quoted || !ParseUint(f[2].text, 0xFFFFFFFFu, &serial)) {
      return tok_.Error(f[2].line, "bad SOA serial '" + f[2].text + "'");
    }
    rr->data += " " + std::to_string(serial);
    // RFC 1035 §3.3.13: REFRESH, RETRY, EXPIRE and MINIMUM are 32-bit unsigned; BIND also
    // takes TTL units ("1h") for them.
    for (size_t k = 3; k < 7; ++k) {
      uint64_t plain = 0;
      uint32_t v = 0;
      if (!f[k].quoted && ParseUint(f[k].text, 0xFFFFFFFFu, &plain)) {
        v = static_cast<uint32_t>(plain);
      } else if (f[k].quoted || !ParseTtl(f[k].text, &v)) {
        return tok_.Error(f[k].line, "bad SOA time '" + f[k].text + "'");
      }
      rr->data += " " + std::to_string(v);
    }
    return Status::Ok();
  }

  // RFC 3597 §5: TYPEn \# <length> <hex>...
  Status GenericRdata(const Token& type_token, std::span<const Token> f, ResourceRecord* rr) {
    const std::string& tname = type_token.text;
    if (f.empty() || f[0].quoted || f[0].text != "\\#") {
      return tok_.Error(type_token.line, tname + " needs RFC 3597 rdata '\\# LENGTH HEX'");
    }
    uint64_t len = 0;
    if (f.size() < 2 || f[1].quoted || !ParseUint(f[1].text, 65535, &len)) {
      return tok_.Error(type_token.line, tname + ": bad rdata length");
    }
    std::string hex;
    for (size_t k = 2; k < f.size(); ++k) hex += f[k].text;
    if (hex.size() != 2 * len) {
      return tok_.Error(type_token.line, tname + ": rdata length " + std::to_string(len) +
                                             " does not match the hex data");
    }
    rr->data.clear();
    for (size_t k = 0; k < hex.size(); k += 2) {
      int v = 0;
      for (size_t j = 0; j < 2; ++j) {
        char c = hex[k + j];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return tok_.Error(type_token.line, tname + ": bad hex in rdata");
        v = v * 16 + d;
      }
      rr->data.push_back(static_cast<char>(v));
    }
    return Status::Ok();
  }

  std::string origin_;
  const Tokenizer& tok_;
  ParsedZone* out_;
  std::string last_owner_;
  uint32_t default_ttl_ = 0;
  bool have_default_ttl_ = false;
  uint32_t last_ttl_ = 0;
  bool have_last_ttl_ = false;
};

}  // namespace

bool ParseTtl(std::string_view text, uint32_t* ttl) {
  if (text.empty() || !IsAsciiDigit(text[0])) return false;
  uint64_t total = 0;
  uint64_t number = 0;
  bool in_number = false;
  bool units = false;
  for (char c : text) {
    if (IsAsciiDigit(c)) {
      number = number * 10 + static_cast<uint64_t>(c - '0');
      if (number > 0x7FFFFFFFu) return false;
      in_number = true;
      continue;
    }
    uint64_t mult = 0;
    switch (c) {
      case 'w': case 'W': mult = 604800; break;
      case 'd': case 'D': mult = 86400; break;
      case 'h': case 'H': mult = 3600; break;
      case 'm': case 'M': mult = 60; break;
      case 's': case 'S': mult = 1; break;
      default: return false;
    }
    if (!in_number) return false;
    total += number * mult;
    if (total > 0x7FFFFFFFu) return false;
    number = 0;
    in_number = false;
    units = true;
  }
  if (in_number) {
    if (units) return false;  // "1h30" is ambiguous: BIND rejects it too
    total = number;
  }
  *ttl = static_cast<uint32_t>(total);
  return true;
}

Status ParseZoneText(std::string_view text, std::string_view origin, std::string_view source,
                     ParsedZone* out) {
  out->records.clear();
  out->origins.clear();
  Tokenizer tok(text, source);
  if (text.size() > kMaxZoneTextBytes) return tok.Error(1, "zone text larger than 64 MiB");
  std::string start = NormalizeName(origin);
  if (!start.empty()) {
    std::string bad = CheckName(start);
    if (!bad.empty()) return tok.Error(1, "bad origin '" + std::string(origin) + "': " + bad);
    out->origins.push_back(start);
  }
  RecordParser parser(start, tok, out);
  Entry e;
  Status error;
  while (tok.Next(&e, &error)) {
    Status s = parser.Handle(e);
    if (!s.ok()) return s;
  }
  return error;
}

}  // namespace credence::dns_internal
