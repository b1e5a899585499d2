// Authentication-Results writer (RFC 8601 §2.2 grammar). Every value that comes from the
// message passes through SanitizeAuthResText and AuthResValue/PValue before it is written.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "authres/names.h"
#include "credence/ascii.h"
#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"

namespace credence {
namespace {

// RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>. A table:
// every property value is checked byte by byte.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) {
    t[c] = std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) ==
           std::string_view::npos;
  }
  return t;
}();

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return kTokenChar[static_cast<unsigned char>(c)];
  });
}

// RFC 5322 §3.2.3 atext.
bool IsAtext(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

bool IsDotAtom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(static_cast<unsigned char>(c))) {
      return false;
    }
    prev = c;
  }
  return true;
}

// RFC 6376 §3.5 domain-name: sub-domain *("." sub-domain), sub-domain = let-dig [ldh-str].
bool IsDomainName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      std::string_view label = s.substr(label_start, i - label_start);
      if (label.empty() || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = s[i];
    if (!(IsAsciiAlnum(c) || c == '-' || c == '_')) return false;
  }
  return true;
}

// Appends `text` with a backslash before each byte for which `special` is true: runs without
// one are appended whole (a byte at a time cost a capacity check per byte).
template <typename Special>
void AppendEscapingEach(std::string* out, std::string_view text, Special special) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!special(text[i])) continue;
    out->append(text, start, i - start).push_back('\\');
    start = i;  // the special byte goes out with the next run
  }
  out->append(text, start, text.size() - start);
}

// RFC 5322 §3.2.4 quoted-string of `sanitized` (SanitizeAuthResText's output): qtext, with
// DQUOTE and "\" as quoted-pairs. Appends to `out`.
void AppendQuoted(std::string* out, std::string_view sanitized) {
  out->push_back('"');
  AppendEscapingEach(out, sanitized, [](char c) { return c == '"' || c == '\\'; });
  out->push_back('"');
}

// True when SanitizeAuthResText gives `text` back as it is: printable ASCII with single
// spaces between words and none at either end, at most kMaxAuthResValue bytes.
bool IsSanitized(std::string_view text) {
  if (text.size() > kMaxAuthResValue) return false;
  if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c - 0x21u < 0x7fu - 0x21u) continue;  // '!'..'~', the usual byte: one test
    // A space is followed by a byte (the last byte is not a space), which must not be one.
    if (c != ' ' || text[i + 1] == ' ') return false;
  }
  return true;
}

// SanitizeAuthResText for a string of our own: moved through when it is clean already.
std::string Sanitized(std::string&& text) {
  return IsSanitized(text) ? std::move(text) : SanitizeAuthResText(text);
}

// RFC 8601 §2.2: pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS].
// `s` is already SanitizeAuthResText's output (which it leaves as it is). Appends to `out`.
void AppendPValue(std::string* out, std::string_view s) {
  if (IsToken(s)) {
    *out += s;
    return;
  }
  size_t at = s.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view local = s.substr(0, at);
    std::string_view domain = s.substr(at + 1);
    if ((local.empty() || IsDotAtom(local)) && IsDomainName(domain)) {
      *out += s;
      return;
    }
  }
  AppendQuoted(out, s);
}

// RFC 5322 §3.2.2 comment: ctext, with "(", ")" and "\" as quoted-pairs. `sanitized` is
// SanitizeAuthResText's output. Appends to `out`.
void AppendComment(std::string* out, std::string_view sanitized) {
  out->push_back('(');
  AppendEscapingEach(out, sanitized, [](char c) { return c == '(' || c == ')' || c == '\\'; });
  out->push_back(')');
}

// Writes the header as it goes: each element (the units folding never splits) is appended to
// the unfolded value at once, and to the folded value as soon as the next one begins (then it
// is known whether a ';' follows it); the resinfos are written one after another (Start one,
// then add to it) with their parsed view.
class Builder {
 public:
  explicit Builder(const AuthResOptions& options) : options_(options) {
    h_.value.reserve(256);   // a signed message's dkim= and dmarc= resinfos fit
    h_.folded.reserve(256 + 32);  // the same, and a fold (2 bytes) every few elements
    h_.entries.reserve(4);   // dkim, spf (mailfrom, helo), dmarc
    BeginElement();
    h_.value += options_.authserv_id;
    EndElement();
  }

