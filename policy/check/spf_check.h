// Private to policy/check: the SPF section of `credence check` (RFC 7208).
#ifndef CREDENCE_POLICY_CHECK_SPF_CHECK_H_
#define CREDENCE_POLICY_CHECK_SPF_CHECK_H_

#include <string>
#include <vector>

#include "check/context.h"
#include "check/mx_check.h"

namespace credence::check_internal {

// What the DMARC section needs to know about SPF.
struct SpfFacts {
  bool usable = false;                // a record receivers can evaluate without permerror
  bool unknown = false;               // the domain's record could not be fetched (DNS)
  std::vector<std::string> includes;  // include targets of the domain's own record
};

// The SPF findings for ctx.domain: the record (one, no SPF RR type), its grammar and string
// splits, the lookup tree (10 lookups, 2 void lookups, mx and ptr rules), the "all" that
// ends it, and whether the MX hosts in `mx` pass SPF.
SpfFacts CheckSpf(Context& ctx, const MxInfo& mx);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_SPF_CHECK_H_
