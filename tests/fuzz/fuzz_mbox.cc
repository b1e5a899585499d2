// libFuzzer target for the mbox splitter (plugin/archive/mailbox.h): the input goes through
// MboxSplitter and through RefMboxSplitter, a verbatim copy of the former line-by-line splitter
// (kept here as the specification; only its read size is a parameter), and the item sequences (name, bytes, envelope_from, error
// code and message) must be the same. The reader hands out the bytes in input-chosen chunk
// sizes (so chunk boundaries land everywhere), optionally fails at an input-chosen offset, and
// the size limit is small (64..4096) or the default.
//
// The old splitter cut a line longer than max_message_bytes at whatever read boundary came
// next (to bound memory), so for such inputs its output depended on the reader's chunking. The
// new splitter does not depend on chunking at all, so it is compared:
//  - with the reference fed the same chunks, when no line is longer than the limit (then the
//    reference does not depend on chunking either);
//  - always with the reference fed everything in one read (no cut at all), except that an
//    envelope sender longer than the limit is kept cut to the limit;
//  - always with itself fed everything in one read.
//
// Input layout: [flags][limit hi][limit lo][error hi][error lo][chunk sizes x4][mbox bytes].
//   flags bit 4: normalise_up_to is 1 + (error hi % 64) (else the size limit).
//   flags bit 0: mboxo (else mboxrd); bit 1: default limit (else 64 + limit % 4033);
//   bit 2: the read fails after (error % (n + 1)) bytes; bit 3: also (only) Content-Length
//   splitting (MboxFormat::kContentLength), checked for chunking independence and bounds.
// Every input is also split with SourceOptions::normalise_up_to (the archive runner's mode),
// at the size limit or at an input-chosen smaller one: each message must then be the stored
// bytes with CRLF line ends exactly as Message::Parse makes them (AppendWithCrlf), or, when
// that text would pass the limit, the stored bytes as they are; chunking must not change it.
// The line-mark scan at each narrower level this CPU runs must split alike; AppendWithCrlf
// itself, at each level, is checked against its rule written out a byte at a time.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archive/mailbox.h"
#include "credence/message.h"
#include "credence/simd.h"

namespace {

using credence::ByteReader;
using credence::MboxFormat;
using credence::SourceItem;
using credence::SourceOptions;
using credence::Status;

// ---- the reference: the line-by-line MboxSplitter as it was (only the read size is a
// parameter) ----

bool StartsWithFrom(std::string_view line) { return line.size() >= 5 && line.substr(0, 5) == "From "; }

class RefMboxSplitter {
 public:
  RefMboxSplitter(std::unique_ptr<ByteReader> reader, std::string name, const SourceOptions& options,
                  size_t chunk)
      : reader_(std::move(reader)), name_(std::move(name)), options_(options), kChunk(chunk) {}
  bool Next(SourceItem* item);

 private:
  bool ReadLine(std::string* line);  // with its "\n" (if any); false at end
  std::unique_ptr<ByteReader> reader_;
  std::string name_;
  SourceOptions options_;
  const size_t kChunk;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  Status read_error_;
  std::string pending_from_;  // the "From " line that starts the next message
  bool started_ = false;
  uint64_t index_ = 0;
};

bool RefMboxSplitter::ReadLine(std::string* line) {
  line->clear();
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      line->append(buf_, pos_, nl + 1 - pos_);
      pos_ = nl + 1;
      return true;
    }
    line->append(buf_, pos_, std::string::npos);
    buf_.clear();
    pos_ = 0;
    if (eof_) return !line->empty();
    buf_.resize(kChunk);
    size_t n = reader_->Read(buf_.data(), buf_.size(), &read_error_);
    buf_.resize(n);
    if (n == 0) eof_ = true;
    // A line longer than the message limit cannot belong to a message we keep: cut it here
    // so memory stays bounded (the rest of the line is read as further "lines").
    if (line->size() > options_.max_message_bytes) return true;
  }
}

