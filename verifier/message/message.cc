// RFC 5322 §2.2 header fields and §2.3 body, bounded by Limits. Iterative, single pass.
#include "credence/message.h"

#include <algorithm>
#include <string>

namespace credence {
namespace {

// RFC 5322 §3.6.8: ftext = %d33-57 / %d59-126.
bool IsFieldNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// Copies `in` with every bare LF turned into CRLF. Returns false when a line is too long.
// Copies whole lines at a time (memchr for LF), not byte by byte.
bool NormaliseLineEnds(std::string_view in, size_t max_line, std::string* out,
                       size_t* bad_line) {
  out->reserve(in.size() + in.size() / 32 + 2);
  size_t line_no = 1;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t lf = in.find('\n', pos);
    if (lf == std::string_view::npos) break;
    bool had_cr = lf > pos && in[lf - 1] == '\r';
    size_t len = lf - pos - (had_cr ? 1 : 0);
    if (len > max_line) {
      *bad_line = line_no;
      return false;
    }
    out->append(in.data() + pos, lf - pos);
    if (!had_cr) out->push_back('\r');
    out->push_back('\n');
    pos = lf + 1;
    ++line_no;
  }
  if (in.size() - pos > max_line) {
    *bad_line = line_no;
    return false;
  }
  out->append(in.data() + pos, in.size() - pos);
  return true;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return r;
}

Result<Message> Message::Parse(std::string_view bytes, const Limits& limits) {
  if (bytes.size() > limits.max_message_bytes) {
    return Status::TooLarge("message is " + std::to_string(bytes.size()) +
                            " bytes, over the limit of " +
                            std::to_string(limits.max_message_bytes));
  }
  Message m;
  m.data_ = std::make_unique<std::string>();
  size_t bad_line = 0;
  if (!NormaliseLineEnds(bytes, bytes.size(), m.data_.get(), &bad_line)) {
    return Status::TooLarge("line " + std::to_string(bad_line) + " is too long");
  }
  if (m.data_->size() > limits.max_message_bytes) {
    return Status::TooLarge("message is over the limit of " +
                            std::to_string(limits.max_message_bytes) + " bytes");
  }
  const std::string_view d = *m.data_;
  size_t pos = 0;
  size_t line_no = 1;
  size_t field_start = std::string_view::npos;  // start of the field being collected
  size_t colon = 0;
  size_t name_len = 0;  // field name length without white space before the colon
  auto finish_field = [&](size_t end) {  // end: position of the CRLF ending the field
    HeaderField f;
    f.name = d.substr(field_start, name_len);
    f.value = d.substr(colon + 1, end - colon - 1);
    f.raw = d.substr(field_start, end - field_start);
    m.headers_.push_back(f);
    field_start = std::string_view::npos;
  };
  bool found_blank = false;
  while (pos < d.size()) {
    size_t eol = d.find("\r\n", pos);
    size_t line_end = eol == std::string_view::npos ? d.size() : eol;
    size_t next = eol == std::string_view::npos ? d.size() : eol + 2;
    std::string_view line = d.substr(pos, line_end - pos);
    if (line.empty()) {  // the blank line ends the header section
      // The blank line starts right after the field's final CRLF.
      if (field_start != std::string_view::npos) finish_field(pos - 2);
      found_blank = true;
      pos = next;
      break;
    }
    if (pos > limits.max_header_bytes) {
      return Status::TooLarge("header section is over the limit of " +
                              std::to_string(limits.max_header_bytes) + " bytes");
    }
    if (line[0] == ' ' || line[0] == '\t') {  // continuation of a folded field
      if (field_start == std::string_view::npos) {
        return Status::Invalid("line " + std::to_string(line_no) +
                               ": continuation line with no header field before it");
      }
    } else {
      if (field_start != std::string_view::npos) finish_field(pos - 2);
      size_t c = line.find(':');
      if (c == std::string_view::npos || c == 0) {
        return Status::Invalid("line " + std::to_string(line_no) +
                               ": not a header field (no field name and colon)");
      }
      // Tolerate white space between the name and the colon (obsolete syntax, RFC 5322 §4.5).
      size_t name_end = c;
      while (name_end > 0 && (line[name_end - 1] == ' ' || line[name_end - 1] == '\t')) --name_end;
      for (size_t i = 0; i < name_end; ++i) {
        if (!IsFieldNameChar(static_cast<unsigned char>(line[i]))) {
          return Status::Invalid("line " + std::to_string(line_no) +
                                 ": header field name has a character outside RFC 5322 ftext");
        }
      }
      if (name_end == 0) {
        return Status::Invalid("line " + std::to_string(line_no) + ": empty header field name");
      }
      if (m.headers_.size() >= limits.max_header_fields) {
        return Status::TooLarge("more than " + std::to_string(limits.max_header_fields) +
                                " header fields");
      }
      field_start = pos;
      colon = pos + c;
      name_len = name_end;
    }
    pos = next;
    ++line_no;
  }
  if (!found_blank) {
    if (field_start != std::string_view::npos) {
      // Last field runs to the end (with or without a final CRLF).
      size_t end = d.size();
      if (end >= 2 && d.substr(end - 2) == "\r\n") end -= 2;
      finish_field(end);
    }
    pos = d.size();
  }
  if (pos > limits.max_header_bytes + 2 && !found_blank) {
    return Status::TooLarge("header section is over the limit of " +
                            std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (m.headers_.empty()) return Status::Invalid("no header fields: not an RFC 5322 message");
  m.body_ = d.substr(pos);
  return m;
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
