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
#include "credence/message.h"

namespace credence {

// At most this many body lines that start with ">*From " are tried one by one (each as read,
// with one '>' more, with one '>' fewer: 3^N bodies); past it only all of them together.
inline constexpr size_t kMaxQuotedLinesTried = 5;

// The body bytes one message may hash on these tries, all its signatures together (each
// try canonicalizes and hashes one variant body; no key, no DNS). Past it the hint is not
// given (the verdict is the same either way).
inline constexpr size_t kQuotingBudgetBytes = 16u << 20;

// For the signature at `failed.header_index` of `message` (failed with body_hash_mismatch),
// tries the bodies whose ">*From " lines carry one '>' more or fewer against that signature's
// bh= (its own c= and l=) and returns a sentence saying which one matches ("" when none does,
// or the body has no such line). Each try takes body().size() from *budget_bytes; none is
// made that the budget cannot pay.
std::string QuotingExplainsBodyHash(const Message& message, const DkimResult& failed,
                                    size_t* budget_bytes);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_QUOTING_H_
