// RFC 6376 §3.5 DKIM-Signature field parsing; RFC 8301 §3.1 and RFC 8463 algorithms.
#include "dkim/signature.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include "credence/ascii.h"
#include "credence/utf8.h"
#include "dkim/tag_list.h"

namespace credence::dkim {
namespace {

SignatureError Err(DkimReason reason, std::string detail) { return {reason, std::move(detail)}; }


// RFC 6376 §3.5: l=, t=, x= are 1*76DIGIT; values that do not fit are refused.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsAsciiDigit(c)) return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

std::string_view TrimFws(std::string_view s) {
  while (!s.empty() && IsFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsFws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

// RFC 6376 §3.5 d= (domain-name) and s= (selector, dot-separated sub-domains). We accept
// letters, digits, "-", "_", "." and UTF-8 (U-labels, RFC 8616), no empty label.
bool IsDomainLike(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  char prev = '.';
  bool eight_bit = false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsAsciiDigit(c) || c == '-' ||
              c == '_' || c == '.' || u >= 0x80;
    if (!ok) return false;
    if (c == '.' && prev == '.') return false;
    eight_bit = eight_bit || u >= 0x80;
    prev = c;
  }
  return s.back() != '.' && (!eight_bit || IsUtf8(s));
}

// RFC 6376 §3.5 i=: [Local-part] "@" domain-name. Shown only when its local-part is printable
// ASCII or UTF-8 without white space, and its domain is domain-like.
bool IsIdentityLike(std::string_view s) {
  size_t at = s.rfind('@');
  if (at == std::string_view::npos || s.size() > 512) return false;
  for (char c : s.substr(0, at)) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return IsUtf8(s.substr(0, at)) && IsDomainLike(s.substr(at + 1));
}

namespace {

bool ParseCanon(std::string_view s, Canon* out) {
  if (EqualsIgnoreCase(s, "simple")) {
    *out = Canon::kSimple;
    return true;
  }
  if (EqualsIgnoreCase(s, "relaxed")) {
    *out = Canon::kRelaxed;
    return true;
  }
  return false;
}

}  // namespace

std::string Signature::KeyName() const {
  // Built in place: one allocation (or none, when short) instead of one per piece.
  static constexpr std::string_view kInfix = "._domainkey.";
  std::string name;
  name.reserve(selector.size() + kInfix.size() + domain.size());
  for (char c : selector) name.push_back(AsciiLower(c));
  name.append(kInfix);
  name.append(domain);
  return name;
}

std::string Signature::CanonName() const {
  std::string r = header_canon == Canon::kSimple ? "simple" : "relaxed";
  r += body_canon == Canon::kSimple ? "/simple" : "/relaxed";
  return r;
}

namespace {

// RFC 8617 §4.2.1 instance: 1*2DIGIT in 1..50.
bool ParseInstance(std::string_view s, int* out) {
  uint64_t v = 0;
  if (s.size() > 2 || !ParseDecimal(s, kMaxArcInstance, &v) || v == 0) return false;
  *out = static_cast<int>(v);
  return true;
}

SignatureError ParseDomainAndTimes(const std::vector<Tag>& tags, SignatureKind kind,
                                   Signature* sig) {
  const bool arc = kind != SignatureKind::kDkim;
  if (!IsDomainLike(sig->domain)) return Err(DkimReason::kSignatureSyntax, "bad d= domain");
  if (!IsDomainLike(sig->selector)) return Err(DkimReason::kSignatureSyntax, "bad s= selector");
  // RFC 6376 §5.4 / §6.1.1: From MUST be signed.
  bool from = false;
  for (const std::string& h : sig->signed_headers) {
    // (ARC: an empty name selects no field, as in dkimpy and the ARC test suite.)
    if (h.empty() && !arc) return Err(DkimReason::kSignatureSyntax, "empty header name in h=");
    if (EqualsIgnoreCase(h, "from")) from = true;
  }
  if (!from && !arc) return Err(DkimReason::kFromNotSigned, "h= does not include From");
  // RFC 6376 §3.5 i=: "[ Local-part ] @ domain-name", the domain d= or a subdomain of it.
  // (ARC's i= is the instance, read above; the identity stays "@" + d=.)
  if (const Tag* i = FindTag(tags, "i"); i != nullptr && !arc) {
    sig->identity = std::string(i->value);
    size_t at = i->value.rfind('@');
    if (at == std::string_view::npos) {
      return Err(DkimReason::kSignatureSyntax, "i= has no '@'");
    }
    sig->identity_domain = ToLower(i->value.substr(at + 1));
    const std::string& d = sig->domain;
    const std::string& id = sig->identity_domain;
    bool within = id == d || (id.size() > d.size() && id.ends_with(d) &&
                              id[id.size() - d.size() - 1] == '.');
    if (!within) {
      return Err(DkimReason::kIdentityMismatch,
                 "i= domain " + id + " is not " + d + " or a subdomain of it");
    }
  } else {
    sig->identity = "@" + sig->domain;
    sig->identity_domain = sig->domain;
  }
  constexpr uint64_t kMaxI64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (const Tag* l = FindTag(tags, "l")) {
    uint64_t v64 = 0;
    if (!ParseDecimal(l->value, std::numeric_limits<uint64_t>::max(), &v64)) {
      return Err(DkimReason::kSignatureSyntax, "l= is not a decimal number that fits");
    }
    sig->l = v64;
  }
  if (const Tag* t = FindTag(tags, "t")) {
    uint64_t v64 = 0;
    if (!ParseDecimal(t->value, kMaxI64, &v64)) {
      return Err(DkimReason::kSignatureSyntax, "t= is not a decimal number that fits");
    }
    sig->t = static_cast<int64_t>(v64);
  }
  if (const Tag* x = FindTag(tags, "x")) {
    uint64_t v64 = 0;
    if (!ParseDecimal(x->value, kMaxI64, &v64)) {
      return Err(DkimReason::kSignatureSyntax, "x= is not a decimal number that fits");
    }
    sig->x = static_cast<int64_t>(v64);
  }
  // RFC 6376 §3.5 x=: "the value of the "x=" tag MUST be greater than the value of the "t="
  // tag if both are present". Equal values are tolerated (dkimpy and OpenDKIM do too).
  if (sig->t && sig->x && *sig->x < *sig->t) {
    return Err(DkimReason::kSignatureSyntax, "x= is earlier than t=");
  }
  return {};
}


SignatureError ParseCommonTags(const std::vector<Tag>& tags, SignatureKind kind, Signature* sig) {
  const bool arc = kind != SignatureKind::kDkim;
  const bool seal = kind == SignatureKind::kArcSeal;
  // RFC 6376 §3.5 a=; RFC 8301 §3.1: rsa-sha1 MUST NOT be used; RFC 8463 §3: ed25519-sha256.
  const Tag* a = FindTag(tags, "a");
  if (a == nullptr) return Err(DkimReason::kSignatureSyntax, "missing a= tag");
  if (EqualsIgnoreCase(a->value, "rsa-sha256")) {
    sig->algorithm = Algorithm::kRsaSha256;
  } else if (EqualsIgnoreCase(a->value, "ed25519-sha256")) {
    sig->algorithm = Algorithm::kEd25519Sha256;
  } else if (EqualsIgnoreCase(a->value, "rsa-sha1")) {
    return Err(DkimReason::kUnsupportedAlgorithm, "rsa-sha1 is not accepted (RFC 8301 §3.1)");
  } else {
    return Err(DkimReason::kUnsupportedAlgorithm,
               "unknown algorithm a=" + std::string(a->value));
  }
  for (std::string_view required : {"b", "bh", "d", "h", "s"}) {
    if (seal && (required == "bh" || required == "h")) continue;
    if (FindTag(tags, required) == nullptr) {
      return Err(DkimReason::kSignatureSyntax, "missing " + std::string(required) + "= tag");
    }
  }
  // RFC 6376 §3.5 c=: default simple/simple; "relaxed" alone is relaxed/simple. ARC:
  // relaxed/relaxed by default (as dkimpy and the ARC test suite), and an ARC-Seal is always
  // relaxed (RFC 8617 §4.1.3: "c= ... not used"; §5.1.1: relaxed header canonicalization).
  if (arc) {
    sig->header_canon = Canon::kRelaxed;
    sig->body_canon = Canon::kRelaxed;
  }
  if (const Tag* c = FindTag(tags, "c"); c != nullptr && !seal) {
    std::string_view cv = c->value;
    size_t slash = cv.find('/');
    std::string_view head = cv.substr(0, slash);
    if (!ParseCanon(head, &sig->header_canon)) {
      return Err(DkimReason::kUnsupportedCanon, "unknown c=" + std::string(cv));
    }
    sig->body_canon = Canon::kSimple;
    if (slash != std::string_view::npos &&
        !ParseCanon(cv.substr(slash + 1), &sig->body_canon)) {
      return Err(DkimReason::kUnsupportedCanon, "unknown c=" + std::string(cv));
    }
  }
  // RFC 6376 §3.5 q=: colon-separated; "dns/txt" is the only method defined.
  if (const Tag* q = FindTag(tags, "q")) {
    bool found = false;
    std::string_view rest = q->value;
    while (true) {
      size_t colon = rest.find(':');
      std::string_view item = TrimFws(rest.substr(0, colon));
      if (EqualsIgnoreCase(item, "dns/txt")) found = true;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    if (!found) {
      return Err(DkimReason::kUnsupportedQuery, "q=" + std::string(q->value) + " has no dns/txt");
    }
  }
  const Tag* b = FindTag(tags, "b");
  Result<std::string> b_raw = DecodeBase64(b->value);
  if (!b_raw.ok() || b_raw->empty()) {
    return Err(DkimReason::kSignatureSyntax,
               "b= is not base64: " + (b_raw.ok() ? "empty" : b_raw.status().message()));
  }
  sig->b = std::move(b_raw).value();
  if (seal) return ParseDomainAndTimes(tags, kind, sig);
  Result<std::string> bh_raw = DecodeBase64(FindTag(tags, "bh")->value);
  if (!bh_raw.ok() || bh_raw->empty()) {
    return Err(DkimReason::kSignatureSyntax,
               "bh= is not base64: " + (bh_raw.ok() ? "empty" : bh_raw.status().message()));
  }
  sig->bh = std::move(bh_raw).value();
  return ParseDomainAndTimes(tags, kind, sig);
}


SignatureError ParseArcTags(const std::vector<Tag>& tags, SignatureKind kind, Signature* sig) {
  // RFC 8617 §4.2.1: every ARC header field carries its instance.
  const Tag* i = FindTag(tags, "i");
  if (i == nullptr) return Err(DkimReason::kSignatureSyntax, "missing i= tag");
  if (!ParseInstance(i->value, &sig->instance)) {
    return Err(DkimReason::kSignatureSyntax, "i= is not an instance 1..50");
  }
  if (kind == SignatureKind::kArcSeal) {
    // RFC 8617 §4.1.3: cv= is required and one of none, fail, pass; h= is not allowed (the
    // seal covers the ARC sets, not chosen fields).
    const Tag* cv = FindTag(tags, "cv");
    if (cv == nullptr) return Err(DkimReason::kSignatureSyntax, "missing cv= tag");
    if (cv->value != "none" && cv->value != "pass" && cv->value != "fail") {
      return Err(DkimReason::kSignatureSyntax, "cv= is not none, pass or fail");
    }
    sig->cv = std::string(cv->value);
    if (FindTag(tags, "h") != nullptr) {
      return Err(DkimReason::kSignatureSyntax, "h= is not allowed in an ARC-Seal");
    }
  } else {
    // RFC 8617 §4.1.2: the AMS does not sign ARC-Seal fields (dkimpy and the ARC test suite's
    // ams_fields_h_includes_as refuse an h= that names one).
    for (const std::string& h : sig->signed_headers) {
      if (EqualsIgnoreCase(h, "arc-seal")) {
        return Err(DkimReason::kSignatureSyntax, "h= names ARC-Seal");
      }
    }
  }
  return ParseCommonTags(tags, kind, sig);
}

}  // namespace

SignatureError ParseSignature(std::string_view value, Signature* sig, SignatureKind kind) {
  Result<std::vector<Tag>> parsed = ParseTagList(value);
  if (!parsed.ok()) return Err(DkimReason::kSignatureSyntax, parsed.status().message());
  const std::vector<Tag>& tags = *parsed;
  const bool arc = kind != SignatureKind::kDkim;

  // Fields useful in results even when a later check fails come first.
  if (const Tag* d = FindTag(tags, "d")) sig->domain = ToLower(d->value);
  if (const Tag* s = FindTag(tags, "s")) sig->selector = std::string(s->value);
  if (const Tag* a = FindTag(tags, "a")) sig->algorithm_text = std::string(a->value);
  if (const Tag* b = FindTag(tags, "b")) {
    sig->b_text = StripFws(b->value);
    sig->b_value_begin = b->raw_value_begin;
    sig->b_value_end = b->raw_value_end;
  }
  if (const Tag* h = FindTag(tags, "h"); h != nullptr && !(arc && h->value.empty())) {
    std::string_view rest = h->value;
    sig->signed_headers.reserve(static_cast<size_t>(std::count(rest.begin(), rest.end(), ':')) + 1);
    while (true) {
      size_t colon = rest.find(':');
      std::string_view item = TrimFws(rest.substr(0, colon));
      sig->signed_headers.emplace_back(item);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }

  if (arc) return ParseArcTags(tags, kind, sig);
  // RFC 6376 §3.5 v=: required, "1".
  const Tag* v = FindTag(tags, "v");
  if (v == nullptr) return Err(DkimReason::kSignatureSyntax, "missing v= tag");
  if (v->value != "1") {
    return Err(DkimReason::kUnsupportedVersion, "v=" + std::string(v->value) + " is not 1");
  }
  return ParseCommonTags(tags, kind, sig);
}

namespace {

// "x=1774377649 (2026-03-24 18:40:49 UTC)": the tag as written and the date a person reads.
std::string TagWithDate(char tag, int64_t seconds) {
  std::string out = std::string(1, tag) + "=" + std::to_string(seconds);
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  char date[40];
  if (gmtime_r(&t, &tm) != nullptr &&
      std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0) {
    out += " (" + std::string(date) + ")";
  }
  return out;
}

}  // namespace

SignatureError CheckSignatureTimes(const Signature& sig, int64_t now, int64_t future_slack) {
  // RFC 6376 §6.1.1: "Verifiers MAY ignore the DKIM-Signature header field and return
  // PERMFAIL (signature expired)" when x= is in the past. The reason names the verdict; the
  // detail only the date, so "signature expired: x=... (date) ..." does not repeat itself.
  if (sig.x && *sig.x < now) {
    return Err(DkimReason::kExpired,
               TagWithDate('x', *sig.x) + " is before the time judged at");
  }
  // RFC 6376 §3.5 t=: "Implementations MAY consider the signature invalid if the signature
  // timestamp is in the future"; we allow future_slack seconds of clock skew.
  if (sig.t && *sig.t > now && *sig.t - now > future_slack) {
    return Err(DkimReason::kFutureTimestamp,
               TagWithDate('t', *sig.t) + " is in the future");
  }
  return {};
}

}  // namespace credence::dkim
