#include "mailbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "credence/message.h"
#include "credence/simd.h"

namespace credence {
namespace {

// MboxSplitter asks for this much at a time: at least a ByteReader's own buffer, so that a
// plain file is read straight into the splitter's buffer instead of through the reader's.
// No more: the buffer (twice this) is written over in turn, and a smaller one stays in the
// cache and in fewer pages (256 KiB: peak RSS 0.3-0.5 MB higher on 20,000 messages).
constexpr size_t kMboxRead = kByteReaderChunk;
constexpr size_t kMboxBuffer = 2 * kMboxRead;  // its buffer, but while a larger message is read

Status OtherCompression(std::string_view head, const std::string& path);

// A source of one message: the whole stream (bounded).
class SingleSource final : public MessageSource {
 public:
  SingleSource(std::unique_ptr<ByteReader> r, std::string prefix, std::string name, size_t max)
      : reader_(std::move(r)), prefix_(std::move(prefix)), name_(std::move(name)), max_(max) {}
  bool Next(SourceItem* item) override {
    if (done_) return false;
    done_ = true;
    *item = SourceItem();
    item->name = name_;
    std::string data = std::move(prefix_);
    std::string chunk(kByteReaderChunk, '\0');
    Status err;
    size_t total = data.size();
    if (data.size() > max_) data.resize(max_);
    for (;;) {
      size_t n = reader_->Read(chunk.data(), chunk.size(), &err);
      if (n == 0) break;
      total += n;
      // Past the limit the rest is read and dropped: the message is judged on what was kept.
      if (data.size() < max_) data.append(chunk.data(), std::min(n, max_ - data.size()));
    }
    if (!err.ok()) {
      item->error = err;
    } else if (total == 0) {
      return false;  // an empty file holds no message (issue 17: an emptied mailbox is normal)
    } else {
      item->bytes = std::move(data);
      if (total > item->bytes.size()) item->original_size = total;
    }
    return true;
  }

 private:
  std::unique_ptr<ByteReader> reader_;
  std::string prefix_;
  std::string name_;
  size_t max_;
  bool done_ = false;
};

class MboxSource final : public MessageSource {
 public:
  // `notice`, when not empty, is handed out first (about the file, `name`).
  explicit MboxSource(std::unique_ptr<MboxSplitter> s, std::string name = "",
                      std::string notice = "")
      : s_(std::move(s)), name_(std::move(name)), notice_(std::move(notice)) {}
  // An entry that is only a "From " line (and blank lines) holds no message: skipped, though
  // it keeps its number (path:N counts entries, as Python's mailbox does).
  bool Next(SourceItem* item) override {
    if (!notice_.empty()) {
      *item = SourceItem();
      item->name = std::move(name_);
      item->notice = std::move(notice_);
      notice_.clear();
      return true;
    }
    while (s_->Next(item)) {
      if (!item->error.ok() || !item->bytes.empty() || !item->notice.empty()) return true;
    }
    return false;
  }

