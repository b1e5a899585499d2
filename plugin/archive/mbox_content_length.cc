// MboxSplitter's Content-Length reading (MboxFormat::kContentLength: mboxcl2, as mutt and
// Dovecot write), apart from the "From "-line splitter in mailbox.cc.
#include <optional>
#include <string>
#include <string_view>

#include "archive/mailbox.h"
#include "credence/ascii.h"

namespace credence {

void MboxSplitter::Notice(const std::string& text) {
  notice_name_ = name_ + ":" + std::to_string(index_);
  notice_ = text;
}

namespace {

// The Content-Length field of the header section `h` (its lines, LF or CRLF): the value when
// it is one decimal number of at most 18 digits, surrounded by white space only.
std::optional<uint64_t> ContentLengthOf(std::string_view h) {
  constexpr std::string_view kName = "content-length:";
  for (size_t line = 0; line < h.size();) {
    size_t nl = h.find('\n', line);
    if (nl == std::string_view::npos) nl = h.size();
    std::string_view l = h.substr(line, nl - line);
    line = nl + 1;
    if (l.size() < kName.size() || !EqualsIgnoreCase(l.substr(0, kName.size()), kName)) continue;
    l.remove_prefix(kName.size());
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) {
      l.remove_suffix(1);
    }
    if (l.empty() || l.size() > 18 || l.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    uint64_t v = 0;
    for (char c : l) v = v * 10 + static_cast<uint64_t>(c - '0');
    return v;
  }
  return std::nullopt;
}

}  // namespace

// Not kContentLength: the message at pos_ ended at a "From " line `span` bytes on; when its
// header carries a Content-Length that runs past that line, says (once) that the file looks
// like a Content-Length mbox.
void MboxSplitter::NoteContentLength(size_t span) {
  const std::string_view m(buf_.get() + pos_, span);
  size_t body = m.substr(0, 1) == "\n" ? 1 : m.substr(0, 2) == "\r\n" ? 2 : std::string::npos;
  for (size_t i = m.find('\n'); body == std::string::npos && i != std::string_view::npos;
       i = m.find('\n', i + 1)) {
    if (m.substr(i + 1, 1) == "\n") body = i + 2;
    if (m.substr(i + 1, 2) == "\r\n") body = i + 3;
  }
  if (body == std::string::npos) return;
  const std::optional<uint64_t> length = ContentLengthOf(m.substr(0, body));
  if (!length || *length <= span - body) return;
  cl_noted_ = true;
  Notice("its Content-Length " + std::to_string(*length) + " runs past the 'From ' line that "
         "ends it here (after " + std::to_string(span - body) + " body bytes): the file looks "
         "like a Content-Length mbox (as mutt and Dovecot write): --mbox-format cl reads it");
}

// kContentLength: reads the message at pos_ by its Content-Length when that lands on the next
// "From " line or the end (true: `item` filled, pos_ past it, the next "From " line read).
// False, with pos_ unchanged and a notice saying why, when it cannot: the caller splits at
// the next "From " line instead.
// Reads on until the buffer at pos_ holds the end of the header section (its empty line, or
// an empty first line): *body gets where the body starts (offset from pos_), or npos when no
// empty line comes within the size limit or before the end. False when a read error cut the
// bytes first (the split at "From " lines reports the cut).
bool MboxSplitter::FindHeaderEnd(size_t* body) {
  const size_t max = options_.max_message_bytes;
  *body = std::string::npos;
  size_t from = 0;
  for (;;) {
    const std::string_view b(buf_.get() + pos_, end_ - pos_);
    if (!b.empty() && b[0] == '\n') *body = 1;
    if (b.size() >= 2 && b[0] == '\r' && b[1] == '\n') *body = 2;
    for (size_t i = b.find('\n', from); *body == std::string::npos && i != std::string_view::npos;
         i = b.find('\n', i + 1)) {
      if (i + 1 < b.size() && b[i + 1] == '\n')
        *body = i + 2;
      else if (i + 2 < b.size() && b[i + 1] == '\r' && b[i + 2] == '\n')
        *body = i + 3;
    }
    if (*body != std::string::npos || b.size() > max) return true;
    from = b.size() >= 2 ? b.size() - 2 : 0;
    if (!Fill()) return read_error_.ok() || read_whole_;
  }
}

namespace {

// Where a message of `total` bytes (of the `avail` at b) lands: the end, an empty line and
// the end, or (an empty line and) a "From " line. The empty line is LF or CRLF: a writer with
// CRLF line ends (a Windows tool, a copy through a CRLF transport) adds "\r\n", and its
// Content-Length counts the CRs of the body. The offset of the next "From " line (avail at
// the end), or npos when it lands anywhere else.
size_t LandingOf(const char* b, size_t total, size_t avail) {
  const std::string_view rest(b + total, avail - total);
  if (rest.empty() || rest == "\n" || rest == "\r\n") return avail;
  if (rest.substr(0, 6) == "\nFrom ") return total + 1;
  if (rest.substr(0, 7) == "\r\nFrom ") return total + 2;
  if (rest.substr(0, 5) == "From " && b[total - 1] == '\n') return total;  // no empty line
  return std::string::npos;
}

// Lines of `text` that look like an mbox separator: "From " after an empty line.
size_t SeparatorLikeLines(std::string_view text) {
  size_t separators = 0;
  for (size_t i = text.find("\nFrom "); i != std::string_view::npos;
       i = text.find("\nFrom ", i + 1)) {
    if ((i >= 1 && text[i - 1] == '\n') || (i >= 2 && text[i - 1] == '\r' && text[i - 2] == '\n')) {
      ++separators;
    }
  }
  return separators;
}

}  // namespace

bool MboxSplitter::ByLength(SourceItem* item) {
  const size_t max = options_.max_message_bytes;
  size_t body;
  if (!FindHeaderEnd(&body)) return false;
  // (Past the limit, found or not: the same words whatever the reads' sizes.)
  if (body == std::string::npos || body > max) {
    Notice(
        "no empty line ends its header section within the message size limit: split at "
        "the next 'From ' line");
    return false;
  }
  const std::optional<uint64_t> length = ContentLengthOf(std::string_view(buf_.get() + pos_, body));
  if (!length) {
    Notice("no Content-Length field (or not one number): split at the next 'From ' line");
    return false;
  }
  const std::string said = "its Content-Length " + std::to_string(*length);
  if (*length > max || body + *length > max) {
    Notice(said + " is over the message size limit: split at the next 'From ' line");
    return false;
  }
  const size_t total = body + static_cast<size_t>(*length);
  while (end_ - pos_ < total + 7 && Fill()) {  // up to "\r\nFrom " after it
  }
  const char* b = buf_.get() + pos_;
  const size_t avail = end_ - pos_;
  // A read error before the bytes needed: the split at "From " lines reports the cut.
  if (avail < total + 7 && !read_error_.ok() && !read_whole_) return false;
  if (avail < total) {
    Notice(said + " runs past the end of the file (" + std::to_string(avail - body) +
           " body bytes left): split at the next 'From ' line");
    return false;
  }
  const size_t next = LandingOf(b, total, avail);
  if (next == std::string::npos) {
    Notice(said +
           " does not land on the next message's 'From ' line or the end of the "
           "file: split at the next 'From ' line");
    return false;
  }
  // Lines inside the length that look like an mbox separator: told, not hidden.
  if (const size_t separators = SeparatorLikeLines(std::string_view(b + body, total - body))) {
    Notice(said + " holds " + std::to_string(separators) +
           (separators == 1 ? " line that looks" : " lines that look") +
           " like the start of another mbox message ('From ' after an empty line): read as "
           "one message, as the Content-Length says");
  }
  item->bytes.assign(b, total);
  pos_ += next;
  if (next < avail) {
    ReadFromLine();
    pending_ = true;
  }
  return true;
}

}  // namespace credence
