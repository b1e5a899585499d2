// RFC 5322 §2.2 header fields and §2.3 body, bounded by Limits. Iterative, single pass. A bound
// that is reached cuts what is read, never whether the message is judged (limits.h).
#include "credence/message.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <string>

namespace credence {

namespace {

// RFC 5322 §3.6.8: ftext = %d33-57 / %d59-126.
bool IsFieldNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// The fields verdicts depend on, still read past the header limits: the author (DMARC), the
// signatures (DKIM) and the A-R fields a host must remove when they claim our authserv-id.
bool IsVerdictField(std::string_view name) {
  return EqualsIgnoreCase(name, "From") || EqualsIgnoreCase(name, "DKIM-Signature") ||
         EqualsIgnoreCase(name, "Authentication-Results");
}

// The name of the field `line` starts, or npos when it is not a field start: "name:" with an
// ftext name, white space allowed before the colon (obsolete syntax, RFC 5322 §4.5).
// `*colon` gets the colon's offset in `line`.
size_t FieldNameLength(std::string_view line, size_t* colon) {
  size_t c = line.find(':');
  if (c == std::string_view::npos) return std::string_view::npos;
  size_t name_end = c;
  while (name_end > 0 && (line[name_end - 1] == ' ' || line[name_end - 1] == '\t')) --name_end;
  if (name_end == 0) return std::string_view::npos;
  for (size_t i = 0; i < name_end; ++i) {
    if (!IsFieldNameChar(static_cast<unsigned char>(line[i]))) return std::string_view::npos;
  }
  *colon = c;
  return name_end;
}

// Reads the header section of a message's CRLF text `d` (RFC 5322 §2.2: fields, folds, the
// empty line) into the Message's fields, within the header limits: past max_header_fields
// fields or max_header_bytes bytes only the verdict fields are kept (at most
// max_header_fields more), the rest counted as skipped.
class HeaderSectionReader {
 public:
  using Visit = std::function<void(size_t, std::string_view, std::string_view)>;
  HeaderSectionReader(std::string_view d, const Limits& limits, std::vector<HeaderField>* headers,
                      std::vector<size_t>* positions, size_t* skipped,
                      const Visit* visit = nullptr,
                      std::array<size_t, kSingleInstanceFieldCount>* skipped_counts = nullptr)
      : d_(d),
        limits_(limits),
        headers_(*headers),
        positions_(*positions),
        skipped_(*skipped),
        visit_(visit),
        skipped_counts_(skipped_counts) {}

  // Returns where the body starts (d.size() when there is none).
  size_t Read() {
    size_t pos = 0;
    while (pos < d_.size()) {
      const size_t eol = d_.find("\r\n", pos);
      const size_t line_end = eol == std::string_view::npos ? d_.size() : eol;
      const size_t next = eol == std::string_view::npos ? d_.size() : eol + 2;
      const std::string_view line = d_.substr(pos, line_end - pos);
      if (line.empty()) {  // the blank line ends the header section
        FinishField(pos - 2);  // the blank line starts right after the field's final CRLF
        region_end_ = pos;
        return next;
      }
      if ((line[0] == ' ' || line[0] == '\t') && field_start_ != std::string_view::npos) {
        pos = next;  // continuation of a folded field
        continue;
      }
      size_t c = 0;
      const size_t n = (line[0] == ' ' || line[0] == '\t') ? std::string_view::npos
                                                            : FieldNameLength(line, &c);
      if (n == std::string_view::npos) {
        // Not a field and not a continuation: the header section ends and this line is the
        // first of the body, as Exim and Postfix read it.
        FinishField(pos - 2);
        region_end_ = line_end;
        return pos;
      }
      FinishField(pos - 2);
      StartField(pos, c, n, line.substr(0, n));
      pos = next;
    }
    // No blank line: all header section, the last field running to the end.
    size_t end = d_.size();
    if (end >= 2 && d_.substr(end - 2) == "\r\n") end -= 2;
    FinishField(end);
    region_end_ = end;
    return d_.size();
  }

  // Where the header section ends, with the line that ended it when that was not the blank
  // line (what a reader splitting at bare CRs may still read as fields). Valid after Read.
  size_t region_end() const { return region_end_; }

  // Verdict fields skipped past even the second max_header_fields.
  size_t verdict_fields_skipped() const { return verdict_fields_skipped_; }

 private:
  // A field starts at `pos` (its colon at pos + colon, its name `name`): kept or skipped.
  void StartField(size_t pos, size_t colon, size_t name_len, std::string_view name) {
    ++position_;
    if (!past_limits_ && (headers_.size() >= limits_.max_header_fields ||
                          pos >= limits_.max_header_bytes)) {
      past_limits_ = true;
    }
    keep_ = true;
    if (past_limits_) {
      const bool verdict = IsVerdictField(name);
      keep_ = verdict && kept_past_limits_ < limits_.max_header_fields;
      if (keep_) {
        ++kept_past_limits_;
      } else {
        ++skipped_;
        if (verdict) ++verdict_fields_skipped_;
        if (skipped_counts_ != nullptr) {
          const size_t i = SingleInstanceFieldIndex(name);
          if (i < skipped_counts_->size()) ++(*skipped_counts_)[i];
        }
      }
    }
    field_start_ = pos;
    colon_ = pos + colon;
    name_len_ = name_len;
  }

