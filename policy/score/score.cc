// The score: a sum of named symbols (docs/scoring.md). Pure: no DNS, no clock.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/regex.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/score.h"
#include "score/network.h"

namespace credence {

using score_internal::IpAddress;
using score_internal::Network;

namespace {
class Collector;
struct Subject;
}  // namespace

struct ScorePolicy::Impl {
  struct CompiledRule {
    SiteRule rule;
    std::vector<Network> networks;
    std::optional<Regex> helo;
    std::optional<Regex> list_id;
  };
  std::map<std::string, double, std::less<>> weights;  // defaults with config applied
  bool dkim_testing_counts = false;
  std::vector<CompiledRule> rules;
  std::vector<std::string> allow_from;
  std::vector<Network> allow_networks;
  std::vector<DomainOverride> overrides;

  // Steps of Score that read the site's rules (the others are free functions below).
  const DomainOverride* OverrideFor(std::string_view from_domain) const;
  void AddAllowlist(const Subject& s, Collector& out) const;
  const CompiledRule* Forwarder(const Subject& s) const;
  void AddSpf(const Subject& s, Collector& out) const;
};

namespace {

Status CheckSymbols(const std::map<std::string, double>& weights, const std::string& where) {
  for (const auto& [name, w] : weights) {
    if (FindSymbol(name) == nullptr) {
      return Status::Invalid(where + ": unknown symbol '" + name + "'");
    }
  }
  return Status::Ok();
}

// `domain` is `parent` or a subdomain of it (ASCII case-insensitive).
bool InDomain(std::string_view domain, std::string_view parent) {
  if (parent.empty() || domain.size() < parent.size()) return false;
  std::string_view tail = domain.substr(domain.size() - parent.size());
  if (!EqualsIgnoreCase(tail, parent)) return false;
  return domain.size() == parent.size() || domain[domain.size() - parent.size() - 1] == '.';
}

// An identifier that authenticates the author: the From domain, a parent or a subdomain of it
// (whoever can sign or send for one controls the other's DNS), but no subdomain of a From
// domain that is a public suffix (`eu.org`: anyone may register `evil.eu.org` and publish
// `+all` there). Anything else authenticates only itself: a sender can add a passing signature
// or SPF record of their own domain to any spoof, so it earns no credit (docs/scoring.md).
bool Related(std::string_view id, std::string_view from_domain, const DmarcResult* dmarc) {
  if (InDomain(from_domain, id)) return true;
  if (!InDomain(id, from_domain)) return false;
  return EqualsIgnoreCase(id, from_domain) || dmarc == nullptr || !dmarc->author_public_suffix;
}

// RFC 2919 §3: the list identifier is the part in angle brackets; without them, the trimmed
// value.
std::string_view ListIdentifier(std::string_view value) {
  size_t open = value.rfind('<');
  if (open != std::string_view::npos) {
    size_t close = value.find('>', open);
    if (close != std::string_view::npos) return value.substr(open + 1, close - open - 1);
  }
  size_t b = value.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = value.find_last_not_of(" \t\r\n");
  return value.substr(b, e - b + 1);
}

class Collector {
 public:
  explicit Collector(const std::map<std::string, double, std::less<>>& w) : weights_(w) {
    result_.symbols.reserve(4);  // DKIM, SPF, DMARC and one more: no regrowth for most mail
  }
  // `name`: a string literal of the default table (the symbol keeps the view).
  void Add(std::string_view name, std::string description) {
    auto it = weights_.find(name);
    double w = it == weights_.end() ? 0.0 : it->second;
    result_.symbols.push_back({name, w, std::move(description)});
    result_.score += w;
  }
  // The sum rounded to millionths: weights are decimals, and a double's sum of them is not
  // (-0.2 + 1.0 - 0.5 is 0.30000000000000004, which JSON would print as such).
  ScoreResult Take() {
    result_.score = std::round(result_.score * 1e6) / 1e6 + 0.0;  // + 0.0: never -0.0
    return std::move(result_);
  }

