// DMARC record discovery (private): a memoizing, budgeted DNS fetcher and the RFC 9989
// §4.10 DNS Tree Walk with the Organizational Domain selection of §4.10.2.
#ifndef CREDENCE_POLICY_DMARC_DISCOVER_H_
#define CREDENCE_POLICY_DMARC_DISCOVER_H_

#include <array>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credence/dns.h"
#include "credence/policy/dmarc.h"

namespace credence::dmarc_internal {

// Asks each distinct question at most once per evaluation, in batches, and refuses a batch
// that would take the total past `budget` questions.
class DnsFetcher {
 public:
  DnsFetcher(Resolver& resolver, Deadline deadline, size_t budget)
      : resolver_(resolver), deadline_(deadline), budget_(budget) {}
  // Asks the questions not yet answered, in one Resolve() call. False (nothing asked) when
  // that would exceed the budget.
  bool Fetch(std::span<const DnsQuestion> questions);
  // The same, for questions the caller no longer needs: kept without a copy.
  bool Fetch(std::vector<DnsQuestion>&& questions);
  // The answer to `q`, or nullptr when it was never fetched.
  const DnsAnswer* Get(const DnsQuestion& q) const;
  // Get(DmarcQuestion(domain)) without building the name.
  const DnsAnswer* GetDmarc(std::string_view domain) const;
  size_t queries() const { return queries_; }

 private:
  Resolver& resolver_;
  Deadline deadline_;
  size_t budget_;
  size_t queries_ = 0;
  // Asks questions_[first, end) in one Resolve() call, within the budget (else drops them).
  bool Ask(size_t first);
  // The index of `q` among questions_[begin, end) (names ASCII case-insensitive), or `end`.
  size_t Find(const DnsQuestion& q, size_t begin, size_t end) const;
  // The answer to questions_[i]: the resolver's own when it holds one, else answers_[i].
  const DnsAnswer* AnswerAt(size_t i) const;

  // Every question asked, in order, and the answers the resolver gave for them (answers_[i]
  // is questions_[i]'s); an answer the resolver holds (Resolver::Held: the per-message memo)
  // is read there instead, so answers_ may be shorter, down to empty. The budget keeps the
  // lists short (a flat list beats a map of lower-cased keys here).
  std::vector<DnsQuestion> questions_;
  std::vector<DnsAnswer> answers_;
};

// RFC 9989 §4.10: a domain's policy record is the TXT record at "_dmarc." + domain.
inline constexpr std::string_view kDmarcLabel = "_dmarc.";
std::string DmarcName(std::string_view domain);        // _dmarc.<domain>
// _dmarc.<domain> written into `buf`, for a lookup that needs no string of its own; empty
// when the domain is longer than a DNS name's 253 octets.
using DmarcNameBuffer = std::array<char, kDmarcLabel.size() + 253>;
std::string_view DmarcNameIn(std::string_view domain, DmarcNameBuffer& buf);
std::string_view DomainOfDmarcName(std::string_view name);  // <domain> of _dmarc.<domain>
// `name` is _dmarc.<domain> (ASCII case-insensitive).
bool IsDmarcNameOf(std::string_view name, std::string_view domain);
DnsQuestion DmarcQuestion(std::string_view domain);     // TXT _dmarc.<domain>

// RFC 9989 §4.10 step 2: does this TXT record start with the v=DMARC1 tag (others are
// discarded)?
bool StartsWithDmarcVersion(std::string_view txt);

// What one _dmarc TXT answer holds (RFC 9989 §4.10 steps 2 and 6).
struct NameLookup {
  // kNotAsked: a budget refused the question (never a temporary error).
  enum Kind { kNoRecord, kRecord, kTempFail, kNotAsked } kind = kNoRecord;
  DmarcRecord record;  // kRecord
  std::string detail;  // "multiple DMARC records", "SERVFAIL", parse error, ...
};
NameLookup InterpretDmarcAnswer(const DnsAnswer& answer);

struct NameRecord {
  std::string domain;
  DmarcRecord record;
};

struct WalkResult {
  enum Status { kOk, kTempFail, kBudget } status = kOk;
  std::string detail;               // why not kOk
  std::vector<NameRecord> records;  // valid records found, longest name first
  std::string org_domain;           // §4.10.2 selection (kOk only)
  size_t failed_at = 0;             // kTempFail: the index of the name that failed
};

// RFC 9989 §4.10 from `domain` (normalized). `batch`: all names in one Fetch().
WalkResult TreeWalk(std::string_view domain, DnsFetcher& fetcher, bool batch);

// After a walk of `domain` failed at its name `failed_at` before any record: the records
// above that name (a batched walk asked them all; otherwise each is asked now, within the
// budget), longest name first, passing over names that fail too (a lame delegation fails
// every name under it); none when the budget ends. What applies if the failed names hold
// none is chosen among them as usual, and SelectOrgDomain over them is the highest
// Organizational Domain there can be. Only for the score of the temperror
// (docs/security.md): never applied as a policy.
std::vector<NameRecord> RecordsAbove(std::string_view domain, size_t failed_at,
                                     DnsFetcher& fetcher, bool batch);

// RFC 9989 §4.10.2 Organizational Domain selection over a walk's records.
std::string SelectOrgDomain(std::string_view start, const std::vector<NameRecord>& records);

}  // namespace credence::dmarc_internal

#endif  // CREDENCE_POLICY_DMARC_DISCOVER_H_
