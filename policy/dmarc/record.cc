// DMARC Policy Record parsing: RFC 9989 §4.7 (tags) and §4.8 (formal definition), with
// RFC 7489 §6.3 pct=. Iterative over ';'-separated tags; bounded by kMaxRecordBytes/kMaxTags.
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

}  // namespace

Result<DmarcRecord> ParseDmarcRecord(std::string_view text) {
  if (text.size() > kMaxRecordBytes) return Status::Invalid("record too long");
  if (Trim(text).empty()) return Status::Invalid("empty record");
  DmarcRecord rec;
  bool have_p = false, bad_p = false, bad_sub = false;
  bool seen_sp = false, seen_np = false, seen_adkim = false, seen_aspf = false;
  bool seen_t = false, seen_psd = false, seen_pct = false, seen_fo = false;
  bool seen_rua = false, seen_ruf = false;
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
    size_t eq = part.find('=');
    std::string_view name = eq == std::string_view::npos ? part : Trim(part.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? "" : Trim(part.substr(eq + 1));
    // RFC 9989 §4.7: the v tag "MUST be the first tag"; value "MUST match precisely"
    // (%s"DMARC1", case-sensitive).
    if (index == 1) {
      if (eq == std::string_view::npos || !EqualsIgnoreCase(name, "v") || value != "DMARC1") {
        return Status::Invalid("record does not start with v=DMARC1");
      }
      continue;
    }
    bool name_ok = !name.empty();
    for (char c : name) name_ok = name_ok && IsAsciiAlpha(c);
    if (eq == std::string_view::npos || !name_ok || value.empty()) {
      rec.warnings.push_back("malformed tag '" + std::string(part.substr(0, 40)) + "'");
      continue;
    }
    std::string tag = ToLower(name);
    auto dup = [&](bool* seen) {
      if (*seen) {
        rec.warnings.push_back(tag + ": duplicate tag ignored");
        return true;
      }
      *seen = true;
      return false;
    };
    auto invalid = [&]() {
      rec.warnings.push_back(tag + ": invalid value '" + std::string(value.substr(0, 40)) + "'");
    };
    if (tag == "p") {
      if (have_p || bad_p) {
        rec.warnings.push_back("p: duplicate tag ignored");
        continue;
      }
      if (auto p = ParsePolicy(value)) {
        rec.p = *p;
        have_p = true;
      } else {
        bad_p = true;
        invalid();
      }
    } else if (tag == "sp" || tag == "np") {
      if (dup(tag == "sp" ? &seen_sp : &seen_np)) continue;
      if (auto p = ParsePolicy(value)) {
        (tag == "sp" ? rec.sp : rec.np) = *p;
      } else {
        bad_sub = true;
        invalid();
      }
    } else if (tag == "adkim" || tag == "aspf") {
      if (dup(tag == "adkim" ? &seen_adkim : &seen_aspf)) continue;
      DmarcAlignmentMode* mode = tag == "adkim" ? &rec.adkim : &rec.aspf;
      if (EqualsIgnoreCase(value, "r")) {
        *mode = DmarcAlignmentMode::kRelaxed;
      } else if (EqualsIgnoreCase(value, "s")) {
        *mode = DmarcAlignmentMode::kStrict;
      } else {
        invalid();  // default r stays
      }
    } else if (tag == "t") {
      if (dup(&seen_t)) continue;
      if (EqualsIgnoreCase(value, "y")) {
        rec.t = true;
      } else if (!EqualsIgnoreCase(value, "n")) {
        invalid();
      }
    } else if (tag == "psd") {
      if (dup(&seen_psd)) continue;
      if (EqualsIgnoreCase(value, "y")) {
        rec.psd = DmarcPsd::kYes;
      } else if (EqualsIgnoreCase(value, "n")) {
        rec.psd = DmarcPsd::kNo;
      } else if (!EqualsIgnoreCase(value, "u")) {
        invalid();
      }
    } else if (tag == "pct") {
      // RFC 7489 §6.3: pct = 1*3DIGIT, 0..100.
      if (dup(&seen_pct)) continue;
      bool ok = value.size() <= 3;
      unsigned n = 0;
      for (char c : value) {
        ok = ok && IsAsciiDigit(c);
        if (ok) n = n * 10 + static_cast<unsigned>(c - '0');
      }
      if (ok && n <= 100) {
        rec.pct = n;
      } else {
        invalid();
      }
    } else if (tag == "fo") {
      if (dup(&seen_fo)) continue;
      if (IsValidFo(value)) {
        rec.fo = std::string(value);
      } else {
        invalid();
      }
    } else if (tag == "rua") {
      if (dup(&seen_rua)) continue;
      ParseUriList("rua", value, &rec.rua, &rec.warnings);
    } else if (tag == "ruf") {
      if (dup(&seen_ruf)) continue;
      ParseUriList("ruf", value, &rec.ruf, &rec.warnings);
    } else if (tag == "v") {
      rec.warnings.push_back("v: only allowed as the first tag");
    }
    // RFC 9989 §4.7: "Unknown tags MUST be ignored." (rf, ri from RFC 7489 included.)
  }
  // RFC 9989 §4.10.1: a record without a valid "p" tag, or with an invalid "sp" or "np" tag,
  // is treated as "p=none" if "rua" holds at least one syntactically valid URI; otherwise the
  // Mail Receiver applies no DMARC processing (it is not a usable record).
  if (!have_p || bad_sub) {
    if (rec.rua.empty()) {
      return Status::Invalid(!have_p ? "no valid p= tag and no valid rua= URI"
                                     : "invalid sp=/np= tag and no valid rua= URI");
    }
    rec.p = DmarcPolicy::kNone;
    rec.sp.reset();
    rec.np.reset();
    rec.p_defaulted = true;
  }
  return rec;
}

}  // namespace credence