  void Start(std::string_view method, std::string_view result) {
    // The ";" that ends the element before (the authserv-id or the previous resinfo).
    h_.value += ';';
    last_.semicolon = true;
    AuthResEntry& entry = h_.entries.emplace_back();
    entry.properties.reserve(6);
    entry.method.assign(method);
    entry.result.assign(result);
    // RFC 8601 §2.2 methodspec: method "=" result. Both are ours, never from the message.
    BeginElement();
    h_.value.append(method).append("=").append(result);
    EndElement();
  }
  void AddComment(std::string text) {
    if (!options_.comments || text.empty()) return;
    std::string sanitized = Sanitized(std::move(text));
    if (sanitized.empty()) return;
    BeginElement();
    AppendComment(&h_.value, sanitized);
    EndElement();
    h_.entries.back().comment = std::move(sanitized);
  }
  void AddReason(std::string_view text) {
    if (!options_.reasons || text.empty()) return;
    std::string sanitized = SanitizeAuthResText(text);
    if (sanitized.empty()) return;
    // RFC 8601 §2.2 reasonspec: "reason" "=" value. Always quoted: reasons are prose.
    BeginElement();
    h_.value += "reason=";
    AppendQuoted(&h_.value, sanitized);
    EndElement();
    h_.entries.back().reason = std::move(sanitized);
  }
  void AddProperty(std::string_view ptype, std::string_view property, std::string_view value) {
    std::string sanitized = SanitizeAuthResText(value);
    if (sanitized.empty()) return;
    BeginElement();
    AppendPropertyName(ptype, property);
    AppendPValue(&h_.value, sanitized);
    EndElement();
    h_.entries.back().properties.push_back(
        {std::string(ptype), std::string(property), std::move(sanitized)});
  }

  // Once, at the end: the header moves out.
  AuthResHeader Finish() {
    Fold(last_);
    return std::move(h_);
  }

 private:
  // "ptype.property=" in one append (both are short literals of ours).
  void AppendPropertyName(std::string_view ptype, std::string_view property) {
    char buf[64];
    if (ptype.size() + property.size() + 2 > sizeof buf) {
      h_.value.append(ptype).append(".").append(property).append("=");
      return;
    }
    std::memcpy(buf, ptype.data(), ptype.size());
    size_t n = ptype.size();
    buf[n++] = '.';
    std::memcpy(buf + n, property.data(), property.size());
    n += property.size();
    buf[n++] = '=';
    h_.value.append(buf, n);
  }

  // One element of the unfolded value: its bytes there, and whether a ';' follows them.
  struct Element {
    size_t offset = 0;
    size_t size = 0;
    bool semicolon = false;
  };
  // Unfolded: " " before each element.
  void BeginElement() {
    if (h_.value.size() > 0) Fold(last_);  // the element before is complete
    h_.value += ' ';
    last_ = {h_.value.size(), 0, false};
  }
  void EndElement() { last_.size = h_.value.size() - last_.offset; }
  // Folded: CRLF + TAB only between elements (RFC 5322 §2.2.3 folding at FWS).
  void Fold(const Element& e) {
    const size_t size = e.size + (e.semicolon ? 1 : 0);
    if (!h_.folded.empty() && line_ + 1 + size > options_.fold_width) {
      h_.folded += "\r\n\t";
      line_ = 1 + size;  // a TAB counts as one byte here
    } else {
      h_.folded += ' ';
      line_ += 1 + size;
    }
    h_.folded.append(h_.value, e.offset, size);  // the element and its ';'
  }

  const AuthResOptions& options_;
  AuthResHeader h_;
  Element last_;  // the element written last to the unfolded value, not yet folded
  size_t line_ = std::string_view("Authentication-Results:").size();  // folded line's bytes
};

size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// RFC 6008 §4: header.b carries enough of b= to tell this signature from the others on the
// message, and at least 8 characters.
std::string HeaderB(std::span<const DkimResult> all, size_t index, size_t min_len) {
  const std::string& b = all[index].signature_b;
  size_t need = std::max<size_t>(min_len, 1);
  for (size_t j = 0; j < all.size(); ++j) {
    if (j == index || all[j].signature_b == b) continue;
    need = std::max(need, CommonPrefix(b, all[j].signature_b) + 1);
  }
  need = std::min({need, b.size(), kMaxAuthResValue});
  return b.substr(0, need);
}

std::string_view AlgorithmKeyType(std::string_view a) { return a.substr(0, a.find('-')); }