 private:
  std::unique_ptr<MboxSplitter> s_;
  std::string name_, notice_;
};

// One entry of a maildir read: a message file, or what is said instead of one (a folder that
// cannot be listed, a name that cannot be opened, a Maildir++ subfolder left unread).
struct MaildirEntry {
  std::string path;
  Status error;        // not OK: an error item, nothing read
  std::string notice;  // not empty: a notice item, nothing read
};

// Maildir: notices first (subfolders not read), then the entries of cur/ then new/, sorted by
// name within each (and so on for each subfolder read). Every entry gives an item: a file
// that holds nothing or cannot be opened is named, never taken for the end of the maildir.
class MaildirSource final : public MessageSource {
 public:
  MaildirSource(std::vector<MaildirEntry> entries, const SourceOptions& options)
      : entries_(std::move(entries)), options_(options) {}
  bool Next(SourceItem* item) override {
    if (i_ >= entries_.size()) return false;
    const MaildirEntry& e = entries_[i_++];
    *item = SourceItem();
    item->name = e.path;
    if (!e.error.ok() || !e.notice.empty()) {
      item->error = e.error;
      item->notice = e.notice;
      return true;
    }
    Result<std::unique_ptr<ByteReader>> r = OpenByteReader(e.path);
    if (!r.ok()) {
      item->error = r.status();
      return true;
    }
    SingleSource one(std::move(r).value(), "", e.path, options_.max_message_bytes);
    if (one.Next(item)) {
      // Dovecot's zlib plugin keeps each file compressed (gzip is read through zlib).
      if (Status other = OtherCompression(item->bytes, e.path); !other.ok()) {
        *item = SourceItem();
        item->name = e.path;
        item->error = Status(other.code(), other.message().substr(e.path.size() + 2));
      }
      return true;
    }
    // A maildir file is one message, moved into new/ only once whole (the delivery agent
    // writes it in tmp/ first): a 0-byte one is a message lost (a delivery cut short, a
    // quota or a full disk that truncated it), not an emptied mailbox. Named, and the files
    // after it read: SingleSource's "no message" is not the end of the maildir.
    *item = SourceItem();
    item->name = e.path;
    item->error = Status::Invalid(
        "an empty file (0 bytes): a maildir file holds one message, and this one holds none");
    return true;
  }

 private:
  std::vector<MaildirEntry> entries_;
  SourceOptions options_;
  size_t i_ = 0;
};

#if defined(CREDENCE_AVX512_FORMS)
// FindLineMark 64 bytes a step; the last step's loads are masked to the bytes before n.
CREDENCE_AVX512_TARGET size_t FindLineMark64(const char* b, size_t i, size_t n) {
  const __m512i nl = _mm512_set1_epi8('\n');
  const __m512i f = _mm512_set1_epi8('F');
  const __m512i gt = _mm512_set1_epi8('>');
  while (i + 1 < n) {
    const size_t left = n - i;
    __m512i here, next;
    if (left >= 65) {
      here = _mm512_loadu_si512(b + i);
      next = _mm512_loadu_si512(b + i + 1);
    } else {  // only the first left - 1 bytes can start a pair
      const uint64_t pairs = _bzhi_u64(~0ull, static_cast<unsigned>(left - 1));
      here = _mm512_maskz_loadu_epi8(pairs, b + i);
      next = _mm512_maskz_loadu_epi8(pairs, b + i + 1);
    }
    const uint64_t hit = _mm512_cmpeq_epi8_mask(here, nl) &
                         (_mm512_cmpeq_epi8_mask(next, f) | _mm512_cmpeq_epi8_mask(next, gt));
    if (hit != 0) return i + static_cast<size_t>(__builtin_ctzll(hit));
    i += 64;
  }
  return std::string::npos;
}
#endif

// The first j >= i with b[j] == '\n' and b[j + 1] 'F' or '>' (j + 1 < n), or npos: where a
// line that may be a "From " line or a quoted one starts. Most lines hold neither, and a
// memchr per line costs more than the line: 64 or 16 bytes a step (credence/simd.h), else a
// memchr per line.
size_t FindLineMark(const char* b, size_t i, size_t n) {
  switch (simd::Active()) {
    case simd::Level::kAvx512:
#if defined(CREDENCE_AVX512_FORMS)
      return FindLineMark64(b, i, n);
#endif
    case simd::Level::kSse2: {
#if defined(__SSE2__)
      const __m128i nl = _mm_set1_epi8('\n');
      const __m128i f = _mm_set1_epi8('F');
      const __m128i gt = _mm_set1_epi8('>');
      for (; i + 17 <= n; i += 16) {
        const __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
        const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 1));
        const __m128i hit =
            _mm_and_si128(_mm_cmpeq_epi8(here, nl),
                          _mm_or_si128(_mm_cmpeq_epi8(next, f), _mm_cmpeq_epi8(next, gt)));
        if (int mask = _mm_movemask_epi8(hit)) {
          return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        }
      }
#endif
      break;
    }
    case simd::Level::kScalar: break;
  }
  while (i + 1 < n) {
    const void* p = std::memchr(b + i, '\n', n - 1 - i);
    if (!p) break;
    const size_t j = static_cast<const char*>(p) - b;
    if (b[j + 1] == 'F' || b[j + 1] == '>') return j;
    i = j + 1;
  }
  return std::string::npos;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// 0 when `path` is a directory, else the errno that says why not (ENOTDIR for another kind
// of file; ENOENT also for a symbolic link that leads nowhere).
int DirErrno(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

bool IsMaildir(const std::string& path) { return IsDir(path + "/cur") || IsDir(path + "/new"); }

// Why `path` is a directory whose insides cannot be looked at (no permission to search it),
// or "" when they can: then a missing cur/ and new/ means it is not a maildir.
std::string UnsearchableWhy(const std::string& path) {
  for (const char* part : {"/cur", "/new"}) {
    const int e = DirErrno(path + part);
    if (e != 0 && e != ENOENT && e != ENOTDIR) return std::strerror(e);
  }
  return "";
}

// The Maildir++ subfolders of `dir` (".NAME" directories that are maildirs; "." and ".." are
// not), sorted by name, each with an error when it cannot be looked into (a ".NAME"
// directory whose cur/ and new/ cannot be searched may be one: named, not passed over).
// `dir` that cannot be listed is an error entry of its own.
std::vector<MaildirEntry> Subfolders(const std::string& dir) {
  std::vector<MaildirEntry> out;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    out.push_back({dir, Status::IoError(std::string("the maildir cannot be listed (") +
                                        std::strerror(errno) + "): its subfolders not read"),
                   ""});
    return out;
  }
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 2 || name[0] != '.' || name == "..") continue;
    const std::string p = dir + "/" + name;
    if (!IsDir(p)) continue;
    if (IsMaildir(p)) {
      out.push_back({p, Status(), ""});
    } else if (std::string why = UnsearchableWhy(p); !why.empty()) {
      out.push_back({p, Status::IoError("a folder that cannot be looked into (" + why +
                                        "): perhaps a Maildir++ subfolder, not read"),
                     ""});
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const MaildirEntry& a, const MaildirEntry& b) { return a.path < b.path; });
  return out;
}

