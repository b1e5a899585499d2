// DMARC Policy Record parsing: RFC 9989 §4.7 (tags) and §4.8 (formal definition), with
// RFC 7489 §6.3 pct=. Iterative over ';'-separated tags; bounded by kMaxRecordBytes/kMaxTags.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/ascii.h"
#include "credence/policy/dmarc.h"

namespace credence {
namespace {

constexpr size_t kMaxRecordBytes = 4096;  // a TXT answer is rarely above 512 bytes
constexpr size_t kMaxTags = 64;
constexpr size_t kMaxUris = 32;

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  // Folding whitespace inside TXT data is unusual but harmless: CR/LF count as WSP here.
  while (!s.empty() && (IsWsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (IsWsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<DmarcPolicy> ParsePolicy(std::string_view v) {
  // RFC 9989 §4.8 dmarc-request: ABNF literals are case-insensitive.
  if (EqualsIgnoreCase(v, "none")) return DmarcPolicy::kNone;
  if (EqualsIgnoreCase(v, "quarantine")) return DmarcPolicy::kQuarantine;
  if (EqualsIgnoreCase(v, "reject")) return DmarcPolicy::kReject;
  return std::nullopt;
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":" and a
// non-empty rest without whitespace or control characters. RFC 9989 §4.8: commas and '!'
// must be percent-encoded inside a dmarc-uri. (RFC 7489's "!size" suffix is accepted and
// kept as written for compatibility: RFC 9989 Appendix C.4 removed it.)
bool IsValidUri(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= uri.size()) return false;
  if (!IsAsciiAlpha(uri[0])) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = uri[i];
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  for (size_t i = colon + 1; i < uri.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(uri[i]);
    if (c <= 0x20 || c >= 0x7f || c == ',' || c == ';') return false;
  }
  // mailto: needs an addr-spec with '@' (RFC 6068).
  if (EqualsIgnoreCase(uri.substr(0, colon), "mailto") &&
      uri.find('@', colon + 1) == std::string_view::npos) {
    return false;
  }
  return true;
}

// dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri). Invalid URIs are skipped with a
// warning (RFC 9989 §4.7: syntax errors are discarded).
void ParseUriList(std::string_view tag, std::string_view value, std::vector<std::string>* out,
                  std::vector<std::string>* warnings) {
  size_t start = 0;
  while (start <= value.size() && out->size() < kMaxUris) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view uri = Trim(value.substr(start, comma - start));
    if (IsValidUri(uri)) {
      out->emplace_back(uri);
    } else {
      warnings->push_back(std::string(tag) + ": invalid URI '" + std::string(uri) + "'");
    }
    start = comma + 1;
  }
}

// fo: RFC 9989 lists "0" / "1" / "d" / "s" / "d:s" / "s:d"; RFC 7489 allowed any
// colon-separated list of 0, 1, d, s. The older, wider form is accepted.
bool IsValidFo(std::string_view v) {
  if (v.empty()) return false;
  size_t start = 0;
  while (start <= v.size()) {
    size_t colon = v.find(':', start);
    if (colon == std::string_view::npos) colon = v.size();
    std::string_view opt = Trim(v.substr(start, colon - start));
    if (opt != "0" && opt != "1" && opt != "d" && opt != "s") return false;
    start = colon + 1;
  }
  return true;
}

// The tags after v=DMARC1, one at a time, into a record (RFC 9989 §4.7): a malformed tag, a
// duplicate or an invalid value is a warning and leaves the default; unknown tags are ignored.
class TagReader {
 public:
  void Add(std::string_view part) {
    size_t eq = part.find('=');
    std::string_view name = eq == std::string_view::npos ? part : Trim(part.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? "" : Trim(part.substr(eq + 1));
    bool name_ok = !name.empty();
    for (char c : name) name_ok = name_ok && IsAsciiAlpha(c);
    if (eq == std::string_view::npos || !name_ok || value.empty()) {
      rec_.warnings.push_back("malformed tag '" + std::string(part.substr(0, 40)) + "'");
      return;
    }
    std::string tag = ToLower(name);
    if (tag == "v") {
      rec_.warnings.push_back("v: only allowed as the first tag");
      return;
    }
    // RFC 9989 §4.7: "Unknown tags MUST be ignored." (rf, ri from RFC 7489 included.)
    if (!IsKnown(tag) || !FirstTime(tag)) return;
    if (!Set(tag, value)) {
      rec_.warnings.push_back(tag + ": invalid value '" + std::string(value.substr(0, 40)) + "'");
    }
  }

  // RFC 9989 §4.10.1: a record without a valid "p" tag, or with an invalid "sp" or "np" tag,
  // is treated as "p=none" if "rua" holds at least one syntactically valid URI; otherwise the
  // Mail Receiver applies no DMARC processing (it is not a usable record).
  Result<DmarcRecord> Finish() && {
    if (!have_p_ || bad_sub_) {
      if (rec_.rua.empty()) {
        return Status::Invalid(!have_p_ ? "no valid p= tag and no valid rua= URI"
                                        : "invalid sp=/np= tag and no valid rua= URI");
      }
      rec_.p = DmarcPolicy::kNone;
      rec_.sp.reset();
      rec_.np.reset();
      rec_.p_defaulted = true;
    }
    return std::move(rec_);
  }

 private:
  static constexpr std::string_view kTags[] = {"p",   "sp",  "np", "adkim", "aspf", "t",
                                                "psd", "pct", "fo", "rua",   "ruf"};
  // The index of `tag` in kTags, or its size.
  static size_t KnownIndex(std::string_view tag) {
    return static_cast<size_t>(std::find(std::begin(kTags), std::end(kTags), tag) -
                               std::begin(kTags));
  }
  static bool IsKnown(const std::string& tag) { return KnownIndex(tag) < std::size(kTags); }

  // False, with a warning, when `tag` (a known one) was seen before (the first one counts,
  // valid or not).
  bool FirstTime(const std::string& tag) {
    const uint32_t bit = uint32_t{1} << KnownIndex(tag);
    if ((seen_ & bit) != 0) {
      rec_.warnings.push_back(tag + ": duplicate tag ignored");
      return false;
    }
    seen_ |= bit;
    return true;
  }

  // Sets what a known tag's value says; false when the value is invalid (the default stays).
  bool Set(const std::string& tag, std::string_view value) {
    if (tag == "p") {
      std::optional<DmarcPolicy> p = ParsePolicy(value);
      if (p) rec_.p = *p;
      have_p_ = p.has_value();
      return have_p_;
    }
    if (tag == "sp" || tag == "np") {
      std::optional<DmarcPolicy> p = ParsePolicy(value);
      if (p) (tag == "sp" ? rec_.sp : rec_.np) = *p;
      bad_sub_ = bad_sub_ || !p;
      return p.has_value();
    }
    if (tag == "adkim" || tag == "aspf") {
      DmarcAlignmentMode* mode = tag == "adkim" ? &rec_.adkim : &rec_.aspf;
      if (EqualsIgnoreCase(value, "r")) *mode = DmarcAlignmentMode::kRelaxed;
      else if (EqualsIgnoreCase(value, "s")) *mode = DmarcAlignmentMode::kStrict;
      else return false;
      return true;
    }
    if (tag == "t") {
      if (EqualsIgnoreCase(value, "y")) rec_.t = true;
      return EqualsIgnoreCase(value, "y") || EqualsIgnoreCase(value, "n");
    }
    if (tag == "psd") {
      if (EqualsIgnoreCase(value, "y")) rec_.psd = DmarcPsd::kYes;
      else if (EqualsIgnoreCase(value, "n")) rec_.psd = DmarcPsd::kNo;
      else return EqualsIgnoreCase(value, "u");
      return true;
    }
    if (tag == "pct") return SetPct(value);
    if (tag == "fo") {
      if (!IsValidFo(value)) return false;
      rec_.fo = std::string(value);
      return true;
    }
    // rua, ruf: each URI is checked on its own and warns itself.
    ParseUriList(tag.c_str(), value, tag == "rua" ? &rec_.rua : &rec_.ruf, &rec_.warnings);
    return true;
  }

  // RFC 7489 §6.3: pct = 1*3DIGIT, 0..100.
  bool SetPct(std::string_view value) {
    if (value.size() > 3) return false;
    unsigned n = 0;
    for (char c : value) {
      if (!IsAsciiDigit(c)) return false;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n > 100) return false;
    rec_.pct = n;
    return true;
  }

  DmarcRecord rec_;
  bool have_p_ = false;   // a valid p= was read
  bool bad_sub_ = false;  // an invalid sp= or np= was read
  uint32_t seen_ = 0;  // the known tags read so far, one bit each (kTags' order)
  static_assert(std::size(kTags) <= 32);
};

}  // namespace

Result<DmarcRecord> ParseDmarcRecord(std::string_view text) {
  if (text.size() > kMaxRecordBytes) return Status::Invalid("record too long");
  if (Trim(text).empty()) return Status::Invalid("empty record");
  TagReader reader;
  size_t index = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semi = text.find(';', start);
    if (semi == std::string_view::npos) semi = text.size();
    std::string_view part = Trim(text.substr(start, semi - start));
    start = semi + 1;
    if (part.empty()) {
      // RFC 9989 §4.8: dmarc-record ends with an optional dmarc-sep; an empty tag before
      // the version is a syntax error.
      if (index == 0) return Status::Invalid("record does not start with v=DMARC1");
      continue;
    }
    if (++index > kMaxTags) return Status::Invalid("too many tags");
    if (index > 1) {
      reader.Add(part);
      continue;
    }
    // RFC 9989 §4.7: the v tag "MUST be the first tag"; value "MUST match precisely"
    // (%s"DMARC1", case-sensitive).
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || !EqualsIgnoreCase(Trim(part.substr(0, eq)), "v") ||
        Trim(part.substr(eq + 1)) != "DMARC1") {
      return Status::Invalid("record does not start with v=DMARC1");
    }
  }
  return std::move(reader).Finish();
}

}  // namespace credence
