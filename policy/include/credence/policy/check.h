// `credence check`: a domain owner's pre-flight of their own SPF, DKIM and DMARC records (and
// MX), on live DNS or on zone files before they are published, optionally with a message they
// sent through their own server. Every finding has a stable code, a severity, one line of
// plain words and, for a problem, the fix. Pure over the Resolver and Clock it is given; the
// CLI (plugin/cli/check_command.cc) only formats. docs/check.md lists every code.
#ifndef CREDENCE_POLICY_CHECK_H_
#define CREDENCE_POLICY_CHECK_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/status.h"

namespace credence {

// ok: as it should be. warning: works, but weakens delivery or protection, or could not be
// checked in full. error: receivers will reject, ignore or misjudge something (or the check
// itself could not finish: a limit fails closed).
enum class CheckSeverity { kOk, kWarning, kError };
std::string_view CheckSeverityName(CheckSeverity s);  // "ok", "warning", "error"

enum class CheckArea { kSpf, kDkim, kDmarc, kMx, kMessage, kDns };
std::string_view CheckAreaName(CheckArea a);  // "spf", "dkim", "dmarc", "mx", "message", "dns"

// Every finding `credence check` can report. Each code has one severity (CheckCodeInfo); its
// name ("spf.lookup_limit") is what JSON consumers match on and never changes meaning.
enum class CheckCode {
  // SPF (RFC 7208)
  kSpfRecord,           // ok: one SPF record
  kSpfMissing,          // error: no SPF record
  kSpfMultiple,         // error: several SPF records (§4.5: permerror)
  kSpfRrType,           // warning: the obsolete SPF RR type is published (§3.1, §14.1)
  kSpfSyntax,           // ok: the grammar holds (§12)
  kSpfSyntaxError,      // error: a term breaks the grammar (permerror)
  kSpfSplitGlued,       // error: the record's strings join two terms into one (§3.3)
  kSpfLookups,          // ok: DNS-querying terms within 10 (§4.6.4)
  kSpfLookupLimit,      // error: more than 10 (permerror)
  kSpfVoid,             // warning: 1 or 2 void lookups
  kSpfVoidLimit,        // error: more than 2 void lookups (§4.6.4: permerror)
  kSpfMxLimit,          // error: an mx term with more than 10 MX names (§4.6.4)
  kSpfPtr,              // warning: ptr used (§5.5: SHOULD NOT)
  kSpfAll,              // ok: ends in -all or ~all
  kSpfAllPass,          // error: +all (every host passes)
  kSpfWideRange,        // error: pass ranges (ip4/ip6, a/mx prefixes) covering a large share of the Internet
  kSpfAllNeutral,       // warning: ?all
  kSpfNoAll,            // warning: no all and no redirect (default neutral)
  kSpfRedirectIgnored,  // warning: redirect= beside all (§5.1: ignored)
  kSpfIncludeMissing,   // error: an include/redirect target has no SPF record (permerror)
  kSpfLoop,             // error: an include/redirect loop
  kSpfMacroTarget,      // warning: an include/redirect target built by a macro: not followed
  kSpfMxAuthorised,     // ok: the domain's MX hosts pass SPF
  kSpfMxNotAuthorised,  // warning: an MX host does not pass SPF
  // DKIM (RFC 6376, RFC 8301, RFC 8463)
  kDkimNoSelector,      // warning: no selector given or found in the message
  kDkimKey,             // ok: a usable key record
  kDkimKeyMissing,      // error: no key record at the selector
  kDkimKeyMultiple,     // error: several TXT records at the selector (§3.6.2.2)
  kDkimKeySyntax,       // error: the key record does not parse or its key does not decode
  kDkimKeyLenient,      // warning: read, but against RFC 6376 (v= not first, 8-bit bytes)
  kDkimKeyTooSmall,     // error: RSA under 1024 bits (RFC 8301 §3.2)
  kDkimKeyShort,        // warning: RSA under 2048 bits
  kDkimSha1Only,        // error: h= excludes sha256 (RFC 8301 §3.1)
  kDkimRevoked,         // error: empty p=
  kDkimTesting,         // warning: t=y
  kDkimNotTesting,      // ok: no t=y
  kDkimStrict,          // ok: t=s, noted
  kDkimDomainkeyRecord, // warning: a TXT record at _domainkey itself (ignored by RFC 6376)
  // DMARC (RFC 9989, RFC 9990; RFC 7489 pct)
  kDmarcRecord,         // ok: a record applies (at the domain or found by the tree walk)
  kDmarcMissing,        // error: no record applies
  kDmarcMultiple,       // error: several DMARC records at one name (all discarded)
  kDmarcSyntaxError,    // error: a v=DMARC1 record that is not usable
  kDmarcTag,            // ok: one tag and what it does
  kDmarcTagInvalid,     // warning: a tag value replaced by its default
  kDmarcPolicyNone,     // warning: p=none (monitoring only)
  kDmarcTesting,        // warning: t=y
  kDmarcPct,            // warning: pct under 100
  kDmarcSubdomainWeaker,  // warning: sp= or np= weaker than p=
  kDmarcNoRua,          // warning: no aggregate reports
  kDmarcReportUri,      // warning: a rua/ruf URI receivers do not use
  kDmarcExternalVerified,    // ok: RFC 9990 External Destination Verification record found
  kDmarcExternalUnverified,  // warning: no EDV record: reports there are not sent
  kDmarcAlignment,      // ok: SPF and DKIM can both align
  kDmarcAlignmentWeak,  // warning: only one of SPF and DKIM can align
  kDmarcAlignmentNone,  // error: neither can align
  // MX (RFC 5321 §5.1, RFC 7505, RFC 2181 §10.3)
  kMxHosts,             // ok: MX hosts that resolve
  kMxNull,              // ok: null MX (the domain accepts no mail)
  kMxMissing,           // warning: no MX record
  kMxNoAddress,         // error: an MX host without an address
  kMxCname,             // warning: an MX host that is a CNAME
  // --message
  kMessageUnreadable,   // error: the message could not be read
  kMessageFromDomain,   // warning: its From domain is not the domain checked
  kMessageUnsigned,     // warning: no DKIM-Signature for the domain
  kMessageDkimPass,     // ok: a signature that verifies
  kMessageDkimFail,     // error: a signature that does not verify, and why
  kMessageDkimTesting,  // warning: passes, but the key is in testing mode
  kMessageDkimOther,    // ok: a signature by another domain (does not align)
  kMessageSpfPass,      // ok: SPF pass for the message's client
  kMessageSpfFail,      // error: SPF does not pass for the message's client
  kMessageDmarcPass,    // ok
  kMessageDmarcFail,    // error
  kMessageDmarcNone,    // warning: no DMARC record applied
  // DNS and the check itself
  kDnsTempFail,         // error: a DNS question failed (SERVFAIL, timeout): not checked
  kDnsOutsideZones,     // warning: a name outside the zone files, not checked (no --dns)
  kCheckIncomplete,     // error: the check's DNS budget or deadline ran out (fails closed)
};

struct CheckCodeInfo {
  std::string_view name;  // "spf.lookup_limit"
  CheckSeverity severity;
};
CheckCodeInfo InfoOf(CheckCode code);

struct CheckFinding {
  CheckCode code;
  CheckArea section;    // where it is shown (a DNS failure is shown where it happened)
  std::string subject;  // the DNS name, term or selector it is about (may be empty)
  std::string message;  // one line, plain words
  std::string fix;      // what to change (warnings and errors); may be empty for ok
  std::vector<std::string> details;  // further lines: a per-term breakdown, a record