// "Maildir/cur" or "Maildir/new" (a trailing '/' allowed): a maildir's own folder given alone.
bool IsMaildirPart(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return (base == "cur" || base == "new") && IsMaildir(parent);
}

// The entries of a maildir's cur/ or new/ `dir`, sorted by name, appended to *out: its
// regular files (dot files are not messages), and an error for each name that cannot be
// looked at (a symbolic link that leads nowhere, a loop) and for `dir` itself when it is
// there but cannot be listed (no permission, a symbolic link loop). A `dir` that does not
// exist at all adds nothing: a maildir may lack cur/ or new/. Directories and other kinds of
// file inside are passed over, as every maildir reader does.
void ListFiles(const std::string& dir, std::vector<MaildirEntry>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) {
    const int e = errno;
    struct stat st;
    if (e == ENOENT && lstat(dir.c_str(), &st) != 0) return;  // no such folder
    out->push_back({dir,
                    Status::IoError(std::string("the folder cannot be listed (") +
                                    std::strerror(e) + "): its messages are not read"),
                    ""});
    return;
  }
  const size_t first = out->size();
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;  // maildir: dot files are not messages
    std::string p = dir + "/" + e->d_name;
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      out->push_back({std::move(p),
                      Status::IoError(std::string("cannot be opened (") + std::strerror(errno) +
                                      (errno == ENOENT ? ": a symbolic link that leads nowhere)"
                                                       : ")")),
                      ""});
    } else if (S_ISREG(st.st_mode)) {
      out->push_back({std::move(p), Status(), ""});
    }
  }
  closedir(d);
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
            [](const MaildirEntry& a, const MaildirEntry& b) { return a.path < b.path; });
}

