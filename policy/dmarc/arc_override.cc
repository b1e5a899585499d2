// The trusted-sealer override (RFC 8617 §7: receivers choose whom to trust; RFC 7489 §6.7:
// the final disposition is local policy): when DMARC fails, a passing ARC chain whose newest
// trusted sealer recorded that the From domain authenticated upstream, on a message nobody
// changed after it (its ARC-Message-Signature still verifies), earns disposition none.
// DMARC itself stays fail (RFC 9989: ARC does not turn a fail into a pass).
#include <algorithm>

#include "credence/policy/dmarc.h"
#include "dmarc/domain_util.h"

namespace credence {
namespace {

using dmarc_internal::IsSameOrSubdomain;
using dmarc_internal::NormalizeDomain;

// One resinfo of an A-R payload (RFC 8601 §2.2), as far as the override needs it.
struct ResInfo {
  std::string method;  // lower-case, without "/version"
  std::string result;  // lower-case
  std::vector<std::pair<std::string, std::string>> properties;  // "header.d" -> value
};

// At most this many resinfos are read from one AAR (a sealer writes a handful).
constexpr size_t kMaxResInfos = 64;

// The parts of an A-R payload (RFC 8601 §2.2: the authserv-id, then one resinfo each), split
// at ';' and each into tokens at white space, both only outside quoted strings and comments
// (nested, RFC 5322 §3.2.2; an unclosed one ends the text). A quoted string's content, its
// quoted-pairs decoded, stays inside its token whatever it holds: `smtp.mailfrom=
// "ceo@bank.example\ "@evil.example` is one token whose address ends at evil.example, and a
// ';' or "dmarc=pass" in quotes starts nothing. Linear, no recursion; at most kMaxResInfos
// resinfos.
std::vector<std::vector<std::string>> Lex(std::string_view text) {
  std::vector<std::vector<std::string>> parts(1);
  std::string token;
  bool in_token = false;
  const auto end_token = [&] {
    if (in_token) parts.back().push_back(std::move(token));
    token.clear();
    in_token = false;
  };
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        token.push_back(text[++i]);
      } else if (c == '"') {
        quoted = false;
      } else {
        token.push_back(c);
      }
    } else if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
    } else if (c == '(') {
      end_token();  // a comment separates tokens
      depth = 1;
    } else if (c == '"') {
      quoted = in_token = true;
    } else if (c == ';') {
      end_token();
      if (parts.size() > kMaxResInfos) break;
      parts.emplace_back();
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      end_token();
    } else {
      token.push_back(c);
      in_token = true;
    }
  }
  if (!quoted) end_token();  // an unclosed quoted string is no token
  return parts;
}

