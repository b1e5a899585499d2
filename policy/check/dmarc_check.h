// Private to policy/check: the DMARC section of `credence check` (RFC 9989, RFC 9990, RFC 7489
// pct=).
#ifndef CREDENCE_POLICY_CHECK_DMARC_CHECK_H_
#define CREDENCE_POLICY_CHECK_DMARC_CHECK_H_

#include "check/context.h"
#include "check/dkim_check.h"
#include "check/spf_check.h"
#include "credence/policy/dmarc.h"

namespace credence::check_internal {

// The DMARC findings: where the record that applies was found (the domain's own name or the
// DNS Tree Walk), its syntax and the effect of each tag, p=none, t=y, pct, sp=/np=, the
// report URIs and RFC 9990 External Destination Verification of those in other domains, and
// which of SPF and DKIM can align given what the SPF and DKIM sections found.
void CheckDmarc(Context& ctx, const DmarcEvaluator& dmarc, const SpfFacts& spf,
                const DkimFacts& dkim);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_DMARC_CHECK_H_