  CheckSeverity severity() const { return InfoOf(code).severity; }
};

// One DNS-querying term of the SPF tree (RFC 7208 §4.6.4) and what it costs.
struct SpfLookupTerm {
  std::string term;    // as written ("include:_spf.example.net")
  std::string domain;  // the record it is in
  size_t depth = 0;    // 0: the domain's own record; 1: a record it includes; ...
  size_t lookups = 0;  // 1 for the term itself plus everything below an include/redirect
};

struct CheckReport {
  std::string domain;
  std::vector<CheckFinding> findings;  // in reading order: SPF, DKIM, DMARC, MX, message

  // Facts for monitoring (also in the findings' words).
  std::string spf_record;              // the domain's SPF record (empty when none)
  size_t spf_lookups = 0;              // over the whole include/redirect tree
  size_t spf_void_lookups = 0;
  std::vector<SpfLookupTerm> spf_terms;
  std::vector<std::string> selectors;  // "SEL" (or "SEL._domainkey.SUB" for a subdomain d=)
  std::string dmarc_record;            // the record that applies (empty when none)
  std::string dmarc_record_domain;     // where it was found (without "_dmarc.")
  size_t dns_queries = 0;              // distinct DNS questions the check asked

  size_t Count(CheckSeverity s) const;
  CheckSeverity Worst() const;
  // 0 when every finding is ok, 1 when the worst is a warning, 2 when there is an error.
  int ExitStatus() const;
};

struct CheckRequest {
  std::string domain;                  // the domain to check (A-labels or U-labels)
  std::vector<std::string> selectors;  // DKIM selectors to check at SEL._domainkey.DOMAIN
  // --message: the bytes of a message sent through the domain's own server (empty: none).
  // Its signatures are verified and explained, and the selectors of those by the domain (or
  // a subdomain) are checked too.
  std::string message;
  std::string message_name;  // for the findings ("sent.eml")
  // The envelope of that message, for SPF: the client address (without it SPF is not
  // evaluated for the message) and the MAIL FROM (default: the Return-Path field).
  std::string client_ip;
  std::string mail_from;
};

struct CheckOptions {
  // Distinct DNS questions one check may ask (the SPF tree, keys, DMARC, MX). Default 400.
  // Past it the check stops asking and reports kCheckIncomplete (exit 2): fails closed.
  size_t max_dns_queries = 400;
  // Records of the SPF include/redirect tree followed. Default 40 (a record within the RFC's
  // 10 lookups has at most 11).
  size_t max_spf_records = 40;
  // MX hosts whose addresses are checked, and MX addresses run through SPF. Default 10.
  size_t max_mx_hosts = 10;
  // The whole check. Default 30 s.
  std::chrono::milliseconds deadline{30000};
};

// The domain CheckDomain checks: A-labels, lower case, no trailing dot. kInvalidInput
// "'GIVEN' is not a domain name" when it is not one with at least two labels.
Result<std::string> CheckedDomainName(const std::string& given);

// Runs every check on `request.domain`. Never throws; DNS trouble and limits become
// findings. kInvalidInput only when the domain is not a usable domain name.
Result<CheckReport> CheckDomain(const CheckRequest& request, Resolver& resolver,
                                const Clock& clock, const CheckOptions& options = {});

}  // namespace credence

#endif  // CREDENCE_POLICY_CHECK_H_