// An mbox starts with a "From " line. "From :" (white space before the colon, RFC 5322 §4.5
// obs-fields) is a message's own From field, not a separator: read as one it would hide that
// field and leave the next From to be judged.
bool StartsMbox(std::string_view head) {
  if (head.substr(0, 5) != "From ") return false;
  size_t i = 5;
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t')) ++i;
  return i == head.size() || head[i] != ':';
}

// What may come before an mbox's first "From " line and is no message: a UTF-8 byte order
// mark (an editor's or a Windows tool's save) and empty lines, LF or CRLF (a copy pasted
// together, an export that starts with a line end). Read as a message, such a file would be
// judged as one message holding them all.
struct Junk {
  size_t size = 0;   // bytes
  bool bom = false;  // EF BB BF first
  size_t lines = 0;  // empty lines
};
constexpr size_t kMaxLeadingJunk = 64 << 10;  // more is not looked past: read as a message
Junk LeadingJunk(std::string_view head) {
  Junk j;
  if (head.substr(0, 3) == "\xEF\xBB\xBF") {
    j.bom = true;
    j.size = 3;
  }
  for (;;) {
    if (head.substr(j.size, 1) == "\n") {
      j.size += 1;
    } else if (head.substr(j.size, 2) == "\r\n") {
      j.size += 2;
    } else {
      return j;
    }
    ++j.lines;
  }
}

// Not OK when `head`, the first bytes of `path`, start with the magic bytes of a compression
// other than gzip (xz, bzip2, zstd: what logrotate, an archiving script or Dovecot's zlib
// plugin may write). Read as it is, such a file would be judged as one message of garbage.
Status OtherCompression(std::string_view head, const std::string& path) {
  struct Format {
    std::string_view magic, name, tool;
  };
  // xz: the stream header magic (xz file format 1.1.0 §2.1.1.1); zstd: the frame magic
  // (RFC 8878 §3.1.1); bzip2: "BZh", the block size '1'..'9', then the magic of a block
  // (the digits of pi) or of the end of an empty stream (those of sqrt(pi)).
  static constexpr Format kFormats[] = {
      {std::string_view("\xFD" "7zXZ\0", 6), "xz", "xz -dc"},
      {"\x28\xB5\x2F\xFD", "zstd", "zstd -dc"},
  };
  std::string_view name, tool;
  for (const Format& f : kFormats) {
    if (head.substr(0, f.magic.size()) == f.magic) {
      name = f.name;
      tool = f.tool;
    }
  }
  if (head.size() >= 10 && head.substr(0, 3) == "BZh" && head[3] >= '1' && head[3] <= '9' &&
      (head.substr(4, 6) == "\x31\x41\x59\x26\x53\x59" ||
       head.substr(4, 6) == "\x17\x72\x45\x38\x50\x90")) {
    name = "bzip2";
    tool = "bzip2 -dc";
  }
  if (name.empty()) return Status();
  return Status::Unsupported(path + ": " + std::string(name) +
                             "-compressed (credence decompresses gzip only): decompress it "
                             "first, e.g. `" + std::string(tool) + " " + path +
                             " | credence verify -`");
}

// `reader` with `prefix` (bytes already read from it) given back first.
std::unique_ptr<ByteReader> PrefixedReader(std::string prefix, std::unique_ptr<ByteReader> reader) {
  struct PrefixReader final : ByteReader {
    std::string prefix;
    size_t off = 0;
    std::unique_ptr<ByteReader> inner;
    size_t Read(char* buf, size_t n, Status* e) override {
      if (off < prefix.size()) {
        size_t k = std::min(n, prefix.size() - off);
        std::memcpy(buf, prefix.data() + off, k);
        off += k;
        return k;
      }
      return inner->Read(buf, n, e);
    }
    bool BytesWhole() const override { return inner->BytesWhole(); }
  };
  auto pr = std::make_unique<PrefixReader>();
  pr->prefix = std::move(prefix);
  pr->inner = std::move(reader);
  return pr;
}

}  // namespace

