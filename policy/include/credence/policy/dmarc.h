// DMARC: RFC 9989 (DMARCbis, obsoletes RFC 7489 and RFC 9091), keeping RFC 7489's pct= tag.
//
// Plan, fetch, decide:
//   1. ExtractAuthorDomain()          the RFC5322.From domain (pure);
//   2. DmarcEvaluator::Questions()    the _dmarc TXT questions of the DNS Tree Walk (pure);
//   3. DmarcEvaluator::Evaluate()     asks them (one batch), walks for the organizational
//                                     domains, checks alignment and chooses the disposition.
// Every outcome is a DmarcResult; nothing throws. docs/dmarc.md explains each decision.
#ifndef CREDENCE_POLICY_DMARC_H_
#define CREDENCE_POLICY_DMARC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/arc.h"
#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/limits.h"
#include "credence/message.h"
#include "credence/spf.h"
#include "credence/status.h"

namespace credence {

// RFC 8601 §2.7.1 / RFC 9989 §4.9 result values: "none", "pass", "fail", "temperror",
// "permerror".
enum class DmarcVerdict { kNone, kPass, kFail, kTempError, kPermError };
std::string_view DmarcVerdictName(DmarcVerdict v);

// A Domain Owner Assessment Policy (p=, sp=, np=): "none", "quarantine", "reject".
enum class DmarcPolicy { kNone, kQuarantine, kReject };
std::string_view DmarcPolicyName(DmarcPolicy p);

// What the receiver should do with the message: "none" (deliver), "quarantine", "reject".
enum class DmarcDisposition { kNone, kQuarantine, kReject };
std::string_view DmarcDispositionName(DmarcDisposition d);

// Which tag of the record gave the requested policy: "" (no record), "p", "sp", "np".
enum class DmarcPolicyTag { kNoRecord, kP, kSp, kNp };
std::string_view DmarcPolicyTagName(DmarcPolicyTag t);

// Why the Author Domain could not be determined (RFC 9989 §4.4; verdict permerror): no From
// field, several From fields (the classic way to show one author and authenticate another),
// or a From field that does not give a usable domain (unparseable, invalid domain, IDNA
// refusal, too many domains). kNone when it was determined.
enum class DmarcFromProblem { kNone, kNoFrom, kMultipleFromFields, kUnreadable };
// "none", "no_from", "multiple_from_fields", "unreadable"
std::string_view DmarcFromProblemName(DmarcFromProblem p);

// adkim= / aspf=: "r" relaxed (same organizational domain) or "s" strict (equal).
enum class DmarcAlignmentMode { kRelaxed, kStrict };
std::string_view DmarcAlignmentModeName(DmarcAlignmentMode m);  // "r", "s"

// psd=: "y" public suffix domain, "n" organizational domain, "u" unspecified (default).
enum class DmarcPsd { kUnspecified, kYes, kNo };
std::string_view DmarcPsdName(DmarcPsd p);  // "u", "y", "n"

// A DMARC Policy Record as parsed (RFC 9989 §4.7; pct from RFC 7489 §6.3). Fields keep the
// RFC tag names. Invalid optional values are replaced by their defaults and noted in
// `warnings` (RFC 9989 §4.7: "Syntax errors in the remainder of the record MUST be discarded
// in favor of default values").
struct DmarcRecord {
  DmarcPolicy p = DmarcPolicy::kNone;           // p=
  std::optional<DmarcPolicy> sp;                // sp= (absent: p applies)
  std::optional<DmarcPolicy> np;                // np= (absent: sp, then p applies)
  DmarcAlignmentMode adkim = DmarcAlignmentMode::kRelaxed;  // adkim=, default r
  DmarcAlignmentMode aspf = DmarcAlignmentMode::kRelaxed;   // aspf=, default r
  bool t = false;                               // t=y: testing (RFC 9989), default n
  DmarcPsd psd = DmarcPsd::kUnspecified;        // psd=, default u
  unsigned pct = 100;                           // pct= (RFC 7489 §6.3), 0..100, default 100
  std::string fo = "0";                         // fo= as written (validated), default "0"
  std::vector<std::string> rua;                 // rua= valid URIs, in order
  std::vector<std::string> ruf;                 // ruf= valid URIs, in order
  // p= was missing or invalid (or sp=/np= invalid) and the record has a valid rua URI, so it
  // is treated as "p=none" (RFC 9989 §4.10.1).
  bool p_defaulted = false;
  std::vector<std::string> warnings;            // "pct: invalid value '500'", ...
};

// Parses TXT record text. kInvalidInput when it is not a usable DMARC Policy Record:
// empty, first tag not v=DMARC1 (exact, case-sensitive value), a tag without "=", or p=
// (or sp=/np=) missing/invalid without a valid rua URI. Unknown tags are ignored. Bounded:
// records over 4096 bytes or with more than 64 tags are kInvalidInput. Never crashes.
Result<DmarcRecord> ParseDmarcRecord(std::string_view text);

// RFC 5322 §3.6.2 author: the domains of the addresses of one From field value (display
// names, comments, quoted strings, angle addresses, groups, obs- forms). Domains are
// lower-cased; IDNA A-labels are kept as given, U-labels are returned lower-cased as given.
// kInvalidInput when the value has no parseable address or is malformed. Bounded, iterative.
Result<std::vector<std::string>> ParseFromDomains(std::string_view from_value);

// The domains of what reads as an e-mail address anywhere in a From field value, once RFC 2047
// encoded-words are decoded: in the display name, a quoted string, a comment or a group name
// as much as in the address itself (`"ceo@bank.example" <x@evil.example>` gives both
// domains). What a reader may be shown as the author besides the address DMARC judges. Lower
// case, distinct, at most 8, from the first 4 KiB of the value.
struct ShownDomain {
  std::string domain;        // as shown (8-bit labels as A-labels when IDNA takes them)
  // When the domain has 8-bit characters: the part before the first one, when it reads as a
  // domain by itself (text written right after an address runs into it: "a@acme.exampleより").
  // A reader may take either; "" when there is no such reading.
  std::string ascii_prefix;
};
std::vector<ShownDomain> DomainsShownInFrom(std::string_view from_value);

// The Author Domain of `message` (RFC 9989 §4.4 / RFC 7489 §6.6.1). kInvalidInput with the
// message "no From field", "multiple From fields", "multiple From addresses",
// "From: <parse error>" or "From domain is not a valid domain name".
Result<std::string> ExtractAuthorDomain(const Message& message);

// How the organizational domain is found.
enum class OrgDomainMethod {
  kTreeWalk,  // RFC 9989 §4.10 DNS Tree Walk (default)
  kPsl,       // RFC 7489 §3.2: Public Suffix List registrable domain (libpsl)
};

struct DmarcOptions {
  Limits limits;  // limits.max_dmarc_dns_queries bounds the DMARC questions of one From domain
  // Default kTreeWalk.
  OrgDomainMethod org_domain_method = OrgDomainMethod::kTreeWalk;
  // PSL file for kPsl. Default Debian's publicsuffix package file.
  std::string psl_file = "/usr/share/publicsuffix/public_suffix_list.dat";
  // A passing DKIM signature whose key has t=y still counts for alignment. RFC 6376 §3.6.1
  // asks verifiers not to treat such mail differently from unsigned mail; RFC 9989 counts
  // every DKIM pass. Default true (see docs/dmarc.md).
  bool dkim_testing_counts_for_alignment = true;
  // Ask all _dmarc names of a tree walk in one batch (true, default) or one at a time,
  // stopping as soon as the RFC allows (false: fewer queries, more round trips).
  bool batch_tree_walk = true;
  // [arc] trusted_sealers: ARC sealing domains (lower-case, no trailing dot) whose word the
  // site takes (docs/arc.md). When DMARC fails, the ARC chain passes and the newest
  // ARC-Authentication-Results written by one of them says the From domain's DMARC, or an
  // aligned DKIM or SPF, passed, ApplyArcOverride sets the disposition to none. Default none.
  std::vector<std::string> arc_trusted_sealers;
};

struct DmarcResult {
  DmarcVerdict verdict = DmarcVerdict::kNone;
  std::string from_domain;    // RFC5322.From domain (lower-case); empty if not extracted
  std::string org_domain;     // organizational domain of from_domain
  std::string record_domain;  // where the applied record was found (without "_dmarc.")
  bool has_record = false;    // a DMARC Policy Record applies
  DmarcRecord record;         // the applied record (valid when has_record)
  DmarcPolicyTag policy_tag = DmarcPolicyTag::kNoRecord;  // which tag gave `requested`
  DmarcPolicy requested = DmarcPolicy::kNone;  // the policy the Domain Owner asked for
  DmarcDisposition disposition = DmarcDisposition::kNone;  // what to do (after t=, pct=)
  bool testing = false;        // t=y or pct=0: the Domain Owner is testing
  bool sampled_out = false;    // pct < 100 and this message fell outside the sample
  bool non_existent = false;   // from_domain is NXDOMAIN for A, AAAA and MX (np= applies)
  bool dkim_aligned = false;
  bool spf_aligned = false;
  std::string aligned_dkim_domain;  // d= of the passing aligned signature (a non-testing one
                                    // first, else the first)
  // The only aligned DKIM passes came from keys in testing mode (t=y; they count when
  // DmarcOptions::dkim_testing_counts_for_alignment): the A-R says "via test-mode key".
  bool aligned_dkim_testing = false;
  std::string reason;          // short human-readable why ("multiple From fields", ...)
  DmarcFromProblem from_problem = DmarcFromProblem::kNone;
  // temperror only: "dkim" or "spf" when an aligned identifier's temporary failure stopped
  // the policy (RFC 7489 §6.6.2); "" when the DMARC lookups themselves failed.
  std::string temporary_identifier;
  // temperror with a record found (an aligned identifier, or the alignment check itself,
  // failed temporarily): the disposition the fail would have had without it (the requested
  // policy, the stricter of sp= and np= when np= could apply, after t= and pct=). It is not
  // applied (RFC 7489 §6.6.2: a passing DNS fault never rejects real mail), but the score
  // counts it (CREDENCE_DMARC_TEMPERROR_*): what could not be checked proves nothing, and a
  // spoof must not score better for naming an aligned domain whose DNS fails. For a pass, the
  // same without the np= case: what a pass resting only on a signature that leaves a shown
  // field or text unsigned scores as (CREDENCE_DMARC_PARTIAL_*). kNone otherwise.
  DmarcDisposition disposition_if_fail = DmarcDisposition::kNone;
  // A DMARC budget (Limits::max_dmarc_dns_queries) was spent: a lookup was not made.
  bool limit_reached = false;
  // A temperror without a record, in an evaluation cut by a host's limit (Envelope::host_limit, e.g. it started late):
  // the policy lookup may have failed for want of time, so it scores as the strictest policy
  // (disposition_if_fail reject), fail closed.
  bool unknown_scored_strict = false;
  // A temperror whose record is the one above the failed name, taken for the score only
  // (the failed name may hold its own): `record` and has_record describe that assumption.
  bool record_assumed = false;
  // The Author Domain is a public suffix (the PSL lists it: the file of [dmarc] org_domain =
  // "psl", else the list libpsl was built with; or its own record says psd=y): its subdomains
  // belong to others, so their signatures and SPF passes are not the author's (the score's
  // "related" identifiers). The PSL is asked only when a DKIM or SPF pass lies under the
  // Author Domain (false otherwise, when psd=y does not say so).
  bool author_public_suffix = false;
  size_t dns_queries = 0;      // DNS questions this evaluation asked

