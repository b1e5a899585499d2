// An RFC 5322 message as credence sees it: header fields with their raw bytes kept for
// DKIM canonicalization, and the body. Input may use CRLF or bare LF line ends; bare LF is
// treated as CRLF (as MTAs do), so every view below uses CRLF.
#ifndef CREDENCE_MESSAGE_H_
#define CREDENCE_MESSAGE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/ascii.h"
#include "credence/limits.h"
#include "credence/status.h"

namespace credence {

struct HeaderField {
  std::string_view name;   // field name as written, without the colon ("DKIM-Signature")
  std::string_view value;  // everything after the colon, folds included, without the final CRLF
  std::string_view raw;    // the whole field as written (name, colon, value), without final CRLF
};

// RFC 5322 §3.6: the fields a message has at most one of; and RFC 2045's Content-Type and
// Content-Transfer-Encoding, one each for the message's top entity (a second one on top
// decides what a reader renders as the body). Not MIME-Version: its one value is 1.0.
inline constexpr std::string_view kSingleInstanceFields[] = {
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
    "references", "subject", "content-type", "content-transfer-encoding"};
inline constexpr size_t kSingleInstanceFieldCount = std::size(kSingleInstanceFields);
// The index of `name` in kSingleInstanceFields (ASCII case-insensitive, no white space), or
// kSingleInstanceFieldCount. By length first: most names cost one comparison or none.
size_t SingleInstanceFieldIndex(std::string_view name);

class Message {
 public:
  // Parses `bytes`, whatever they are: a message is always judged as far as it can be read.
  //  - The header section ends at the blank line, or, as in MTAs (Exim, Postfix), at the
  //    first line that is neither a header field ("name:" with an RFC 5322 ftext name) nor a
  //    continuation line; that line starts the body. A message whose first line is not a
  //    field has no header fields.
  //  - Limits bound what is read, never whether the message is judged: past
  //    limits.max_header_bytes or limits.max_header_fields only From, DKIM-Signature and
  //    Authentication-Results fields are still read (at most max_header_fields of them), and
  //    past limits.max_message_bytes the body is cut. limit_notes() says what was left out.
  // `original_size`: the size of the whole message when `bytes` is only its beginning (a host
  // that could not keep all of it); 0 or bytes.size() when `bytes` is the whole message.
  // The one error: kInvalidInput "empty message" for an empty input.
  static Result<Message> Parse(std::string_view bytes, const Limits& limits = Limits(),
                               size_t original_size = 0);
  // The same, with `buffer` (from TakeBuffer) as the storage of the message's text: its
  // content is replaced, its capacity reused, so a host that parses one message after another
  // does not allocate the text each time. nullptr: new storage, as above.
  static Result<Message> Parse(std::string_view bytes, const Limits& limits, size_t original_size,
                               std::unique_ptr<std::string> buffer);
  // The same for a whole message whose text is already in the form Parse makes of its input:
  // no bare LF (AppendWithCrlf's output) and at most limits.max_message_bytes long. `text`
  // becomes the message's storage as it is: nothing is copied.
  static Result<Message> ParseNormalised(std::unique_ptr<std::string> text, const Limits& limits);
  // The storage of the text, for the next Parse. Leaves the message without text: only to be
  // destroyed afterwards.
  std::unique_ptr<std::string> TakeBuffer() && { return std::move(data_); }

  // Header fields read, in message order, top first.
  const std::vector<HeaderField>& headers() const { return headers_; }
  // The body after the blank line (CRLF line ends); empty when there is none.
  std::string_view body() const { return body_; }
  // The whole normalised message as read (CRLF line ends).
  std::string_view data() const { return *data_; }

  // Fields named `name` (ASCII case-insensitive), in message order.
  std::vector<const HeaderField*> FindAll(std::string_view name) const;
  // The topmost field named `name`, or nullptr.
  const HeaderField* Find(std::string_view name) const;

