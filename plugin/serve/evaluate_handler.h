// The RequestHandler that evaluates messages: one per worker, each with its own Evaluator
// (not thread-safe) and the shared Resolver (the thread-safe cache in front of the pool).
#ifndef CREDENCE_PLUGIN_SERVE_EVALUATE_HANDLER_H_
#define CREDENCE_PLUGIN_SERVE_EVALUATE_HANDLER_H_

#include <memory>

#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/policy/evaluate.h"
#include "credence/policy/history.h"
#include "serve/server.h"

namespace credence::serve {

// The response for a VERIFY request is the evaluation object (AppendEvaluationJson in
// plugin/common/evaluation_json.h:
// dkim, spf, spf_helo, dmarc, authentication_results, score, symbols, ...) plus
// "remove_authentication_results" (the 1-based occurrence numbers, among the message's
// Authentication-Results fields, of those carrying our authserv-id) and "id" when the request
// had one. A message that does not parse gets {"error", "code": "not_a_message"}.
// `resolver` and `clock` must outlive the handler. With `history` (not null, must outlive the
// handler), every evaluation with a DMARC policy is appended to it (docs/reports.md).
Result<std::unique_ptr<RequestHandler>> MakeEvaluateHandler(const EvaluatorOptions& options,
                                                            const Clock& clock,
                                                            Resolver& resolver,
                                                            HistoryWriter* history = nullptr);

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_EVALUATE_HANDLER_H_
