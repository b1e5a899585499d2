// An RFC 5322 message as credence sees it: header fields with their raw bytes kept for
// DKIM canonicalization, and the body. Input may use CRLF or bare LF line ends; bare LF is
// treated as CRLF (as MTAs do), so every view below uses CRLF.
#ifndef CREDENCE_MESSAGE_H_
#define CREDENCE_MESSAGE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "credence/limits.h"
#include "credence/status.h"

namespace credence {

struct HeaderField {
  std::string_view name;   // field name as written, without the colon ("DKIM-Signature")
  std::string_view value;  // everything after the colon, folds included, without the final CRLF
  std::string_view raw;    // the whole field as written (name, colon, value), without final CRLF
};

class Message {
 public:
  // Parses `bytes`. Errors (never a crash, whatever the bytes):
  //  - kTooLarge when a Limits bound is exceeded (the message says which);
  //  - kInvalidInput when the header section is not RFC 5322 header fields (a line before the
  //    blank line that is neither a field with a colon nor a continuation line, a field with an
  //    empty name or a name with characters outside %d33-57 / %d59-126, or no field at all).
  // A message with no blank line is all header section and has an empty body.
  static Result<Message> Parse(std::string_view bytes, const Limits& limits = Limits());

  // Header fields in message order, top first.
  const std::vector<HeaderField>& headers() const { return headers_; }
  // The body after the blank line (CRLF line ends); empty when there is none.
  std::string_view body() const { return body_; }
  // The whole normalised message (CRLF line ends).
  std::string_view data() const { return *data_; }

  // Fields named `name` (ASCII case-insensitive), in message order.
  std::vector<const HeaderField*> FindAll(std::string_view name) const;
  // The topmost field named `name`, or nullptr.
  const HeaderField* Find(std::string_view name) const;

 private:
  Message() = default;
  std::unique_ptr<std::string> data_;  // owned; heap-held so views survive moves
  std::vector<HeaderField> headers_;
  std::string_view body_;
};

// ASCII case-insensitive equality (header names, tag names, domains).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// ASCII lower-case copy.
std::string ToLower(std::string_view s);

}  // namespace credence

#endif  // CREDENCE_MESSAGE_H_