MboxSplitter::MboxSplitter(std::unique_ptr<ByteReader> reader, std::string name,
                           const SourceOptions& options)
    : reader_(std::move(reader)), name_(std::move(name)), options_(options) {}

// Reads up to kMboxRead more bytes after end_. When there is less room than that, first moves
// the unconsumed [pos_, end_) to the front of a buffer with room for twice as much plus a read:
// the same one, or a new one when it is too small (a message larger than usual) or far too
// large (after one). So a move of k bytes comes after at least k bytes read, and the buffer
// stays under twice the largest message kept plus a read. False at the end of the stream (or
// on a read error, kept in read_error_); never reads again after that.
bool MboxSplitter::Fill() {
  if (eof_) return false;
  if (cap_ - end_ < kMboxRead) {
    const size_t keep = end_ - pos_;
    const size_t want = std::max(kMboxBuffer, 2 * keep + kMboxRead);
    if (cap_ >= want && cap_ <= 4 * want) {
      std::memmove(buf_.get(), buf_.get() + pos_, keep);
    } else {
      std::unique_ptr<char[]> b(new char[want]);
      if (keep) std::memcpy(b.get(), buf_.get() + pos_, keep);
      buf_ = std::move(b);
      cap_ = want;
    }
    pos_ = 0;
    end_ = keep;
  }
  size_t n = reader_->Read(buf_.get() + end_, kMboxRead, &read_error_);
  if (n == 0) {
    eof_ = true;
    read_whole_ = !read_error_.ok() && reader_->BytesWhole();
    return false;
  }
  end_ += std::min(n, kMboxRead);
  return true;
}

// Finds where the lines from pos_ (a line start) end: at the next line that starts with
// "From " (returns true; that line is at pos_ + *span) or at the end of the stream (false;
// *span is the rest). The lines that start with '>' are noted in gt_lines_ for FindQuoted.
// Unless *discard, the lines stay whole in the buffer while their size is not yet known to be
// over the limit; once it is, *discard is set and they are dropped as the scan goes on (pos_
// moves; *span counts from there).
bool MboxSplitter::Scan(bool* discard, size_t* span) {
  while (end_ - pos_ < 5 && Fill()) {
  }
  if (end_ - pos_ >= 5 && std::memcmp(buf_.get() + pos_, "From ", 5) == 0) {
    *span = 0;
    return true;
  }
  if (!*discard && end_ > pos_ && buf_[pos_] == '>') gt_lines_.push_back(0);
  const size_t max = options_.max_message_bytes;
  size_t i = 0;  // where the next '\n' is looked for (offset from pos_)
  for (;;) {
    const char* b = buf_.get() + pos_;
    const size_t avail = end_ - pos_;
    for (;;) {
      const size_t j = FindLineMark(b, i, avail);
      if (j == std::string::npos) {
        // A '\n' at the very end starts a line not read yet: look at it again after a read.
        i = avail > i && b[avail - 1] == '\n' && !eof_ ? avail - 1 : avail;
        break;
      }
      const size_t line = j + 1;
      if (b[line] == 'F') {
        if (avail - line < 5 && !eof_) {
          i = j;  // "Fro" and the end of the bytes: look again after a read
          break;
        }
        if (avail - line >= 5 && std::memcmp(b + line + 1, "rom ", 4) == 0) {
          *span = line;
          return true;
        }
      } else if (!*discard) {
        gt_lines_.push_back(line);
      }
      i = line;
    }
    if (eof_) {
      *span = avail;
      return false;
    }
    if (!*discard) {
      // The first `sure` bytes belong to these lines whatever comes next, and each quoted
      // line among them loses a '>'. So does the last one perhaps, not judged yet, but then at
      // least one more byte is to come ("From " is not complete): this size is a lower bound.
      const size_t sure = i == avail ? avail : i + 1;
      if (sure > max) {
        FindQuoted(sure, avail, false);
        if (sure - quoted_.size() > max) {
          *discard = true;
          gt_lines_.clear();
          quoted_.clear();
        }
      }
    }
    if (*discard) {
      pos_ += i;
      i = 0;
    }
    Fill();
  }
}