  // RFC 7489 §6.7 / RFC 9989 local policy override by a trusted ARC sealer (ApplyArcOverride):
  // the verdict stays kFail (ARC never turns fail into pass), `disposition` becomes kNone,
  // and reports name it "local_policy" with comment "arc=pass".
  bool arc_override = false;
  DmarcDisposition disposition_before_override = DmarcDisposition::kNone;
  std::string arc_override_sealer;    // the trusted sealer's d=
  int arc_override_instance = 0;      // its ARC set's instance
  std::string arc_override_evidence;  // what its AAR said ("dmarc=pass header.from=...")
  // The override could not be decided: the chain failed only because an ARC key lookup
  // failed temporarily (key_dns_error), the newest set of a trusted sealer says the From
  // domain authenticated upstream, and nothing newer than that set failed (its seal was
  // reached and verified or failed on DNS, or, as the newest set, its message signature's key
  // failed; its message signature did not fail for good). No override (the disposition stays), but the fail may be
  // real mail caught by a passing DNS fault: CREDENCE_ARC_TRUSTED_DNSFAIL, and Exim's
  // dmarc_action defers instead of rejecting. The sealer's d=; empty otherwise.
  std::string arc_override_pending;
};

// Applies the trusted-sealer override to `dmarc` (see DmarcOptions::arc_trusted_sealers):
// only when dmarc->verdict is kFail, `arc` is pass, and the newest ARC set whose sealer (its
// ARC-Seal's d=) is trusted carries an ARC-Authentication-Results saying, for the From domain,
// dmarc=pass (header.from equal to it), or dkim=pass with header.d (or header.i's domain)
// aligned, or spf=pass with smtp.mailfrom's domain aligned (adkim= / aspf= strict: equal;
// relaxed: within the From domain's organizational domain). Otherwise leaves it unchanged,
// but for arc_override_pending (when `arc` failed with key_dns_error and that set's AAR
// vouches). Returns whether it applied.
bool ApplyArcOverride(const ArcResult& arc, std::span<const std::string> trusted_sealers,
                      DmarcResult* dmarc);

class PublicSuffixList;  // policy/common/psl.h
struct EvalContext;      // policy/dmarc/evaluate.cc

class DmarcEvaluator {
 public:
  // kIoError / kInvalidInput when org_domain_method is kPsl and the PSL file cannot be loaded.
  static Result<std::unique_ptr<DmarcEvaluator>> Create(const DmarcOptions& options = {});
  ~DmarcEvaluator();
  DmarcEvaluator(const DmarcEvaluator&) = delete;
  DmarcEvaluator& operator=(const DmarcEvaluator&) = delete;