  // What a Limits bound left out, one sentence each ("header section over 1048576 bytes: 20
  // fields after it not read"); empty when the whole message was read.
  const std::vector<std::string>& limit_notes() const { return limit_notes_; }
  // The body is only the beginning of the real one (max_message_bytes, or a host's prefix).
  bool body_truncated() const { return body_truncated_; }
  // Header fields skipped past the header limits (not in headers()).
  size_t skipped_fields() const { return skipped_fields_; }
  // The position of headers()[index] among all the message's header fields, skipped ones
  // included (equal to `index` when none was skipped): what hosts that address fields by
  // their order (Exim's header list) use.
  size_t FieldPosition(size_t index) const {
    return positions_.empty() ? index : positions_[index];
  }
  // From, DKIM-Signature and Authentication-Results fields skipped even past the limits' second
  // max_header_fields (not in headers()).
  size_t verdict_fields_skipped() const { return verdict_fields_skipped_; }
  // Reads the header section again and calls visit(position, name, value) for every field,
  // those skipped past the header limits included (position as FieldPosition counts it);
  // stores nothing. For what must see every field whatever the limits: forged
  // Authentication-Results fields hidden past them.
  void ForEachField(
      const std::function<void(size_t, std::string_view, std::string_view)>& visit) const;
  // A bare CR (a CR not before an LF; RFC 5322 §2.2 allows none) in the header section, or in
  // the line that ended it. Some mail readers take one for a line end, and then see the text
  // after it as a field of its own: "X-A: a<CR>From: ceo@bank.example" shows them a second
  // From.
  bool header_has_bare_cr() const { return header_bare_cr_; }
  // The fields such a reader sees that this parser does not: for every bare CR in a field's
  // value (or in the line that ended the header section), the text after it, up to the next
  // CR, when it reads as "name: value"; visit(position, name, value) with the position of the
  // field it is inside (ForEachField's count; for the ending line, the count of fields).
  // Nothing unless header_has_bare_cr(). Found once when the message is read and kept, at
  // most max_header_fields of them (more: hidden_fields_cut(), and a limit note).
  void ForEachHiddenField(
      const std::function<void(size_t, std::string_view, std::string_view)>& visit) const;
  // More hidden fields than were kept: ForEachHiddenFieldAll reads them all again.
  bool hidden_fields_cut() const { return hidden_cut_; }
  // Every hidden field, read again from the header section (nothing stored).
  void ForEachHiddenFieldAll(
      const std::function<void(size_t, std::string_view, std::string_view)>& visit) const;
  // How many fields with the single-instance name kSingleInstanceFields[index] a reader sees
  // that headers() does not hold: those behind bare CRs (what a reader splitting there sees,
  // all of them counted, kept or not) and those skipped past the header limits (fail closed:
  // a From or Subject cannot hide behind thousands of other fields). 0 for an index past the
  // list.
  size_t unkept_single_instance_count(size_t index) const {
    return index < hidden_counts_.size() ? hidden_counts_[index] + skipped_counts_[index] : 0;
  }

 private:
  Message() = default;
  // The header fields and body of data_ (HeaderSectionReader), within the header limits.
  void ReadFields(const Limits& limits);
  // hidden_ (ForEachHiddenField), when header_bare_cr_.
  void FindHiddenFields(const Limits& limits);
  struct HiddenField {
    size_t position;
    std::string_view name, value;  // views into *data_
  };
  std::vector<HiddenField> hidden_;
  bool hidden_cut_ = false;
  using SingleInstanceCounts = std::array<size_t, kSingleInstanceFieldCount>;
  SingleInstanceCounts hidden_counts_{};   // by SingleInstanceFieldIndex, behind bare CRs
  SingleInstanceCounts skipped_counts_{};  // by SingleInstanceFieldIndex, past the limits
  std::unique_ptr<std::string> data_;  // owned; heap-held so views survive moves
  std::vector<HeaderField> headers_;
  std::string_view body_;
  std::vector<std::string> limit_notes_;
  bool body_truncated_ = false;
  size_t skipped_fields_ = 0;
  size_t verdict_fields_skipped_ = 0;
  bool header_bare_cr_ = false;
  size_t header_region_ = 0;  // bytes of data_ the header section (and a line ending it) spans
  std::vector<size_t> positions_;  // empty unless fields were skipped
};

// Appends `in` to `out` with every bare LF (one not right after a CR) turned into CRLF: how
// Parse reads a message's line ends. Stops once `out` would pass `max_out` bytes (cut there,
// mid-line if need be) and returns true; false when all of `in` went in.
bool AppendWithCrlf(std::string_view in, size_t max_out, std::string* out);

// The date of the topmost Received field (RFC 5322 §3.6.7: after its last ';'), as seconds
// since the epoch; nullopt when there is none or it does not parse.
std::optional<int64_t> TopReceivedTime(const Message& message);
// The date of one Received field (the part after its last ';'); nullopt without one.
std::optional<int64_t> ReceivedFieldTime(const HeaderField& received);
// RFC 5322 §3.3 date-time (obsolete zones included); nullopt when it does not parse.
std::optional<int64_t> ParseRfc5322DateTime(std::string_view text);

}  // namespace credence

#endif  // CREDENCE_MESSAGE_H_