// Moves to quoted_ the lines of gt_lines_ (from quote_next_ on) that start before `limit`
// (offsets from pos_) and lose one '>' (mboxrd ^>+From , mboxo ^>From ), judging them on the
// bytes up to `end`. Unless `final`, stops at a line that those bytes cannot judge yet.
void MboxSplitter::FindQuoted(size_t limit, size_t end, bool final) {
  if (options_.mbox_format == MboxFormat::kContentLength) return;  // mboxcl2: no quoting
  const char* b = buf_.get() + pos_;
  const bool rd = options_.mbox_format == MboxFormat::kMboxrd;
  for (; quote_next_ < gt_lines_.size(); ++quote_next_) {
    const size_t line = gt_lines_[quote_next_];
    if (line >= limit) break;
    size_t k = line;
    while (k < end && b[k] == '>') ++k;
    if (!rd && k - line > 1) continue;
    if (k + 5 <= end) {
      if (std::memcmp(b + k, "From ", 5) == 0) quoted_.push_back(line);
    } else if (!final && std::memcmp(b + k, "From ", end - k) == 0) {
      break;  // ">>Fr" and the end of the bytes: judged after the next read
    }
  }
}

// Reads the "From " line at pos_ (its 5 first bytes are in the buffer): the envelope sender
// (up to the first space, tab, CR or LF; kept up to max_message_bytes long) into envelope_,
// the rest dropped. pos_ ends on the next line.
void MboxSplitter::ReadFromLine() {
  pos_ += 5;
  envelope_.clear();
  const size_t max = options_.max_message_bytes;
  for (;;) {
    const char* b = buf_.get() + pos_;
    const size_t n = end_ - pos_;
    size_t k = 0;
    while (k < n && b[k] != ' ' && b[k] != '\t' && b[k] != '\r' && b[k] != '\n') ++k;
    if (envelope_.size() < max) envelope_.append(b, std::min(k, max - envelope_.size()));
    pos_ += k;
    if (k < n || !Fill()) break;
  }
  for (;;) {
    const char* b = buf_.get() + pos_;
    if (const void* nl = std::memchr(b, '\n', end_ - pos_)) {
      pos_ += static_cast<const char*>(nl) - b + 1;
      return;
    }
    pos_ = end_;
    if (!Fill()) return;
  }
}

// Skips anything before the first "From " line (normally nothing), the first time.
void MboxSplitter::StartOnce() {
  if (started_) return;
  started_ = true;
  bool discard = true;
  size_t span;
  if (Scan(&discard, &span)) {
    pos_ += span;
    ReadFromLine();
    pending_ = true;
  }
}

// `item` is emptied but its strings keep their capacity: the runner hands spent items back
// to be filled again, so a message usually needs no allocation at all.
void MboxSplitter::ClearItem(SourceItem* item) {
  item->name.clear();
  item->bytes.clear();
  item->error = Status();
  item->original_size = 0;
  item->crlf = false;
  item->stored_size = 0;
  item->envelope_from.clear();
  item->notice.clear();
}

