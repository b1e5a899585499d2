// The score policy: a score delta (positive = more suspicious, as in SpamAssassin and rspamd)
// made of named symbols with weights. docs/scoring.md lists the default table next to rspamd's
// defaults and explains each choice.
#ifndef CREDENCE_POLICY_SCORE_H_
#define CREDENCE_POLICY_SCORE_H_

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/arc.h"
#include "credence/dkim.h"
#include "credence/policy/dmarc.h"
#include "credence/spf.h"
#include "credence/status.h"

namespace credence {

// One entry of the default table.
struct SymbolInfo {
  std::string_view name;         // "CREDENCE_DKIM_PASS"
  double weight;                 // default weight
  std::string_view rspamd;       // the closest rspamd symbol and its default ("R_DKIM_ALLOW -0.2")
  std::string_view description;  // what it means
};
// Every symbol credence can emit, with its default weight, in a stable order.
std::span<const SymbolInfo> DefaultSymbols();
// The entry for `name`, or nullptr.
const SymbolInfo* FindSymbol(std::string_view name);

// A symbol that fired for one message.
struct ScoreSymbol {
  // A name of the default table (DefaultSymbols), viewed in a string literal: static
  // storage, NUL-terminated, so a result carries no copy of it.
  std::string_view name;
  double weight = 0;
  std::string description;  // why, with the domains/rule involved ("d=example.com")
};

struct ScoreResult {
  double score = 0;                  // the sum of the weights
  std::vector<ScoreSymbol> symbols;  // in a fixed order: allowlists, DKIM, SPF, DMARC
};

enum class SiteRuleKind { kTrustedForwarder, kMailingList };

// A trusted forwarder or mailing list: SPF fail/softfail from it is neutralised
// (CREDENCE_SPF_FORWARDED, weight 0), since forwarding breaks SPF (RFC 7208 §9.3 / App. D).
// The rule matches when every criterion given matches (at least one must be given), and only
// on evidence a sender cannot forge: a List-Id counts only when the message also carries a
// passing DKIM signature of the list's domain (the List-Id or a parent of it), or a passing
// ARC chain sealed by a trusted sealer of that domain (ScoreInput::trusted_arc_sealers), and a HELO
// pattern without networks only when the HELO name passed SPF.
struct SiteRule {
  std::string name;   // for symbol descriptions and error messages
  SiteRuleKind kind = SiteRuleKind::kTrustedForwarder;
  std::vector<std::string> networks;  // client IP ranges, CIDR ("192.0.2.0/24", "2001:db8::/32";
                                      // a bare address is /32 or /128); any one matches
  std::string helo;     // RE2, matched against the whole HELO name, case-insensitive; "" = any
  std::string list_id;  // RE2, matched against the whole List-Id (the part in <>, RFC 2919 §3,
                        // or the trimmed value), case-insensitive; "" = any
};

// Per-From-domain overrides: apply to the domain and its subdomains; the longest match wins.
struct DomainOverride {
  std::string domain;                     // lower-case, no trailing dot
  std::map<std::string, double> weights;  // symbol -> weight
  std::optional<bool> dkim_testing_counts;
};

struct ScoreConfig {
  // Weights replacing the defaults (names must be in DefaultSymbols()).
  std::map<std::string, double> weights;
  // A signature whose key has t=y (RFC 6376 §3.6.1 testing) counts like any other (pass or
  // fail). Default false: it adds nothing and CREDENCE_DKIM_TESTING (weight 0) says so.
  bool dkim_testing_counts = false;
  std::vector<SiteRule> site_rules;
  // CREDENCE_ALLOWLIST_FROM: From domains (and subdomains) that get the allowlist weight when
  // the message is authenticated for them (DMARC pass, or a passing DKIM signature whose d= is
  // the From domain or a parent of it). Unauthenticated: CREDENCE_ALLOWLIST_UNAUTH (weight 0).
  std::vector<std::string> allow_from_domains;
  // CREDENCE_ALLOWLIST_IP: client IP ranges (CIDR).
  std::vector<std::string> allow_networks;
  std::vector<DomainOverride> domain_overrides;
};

// Everything the score depends on for one message.
struct ScoreInput {
  std::span<const DkimResult> dkim;    // every signature (empty: unsigned)
  const SpfResult* spf = nullptr;      // the MAIL FROM result (or HELO's when that is all)
  const SpfResult* spf_helo = nullptr; // the HELO result, when checked (verifies a HELO rule)
  const DmarcResult* dmarc = nullptr;  // optional
  const ArcResult* arc = nullptr;      // optional: no ARC symbol when absent
  // Sealers of a passing ARC chain that [arc] trusted_sealers lists: a List-Id rule is
  // satisfied by one whose domain is the list's (as by the list's passing DKIM signature).
  std::vector<std::string> trusted_arc_sealers;
  // What a limit left out of the evaluation (Evaluation::limits): CREDENCE_LIMIT when any.
  std::span<const std::string> limits;
  std::string client_ip;               // presentation form; "" if unknown
  std::string helo;
  std::string list_id;                 // List-Id field value; "" if none
  std::string from_domain;             // "" = dmarc->from_domain when dmarc is given
  // Domains a reader may be shown in the From field besides its address (DomainsShownInFrom:
  // `"ceo@bank.example" <x@evil.example>`): CREDENCE_FROM_NAME_ADDRESS for one unrelated to
  // the From domain.
  std::vector<ShownDomain> from_shown_domains;
};

// OK when `cidr` is an IPv4/IPv6 address or CIDR range; kInvalidInput saying why.
Status ValidateNetwork(std::string_view cidr);

// A ScoreConfig with its networks and patterns compiled. Copies share the compiled state;
// Score() is const and thread-safe.
class ScorePolicy {
 public:
  // kInvalidInput naming the rule/key when a symbol name is unknown, a network does not parse
  // or a pattern does not compile (with RE2's error).
  static Result<ScorePolicy> Create(const ScoreConfig& config);
  ScorePolicy();  // the defaults

  ScoreResult Score(const ScoreInput& input) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace credence

#endif  // CREDENCE_POLICY_SCORE_H_