  // The first batch of questions for `author_domain`: TXT at every _dmarc name of its tree
  // walk (RFC 9989 §4.10; at most 8), or author + PSL organizational domain for kPsl.
  // Empty when the domain is not a valid domain name.
  std::vector<DnsQuestion> Questions(std::string_view author_domain) const;
  // The questions Evaluate will need once the first batch is answered, so that a host can
  // ask them before anything the sender controls (SPF) runs: the np= existence check (A,
  // AAAA, MX of the Author Domain, RFC 9989 §4.5) when the policy comes from another
  // domain's record with np=. Asks `resolver` only what discovery needs (nothing new when
  // it already holds the first batch's answers).
  std::vector<DnsQuestion> FollowUpQuestions(std::string_view author_domain, Resolver& resolver,
                                             Deadline deadline) const;

  // Evaluates DMARC for `message`: Author Domain from its From field, sampling key from its
  // Message-ID (DmarcSamplingKey). `dkim` are all DKIM results; `spf` the MAIL FROM result
  // (a HELO result is never used for alignment). Never throws.
  DmarcResult Evaluate(const Message& message, std::span<const DkimResult> dkim,
                       const SpfResult& spf, Resolver& resolver, Deadline deadline) const;
  // Same for an Author Domain already extracted. `sampling_key` decides pct= sampling: the
  // message is in the sample iff sampling_key % 100 < pct.
  DmarcResult EvaluateDomain(std::string_view author_domain, std::span<const DkimResult> dkim,
                             const SpfResult& spf, Resolver& resolver, Deadline deadline,
                             uint64_t sampling_key = 0) const;

  // The organizational domain of `domain` by the configured method (tree walk asks DNS).
  // kTempFail on DNS trouble, kTooLarge if the query budget is spent.
  Result<std::string> OrgDomain(std::string_view domain, Resolver& resolver,
                                Deadline deadline) const;

  const DmarcOptions& options() const { return options_; }

 private:
  friend struct EvalContext;
  explicit DmarcEvaluator(const DmarcOptions& options);
  DmarcOptions options_;
  std::unique_ptr<PublicSuffixList> psl_;
};

// Deterministic pct= sampling key: FNV-1a 64 of the Message-ID value with surrounding
// whitespace removed (0 for an empty id). Same message, same decision.
uint64_t DmarcSamplingKey(std::string_view message_id);
// The same, of the message's Message-ID field ("" when it has none).
uint64_t DmarcSamplingKey(const Message& message);

// RFC 9989 §4.10 step 4: the _dmarc names (without the "_dmarc." prefix) of a full tree walk
// from `domain`, longest first, at most 8. `domain` must be lower-case without trailing dot.
std::vector<std::string> TreeWalkNames(std::string_view domain);

}  // namespace credence

#endif  // CREDENCE_POLICY_DMARC_H_
