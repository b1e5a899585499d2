// Private: RFC 8617 §4.2 ARC sets read from a message's header fields and checked for
// structure (§5.2 steps 1-3), before any DNS.
#ifndef CREDENCE_ARC_SETS_H_
#define CREDENCE_ARC_SETS_H_

#include <string>
#include <vector>

#include "credence/arc.h"
#include "credence/message.h"
#include "dkim/signature.h"

namespace credence::arc {

// One instance's three fields, parsed.
struct ParsedSet {
  size_t aar = 0;  // indexes in Message::headers()
  size_t ams = 0;
  size_t as = 0;
  dkim::Signature ams_sig;
  dkim::Signature as_sig;
  std::string authserv_id;  // empty when not domain-like
  std::string results;      // the AAR value after "i=N;"
};

// The chain as read. When `decided`, the chain's verdict is final (none, or fail with
// reason/detail) and `sets` may be empty; otherwise every set 1..N is present once, parsed,
// and the cv= rules hold: what is left is the signatures.
struct ParsedChain {
  bool decided = false;
  ArcVerdict verdict = ArcVerdict::kNone;
  ArcReason reason = ArcReason::kNone;
  std::string detail;
  std::vector<ParsedSet> sets;  // instance 1 first
};

// RFC 8617 §5.2 steps 1-3: collects the ARC fields (in any order), sorts them into sets by
// instance and checks them: no ARC field -> none; an unreadable instance, a set missing a
// field or with two of one -> fail structure; an instance over 50 -> fail too_many_sets; a
// field that does not parse -> fail (message_signature or seal); the newest seal cv=fail ->
// fail sealed_fail; cv= of instance 1 not none or of a later one not pass -> fail
// chain_status. Linear in the number of fields.
ParsedChain ReadChain(const Message& message);

// RFC 8617 §4.1.1: the instance of an ARC-Authentication-Results value ("i=N;" first, FWS
// allowed around the tokens) and, in `rest`, what follows the ";". False when it does not
// start so or N is not 1*9DIGIT.
bool ParseAarInstance(std::string_view value, long* instance, std::string_view* rest);

}  // namespace credence::arc

#endif  // CREDENCE_ARC_SETS_H_
