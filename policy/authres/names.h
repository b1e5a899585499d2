// RFC 8601 spellings of every verdict the policy layer writes or scores (forwarding to the
// verifier's and DMARC's *Name functions), and the reason phrases of A-R reason="...".
#ifndef CREDENCE_POLICY_AUTHRES_NAMES_H_
#define CREDENCE_POLICY_AUTHRES_NAMES_H_

#include <string_view>

#include "credence/dkim.h"
#include "credence/policy/dmarc.h"
#include "credence/spf.h"

namespace credence::authres_internal {

std::string_view DkimResultName(DkimVerdict v);    // RFC 8601 §2.7.1
std::string_view SpfResultName(SpfVerdict v);      // RFC 8601 §2.7.2
std::string_view DmarcResultName(DmarcVerdict v);  // RFC 7489 §11.2 / RFC 9989
std::string_view PolicyName(DmarcPolicy p);
std::string_view DispositionName(DmarcDisposition d);
// A short English phrase for reason="..." ("body hash did not verify"); "" for kNone.
std::string_view DkimReasonText(DkimReason r);

}  // namespace credence::authres_internal

#endif  // CREDENCE_POLICY_AUTHRES_NAMES_H_
