// Private to policy/check: the DKIM section of `credence check` (RFC 6376 §3.6, RFC 8301,
// RFC 8463).
#ifndef CREDENCE_POLICY_CHECK_DKIM_CHECK_H_
#define CREDENCE_POLICY_CHECK_DKIM_CHECK_H_

#include <string>
#include <vector>

#include "check/context.h"

namespace credence::check_internal {

// One key to check: the record at SELECTOR._domainkey.DOMAIN.
struct DkimSelector {
  std::string selector;
  std::string domain;  // the checked domain or a subdomain of it (a message's d=)
  bool operator==(const DkimSelector&) const = default;
};

// What the DMARC section needs to know about DKIM.
struct DkimFacts {
  size_t checked = 0;                     // selectors checked
  std::vector<std::string> usable;        // "SEL._domainkey.DOMAIN" of keys that can verify
  // Keys that verify but are in testing mode (t=y): RFC 6376 §3.6.1 has receivers treat their
  // mail as unsigned, so they are not counted in `usable`.
  std::vector<std::string> testing;
  size_t unknown = 0;  // selectors whose key record could not be fetched (DNS)
};

// The DKIM findings: each selector's key record (syntax, k=, size, h=, revoked, t=y, t=s)
// and a record at _domainkey.DOMAIN itself, which RFC 6376 ignores.
DkimFacts CheckDkim(Context& ctx, const std::vector<DkimSelector>& selectors);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_DKIM_CHECK_H_
