// Telling a body hash failure caused by mbox "From " quoting from one caused by the sender.
//
// mbox writers protect body lines that start with "From " by prefixing '>' (mboxo: only
// "^From "; mboxrd: every "^>*From "), and readers undo it. A writer and a reader that disagree
// (Python's mailbox writes mboxo; a message extracted from an mbox keeps its '>'), or an
// mboxo file whose body really held ">From ", leave lines with one '>' too many or too few,
// and DKIM then reports body_hash_mismatch although the sender's bytes were fine.
#ifndef CREDENCE_PLUGIN_ARCHIVE_QUOTING_H_
#define CREDENCE_PLUGIN_ARCHIVE_QUOTING_H_

#include <string>
#include <string_view>

#include "credence/dkim.h"
#include "credence/dns.h"
#include "credence/limits.h"

namespace credence {

// At most this many body lines that start with ">*From " are tried one by one (each as read,
// with one '>' more, with one '>' fewer: 3^N bodies); past it only all of them together.
inline constexpr size_t kMaxQuotedLinesTried = 5;

// The bytes of variant bodies one message may spend on these tries, all its signatures
// together: each try parses and verifies a whole copy, so without a bound a sender's large
// message with several failing signatures and quoted lines would cost hundreds of full
// verifications. Past it the hint is not given (the verdict is the same either way).
inline constexpr size_t kQuotingBudgetBytes = 16u << 20;

// For the signature at `failed.header_index` of the message `bytes` (failed with
// body_hash_mismatch), tries the bodies whose ">*From " lines carry one '>' more or fewer
// and returns a sentence saying which one matches the body hash ("" when none does, or the
// body has no such line). The key comes from `resolver` (already asked: no new DNS in a run).
// Each try takes bytes.size() from *budget_bytes; none is made that the budget cannot pay.
std::string QuotingExplainsBodyHash(std::string_view bytes, const DkimResult& failed,
                                    const DkimVerifier& verifier, const Limits& limits,
                                    Resolver& resolver, Deadline deadline,
                                    size_t* budget_bytes);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_QUOTING_H_