// The resinfos of an A-R payload ("authserv-id [version]; method=result props; ...").
std::vector<ResInfo> ParseResults(std::string_view payload) {
  std::vector<std::vector<std::string>> parts = Lex(payload);
  std::vector<ResInfo> out;
  for (size_t p = 1; p < parts.size() && out.size() < kMaxResInfos; ++p) {  // 0: authserv-id
    const std::vector<std::string>& tokens = parts[p];
    if (tokens.empty()) continue;
    size_t eq = tokens[0].find('=');
    if (eq == std::string_view::npos) continue;
    ResInfo r;
    const std::string_view first = tokens[0];
    const std::string_view method = first.substr(0, eq);
    r.method = ToLower(method.substr(0, method.find('/')));
    r.result = ToLower(first.substr(eq + 1));
    for (size_t k = 1; k < tokens.size(); ++k) {
      const std::string_view t = tokens[k];
      const size_t e = t.find('=');
      if (e == std::string_view::npos || t.substr(0, e).find('.') == std::string_view::npos) {
        continue;  // reason= and the like
      }
      r.properties.emplace_back(ToLower(t.substr(0, e)), std::string(t.substr(e + 1)));
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string Property(const ResInfo& r, std::string_view name) {
  for (const auto& [k, v] : r.properties) {
    if (k == name) return v;
  }
  return "";
}

// The domain of "local@domain", "@domain" or "domain", normalized ("" when unusable).
std::string DomainOf(std::string_view identity) {
  size_t at = identity.rfind('@');
  return NormalizeDomain(at == std::string_view::npos ? identity : identity.substr(at + 1));
}

// RFC 7489 §3.1 alignment of `domain` with the From domain: strict -> equal; relaxed -> both
// within the From domain's organizational domain.
bool Aligned(std::string_view domain, const DmarcResult& d, DmarcAlignmentMode mode) {
  if (domain.empty() || d.from_domain.empty()) return false;
  if (mode == DmarcAlignmentMode::kStrict) return domain == d.from_domain;
  const std::string& org = d.org_domain.empty() ? d.from_domain : d.org_domain;
  return IsSameOrSubdomain(domain, org);
}

// What `r` vouches for the From domain, or "" when nothing.
std::string Evidence(const ResInfo& r, const DmarcResult& d) {
  if (r.result != "pass") return "";
  const DmarcAlignmentMode adkim =
      d.has_record ? d.record.adkim : DmarcAlignmentMode::kRelaxed;
  const DmarcAlignmentMode aspf = d.has_record ? d.record.aspf : DmarcAlignmentMode::kRelaxed;
  if (r.method == "dmarc") {
    std::string from = NormalizeDomain(Property(r, "header.from"));
    if (!from.empty() && from == d.from_domain) return "dmarc=pass header.from=" + from;
  } else if (r.method == "dkim") {
    std::string domain = NormalizeDomain(Property(r, "header.d"));
    if (domain.empty()) domain = DomainOf(Property(r, "header.i"));
    if (Aligned(domain, d, adkim)) return "dkim=pass header.d=" + domain;
  } else if (r.method == "spf") {
    std::string domain = DomainOf(Property(r, "smtp.mailfrom"));
    if (Aligned(domain, d, aspf)) return "spf=pass smtp.mailfrom=" + domain;
  }
  return "";
}

}  // namespace

bool ApplyArcOverride(const ArcResult& arc, std::span<const std::string> trusted_sealers,
                      DmarcResult* dmarc) {
  // A chain that failed only because a key lookup failed temporarily cannot be checked now:
  // whether a trusted sealer would have vouched is noted (arc_override_pending), nothing more.
  const bool undecided =
      arc.result == ArcVerdict::kFail && arc.reason == ArcReason::kKeyDnsError;
  if (dmarc->verdict != DmarcVerdict::kFail || (arc.result != ArcVerdict::kPass && !undecided) ||
      trusted_sealers.empty()) {
    return false;
  }
  // RFC 8617 §7: the receiver decides whom to trust; the newest set by a trusted sealer
  // speaks (a later untrusted hop cannot put words in its mouth: the seals cover every AAR),
  // about the message it sealed only.
  for (size_t i = arc.sets.size(); i-- > 0;) {
    const ArcSet& set = arc.sets[i];
    const std::string& sealer = set.seal.domain;
    if (sealer.empty() ||
        std::none_of(trusted_sealers.begin(), trusted_sealers.end(),
                     [&](const std::string& t) { return EqualsIgnoreCase(t, sealer); })) {
      continue;
    }
    // Its words are about the message it sealed: when its ARC-Message-Signature no longer
    // verifies, a later (untrusted) hop changed the message, or moved the set onto another.
    if (!undecided && !arc.UnchangedSince(set.instance)) return false;
    for (const ResInfo& r : ParseResults(set.results)) {
      std::string evidence = Evidence(r, *dmarc);
      if (evidence.empty()) continue;
      if (undecided) {
        // Only when nothing newer than this set failed: its seal was reached (seals are
        // checked newest first, so every newer one verified; it covers every older ARC
        // field) and verified or failed on DNS, or it is the newest set and its message
        // signature's key failed; and its message signature did not fail for good. A
        // spoofer's own newer set whose key never answers stops the chain before this set is
        // reached, so a forged "trusted" set cannot turn the reject into a deferral.
        const auto good_or_dns = [](const DkimResult& v) {
          return v.result == DkimVerdict::kPass || v.result == DkimVerdict::kTempError;
        };
        const bool newest = i + 1 == arc.sets.size();
        const bool reached =
            good_or_dns(set.seal) ||
            (newest && set.message_signature.result == DkimVerdict::kTempError);
        if (reached && good_or_dns(set.message_signature) &&
            dmarc->disposition != DmarcDisposition::kNone) {
          dmarc->arc_override_pending = sealer;
        }
        return false;
      }
      dmarc->arc_override = true;
      dmarc->disposition_before_override = dmarc->disposition;
      dmarc->disposition = DmarcDisposition::kNone;
      dmarc->arc_override_sealer = sealer;
      dmarc->arc_override_instance = set.instance;
      dmarc->arc_override_evidence = std::move(evidence);
      return true;
    }
    return false;  // the newest trusted sealer did not vouch: older ones are not asked
  }
  return false;
}

}  // namespace credence