 private:
  const std::map<std::string, double, std::less<>>& weights_;
  ScoreResult result_;
};

void AppendDomain(std::string* list, std::string_view d) {
  // Appended first, then taken back when the list already held it: no item of its own.
  const size_t before = list->size();
  if (before > 0) *list += ", ";
  const size_t item = list->size();
  list->append("d=").append(d.substr(0, 253));
  // The same item, whole: "d=a.example" is not "d=a.example.net" (a substring test was).
  const std::string_view added = std::string_view(*list).substr(item);
  std::string_view earlier = std::string_view(*list).substr(0, before);
  while (!earlier.empty()) {
    const size_t comma = earlier.find(", ");
    if (earlier.substr(0, comma) == added) {
      list->resize(before);
      return;
    }
    if (comma == std::string_view::npos) break;
    earlier.remove_prefix(comma + 2);
  }
}

}  // namespace

ScorePolicy::ScorePolicy() {
  auto impl = std::make_shared<Impl>();
  for (const SymbolInfo& s : DefaultSymbols()) impl->weights[std::string(s.name)] = s.weight;
  impl_ = std::move(impl);
}

Result<ScorePolicy> ScorePolicy::Create(const ScoreConfig& config) {
  auto impl = std::make_shared<Impl>();
  for (const SymbolInfo& s : DefaultSymbols()) impl->weights[std::string(s.name)] = s.weight;
  if (Status s = CheckSymbols(config.weights, "weights"); !s.ok()) return s;
  for (const auto& [name, w] : config.weights) impl->weights[name] = w;
  impl->dkim_testing_counts = config.dkim_testing_counts;
  for (const SiteRule& rule : config.site_rules) {
    Impl::CompiledRule c;
    c.rule = rule;
    std::string where = "site rule '" + rule.name + "'";
    if (rule.networks.empty() && rule.helo.empty() && rule.list_id.empty()) {
      return Status::Invalid(where + ": needs at least one of networks, helo, list_id");
    }
    for (const std::string& n : rule.networks) {
      Result<Network> net = score_internal::ParseNetwork(n);
      if (!net.ok()) return Status::Invalid(where + ": " + net.status().message());
      c.networks.push_back(*net);
    }
    if (!rule.helo.empty()) {
      Result<Regex> re = Regex::Compile(rule.helo);
      if (!re.ok()) return Status::Invalid(where + ": helo: " + re.status().message());
      c.helo = *re;
    }
    if (!rule.list_id.empty()) {
      Result<Regex> re = Regex::Compile(rule.list_id);
      if (!re.ok()) return Status::Invalid(where + ": list_id: " + re.status().message());
      c.list_id = *re;
    }
    impl->rules.push_back(std::move(c));
  }
  for (const std::string& d : config.allow_from_domains) impl->allow_from.push_back(ToLower(d));
  for (const std::string& n : config.allow_networks) {
    Result<Network> net = score_internal::ParseNetwork(n);
    if (!net.ok()) return Status::Invalid("allowlist: " + net.status().message());
    impl->allow_networks.push_back(*net);
  }
  for (const DomainOverride& o : config.domain_overrides) {
    if (Status s = CheckSymbols(o.weights, "domain '" + o.domain + "'"); !s.ok()) return s;
    DomainOverride lower = o;
    lower.domain = ToLower(o.domain);
    impl->overrides.push_back(std::move(lower));
  }
  ScorePolicy policy;
  policy.impl_ = std::move(impl);
  return policy;
}

Status ValidateNetwork(std::string_view cidr) {
  return score_internal::ParseNetwork(cidr).status();
}

namespace {

// What every step of Score reads: the input, its From domain (lower case) and client address.
struct Subject {
  const ScoreInput& in;
  // Lower case: ScoreInput::from_domain lowered, else DMARC's (lower case already).
  std::string_view from_domain;
  std::optional<IpAddress> client;
  // Every DKIM pass that earns credit leaves part of what a reader sees unsigned (a field
  // instance above the signed one, body past l=): "d=a.example: subject; ..." , else "".
  std::string dkim_partial;
  // SPF passed aligned with the author, as DMARC judged it (aspf=, the organizational
  // domain): what clears a pass resting on partial signatures.
  bool spf_for_author = false;
};

// What a passing signature leaves unsigned that a reader sees, "" when nothing: the extra
// instances of single-instance fields it signs (RFC 6376 §8.15), the body past l= (§8.2).
std::string UnsignedParts(const DkimResult& r) {
  std::string out;
  for (const std::string& f : r.unsigned_fields) out.append(out.empty() ? "" : ", ").append(f);
  if (r.unsigned_body_bytes > 0) {
    out.append(out.empty() ? "" : ", ")
        .append(std::to_string(r.unsigned_body_bytes))
        .append(" body bytes past l=");
  }
  return out;
}

// " (not the From domain X): no credit", the tail of every *_PASS_UNALIGNED description.
std::string NoCredit(const Subject& s) {
  std::string out = " (not the From domain";
  if (!s.from_domain.empty()) out.append(" ").append(s.from_domain);
  return out.append("): no credit");
}

// A signature that counts for the author (the From domain, a parent, a subdomain, or the one
// DMARC found aligned) and is not a testing key set aside.
bool EarnsCredit(const Subject& s, const DkimResult& r, bool testing_counts) {
  if (r.result != DkimVerdict::kPass || (r.testing && !testing_counts)) return false;
  const DmarcResult* d = s.in.dmarc;
  return Related(r.domain, s.from_domain, d) ||
         (d != nullptr && d->dkim_aligned && EqualsIgnoreCase(r.domain, d->aligned_dkim_domain));
}

// Whether DMARC would align `domain` with the From domain (RFC 9989 adkim=: strict equal,
// relaxed within the organizational domain); false without a record.
bool DmarcAligns(const DmarcResult& d, std::string_view domain) {
  if (!d.has_record || domain.empty() || d.from_domain.empty()) return false;
  if (d.record.adkim == DmarcAlignmentMode::kStrict) return EqualsIgnoreCase(domain, d.from_domain);
  return InDomain(domain, d.org_domain.empty() ? d.from_domain : d.org_domain);
}

// A signature that speaks for the author: one that earns credit, or one DMARC aligns (a
// testing key's too, with [dmarc] dkim_testing_counts_for_alignment: docs/scoring.md), not
// only the first one DMARC found.
bool Vouches(const Subject& s, const DkimResult& r, bool testing_counts) {
  const DmarcResult* d = s.in.dmarc;
  return EarnsCredit(s, r, testing_counts) ||
         (r.result == DkimVerdict::kPass && d != nullptr && d->dkim_aligned &&
          (EqualsIgnoreCase(r.domain, d->aligned_dkim_domain) || DmarcAligns(*d, r.domain)));
}

bool SignsField(const DkimResult& r, std::string_view name) {
  return std::any_of(r.signed_headers.begin(), r.signed_headers.end(),
                     [&](const std::string& h) { return EqualsIgnoreCase(h, name); });
}

// Subject::dkim_partial: what a reader sees that the signatures vouching for the author leave
// unsigned, taken together: a single-instance field one of them leaves with an instance
// unsigned and none signs whole (a second signature that does not name Subject vouches for no
// Subject), and the body past l= when none covers it all. "" when nothing is, or none vouches.
std::string PartialCredit(const Subject& s, bool testing_counts) {
  // Most mail: no signature leaves anything unsigned.
  if (std::none_of(s.in.dkim.begin(), s.in.dkim.end(), [](const DkimResult& r) {
        return r.unsigned_body_bytes > 0 || !r.unsigned_fields.empty();
      })) {
    return "";
  }
  std::vector<const DkimResult*> vouching;
  for (const DkimResult& r : s.in.dkim) {
    if (Vouches(s, r, testing_counts)) vouching.push_back(&r);
  }
  if (vouching.empty()) return "";
  std::vector<std::string_view> fields;
  uint64_t body = UINT64_MAX;  // the fewest body bytes past l= among them
  for (const DkimResult* r : vouching) {
    body = std::min(body, r->unsigned_body_bytes);
    for (const std::string& f : r->unsigned_fields) {
      if (std::find(fields.begin(), fields.end(), f) != fields.end()) continue;
      const bool whole = std::any_of(vouching.begin(), vouching.end(), [&](const DkimResult* q) {
        return SignsField(*q, f) && std::find(q->unsigned_fields.begin(), q->unsigned_fields.end(),
                                              f) == q->unsigned_fields.end();
      });
      if (!whole) fields.push_back(f);
    }
  }
  if (fields.empty() && body == 0) return "";
  std::string out = "d=" + vouching.front()->domain + ": ";
  for (size_t i = 0; i < fields.size(); ++i) out.append(i > 0 ? ", " : "").append(fields[i]);
  if (body > 0) {
    out.append(fields.empty() ? "" : ", ").append(std::to_string(body)).append(" body bytes past l=");
  }
  return out;
}

// DKIM: one symbol per outcome, listing the signing domains.
void AddDkim(const Subject& s, bool testing_counts, Collector& out) {
  const ScoreInput& in = s.in;
  if (in.dkim.empty()) {
    out.Add("CREDENCE_DKIM_NONE", "no DKIM signature");
    return;
  }
  std::string pass, pass_other, fail, perm, temp, neutral, testing;
  for (const DkimResult& r : in.dkim) {
    // RFC 6376 §3.6.1: t=y keys: "Verifiers MUST NOT treat messages from Signers in testing
    // mode differently from unsigned email" -- unless the site opts in.
    if (r.testing && !testing_counts &&
        (r.result == DkimVerdict::kPass || r.result == DkimVerdict::kFail)) {
      AppendDomain(&testing, r.domain);
      continue;
    }
    switch (r.result) {
      case DkimVerdict::kPass:
        if (EarnsCredit(s, r, testing_counts)) {
          // All partial (Subject::dkim_partial): no credit, CREDENCE_DKIM_PARTIAL instead.
          if (s.dkim_partial.empty()) AppendDomain(&pass, r.domain);
        } else {
          AppendDomain(&pass_other, r.domain);
        }
        break;
      case DkimVerdict::kFail: AppendDomain(&fail, r.domain); break;
      case DkimVerdict::kPermError: AppendDomain(&perm, r.domain); break;
      case DkimVerdict::kTempError: AppendDomain(&temp, r.domain); break;
      case DkimVerdict::kNeutral:
      case DkimVerdict::kPolicy: AppendDomain(&neutral, r.domain); break;
    }
  }
  // Each list becomes its symbol's description (moved, not copied).
  if (!pass.empty()) out.Add("CREDENCE_DKIM_PASS", std::move(pass));
  if (!pass_other.empty()) {
    out.Add("CREDENCE_DKIM_PASS_UNALIGNED", std::move(pass_other) + NoCredit(s));
  }
  if (!fail.empty()) out.Add("CREDENCE_DKIM_FAIL", std::move(fail));
  if (!perm.empty()) out.Add("CREDENCE_DKIM_PERMERROR", std::move(perm));
  if (!temp.empty()) out.Add("CREDENCE_DKIM_TEMPERROR", std::move(temp));
  if (!neutral.empty()) out.Add("CREDENCE_DKIM_NEUTRAL", std::move(neutral));
  if (!testing.empty()) out.Add("CREDENCE_DKIM_TESTING", "t=y key, ignored: " + testing);
  if (!s.dkim_partial.empty()) {
    out.Add("CREDENCE_DKIM_PARTIAL", "left unsigned: " + s.dkim_partial);
  }
}

// SPF's own verdict, once no forwarder rule neutralised it.
void AddSpfVerdict(const Subject& s, Collector& out) {
  const ScoreInput& in = s.in;
  const SpfResult& spf = *in.spf;
  std::string what = spf.identity + " " + spf.domain;
  switch (spf.result) {
    case SpfVerdict::kPass:
      if (Related(spf.domain, s.from_domain, in.dmarc) ||
          (in.dmarc != nullptr && in.dmarc->spf_aligned)) {
        out.Add("CREDENCE_SPF_PASS", std::move(what));
      } else {
        out.Add("CREDENCE_SPF_PASS_UNALIGNED", std::move(what) + NoCredit(s));
      }
      break;
    case SpfVerdict::kFail: out.Add("CREDENCE_SPF_FAIL", std::move(what)); break;
    case SpfVerdict::kSoftFail: out.Add("CREDENCE_SPF_SOFTFAIL", std::move(what)); break;
    case SpfVerdict::kNeutral: out.Add("CREDENCE_SPF_NEUTRAL", std::move(what)); break;
    case SpfVerdict::kNone: out.Add("CREDENCE_SPF_NONE", std::move(what)); break;
    case SpfVerdict::kTempError: out.Add("CREDENCE_SPF_TEMPERROR", std::move(what)); break;
    case SpfVerdict::kPermError: out.Add("CREDENCE_SPF_PERMERROR", std::move(what)); break;
  }
}

// DMARC: a fail scores by the disposition actually applied (after t=, pct=). A pass that rests
// only on signatures leaving what a reader sees unsigned (`dkim_partial`, no aligned SPF)
// scores as the fail it would be without them: a genuine message replayed with a new Subject
// on top is a spoof of that Subject.
// Of a family's symbols {reject, quarantine, softfail}, the one for the disposition the
// DMARC result would have as a fail (DmarcResult::disposition_if_fail).
std::string_view AsItsFail(const DmarcResult& d, const std::array<std::string_view, 3>& family) {
  switch (d.disposition_if_fail) {
    case DmarcDisposition::kReject: return family[0];
    case DmarcDisposition::kQuarantine: return family[1];
    case DmarcDisposition::kNone: break;
  }
  return family[2];
}

void AddDmarc(const DmarcResult& d, const Subject& s, Collector& out) {
  std::string what = "From " + d.from_domain;
  switch (d.verdict) {
    case DmarcVerdict::kPass:
      if (s.dkim_partial.empty() || s.spf_for_author || !d.dkim_aligned) {
        out.Add("CREDENCE_DMARC_PASS", std::move(what));
        break;
      }
      what += ": the aligned DKIM pass leaves unsigned what a reader sees";
      out.Add(AsItsFail(d, {"CREDENCE_DMARC_PARTIAL_REJECT", "CREDENCE_DMARC_PARTIAL_QUARANTINE",
                            "CREDENCE_DMARC_PARTIAL_SOFTFAIL"}),
              std::move(what));
      break;
    case DmarcVerdict::kNone: out.Add("CREDENCE_DMARC_NONE", std::move(what)); break;
    case DmarcVerdict::kTempError:
      // With a record, scored as the fail it is without what could not be checked (the
      // policy itself is not applied): docs/security.md, promises 2 and 5.
      if (!d.has_record && !d.unknown_scored_strict) {
        out.Add("CREDENCE_DMARC_TEMPERROR", std::move(what));
        break;
      }
      what += ": " + d.reason;
      out.Add(AsItsFail(d, {"CREDENCE_DMARC_TEMPERROR_REJECT",
                            "CREDENCE_DMARC_TEMPERROR_QUARANTINE",
                            "CREDENCE_DMARC_TEMPERROR_SOFTFAIL"}),
              std::move(what));
      break;
    case DmarcVerdict::kPermError:
      // RFC 9989 / RFC 7489 §6.6.1: several From fields cannot be evaluated, and that is the
      // classic way to display one author while authenticating another: it must not score
      // better than a spoof under p=reject.
      if (d.from_problem == DmarcFromProblem::kMultipleFromFields) {
        out.Add("CREDENCE_DMARC_MULTIPLE_FROM", std::move(what));
      } else if (d.from_problem != DmarcFromProblem::kNone) {
        out.Add("CREDENCE_DMARC_BAD_FROM", d.reason);
      } else {
        if (!d.reason.empty()) what.append(": ").append(d.reason);
        out.Add("CREDENCE_DMARC_PERMERROR", std::move(what));
      }
      break;
    case DmarcVerdict::kFail:
      switch (d.disposition) {
        case DmarcDisposition::kReject: out.Add("CREDENCE_DMARC_REJECT", std::move(what)); break;
        case DmarcDisposition::kQuarantine:
          out.Add("CREDENCE_DMARC_QUARANTINE", std::move(what));
          break;
        case DmarcDisposition::kNone:
          what += d.testing ? " (testing)" : d.sampled_out ? " (sampled out)" : "";
          out.Add("CREDENCE_DMARC_SOFTFAIL", std::move(what));
          break;
      }
      break;
  }
}

// ARC (RFC 8617): the chain's verdict, and the trusted-sealer override of a DMARC fail.
void AddArc(const ArcResult& a, const DmarcResult* dmarc, Collector& out) {
  std::string sealers;
  for (const std::string& d : a.Sealers()) AppendDomain(&sealers, d);
  switch (a.result) {
    case ArcVerdict::kPass: out.Add("CREDENCE_ARC_PASS", "sealed by " + sealers); break;
    case ArcVerdict::kNone:
      // No sets: no symbol. rspamd's ARC_NA (weight 0) has no counterpart: a symbol on
      // every ordinary message would only lengthen every host's list (docs/scoring.md).
      break;
    case ArcVerdict::kFail:
      out.Add(a.reason == ArcReason::kKeyDnsError ? "CREDENCE_ARC_DNSFAIL" : "CREDENCE_ARC_FAIL",
              std::string(ArcReasonName(a.reason)) + ": " + a.detail);
      break;
  }
  if (dmarc != nullptr && !dmarc->arc_override_pending.empty()) {
    out.Add("CREDENCE_ARC_TRUSTED_DNSFAIL",
            "DMARC fail for From " + dmarc->from_domain + " not overridden: the ARC chain could "
            "not be checked (a key lookup failed temporarily), and " +
                dmarc->arc_override_pending + ", a trusted sealer, vouches for it");
  }
  if (dmarc != nullptr && dmarc->arc_override) {
    out.Add("CREDENCE_ARC_TRUSTED",
            "DMARC fail for From " + dmarc->from_domain + " overridden (local_policy, arc=pass): " +
                dmarc->arc_override_sealer + " (i=" +
                std::to_string(dmarc->arc_override_instance) + ") saw " +
                dmarc->arc_override_evidence);
  }
}

// Limits: whatever a limit left out can only make the message look worse.
// A From field that shows a reader an address of another domain than the one DMARC judges
// (`"ceo@bank.example" <x@evil.example>`, in a comment, a group name or an encoded-word):
// the displayed author is not authenticated, whatever the address's results.
void AddShownAddress(const Subject& s, Collector& out) {
  if (s.from_domain.empty()) return;
  for (const ShownDomain& shown : s.in.from_shown_domains) {
    // Either reading related to the From domain (text run into the sender's own address) is
    // no other domain.
    if (!Related(shown.domain, s.from_domain, nullptr) &&
        (shown.ascii_prefix.empty() || !Related(shown.ascii_prefix, s.from_domain, nullptr))) {
      out.Add("CREDENCE_FROM_NAME_ADDRESS",
              "the From field shows an address at " + shown.domain + ", its address is at " +
                  std::string(s.from_domain));
      return;
    }
  }
}

void AddLimits(std::span<const std::string> limits, Collector& out) {
  if (limits.empty()) return;
  std::string what;
  for (const std::string& note : limits) {
    if (!what.empty()) what += "; ";
    what += note;
  }
  out.Add("CREDENCE_LIMIT", what);
}

}  // namespace

// The longest matching [[domain]] override of the From domain, or null.
const DomainOverride* ScorePolicy::Impl::OverrideFor(std::string_view from_domain) const {
  const DomainOverride* best = nullptr;
  for (const DomainOverride& o : overrides) {
    if (InDomain(from_domain, o.domain) && (!best || o.domain.size() > best->domain.size())) {
      best = &o;
    }
  }
  return best;
}

void ScorePolicy::Impl::AddAllowlist(const Subject& s, Collector& out) const {
  if (s.client) {
    for (const Network& n : allow_networks) {
      if (n.Contains(*s.client)) {
        out.Add("CREDENCE_ALLOWLIST_IP", "client " + s.in.client_ip + " is allowlisted");
        break;
      }
    }
  }
  for (const std::string& d : allow_from) {
    if (!InDomain(s.from_domain, d)) continue;
    // DKIM passes that leave a shown field or body text unsigned (a replay with a new
    // Subject on top) do not make the sender's words the domain's: unless SPF passed for the
    // author too.
    const DmarcResult* dmarc = s.in.dmarc;
    const bool whole = s.dkim_partial.empty() || s.spf_for_author;
    bool authenticated = whole && dmarc != nullptr && dmarc->verdict == DmarcVerdict::kPass;
    for (const DkimResult& r : s.in.dkim) {
      // (Each signature whole too: a testing key's vouches for nothing in dkim_partial.)
      if (whole && r.result == DkimVerdict::kPass && InDomain(s.from_domain, r.domain) &&
          UnsignedParts(r).empty()) {
        authenticated = true;
      }
    }
    const std::string allowlisted =
        "From domain " + std::string(s.from_domain) + " is allowlisted (" + d + ")";
    if (authenticated) {
      out.Add("CREDENCE_ALLOWLIST_FROM", allowlisted + " and authenticated");
    } else {
      out.Add("CREDENCE_ALLOWLIST_UNAUTH", allowlisted + " but not authenticated: no credit");
    }
    break;
  }
}

// The first trusted-forwarder or mailing-list rule that neutralises this SPF fail/softfail,
// on evidence a sender cannot forge (SiteRule): the client network, a HELO name that passed
// SPF, or the list's own passing signature (or a trusted ARC sealer of the list's domain).
const ScorePolicy::Impl::CompiledRule* ScorePolicy::Impl::Forwarder(const Subject& s) const {
  const ScoreInput& in = s.in;
  if (in.spf->result != SpfVerdict::kFail && in.spf->result != SpfVerdict::kSoftFail) {
    return nullptr;
  }
  std::string_view list_id = ListIdentifier(in.list_id);
  const bool list_signed =
      !list_id.empty() &&
      (std::any_of(in.dkim.begin(), in.dkim.end(),
                   [&](const DkimResult& r) {
                     // The list's own pass, over all a reader sees (not a replay of a list
                     // post with a new Subject on top).
                     return r.result == DkimVerdict::kPass && !r.domain.empty() &&
                            InDomain(list_id, r.domain) && UnsignedParts(r).empty();
                   }) ||
       std::any_of(in.trusted_arc_sealers.begin(), in.trusted_arc_sealers.end(),
                   [&](const std::string& d) { return InDomain(list_id, d); }));
  const bool helo_verified = in.spf_helo != nullptr && in.spf_helo->result == SpfVerdict::kPass;
  for (const CompiledRule& c : rules) {
    bool ok = true;
    if (!c.networks.empty()) {
      ok = s.client && std::any_of(c.networks.begin(), c.networks.end(),
                                   [&](const Network& n) { return n.Contains(*s.client); });
    }
    if (ok && c.helo) ok = c.helo->FullMatch(in.helo) && (!c.networks.empty() || helo_verified);
    if (ok && c.list_id) ok = list_signed && c.list_id->FullMatch(list_id);
    if (ok) return &c;
  }
  return nullptr;
}

void ScorePolicy::Impl::AddSpf(const Subject& s, Collector& out) const {
  const CompiledRule* forwarder = Forwarder(s);
  if (forwarder == nullptr) return AddSpfVerdict(s, out);
  const SpfResult& spf = *s.in.spf;
  const char* kind =
      forwarder->rule.kind == SiteRuleKind::kMailingList ? "mailing list" : "trusted forwarder";
  out.Add("CREDENCE_SPF_FORWARDED",
          std::string("SPF ") + (spf.result == SpfVerdict::kFail ? "fail" : "softfail") +
              " for " + spf.identity + " " + spf.domain + " neutralised: " + kind + " '" +
              forwarder->rule.name + "'");
}

ScoreResult ScorePolicy::Score(const ScoreInput& in) const {
  const Impl& impl = *impl_;
  const std::string lowered = ToLower(in.from_domain);
  Subject s{in, lowered, std::nullopt};
  if (s.from_domain.empty() && in.dmarc != nullptr) s.from_domain = in.dmarc->from_domain;
  if (!in.client_ip.empty()) {
    Result<IpAddress> ip = score_internal::ParseIp(in.client_ip);
    if (ip.ok()) s.client = *ip;
  }

  // Per-From-domain override: its weights on top of the site's (copied only when one applies).
  const DomainOverride* override_for = impl.OverrideFor(s.from_domain);
  std::map<std::string, double, std::less<>> overridden;
  bool testing_counts = impl.dkim_testing_counts;
  if (override_for != nullptr) {
    overridden = impl.weights;
    for (const auto& [name, w] : override_for->weights) overridden[name] = w;
    if (override_for->dkim_testing_counts) testing_counts = *override_for->dkim_testing_counts;
  }
  Collector out(override_for != nullptr ? overridden : impl.weights);
  s.dkim_partial = PartialCredit(s, testing_counts);
  s.spf_for_author = in.dmarc != nullptr && in.dmarc->spf_aligned;

  impl.AddAllowlist(s, out);
  AddDkim(s, testing_counts, out);
  if (in.spf != nullptr) impl.AddSpf(s, out);
  if (in.dmarc != nullptr) AddDmarc(*in.dmarc, s, out);
  AddShownAddress(s, out);
  if (in.arc != nullptr) AddArc(*in.arc, in.dmarc, out);
  AddLimits(in.limits, out);
  return out.Take();
}

}  // namespace credence