void WriteDkim(Builder& b, std::span<const DkimResult> dkim, const AuthResOptions& options) {
  if (dkim.empty()) {
    // RFC 8601 §2.7.1: none = the message was not signed.
    b.Start("dkim", "none");
    return;
  }
  size_t skipped = 0;  // signatures a limit left unread: one entry for all of them
  for (size_t i = 0; i < dkim.size(); ++i) {
    const DkimResult& d = dkim[i];
    if (d.reason == DkimReason::kNotEvaluated && d.domain.empty()) {
      ++skipped;
      continue;
    }
    b.Start("dkim", authres_internal::DkimResultName(d.result));
    std::string comment;
    auto next_part = [&comment] {
      if (!comment.empty()) comment += "; ";
    };
    if (d.key_bits > 0) {
      next_part();
      comment.append(std::to_string(d.key_bits))
          .append("-bit ")
          .append(AlgorithmKeyType(d.algorithm))
          .append(" key");
    }
    if (d.testing) {
      next_part();
      comment += "test mode key";
    }
    if (d.body_length.has_value()) {
      next_part();
      comment.append("l=").append(std::to_string(*d.body_length));
      if (d.unsigned_body_bytes > 0) {
        comment.append(", ")
            .append(std::to_string(d.unsigned_body_bytes))
            .append(" unsigned body bytes");
      }
    }
    if (!d.unsigned_fields.empty()) {  // RFC 6376 §8.15: an instance above the signed one
      next_part();
      comment += "unsigned";
      for (const std::string& f : d.unsigned_fields) comment.append(" ").append(f);
    }
    b.AddComment(std::move(comment));
    if (d.result != DkimVerdict::kPass) {
      std::string reason(authres_internal::DkimReasonText(d.reason));
      if (!d.detail.empty() && d.detail != reason) reason += reason.empty() ? d.detail : ": " + d.detail;
      b.AddReason(reason);
    }
    b.AddProperty("header", "d", d.domain);
    // i= is written unless it is the default, "@" + d= (RFC 6376 §3.5).
    const std::string_view identity = d.identity;
    const bool default_identity = identity.size() == d.domain.size() + 1 &&
                                  identity.front() == '@' &&
                                  EqualsIgnoreCase(identity.substr(1), d.domain);
    if (!identity.empty() && !default_identity) {
      b.AddProperty("header", "i", d.identity);
    }
    b.AddProperty("header", "s", d.selector);
    b.AddProperty("header", "a", d.algorithm);
    if (!d.signature_b.empty()) {
      b.AddProperty("header", "b", HeaderB(dkim, i, options.header_b_min));
    }
  }
  if (skipped > 0) {
    b.Start("dkim", authres_internal::DkimResultName(DkimVerdict::kPermError));
    b.AddReason(std::to_string(skipped) + " more DKIM signature" + (skipped > 1 ? "s" : "") +
                       " not evaluated (over the limit)");
  }
}

void WriteSpf(Builder& b, const SpfResult& spf, bool helo) {
  b.Start("spf", authres_internal::SpfResultName(spf.result));
  if (spf.result != SpfVerdict::kPass && spf.result != SpfVerdict::kNone) {
    b.AddReason(spf.detail);
  }
  // RFC 8601 §2.7.2: smtp.mailfrom is the MAIL FROM address (postmaster@HELO for the null
  // sender, RFC 7208 §2.4); smtp.helo the HELO name.
  if (helo) {
    b.AddProperty("smtp", "helo", spf.domain);
  } else {
    b.AddProperty("smtp", "mailfrom", spf.sender.empty() ? spf.domain : spf.sender);
  }
}

void WriteDmarc(Builder& b, const DmarcResult& d, const AuthResOptions& options) {
  b.Start("dmarc", authres_internal::DmarcResultName(d.verdict));
  std::string comment;
  // A pass whose only aligned identifier is a DKIM signature of a key in testing mode (RFC
  // 6376 §3.6.1 t=y; it counts for alignment by default, docs/scoring.md "t=y and DMARC"):
  // said first, so a reader sees why an unfinished deployment passed.
  if (d.verdict == DmarcVerdict::kPass && d.dkim_aligned && d.aligned_dkim_testing &&
      !d.spf_aligned) {
    comment = "via test-mode key";
  }
  // A record assumed for the score only (DmarcResult::record_assumed) is not the policy found:
  // the reason says which one was taken, the comment and properties name none.
  const bool found = d.has_record && !d.record_assumed;
  if (found) {
    if (!comment.empty()) comment += "; ";
    comment.append("p=")
        .append(authres_internal::PolicyName(d.requested))
        .append(" dis=")
        .append(authres_internal::DispositionName(d.disposition));
    if (d.testing) comment += "; testing";
    if (d.sampled_out) comment += "; sampled out";
  }
  // The trusted-sealer override (RFC 7489 §6.7 local policy): DMARC stays fail, the comment
  // says why the disposition is none.
  if (d.arc_override) {
    if (!comment.empty()) comment += "; ";
    comment += "local_policy arc=pass " + d.arc_override_sealer;
  }
  b.AddComment(std::move(comment));
  if (d.verdict != DmarcVerdict::kPass) b.AddReason(d.reason);
  b.AddProperty("header", "from", d.from_domain);
  if (found) {
    // policy.dmarc: the disposition applied (none / quarantine / reject).
    b.AddProperty("policy", "dmarc", authres_internal::DispositionName(d.disposition));
    if (options.dmarc_polrec) {
      // RFC 9989 §11 (IANA): polrec.p = p= of the record; polrec.domain = where it was found,
      // when that is not the From domain.
      b.AddProperty("polrec", "p", authres_internal::PolicyName(d.record.p));
      if (!d.record_domain.empty() && !EqualsIgnoreCase(d.record_domain, d.from_domain)) {
        b.AddProperty("polrec", "domain", d.record_domain);
      }
    }
  }
}

