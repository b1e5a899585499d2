// One message, every method: the call hosts make. Plans the DNS questions of DKIM and DMARC,
// asks them in one batch, runs SPF (MAIL FROM and HELO), DMARC, the score and the
// Authentication-Results header. Never throws; every outcome is in the Evaluation.
#ifndef CREDENCE_POLICY_EVALUATE_H_
#define CREDENCE_POLICY_EVALUATE_H_

#include <memory>
#include <string>
#include <vector>

#include "credence/arc.h"
#include "credence/clock.h"
#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/limits.h"
#include "credence/message.h"
#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/score.h"
#include "credence/spf.h"

namespace credence {

// The SMTP envelope of a message.
struct Envelope {
  std::string client_ip;  // the connecting client; empty: SPF is not evaluated (result none)
  std::string helo;       // HELO/EHLO name; empty: the HELO identity is not checked
  std::string mail_from;  // MAIL FROM without <>; empty: null sender (SPF checks postmaster@HELO)
  // Set by a host that hit a limit before evaluating (credence serve: the request waited for a
  // worker until less than half its time was left, or a HELO / MAIL FROM too long to carry was
  // dropped): a limit note. What it leaves unknown fails closed: CREDENCE_LIMIT, and a DMARC
  // policy that could not be looked up scores as p=reject would (docs/security.md). Empty
  // normally.
  std::string host_limit;
};

// Everything a host can configure. `limits` is copied into each protocol's options by
// Evaluator::Create, so set it here, not in the sub-structs: Create refuses options whose
// dkim/spf/dmarc.limits were changed to something else.
struct EvaluatorOptions {
  Limits limits;
  DkimOptions dkim;
  SpfOptions spf;
  DmarcOptions dmarc;
  AuthResOptions authres;
  ScoreConfig score;
};

struct Evaluation {
  std::vector<DkimResult> dkim;  // one per DKIM-Signature, header order
  ArcResult arc;                 // the ARC chain (RFC 8617); none when the message has none
  bool spf_evaluated = false;    // false when the envelope had no client IP
  SpfResult spf_mailfrom;        // MAIL FROM identity (or postmaster@HELO for a null sender)
  SpfResult spf_helo;            // HELO identity (result none when no HELO was given)
  DmarcResult dmarc;             // arc_override: a trusted sealer's word set disposition none
  AuthResHeader authres;         // the header credence adds
  ScoreResult score;             // score delta and its symbols
  // Existing A-R fields carrying our authserv-id (RFC 8601 §5: forgeries to remove), as
  // positions among all the message's header fields (Message::FieldPosition).
  std::vector<size_t> forged_authres;
  // What a Limits bound left out of this evaluation, one note each (the message cut, DKIM
  // signatures not evaluated, a DNS budget spent); empty when nothing was. Non-empty notes
  // make the score add CREDENCE_LIMIT: reaching a limit never makes a message look better.
  std::vector<std::string> limits;
};

// What Evaluate writes Evaluation::authres from. A host that adds to a result's detail
// afterwards (the archive's mbox-quoting hint) writes the header again with it:
// WriteAuthResults(AuthResInputOf(ev, envelope), options.authres).
AuthResInput AuthResInputOf(const Evaluation& ev, const Envelope& envelope);

// The SPF request for a client, HELO name and MAIL FROM as SPF looks them up: a HELO name or
// MAIL FROM domain written with U-labels (SMTPUTF8, RFC 6531) in A-labels (RFC 8616 §4), as
// the Evaluator and `credence spf` both ask.
SpfRequest SpfRequestOf(const std::string& client_ip, const std::string& helo,
                        const std::string& mail_from);

class Evaluator {
 public:
  // kInvalidInput for a bad authserv-id, score configuration or PSL file; kIoError when the
  // PSL file cannot be read. `clock` must outlive the Evaluator.
  static Result<std::unique_ptr<Evaluator>> Create(const EvaluatorOptions& options,
                                                   const Clock& clock);
  ~Evaluator();

  // Evaluates one message. Deadline: now + options.limits.deadline. Not const and not
  // thread-safe (the DKIM and ARC key caches inside change): one Evaluator per thread; the
  // Resolver may be shared if it is thread-safe (the caching resolver is).
  Evaluation Evaluate(const Message& message, const Envelope& envelope, Resolver& resolver);
  Evaluation Evaluate(const Message& message, const Envelope& envelope, Resolver& resolver,
                      Deadline deadline);

  // A message prepared for evaluation: its DKIM-Signature fields parsed once (and checked
  // against the clock's time), and the DNS questions Evaluate asks first, in one batch (DKIM
  // keys, ARC keys and the DMARC tree walk). Hosts that verify many messages prefetch `questions` for
  // a whole batch of messages, then call Evaluate with the Prepared, so nothing is parsed
  // twice. Use it with the message it was made from, at the same clock time.
  struct Prepared {
    std::vector<DnsQuestion> questions;
    DkimVerifier::Prepared dkim;
    std::string author;  // the Author Domain (ExtractAuthorDomain); "" when there is none
  };
  Prepared Prepare(const Message& message) const;
  Evaluation Evaluate(const Message& message, Prepared&& prepared, const Envelope& envelope,
                      Resolver& resolver, Deadline deadline);

  const EvaluatorOptions& options() const { return options_; }

 private:
  Evaluator(const EvaluatorOptions& options, const Clock& clock);
  EvaluatorOptions options_;
  std::unique_ptr<DkimVerifier> dkim_;
  std::unique_ptr<ArcVerifier> arc_;
  std::unique_ptr<DmarcEvaluator> dmarc_;
  ScorePolicy score_;
};

}  // namespace credence

#endif  // CREDENCE_POLICY_EVALUATE_H_
