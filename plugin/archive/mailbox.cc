#include "mailbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace credence {
namespace {

constexpr size_t kChunk = 64 << 10;

// zlib's gzread reads plain files transparently, so one reader serves both.
class GzReader final : public ByteReader {
 public:
  explicit GzReader(gzFile f) : f_(f) {}
  ~GzReader() override { gzclose(f_); }
  size_t Read(char* buf, size_t n, Status* error) override {
    int got = gzread(f_, buf, static_cast<unsigned>(std::min<size_t>(n, 1u << 30)));
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f_, &errnum);
      *error = Status::IoError(std::string("read failed: ") + (msg ? msg : "unknown"));
      return 0;
    }
    return static_cast<size_t>(got);
  }

 private:
  gzFile f_;
};

bool StartsWithFrom(std::string_view line) { return line.size() >= 5 && line.substr(0, 5) == "From "; }

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
    std::string chunk(kChunk, '\0');
    Status err;
    bool too_large = data.size() > max_;
    for (;;) {
      size_t n = reader_->Read(chunk.data(), chunk.size(), &err);
      if (n == 0) break;
      if (!too_large) data.append(chunk.data(), n);
      if (data.size() > max_) {
        too_large = true;
        data.clear();
        data.shrink_to_fit();
      }
    }
    if (!err.ok()) {
      item->error = err;
    } else if (too_large) {
      item->error = Status::TooLarge("message is over the limit of " + std::to_string(max_) + " bytes");
    } else {
      item->bytes = std::move(data);
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
  explicit MboxSource(std::unique_ptr<MboxSplitter> s) : s_(std::move(s)) {}
  bool Next(SourceItem* item) override { return s_->Next(item); }

 private:
  std::unique_ptr<MboxSplitter> s_;
};

// Maildir: regular files of cur/ then new/, sorted by name within each.
class MaildirSource final : public MessageSource {
 public:
  MaildirSource(std::vector<std::string> files, const SourceOptions& options)
      : files_(std::move(files)), options_(options) {}
  bool Next(SourceItem* item) override {
    if (i_ >= files_.size()) return false;
    const std::string& path = files_[i_++];
    Result<std::unique_ptr<ByteReader>> r = OpenByteReader(path);
    if (!r.ok()) {
      *item = SourceItem();
      item->name = path;
      item->error = r.status();
      return true;
    }
    SingleSource one(std::move(r).value(), "", path, options_.max_message_bytes);
    return one.Next(item);
  }

 private:
  std::vector<std::string> files_;
  SourceOptions options_;
  size_t i_ = 0;
};

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;  // maildir: dot files are not messages
    std::string p = dir + "/" + e->d_name;
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(p);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<std::unique_ptr<ByteReader>> OpenByteReader(const std::string& path) {
  int fd = path == "-" ? dup(0) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": " + std::strerror(e));
  }
  if (path == "-") fcntl(fd, F_SETFD, FD_CLOEXEC);
  gzFile f = gzdopen(fd, "rb");
  if (!f) {
    close(fd);
    return Status::IoError(path + ": cannot open for reading");
  }
  gzbuffer(f, kChunk);
  return std::unique_ptr<ByteReader>(new GzReader(f));
}

MboxSplitter::MboxSplitter(std::unique_ptr<ByteReader> reader, std::string name,
                           const SourceOptions& options)
    : reader_(std::move(reader)), name_(std::move(name)), options_(options) {}

bool MboxSplitter::ReadLine(std::string* line) {
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

bool MboxSplitter::Next(SourceItem* item) {
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
    item->error = read_error_;
    read_error_ = Status();
    out.clear();
  }
  return true;
}

Result<std::unique_ptr<MessageSource>> OpenMessageSource(const std::string& path,
                                                         const SourceOptions& options) {
  if (path != "-" && IsDir(path)) {
    bool cur = IsDir(path + "/cur"), neu = IsDir(path + "/new");
    if (!cur && !neu) {
      return Status::Invalid(path + ": a directory but not a maildir (no cur/ or new/)");
    }
    std::vector<std::string> files = ListFiles(path + "/cur");
    std::vector<std::string> more = ListFiles(path + "/new");
    files.insert(files.end(), more.begin(), more.end());
    return std::unique_ptr<MessageSource>(new MaildirSource(std::move(files), options));
  }
  Result<std::unique_ptr<ByteReader>> r = OpenByteReader(path);
  if (!r.ok()) return r.status();
  std::unique_ptr<ByteReader> reader = std::move(r).value();
  // Peek at the (decompressed) start to tell an mbox from a message.
  std::string head(5, '\0');
  size_t got = 0;
  Status err;
  while (got < head.size()) {
    size_t n = reader->Read(head.data() + got, head.size() - got, &err);
    if (n == 0) break;
    got += n;
  }
  head.resize(got);
  if (!err.ok()) return Status::IoError(path + ": " + err.message());
  if (head == "From ") {
    // Give the peeked bytes back through a small prefix reader.
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
    };
    auto pr = std::make_unique<PrefixReader>();
    pr->prefix = head;
    pr->inner = std::move(reader);
    return std::unique_ptr<MessageSource>(
        new MboxSource(std::make_unique<MboxSplitter>(std::move(pr), path, options)));
  }
  return std::unique_ptr<MessageSource>(
      new SingleSource(std::move(reader), head, path, options.max_message_bytes));
}

}  // namespace credence
