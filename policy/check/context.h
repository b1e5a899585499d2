// Private to policy/check: the state one `credence check` run shares between its parts (the
// budgeted DNS fetcher, the deadline, the report being written) and small text helpers.
#ifndef CREDENCE_POLICY_CHECK_CONTEXT_H_
#define CREDENCE_POLICY_CHECK_CONTEXT_H_

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credence/dns.h"
#include "credence/policy/check.h"
#include "dmarc/discover.h"

namespace credence::check_internal {

// One DNS answer as the check got it: `refused` when the check's own budget stopped the
// question before it was asked (then `dns` is kNotAsked).
struct Answer {
  DnsAnswer dns;
  bool refused = false;
};

class Context {
 public:
  Context(const CheckRequest& req, std::string checked, Resolver& dns, Deadline until,
          const CheckOptions& opts, CheckReport* out)
      : request(req),
        domain(std::move(checked)),
        resolver(dns),
        deadline(until),
        options(opts),
        report(out),
        fetcher_(dns, until, opts.max_dns_queries) {}

  const CheckRequest& request;
  const std::string domain;  // normalised: lower-case, no trailing dot
  Resolver& resolver;        // for the evaluations credence runs (SPF of MX hosts, --message)
  const Deadline deadline;
  const CheckOptions& options;
  CheckReport* const report;
  CheckArea section = CheckArea::kSpf;  // where Add() puts findings

  // Adds a finding to the current section; returns it for details.
  CheckFinding& Add(CheckCode code, std::string subject, std::string message,
                    std::string fix = "");

  // Asks every question not asked yet, in one batch, within the check's budget.
  void Prefetch(std::span<const DnsQuestion> questions);
  // The answer to one question (asked now if needed).
  Answer Ask(const std::string& name, RRType type);

  // True when `answer` says something about the name (ok, nxdomain, nodata). Otherwise
  // reports why not, once per question, in the current section: kDnsTempFail (DNS
  // trouble), kDnsOutsideZones (a name the zone files do not cover), or marks the check
  // incomplete (its budget refused the question, or the deadline passed): `what` says what
  // could not be checked.
  bool Usable(const Answer& answer, const std::string& name, RRType type,
              std::string_view what);

  bool incomplete() const { return !incomplete_.empty(); }
  const std::string& incomplete_reason() const { return incomplete_; }
  size_t queries() const { return fetcher_.queries(); }

 private:
  dmarc_internal::DnsFetcher fetcher_;
  std::set<std::pair<std::string, uint16_t>> reported_;
  std::string incomplete_;
};

// The fix of a dns.tempfail finding: ask again, or, for a CNAME loop or chain too long (the
// zone's own fault, which asking again does not change), mend the CNAME records.
std::string TempFailFix(std::string_view detail, std::string_view name);

// TXT records of an answer (joined strings), in answer order.
std::vector<const ResourceRecord*> TxtRecords(const DnsAnswer& answer);
// True when the answer says the name has no record of the type (nxdomain, nodata).
bool IsNegative(const DnsAnswer& answer);

// `text` for one line of output: at most `max` bytes (then "..."), control characters as '?'.
std::string Shown(std::string_view text, size_t max = 200);
// "1 lookup", "2 lookups".
std::string Plural(size_t n, std::string_view one, std::string_view many);
// Lower-case, one trailing dot removed (any bytes kept: for names taken from records).
std::string Canonical(std::string_view name);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_CONTEXT_H_