bool RefMboxSplitter::Next(SourceItem* item) {
  std::string line;
  if (!started_) {
    started_ = true;
    // Skip anything before the first "From " line (normally nothing).
    while (ReadLine(&line)) {
      if (StartsWithFrom(line)) {
        pending_from_ = line;
        break;
      }
    }
  }
  if (pending_from_.empty()) {
    if (!read_error_.ok()) {
      *item = SourceItem();
      item->name = name_;
      item->error = read_error_;
      read_error_ = Status();
      return true;
    }
    return false;
  }
  *item = SourceItem();
  ++index_;
  item->name = name_ + ":" + std::to_string(index_);
  {  // the envelope sender: "From addr date..."
    std::string_view f(pending_from_);
    f.remove_prefix(5);
    size_t sp = f.find_first_of(" \t\r\n");
    item->envelope_from = std::string(f.substr(0, sp));
  }
  pending_from_.clear();
  std::string& out = item->bytes;
  bool too_large = false;
  bool last_empty = false;
  size_t last_line_size = 0;
  while (ReadLine(&line)) {
    if (StartsWithFrom(line)) {
      pending_from_ = line;
      break;
    }
    std::string_view l(line);
    // Unquote: mboxrd ^>+From  and mboxo ^>From  lose one '>'.
    if (!l.empty() && l[0] == '>') {
      size_t k = l.find_first_not_of('>');
      bool quoted = k != std::string_view::npos && l.substr(k).starts_with("From ") &&
                    (options_.mbox_format == MboxFormat::kMboxrd || k == 1);
      if (quoted) l.remove_prefix(1);
    }
    last_empty = l == "\n" || l == "\r\n";
    last_line_size = l.size();
    if (!too_large) {
      out.append(l);
      if (out.size() > options_.max_message_bytes) {
        too_large = true;
        out.clear();
        out.shrink_to_fit();
      }
    }
  }
  // The blank line before the next "From " (or the end of the file) belongs to the mbox, not
  // the message: writers end every message with one, the last included.
  if (!too_large && last_empty) out.resize(out.size() - last_line_size);
  if (too_large) {
    item->error = Status::TooLarge("message is over the limit of " +
                                   std::to_string(options_.max_message_bytes) + " bytes");
  } else if (!read_error_.ok()) {
    item->error = Status(read_error_.code(),
                         "not judged, the message is cut short by a read error: " +
                             read_error_.message());
    read_error_ = Status();
    out.clear();
  }
  return true;
}

// ---- the harness ----

// Hands out `data` in chunks of sizes[i % 4] bytes (all of what is asked for when `sizes` is
// null), then fails (when `fail`) or ends. Being called again after it returned 0 is a bug of
// the splitter.
class ChunkReader final : public ByteReader {
 public:
  ChunkReader(std::string_view data, const uint8_t* sizes, bool fail)
      : data_(data), sizes_(sizes), fail_(fail) {}
  size_t Read(char* buf, size_t n, Status* error) override {
    if (ended_) __builtin_trap();
    if (n == 0) __builtin_trap();
    size_t k = data_.size() - pos_;
    if (k == 0) {
      ended_ = true;
      if (fail_) *error = Status::IoError("read failed: injected");
      return 0;
    }
    if (k > n) k = n;
    if (sizes_) k = std::min<size_t>(k, 1 + sizes_[i_++ % 4]);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string_view data_;
  const uint8_t* sizes_;
  bool fail_;
  size_t pos_ = 0;
  size_t i_ = 0;
  bool ended_ = false;
};

constexpr char kName[] = "box";

template <typename Splitter>
std::vector<SourceItem> Drain(Splitter& s) {
  std::vector<SourceItem> items;
  SourceItem item;
  while (s.Next(&item)) {
    items.push_back(item);
    if (items.size() > 100000) __builtin_trap();  // cannot be: every item needs input bytes
  }
  if (s.Next(&item)) __builtin_trap();  // the end stays the end
  return items;
}

std::vector<SourceItem> RunNew(std::string_view data, const uint8_t* sizes, bool fail,
                               const SourceOptions& o) {
  credence::MboxSplitter s(std::make_unique<ChunkReader>(data, sizes, fail), kName, o);
  return Drain(s);
}

std::vector<SourceItem> RunRef(std::string_view data, const uint8_t* sizes, bool fail,
                               const SourceOptions& o) {
  // The old splitter asked for 64 KiB a read (and zero-filled as much each time): any request
  // above the largest chunk (256) gives the same reads, and "one read" needs more than the input.
  size_t chunk = sizes ? 512 : data.size() + 1;
  RefMboxSplitter s(std::make_unique<ChunkReader>(data, sizes, fail), kName, o, chunk);
  return Drain(s);
}

bool Same(const SourceItem& a, const SourceItem& b) {
  return a.name == b.name && a.bytes == b.bytes && a.envelope_from == b.envelope_from &&
         a.error.code() == b.error.code() && a.error.message() == b.error.message() &&
         a.notice == b.notice;
}

bool Same(const std::vector<SourceItem>& a, const std::vector<SourceItem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!Same(a[i], b[i])) return false;
  return true;
}

// The longest line of `data`, its "\n" not counted.
size_t LongestLine(std::string_view data) {
  size_t longest = 0, start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    size_t end = nl == std::string_view::npos ? data.size() : nl;
    longest = std::max(longest, end - start);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return longest;
}

}  // namespace