// The message's `span` bytes at pos_ into item->bytes, each quoted line (quoted_) losing one
// '>'. The blank line before the next "From " (or the end of the file) belongs to the mbox,
// not the message: writers end every message with one, the last included. With
// normalise_up_to, bare LFs become CRLF in the same copy (item->crlf) unless that makes the
// text longer than the limit: then the bytes are copied as stored, for Message::Parse to cut.
void MboxSplitter::CopyUnquoted(size_t span, SourceItem* item) {
  const char* b = buf_.get() + pos_;
  size_t blank = 0;
  if (span >= 1 && b[span - 1] == '\n') {
    if (span == 1 || b[span - 2] == '\n') {
      blank = 1;
    } else if (b[span - 2] == '\r' && (span == 2 || b[span - 3] == '\n')) {
      blank = 2;
    }
  }
  const size_t stored = span - quoted_.size() - blank;
  std::string* out = &item->bytes;
  if (const size_t limit = options_.normalise_up_to; limit > 0) {
    // Each piece between quoted lines starts a line and ends one: no CR LF pair is split.
    out->reserve(std::min(limit, stored + stored / 32 + 2));
    bool cut = false;
    size_t from = 0;
    for (size_t q : quoted_) {
      if ((cut = AppendWithCrlf(std::string_view(b + from, q - from), limit, out))) break;
      from = q + 1;
    }
    if (!cut) cut = AppendWithCrlf(std::string_view(b + from, span - blank - from), limit, out);
    if (!cut) {
      item->crlf = true;
      item->stored_size = stored;
      return;
    }
    out->clear();
  }
  out->reserve(stored);  // one allocation at most, none when the kept one is enough
  size_t from = 0;
  for (size_t q : quoted_) {
    out->append(b + from, q - from);
    from = q + 1;
  }
  out->append(b + from, span - blank - from);
}

bool MboxSplitter::Next(SourceItem* item) {
  StartOnce();
  ClearItem(item);
  if (!notice_.empty()) {
    item->name.swap(notice_name_);
    item->notice.swap(notice_);
    notice_.clear();
    return true;
  }
  if (!pending_) {
    if (!read_error_.ok()) {
      item->name = name_;
      item->error = read_error_;
      read_error_ = Status();
      return true;
    }
    return false;
  }
  pending_ = false;
  ++index_;
  item->name.append(name_).append(":").append(std::to_string(index_));
  item->envelope_from.swap(envelope_);
  gt_lines_.clear();
  quoted_.clear();
  quote_next_ = 0;
  if (options_.mbox_format == MboxFormat::kContentLength && ByLength(item)) return true;
  bool too_large = false;
  size_t span;
  const bool more = Scan(&too_large, &span);
  if (!too_large) {
    FindQuoted(span, span, true);
    too_large = span - quoted_.size() > options_.max_message_bytes;  // unquoted size
    if (!too_large) CopyUnquoted(span, item);
  }
  if (!too_large && more && !cl_noted_ && options_.mbox_format != MboxFormat::kContentLength) {
    NoteContentLength(span);
  }
  pos_ += span;
  if (more) {
    ReadFromLine();
    pending_ = true;
  }
  if (too_large) {
    item->error = Status::TooLarge("message is over the limit of " +
                                   std::to_string(options_.max_message_bytes) + " bytes");
  } else if (!read_error_.ok() && !read_whole_) {
    item->error = Status(read_error_.code(),
                         "not judged, the message is cut short by a read error: " +
                             read_error_.message());
    read_error_ = Status();
    item->bytes.clear();
    item->crlf = false;
    item->stored_size = 0;
  }
  return true;
}