// RFC 8617 §7 ("arc" method, results none / pass / fail) with the properties §7 allows:
// smtp.remote-ip (the client that handed us the message) and header.oldest-pass (the oldest
// instance whose AMS still verifies; written when it is not 0, i.e. when an older one broke).
// No entry for a message without ARC sets (arc=none adds nothing a reader can use, and keeps
// the header of ordinary mail as it was).
void WriteArc(Builder& b, const ArcResult& arc, std::string_view client_ip) {
  if (arc.result == ArcVerdict::kNone) return;
  b.Start("arc", ArcVerdictName(arc.result));
  if (!arc.sets.empty() && arc.result == ArcVerdict::kPass) {
    std::string comment = "i=" + std::to_string(arc.sets.size());
    for (const std::string& d : arc.Sealers()) comment.append(" ").append(d);
    b.AddComment(std::move(comment));
  }
  if (arc.result == ArcVerdict::kFail) {
    b.AddReason(std::string(ArcReasonName(arc.reason)) + ": " + arc.detail);
  }
  if (!client_ip.empty()) b.AddProperty("smtp", "remote-ip", client_ip);
  if (arc.result == ArcVerdict::kPass && arc.oldest_pass > 0) {
    b.AddProperty("header", "oldest-pass", std::to_string(arc.oldest_pass));
  }
}

}  // namespace

std::string SanitizeAuthResText(std::string_view text) {
  if (IsSanitized(text)) return std::string(text);  // the usual value: copied at once
  std::string out;
  out.reserve(std::min(text.size(), kMaxAuthResValue));
  bool pending_space = false;
  for (size_t i = 0; i < text.size() && out.size() < kMaxAuthResValue; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Non-ASCII: one "?" per UTF-8 sequence (skip its continuation bytes).
      while (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
        ++i;
      }
      c = '?';
    } else if (c < 0x20 || c == ' ') {
      // CR, LF, TAB and other controls become one space; runs collapse.
      pending_space = !out.empty();
      continue;
    } else if (c == 0x7f) {
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
      if (out.size() >= kMaxAuthResValue) break;
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::string AuthResValue(std::string_view text) {
  std::string s = SanitizeAuthResText(text);
  if (IsToken(s)) return s;
  std::string out;
  out.reserve(s.size() + 2);
  AppendQuoted(&out, s);
  return out;
}

Status ValidateAuthServId(std::string_view id) {
  if (id.empty()) return Status::Invalid("authserv-id is empty");
  if (id.size() > 255) return Status::Invalid("authserv-id is longer than 255 bytes");
  if (id.front() == '.' || id.back() == '.') {
    return Status::Invalid("authserv-id '" + std::string(id) + "' starts or ends with a dot");
  }
  char prev = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(id[i]);
    bool ok = IsAsciiAlnum(static_cast<char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) {
      std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c))
                                                 : "byte " + std::to_string(c);
      return Status::Invalid("authserv-id has '" + shown + "' at offset " + std::to_string(i) +
                             " (letters, digits, '-', '_' and '.' only)");
    }
    if (c == '.' && prev == '.') return Status::Invalid("authserv-id has an empty label");
    prev = static_cast<char>(c);
  }
  return Status::Ok();
}

Result<AuthResHeader> WriteAuthResults(const AuthResInput& input, const AuthResOptions& options) {
  Status s = ValidateAuthServId(options.authserv_id);
  if (!s.ok()) return s;
  Builder b(options);
  WriteDkim(b, input.dkim, options);
  if (input.spf_mailfrom != nullptr) WriteSpf(b, *input.spf_mailfrom, /*helo=*/false);
  if (input.spf_helo != nullptr) WriteSpf(b, *input.spf_helo, /*helo=*/true);
  if (input.arc != nullptr) WriteArc(b, *input.arc, input.client_ip);
  if (input.dmarc != nullptr) WriteDmarc(b, *input.dmarc, options);
  return b.Finish();
}

std::string AuthResHeader::Field() const { return "Authentication-Results:" + folded; }

}  // namespace credence