// AppendWithCrlf's rule, a byte at a time: a bare LF (not right after a CR) becomes CR LF;
// the copy stops before the first byte (with its CR) that would pass `max_out`.
bool CrlfByRule(std::string_view in, size_t max_out, std::string* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const bool bare = in[i] == '\n' && (i == 0 || in[i - 1] != '\r');
    if (out->size() + (bare ? 2 : 1) > max_out) return true;
    if (bare) out->push_back('\r');
    out->push_back(in[i]);
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 9;
  if (size < kHeader) return 0;
  const uint8_t flags = data[0];
  SourceOptions o;
  o.mbox_format = (flags & 1) ? MboxFormat::kMboxo : MboxFormat::kMboxrd;
  if (!(flags & 2)) o.max_message_bytes = 64 + ((size_t{data[1]} << 8) | data[2]) % 4033;
  std::string_view bytes(reinterpret_cast<const char*>(data) + kHeader, size - kHeader);
  const bool fail = flags & 4;
  if (fail) bytes = bytes.substr(0, ((size_t{data[3]} << 8) | data[4]) % (bytes.size() + 1));
  const uint8_t* sizes = data + 5;

  std::vector<SourceItem> got = RunNew(bytes, sizes, fail, o);
  if (!Same(got, RunNew(bytes, nullptr, fail, o))) __builtin_trap();  // chunking changed it
  for (int level = 0; level < static_cast<int>(credence::simd::Best()); ++level) {
    credence::simd::ScopedCap cap(static_cast<credence::simd::Level>(level));
    if (!Same(got, RunNew(bytes, sizes, fail, o))) __builtin_trap();  // the scan level did
  }

  {  // normalise_up_to: the same items, line ends as Message::Parse makes them
    SourceOptions n = o;
    n.normalise_up_to = (flags & 16) ? 1 + data[3] % 64 : o.max_message_bytes;
    std::vector<SourceItem> crlf = RunNew(bytes, sizes, fail, n);
    if (crlf.size() != got.size()) __builtin_trap();
    for (size_t i = 0; i < got.size(); ++i) {
      const SourceItem& raw = got[i];
      const SourceItem& c = crlf[i];
      if (c.name != raw.name || c.envelope_from != raw.envelope_from ||
          c.error.message() != raw.error.message() || c.notice != raw.notice) {
        __builtin_trap();
      }
      std::string want;
      const bool cut = credence::AppendWithCrlf(raw.bytes, n.normalise_up_to, &want);
      // Against the rule itself, at this limit and with none (the block forms).
      std::string rule;
      if (CrlfByRule(raw.bytes, n.normalise_up_to, &rule) != cut || rule != want) {
        __builtin_trap();
      }
      // With no limit (the block forms), at every level this CPU runs.
      rule = "x";
      if (CrlfByRule(raw.bytes, SIZE_MAX, &rule)) __builtin_trap();
      for (int level = 0; level <= static_cast<int>(credence::simd::Best()); ++level) {
        credence::simd::ScopedCap cap(static_cast<credence::simd::Level>(level));
        std::string all = "x";
        if (credence::AppendWithCrlf(raw.bytes, SIZE_MAX, &all) || all != rule) __builtin_trap();
      }
      if (c.crlf) {
        if (cut || c.bytes != want || c.stored_size != raw.bytes.size()) __builtin_trap();
      } else if (c.bytes != raw.bytes || (raw.error.ok() && raw.notice.empty() && !cut)) {
        __builtin_trap();
      }
    }
    std::vector<SourceItem> whole = RunNew(bytes, nullptr, fail, n);
    for (size_t i = 0; i < crlf.size(); ++i) {
      if (!Same(crlf[i], whole[i]) || crlf[i].crlf != whole[i].crlf) __builtin_trap();
    }
  }

  // --mbox-format cl: no reference to compare with; it must not depend on chunking, never
  // give a message larger than the limit or than the input, and never more messages than
  // "From " lines.
  if (flags & 8) {
    o.mbox_format = MboxFormat::kContentLength;
    std::vector<SourceItem> cl = RunNew(bytes, sizes, fail, o);
    if (!Same(cl, RunNew(bytes, nullptr, fail, o))) __builtin_trap();
    size_t from_lines = bytes.substr(0, 5) == "From " ? 1 : 0;
    for (size_t i = bytes.find("\nFrom "); i != std::string_view::npos;
         i = bytes.find("\nFrom ", i + 1)) {
      ++from_lines;
    }
    size_t messages = 0;
    for (const SourceItem& item : cl) {
      if (item.bytes.size() > o.max_message_bytes || item.bytes.size() > bytes.size()) {
        __builtin_trap();
      }
      if (item.notice.empty() && item.error.ok()) ++messages;
    }
    if (messages > from_lines) __builtin_trap();
    return 0;
  }

  // The reference gives no notice items (NoteContentLength's, once per file).
  got.erase(std::remove_if(got.begin(), got.end(),
                           [](const SourceItem& i) { return !i.notice.empty(); }),
            got.end());
  std::vector<SourceItem> want = RunRef(bytes, nullptr, fail, o);
  if (LongestLine(bytes) <= o.max_message_bytes) {
    std::vector<SourceItem> want_chunked = RunRef(bytes, sizes, fail, o);
    if (!Same(want, want_chunked)) __builtin_trap();  // the reference needs no cut here
  }
  for (SourceItem& w : want) {
    if (w.envelope_from.size() > o.max_message_bytes) w.envelope_from.resize(o.max_message_bytes);
  }
  if (!Same(got, want)) __builtin_trap();
  return 0;
}