bool SplitMessageAddress(const std::string& arg, std::string* path, uint64_t* index) {
  struct stat st;
  if (arg == "-" || stat(arg.c_str(), &st) == 0) return false;
  const size_t colon = arg.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == arg.size() ||
      arg.size() - colon - 1 > 18) {
    return false;
  }
  uint64_t n = 0;
  for (size_t i = colon + 1; i < arg.size(); ++i) {
    if (arg[i] < '0' || arg[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(arg[i] - '0');
  }
  const std::string file = arg.substr(0, colon);
  if (n == 0 || stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *path = file;
  *index = n;
  return true;
}

Result<std::unique_ptr<MessageSource>> OpenMessageSource(const std::string& path,
                                                         const SourceOptions& options) {
  if (path != "-" && IsDir(path)) {
    if (!IsMaildir(path)) {
      if (IsMaildirPart(path)) {
        std::vector<MaildirEntry> entries;
        ListFiles(path, &entries);
        return std::unique_ptr<MessageSource>(new MaildirSource(std::move(entries), options));
      }
      if (std::string why = UnsearchableWhy(path); !why.empty()) {
        return Status::IoError(path + ": a directory that cannot be looked into (" + why + ")");
      }
      return Status::Invalid(path + ": a directory but not a maildir (no cur/ or new/)");
    }
    // Notices first (and subfolders that cannot be looked into, when not read), then the
    // folders' files. A subfolder that cannot be looked into is an error either way: its
    // messages, if it holds any, are not judged.
    std::vector<MaildirEntry> entries;
    std::vector<MaildirEntry> folders = {{path, Status(), ""}};
    for (MaildirEntry& sub : Subfolders(path)) {
      if (options.maildir_subfolders) {
        folders.push_back(std::move(sub));
      } else if (!sub.error.ok()) {
        if (sub.path != path) entries.push_back(std::move(sub));  // not the maildir's own
      } else {
        sub.notice = "a Maildir++ subfolder, not read (--maildir-subfolders reads it)";
        entries.push_back(std::move(sub));
      }
    }
    for (MaildirEntry& folder : folders) {
      if (!folder.error.ok()) {
        entries.push_back(std::move(folder));
        continue;
      }
      for (const char* part : {"/cur", "/new"}) ListFiles(folder.path + part, &entries);
    }
    return std::unique_ptr<MessageSource>(new MaildirSource(std::move(entries), options));
  }
  Result<std::unique_ptr<ByteReader>> r = OpenByteReader(path);
  if (!r.ok()) return r.status();
  std::unique_ptr<ByteReader> reader = std::move(r).value();
  // Peek at the (decompressed) start to tell an mbox from a message: 64 bytes past what
  // LeadingJunk skips (up to kMaxLeadingJunk of it).
  std::string head;
  Status err;
  for (;;) {
    const size_t want = std::min(LeadingJunk(head).size, kMaxLeadingJunk) + 64;
    if (head.size() >= want) break;
    const size_t got = head.size();
    head.resize(want);
    const size_t n = reader->Read(head.data() + got, want - got, &err);
    head.resize(got + n);
    if (n == 0) break;
  }
  if (!err.ok()) return err;  // the reader names the file
  if (Status other = OtherCompression(head, path); !other.ok()) return other;
  const Junk junk = LeadingJunk(head);
  if (junk.size > 0 && StartsMbox(std::string_view(head).substr(junk.size))) {
    head.erase(0, junk.size);
    std::string what;
    if (junk.bom) what = "a UTF-8 byte order mark";
    if (junk.lines > 0) {
      what += (what.empty() ? "" : " and ") + std::to_string(junk.lines) +
              (junk.lines == 1 ? " empty line" : " empty lines");
    }
    return std::unique_ptr<MessageSource>(new MboxSource(
        std::make_unique<MboxSplitter>(PrefixedReader(std::move(head), std::move(reader)), path,
                                       options),
        path, what + " before the first 'From ' line: skipped, the mbox read from there"));
  }
  if (StartsMbox(head)) {
    return std::unique_ptr<MessageSource>(new MboxSource(std::make_unique<MboxSplitter>(
        PrefixedReader(std::move(head), std::move(reader)), path, options)));
  }
  return std::unique_ptr<MessageSource>(
      new SingleSource(std::move(reader), head, path, options.max_message_bytes));
}

}  // namespace credence