  // The field being collected ends at `end` (the position of its final CRLF).
  void FinishField(size_t end) {
    if (field_start_ == std::string_view::npos) return;
    if (visit_ != nullptr) {  // every field, kept or not; nothing stored
      (*visit_)(position_ - 1, d_.substr(field_start_, name_len_),
                d_.substr(colon_ + 1, end - colon_ - 1));
      field_start_ = std::string_view::npos;
      return;
    }
    if (keep_) {
      if (skipped_ > 0 && positions_.empty()) {
        positions_.resize(headers_.size());
        std::iota(positions_.begin(), positions_.end(), size_t{0});
      }
      if (skipped_ > 0) positions_.push_back(position_ - 1);
      HeaderField f;
      f.name = d_.substr(field_start_, name_len_);
      f.value = d_.substr(colon_ + 1, end - colon_ - 1);
      f.raw = d_.substr(field_start_, end - field_start_);
      headers_.push_back(f);
    }
    field_start_ = std::string_view::npos;
  }

  const std::string_view d_;
  const Limits& limits_;
  std::vector<HeaderField>& headers_;
  std::vector<size_t>& positions_;
  size_t& skipped_;
  const Visit* const visit_;  // ForEachField: called for every field instead of keeping it
  // Skipped fields counted by single-instance name (Message::unkept_single_instance_count).
  std::array<size_t, kSingleInstanceFieldCount>* const skipped_counts_;
  size_t field_start_ = std::string_view::npos;  // start of the field being collected
  size_t colon_ = 0;
  size_t name_len_ = 0;       // field name length without white space before the colon
  bool keep_ = true;          // the field being collected goes into headers_
  size_t position_ = 0;       // fields seen so far, skipped ones included
  bool past_limits_ = false;  // max_header_bytes or max_header_fields reached
  size_t kept_past_limits_ = 0;
  size_t verdict_fields_skipped_ = 0;
  size_t region_end_ = 0;
};

// True when `s` holds a CR that no LF follows.
bool HasBareCr(std::string_view s) {
  for (size_t i = s.find('\r'); i != std::string_view::npos; i = s.find('\r', i + 1)) {
    if (i + 1 == s.size() || s[i + 1] != '\n') return true;
  }
  return false;
}

// For each bare CR of `text`, the "name: value" after it (to the next CR), as visit(name,
// value).
template <typename Visit>
void HiddenFieldsIn(std::string_view text, Visit&& visit) {
  for (size_t i = text.find('\r'); i != std::string_view::npos; i = text.find('\r', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') continue;
    std::string_view rest = text.substr(i + 1);
    rest = rest.substr(0, rest.find('\r'));
    size_t colon = 0;
    const size_t n = rest.empty() || rest[0] == ' ' || rest[0] == '\t'
                         ? std::string_view::npos
                         : FieldNameLength(rest, &colon);
    if (n != std::string_view::npos) visit(rest.substr(0, n), rest.substr(colon + 1));
  }
}

// The note for fields skipped past the header limits.
std::string SkippedFieldsNote(const Limits& limits, size_t skipped, size_t verdict_skipped) {
  return "header section over " + std::to_string(limits.max_header_bytes) + " bytes or " +
         std::to_string(limits.max_header_fields) + " fields: " + std::to_string(skipped) +
         " fields after it not read" +
         (verdict_skipped == 0
              ? std::string(" (From, DKIM-Signature and Authentication-Results were)")
              : ", " + std::to_string(verdict_skipped) +
                    " of them From, DKIM-Signature or Authentication-Results");
}

}  // namespace

Result<Message> Message::Parse(std::string_view bytes, const Limits& limits,
                               size_t original_size) {
  return Parse(bytes, limits, original_size, nullptr);
}

Result<Message> Message::Parse(std::string_view bytes, const Limits& limits, size_t original_size,
                               std::unique_ptr<std::string> buffer) {
  if (bytes.empty() && original_size == 0) return Status::Invalid("empty message");
  Message m;
  m.data_ = buffer ? std::move(buffer) : std::make_unique<std::string>();
  m.data_->clear();
  bool cut = AppendWithCrlf(bytes, limits.max_message_bytes, m.data_.get());
  if (cut || original_size > bytes.size()) {
    m.body_truncated_ = true;
    // The limit counts the message as judged, bare LFs made CRLF: a message under it in
    // bytes can be over it in lines.
    const size_t size = std::max(original_size, bytes.size());
    const bool grown = cut && size <= limits.max_message_bytes;
    const std::string crlf =
        grown ? " (over the " + std::to_string(limits.max_message_bytes) +
                    "-byte limit with its bare LFs made CRLF)"
              : "";
    m.limit_notes_.push_back("message of " + std::to_string(size) + " bytes" + crlf +
                             ": only the first " + std::to_string(m.data_->size()) + " read");
  }
  m.ReadFields(limits);
  return m;
}

Result<Message> Message::ParseNormalised(std::unique_ptr<std::string> text, const Limits& limits) {
  if (text == nullptr || text->empty()) return Status::Invalid("empty message");
  Message m;
  m.data_ = std::move(text);
  m.ReadFields(limits);
  return m;
}

void Message::ReadFields(const Limits& limits) {
  const std::string_view d = *data_;
  HeaderSectionReader reader(d, limits, &headers_, &positions_, &skipped_fields_, nullptr,
                             &skipped_counts_);
  headers_.reserve(16);  // most messages: one allocation for the field list
  const size_t body = reader.Read();
  verdict_fields_skipped_ = reader.verdict_fields_skipped();
  header_region_ = reader.region_end();
  header_bare_cr_ = HasBareCr(d.substr(0, header_region_));
  // Read once here (one more pass over the header section, only when it has a bare CR), so
  // that asking about them costs nothing however many signatures do.
  if (header_bare_cr_) FindHiddenFields(limits);
  if (skipped_fields_ > 0) {
    limit_notes_.push_back(SkippedFieldsNote(limits, skipped_fields_, verdict_fields_skipped_));
  }
  body_ = d.substr(body);
}

void Message::ForEachField(
    const std::function<void(size_t, std::string_view, std::string_view)>& visit) const {
  std::vector<HeaderField> none;
  std::vector<size_t> no_positions;
  size_t skipped = 0;
  HeaderSectionReader(*data_, Limits(), &none, &no_positions, &skipped, &visit).Read();
}

size_t SingleInstanceFieldIndex(std::string_view name) {
  auto is = [&](size_t i) { return EqualsIgnoreCase(name, kSingleInstanceFields[i]); };
  constexpr size_t kNone = kSingleInstanceFieldCount;
  switch (name.size()) {
    case 2: return is(4) ? 4 : is(5) ? 5 : kNone;    // to, cc
    case 3: return is(6) ? 6 : kNone;                // bcc
    case 4: return is(0) ? 0 : is(1) ? 1 : kNone;    // date, from
    case 6: return is(2) ? 2 : kNone;                // sender
    case 7: return is(10) ? 10 : kNone;              // subject
    case 8: return is(3) ? 3 : kNone;                // reply-to
    case 10: return is(7) ? 7 : is(9) ? 9 : kNone;   // message-id, references
    case 11: return is(8) ? 8 : kNone;               // in-reply-to
    case 12: return is(11) ? 11 : kNone;             // content-type
    case 25: return is(12) ? 12 : kNone;             // content-transfer-encoding
    default: return kNone;
  }
}

void Message::ForEachHiddenFieldAll(
    const std::function<void(size_t, std::string_view, std::string_view)>& visit) const {
  if (!header_bare_cr_) return;
  const std::string_view d = *data_;
  size_t fields = 0;
  size_t fields_end = 0;  // where the last field's value ends
  ForEachField([&](size_t position, std::string_view, std::string_view value) {
    fields = position + 1;
    fields_end = static_cast<size_t>(value.data() - d.data()) + value.size();
    HiddenFieldsIn(value, [&](std::string_view n, std::string_view v) { visit(position, n, v); });
  });
  // The line that ended the header section, when it was not the blank line.
  if (header_region_ > fields_end) {
    HiddenFieldsIn(d.substr(fields_end, header_region_ - fields_end),
                   [&](std::string_view n, std::string_view v) { visit(fields, n, v); });
  }
}

void Message::FindHiddenFields(const Limits& limits) {
  const size_t max = limits.max_header_fields;
  size_t past = 0;  // hidden fields past the bound, not kept
  // Every one is counted by name (fail closed: From and Subject are seen however many come
  // before them); only the first `max` are kept with their values.
  ForEachHiddenFieldAll([&](size_t position, std::string_view n, std::string_view v) {
    const size_t i = SingleInstanceFieldIndex(n);
    if (i < hidden_counts_.size()) ++hidden_counts_[i];
    if (hidden_.size() < max) {
      hidden_.push_back({position, n, v});
    } else {
      ++past;
    }
  });
  if (past > 0) {
    hidden_cut_ = true;
    limit_notes_.push_back(std::to_string(past) + " fields behind bare CRs past the first " +
                           std::to_string(max) + " not kept");
  }
}

void Message::ForEachHiddenField(
    const std::function<void(size_t, std::string_view, std::string_view)>& visit) const {
  for (const HiddenField& h : hidden_) visit(h.position, h.name, h.value);
}

std::vector<const HeaderField*> Message::FindAll(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const HeaderField& f : headers_)
    if (EqualsIgnoreCase(f.name, name)) out.push_back(&f);
  return out;
}

const HeaderField* Message::Find(std::string_view name) const {
  for (const HeaderField& f : headers_)
    if (EqualsIgnoreCase(f.name, name)) return &f;
  return nullptr;
}

}  // namespace credence
