// What our own receiving host recorded on mail it delivered, for re-judging an archive as it
// was received (credence verify --envelope received[=HOST], --compare-authres):
//   - the SMTP envelope (client IP, HELO, MAIL FROM) from the topmost Received field and a
//     Return-Path above it;
//   - the earlier verdict: our own Authentication-Results field above that Received field,
//     compared with today's.
//
// Trust: only fields our host wrote can be believed, and only the topmost Received field is
// known to be ours (every field below it came with the message, from the sender or relays,
// and can say anything). With HOST, that field must also name HOST in its "by" clause, or
// nothing is taken. docs/archive.md states the caveat.
#ifndef CREDENCE_PLUGIN_ARCHIVE_DELIVERED_H_
#define CREDENCE_PLUGIN_ARCHIVE_DELIVERED_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/message.h"
#include "credence/policy/authres.h"
#include "credence/policy/evaluate.h"

namespace credence {

// The clauses of one Received field that matter here (RFC 5321 §4.4 Stamp).
struct ReceivedClauses {
  std::string by;             // the "by" domain ("" when there is none)
  std::string client_ip;      // the first address literal of the "from" clause, without
                              // brackets or "IPv6:"; "" when there is none or it is no address
  std::string helo;           // "helo=NAME" in the from clause (Exim), else the from domain
                              // when it is not an address literal (Exim, Postfix)
  std::optional<std::string> envelope_from;  // Exim's "(envelope-from <ADDR>)" after "by"
};

// Parses a Received field value. Comments may nest (bounded depth); the date after the last
// ';' is ignored. Never fails: what cannot be read stays empty.
ReceivedClauses ParseReceived(std::string_view value);

// The envelope recovered for one message.
struct DeliveredEnvelope {
  bool found = false;  // a client IP was taken from the trusted Received field
  Envelope envelope;   // valid when found
  // Header index (into Message::headers()) of the trusted Received field: the topmost one,
  // when it names `host` (if given); nullopt otherwise.
  std::optional<size_t> received_index;
  std::string note;  // when !found: why ("the topmost Received field is by a.example, not b")
};

// The envelope from the topmost Received field (which must name `host` in its "by" clause
// when `host` is not empty): the client IP and HELO of its from clause; MAIL FROM from its
// envelope-from comment, else from a Return-Path field above it ("<>" = the null sender),
// else the null sender.
DeliveredEnvelope EnvelopeFromReceived(const Message& message, std::string_view host);

// One method's result that differs between the recorded verdict and today's.
struct AuthResDifference {
  std::string method;    // "dkim", "spf", "dmarc"
  std::string identity;  // "header.d=example.com header.s=sel", "smtp.mailfrom", "header.from=..."
  std::string then;      // the recorded result ("none" when the record has none)
  std::string now;       // today's result ("none" when today's A-R has none)
};

struct AuthResComparison {
  bool found = false;    // our A-R field was above the trusted Received field
  std::string recorded;  // its value, unfolded (when found)
  std::string note;      // when !found: why
  std::vector<AuthResDifference> differences;  // empty: the same verdicts
};

// The methods, results and properties of an Authentication-Results value (RFC 8601 §2.2):
// comments dropped, quoted values unquoted, the authserv-id and version skipped. Bounded:
// at most 64 resinfos are read.
std::vector<AuthResEntry> ParseAuthResEntries(std::string_view value);

// Finds the A-R field with `authserv_id` above the Received field at `received_index` (the
// earlier verdict of our own host), compares it with today's `evaluation->authres`, and takes
// it out of evaluation->forged_authres (it is a record, not a forgery). A-R fields of ours
// anywhere else stay listed as forged.
AuthResComparison CompareWithRecorded(const Message& message, std::string_view authserv_id,
                                      std::optional<size_t> received_index,
                                      Evaluation* evaluation);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_DELIVERED_H_
