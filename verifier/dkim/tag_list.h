// RFC 6376 §3.2 tag=value lists (shared by DKIM-Signature fields and key records) and the
// FWS-tolerant base64 of §2.4 / §3.5 (b=, bh=) and §3.6.1 (p=).
#ifndef CREDENCE_DKIM_TAG_LIST_H_
#define CREDENCE_DKIM_TAG_LIST_H_

#include <string>
#include <string_view>
#include <vector>

#include "credence/status.h"

namespace credence::dkim {

struct Tag {
  std::string_view name;   // views into the parsed text
  std::string_view value;  // leading and trailing FWS removed; may be empty
  // Offsets in the parsed text: the value with its surrounding FWS runs from just after "="
  // to just before the next ";" (or the end). RFC 6376 §3.7 empties exactly that for b=.
  size_t raw_value_begin = 0;
  size_t raw_value_end = 0;
};

// At most this many tags in one list (a DKIM-Signature has 14 defined tags). Bounds the
// duplicate check.
inline constexpr size_t kMaxTags = 64;

// Parses `text` as a tag-list. kInvalidInput (with the position) when:
//  - a tag name is not ALPHA *(ALPHA / DIGIT / "_"), or "=" is missing;
//  - a value has a character outside VALCHAR (%x21-3A / %x3C-7E) or white space;
//  - a tag name appears twice (RFC 6376 §3.2: "MUST be treated as invalid");
//  - there is an empty tag-spec (";;"), or no tag at all;
//  - there are more than kMaxTags tags.
// A single trailing ";" (with FWS around it) is allowed. Tag names are case-sensitive.
// Unknown tags are returned like known ones; callers ignore what they do not know.
Result<std::vector<Tag>> ParseTagList(std::string_view text);

// The tag named `name`, or nullptr.
const Tag* FindTag(const std::vector<Tag>& tags, std::string_view name);

// True for the FWS characters that tag-lists and base64 values skip (SP, HTAB, CR, LF).
inline bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Decodes base64 (RFC 4648 §4 alphabet), skipping FWS anywhere. kInvalidInput when a character
// is outside the alphabet, "=" padding is misplaced or more than two, or the number of
// base64 characters (padding included) is not a multiple of 4. Non-zero bits in the last
// character before padding are tolerated (as OpenSSL and most verifiers do).
Result<std::string> DecodeBase64(std::string_view text);

// RFC 4648 §4 base64 of `bytes`, with padding, on one line.
std::string EncodeBase64(std::string_view bytes);

// Every byte is of the base64 alphabet or "=" (no FWS): text that may leave the verifier as
// it is (b= with FWS removed).
bool IsBase64Text(std::string_view text);

// `text` with every FWS character removed (b= as reported in results).
std::string StripFws(std::string_view text);

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_TAG_LIST_H_
