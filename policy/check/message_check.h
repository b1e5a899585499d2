// Private to policy/check: `credence check --message FILE`, a message the domain owner sent
// through their own server, verified by credence's own Evaluator and explained in plain words.
#ifndef CREDENCE_POLICY_CHECK_MESSAGE_CHECK_H_
#define CREDENCE_POLICY_CHECK_MESSAGE_CHECK_H_

#include <string>
#include <vector>

#include "check/context.h"
#include "check/dkim_check.h"
#include "credence/policy/evaluate.h"

namespace credence::check_internal {

struct MessageFacts {
  bool present = false;  // --message was given
  bool parsed = false;
  Evaluation evaluation;
  std::string mail_from;                // the MAIL FROM used for SPF
  std::vector<DkimSelector> selectors;  // s= of signatures by the domain or a subdomain
};

// Verifies the message (before the domain checks, which also check its selectors).
MessageFacts EvaluateMessage(Context& ctx, Evaluator& evaluator);
// The message section: each signature (which selector, which key, why it failed and what to
// change), SPF when the client address is known, and the DMARC result.
void ReportMessage(Context& ctx, const MessageFacts& m);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_MESSAGE_CHECK_H_
