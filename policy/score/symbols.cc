// The default symbol table. Weights follow rspamd 3.4's defaults where rspamd has a
// counterpart (second column), so credence's delta reads the same to an rspamd admin.
#include <array>

#include "credence/policy/score.h"

namespace credence {
namespace {

constexpr std::array<SymbolInfo, 43> kSymbols = {{
    {"CREDENCE_ALLOWLIST_IP", -5.0, "(multimap IP allowlist, site-defined)",
     "client IP is in allowlist.networks"},
    {"CREDENCE_ALLOWLIST_FROM", -5.0, "WHITELIST_DMARC -7.0",
     "From domain is allowlisted and the message is authenticated for it"},
    {"CREDENCE_ALLOWLIST_UNAUTH", 0.0, "-",
     "From domain is allowlisted but the message is not authenticated for it: no credit"},
    {"CREDENCE_DKIM_PASS", -0.2, "R_DKIM_ALLOW -0.2",
     "a DKIM signature of the From domain (or a parent, a subdomain, or DMARC-aligned) verified"},
    {"CREDENCE_DKIM_PASS_UNALIGNED", 0.0, "R_DKIM_ALLOW -0.2 (credence: 0)",
     "a DKIM signature of another domain verified: it authenticates that domain, not the "
     "author, so no credit (anyone can add one to a spoof)"},
    {"CREDENCE_DKIM_FAIL", 1.0, "R_DKIM_REJECT 1.0",
     "a DKIM signature did not verify (body or signature mismatch)"},
    {"CREDENCE_DKIM_PERMERROR", 0.0, "R_DKIM_PERMFAIL 0.0",
     "a DKIM signature could not be evaluated (syntax, no key, revoked key, expired x=)"},
    {"CREDENCE_DKIM_TEMPERROR", 0.0, "R_DKIM_TEMPFAIL 0.0", "a DKIM key lookup failed temporarily"},
    {"CREDENCE_DKIM_NEUTRAL", 0.0, "-", "a DKIM signature gave neutral or policy"},
    {"CREDENCE_DKIM_PARTIAL", 1.0, "(none; rspamd: MULTIPLE_UNIQUE_HEADERS)",
     "every DKIM pass of the author leaves unsigned part of what a reader sees: an instance "
     "of a single-instance field it signs (Subject, To, ...) above the signed one (RFC 6376 "
     "§8.15), or body text past l= (§8.2); a genuine message replayed with new words. No "
     "CREDENCE_DKIM_PASS credit; scored like a failing signature"},
    {"CREDENCE_DKIM_TESTING", 0.0, "-",
     "a DKIM signature by a key in testing mode (t=y) was ignored"},
    {"CREDENCE_DKIM_NONE", 0.0, "R_DKIM_NA 0.0", "the message is not DKIM-signed"},
    {"CREDENCE_SPF_PASS", -0.2, "R_SPF_ALLOW -0.2",
     "SPF pass for the From domain (or a parent, a subdomain, or DMARC-aligned)"},
    {"CREDENCE_SPF_PASS_UNALIGNED", 0.0, "R_SPF_ALLOW -0.2 (credence: 0)",
     "SPF pass for another domain: it authenticates the envelope, not the author, so no credit"},
    {"CREDENCE_SPF_FAIL", 1.0, "R_SPF_FAIL 1.0", "SPF fail"},
    {"CREDENCE_SPF_SOFTFAIL", 0.0, "R_SPF_SOFTFAIL 0.0", "SPF softfail"},
    {"CREDENCE_SPF_NEUTRAL", 0.0, "R_SPF_NEUTRAL 0.0", "SPF neutral"},
    {"CREDENCE_SPF_NONE", 0.0, "R_SPF_NA 0.0", "no SPF record"},
    {"CREDENCE_SPF_TEMPERROR", 0.0, "R_SPF_DNSFAIL 0.0", "SPF DNS lookup failed temporarily"},
    {"CREDENCE_SPF_PERMERROR", 0.0, "R_SPF_PERMFAIL 0.0", "SPF record is broken"},
    {"CREDENCE_SPF_FORWARDED", 0.0, "-",
     "SPF fail/softfail from a trusted forwarder or mailing list: neutralised"},
    {"CREDENCE_DMARC_PASS", -0.5, "DMARC_POLICY_ALLOW -0.5", "DMARC pass (aligned)"},
    {"CREDENCE_DMARC_REJECT", 2.0, "DMARC_POLICY_REJECT 2.0", "DMARC fail, disposition reject"},
    {"CREDENCE_DMARC_QUARANTINE", 1.5, "DMARC_POLICY_QUARANTINE 1.5",
     "DMARC fail, disposition quarantine"},
    {"CREDENCE_DMARC_SOFTFAIL", 0.1, "DMARC_POLICY_SOFTFAIL 0.1",
     "DMARC fail, disposition none (p=none, t=y or sampled out by pct=)"},
    {"CREDENCE_DMARC_TEMPERROR", 0.0, "DMARC_DNSFAIL 0.0",
     "DMARC DNS lookup failed temporarily, no policy known"},
    {"CREDENCE_DMARC_TEMPERROR_REJECT", 2.0, "(none; rspamd: DMARC_DNSFAIL 0.0)",
     "DMARC temperror under a reject policy: an aligned identifier (or the alignment check) "
     "failed temporarily, so the policy is not applied, but what could not be checked proves "
     "nothing: scored like the fail (a spoof naming an aligned domain whose DNS fails scores "
     "no better)"},
    {"CREDENCE_DMARC_TEMPERROR_QUARANTINE", 1.5, "(none; rspamd: DMARC_DNSFAIL 0.0)",
     "DMARC temperror under a quarantine policy: not applied, scored like the fail"},
    {"CREDENCE_DMARC_TEMPERROR_SOFTFAIL", 0.1, "(none; rspamd: DMARC_DNSFAIL 0.0)",
     "DMARC temperror under p=none (or t=y, pct= sampled out): scored like the fail"},
    {"CREDENCE_DMARC_PARTIAL_REJECT", 2.0, "(none)",
     "DMARC pass only through DKIM signatures that leave unsigned what a reader sees "
     "(CREDENCE_DKIM_PARTIAL) under a reject policy, no aligned SPF: scored like the fail "
     "(a replay with a new Subject on top is a spoof of that Subject)"},
    {"CREDENCE_DMARC_PARTIAL_QUARANTINE", 1.5, "(none)",
     "DMARC pass only through partial DKIM signatures under a quarantine policy: scored like "
     "the fail"},
    {"CREDENCE_DMARC_PARTIAL_SOFTFAIL", 0.1, "(none)",
     "DMARC pass only through partial DKIM signatures under p=none (or t=y, pct= sampled "
     "out): scored like the fail"},
    {"CREDENCE_DMARC_MULTIPLE_FROM", 2.0, "(none; rspamd: MULTIPLE_FROM 8.0)",
     "several From fields: one author shown, another authenticated; scored like a DMARC reject"},
    {"CREDENCE_DMARC_BAD_FROM", 2.0, "(none; rspamd: MISSING_FROM 1.0, FROM_INVALID)",
     "no usable From field (missing, unparseable, invalid domain): the author cannot be "
     "authenticated, so it scores like a DMARC reject (fail closed)"},
    {"CREDENCE_DMARC_PERMERROR", 0.0, "DMARC_BAD_POLICY 0.5 (credence: 0)",
     "DMARC could not be evaluated (bad From, bad record)"},
    {"CREDENCE_DMARC_NONE", 0.0, "DMARC_NA 0.0", "no DMARC policy for the From domain"},
    {"CREDENCE_ARC_PASS", 0.0, "ARC_ALLOW -1.0 (credence: 0)",
     "the ARC chain verified: it authenticates the sealers, not the author (anyone can seal), "
     "so no credit by itself"},
    {"CREDENCE_ARC_FAIL", 1.0, "ARC_REJECT 1.0",
     "the ARC chain is broken (a seal or the newest message signature did not verify, bad "
     "structure, more than 50 sets)"},
    {"CREDENCE_ARC_DNSFAIL", 0.0, "ARC_DNSFAIL 0.0", "an ARC key lookup failed temporarily"},
    {"CREDENCE_ARC_TRUSTED_DNSFAIL", 0.0, "-",
     "DMARC fail not overridden because the ARC chain could not be checked (a key lookup "
     "failed temporarily), while a trusted sealer's set vouches for the From domain: Exim's "
     "dmarc_action defers instead of rejecting"},
    {"CREDENCE_FROM_NAME_ADDRESS", 1.0, "(rspamd: SPOOF_DISPLAY_NAME)",
     "the From field shows a reader an address of a domain other than (and not a parent or "
     "subdomain of) the one its address is at, in the display name, a comment or a group "
     "name, encoded-words decoded: `\"ceo@bank.example\" <x@evil.example>`. The displayed "
     "author is not the one authenticated. Also fires for list and social-network mail that "
     "puts the poster's address in the name (`'a@example.org' via Group`)"},
    {"CREDENCE_ARC_TRUSTED", -1.0, "-",
     "DMARC fail overridden by a trusted ARC sealer ([arc] trusted_sealers) that saw the From "
     "domain authenticated upstream: disposition none, DMARC stays fail"},
    {"CREDENCE_LIMIT", 1.0, "-",
     "a limit left part of the message unevaluated (size, header fields, signatures, DNS "
     "budget): judged on the rest, and never better for it (fail closed)"},
}};

}  // namespace

std::span<const SymbolInfo> DefaultSymbols() { return kSymbols; }

const SymbolInfo* FindSymbol(std::string_view name) {
  for (const SymbolInfo& s : kSymbols) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace credence
