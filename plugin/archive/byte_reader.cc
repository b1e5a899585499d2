// The ByteReaders of mailbox.h: a file or standard input, or bytes in memory, read as they
// are or through zlib's inflate when they start with the gzip magic.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mailbox.h"

namespace credence {
namespace {

constexpr size_t kChunk = kByteReaderChunk;  // zlib's input buffer, and a file's reads

// Reads a file through zlib's inflate when it starts with the gzip magic (RFC 1952 §2.3.1:
// 0x1f 0x8b), as it is otherwise. zlib's gzread is not used: it drops the bytes it inflated in
// the call that meets a damaged trailer, and takes a stream cut short for a whole one (it
// returns what there was and then 0, "unexpected end of file" only in gzerror). Here every
// byte that inflated is handed out before the error that follows it, and a stream that ends
// inside a member is an error.
class FileReader final : public ByteReader {
 public:
  // `size`: a regular file's size when it was opened (0: not known, not checked).
  FileReader(int fd, std::string name, uint64_t size = 0)
      : fd_(fd), name_(std::move(name)), in_(new char[kChunk]), opened_size_(size) {}
  // Over bytes in memory instead of a file (fd_ -1).
  FileReader(std::string memory, std::string name)
      : fd_(-1), name_(std::move(name)), in_(new char[kChunk]), memory_(std::move(memory)) {}
  ~FileReader() override {
    if (gzip_) inflateEnd(&zs_);
    if (fd_ >= 0) ::close(fd_);
  }

  size_t Read(char* buf, size_t n, Status* error) override {
    if (!started_ && !Start()) {
      *error = pending_;
      return 0;
    }
    if (!pending_.ok()) {
      *error = pending_;
      return 0;
    }
    if (done_ || n == 0) return 0;
    n = std::min<size_t>(n, 1u << 30);
    const size_t got = gzip_ ? Inflate(buf, n) : Plain(buf, n);
    if (got == 0 && !pending_.ok()) *error = pending_;  // else it comes with the next call
    return got;
  }

  bool BytesWhole() const override { return whole_; }

 private:
  // Reads more input into in_ when all of it was used; false at the end of the file (or on
  // an error, then in pending_).
  bool Refill() {
    if (zs_.avail_in > 0) return true;
    for (;;) {
      ssize_t got = RawRead(in_.get(), kChunk);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        pending_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
        return false;
      }
      zs_.next_in = reinterpret_cast<Bytef*>(in_.get());
      zs_.avail_in = static_cast<uInt>(got);
      consumed_ += static_cast<uint64_t>(got);
      if (got == 0) CheckShrank();
      return got > 0;
    }
  }

  bool Start() {
    started_ = true;
    // Two bytes decide; a one-byte file is plain.
    while (zs_.avail_in < 2) {
      ssize_t got = RawRead(in_.get() + zs_.avail_in, kChunk - zs_.avail_in);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        pending_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
        return false;
      }
      if (got == 0) break;
      zs_.avail_in += static_cast<uInt>(got);
      consumed_ += static_cast<uint64_t>(got);
    }
    zs_.next_in = reinterpret_cast<Bytef*>(in_.get());
    gzip_ = IsGzipStart();
    if (!gzip_) return true;
    // 16 + MAX_WBITS: a gzip wrapper (RFC 1952), not zlib's.
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      gzip_ = false;
      pending_ = Status::Internal(name_ + ": cannot start zlib");
      return false;
    }
    member_open_ = true;
    return true;
  }

  bool IsGzipStart() const {
    return zs_.avail_in >= 2 && static_cast<unsigned char>(zs_.next_in[0]) == 0x1f &&
           static_cast<unsigned char>(zs_.next_in[1]) == 0x8b;
  }

  size_t Plain(char* buf, size_t n) {
    if (zs_.avail_in == 0 && n >= kChunk) {
      // Nothing buffered and room for a whole read: read(2) straight into the caller's
      // buffer (the mbox splitter's), not through in_ and a copy. kChunk at a time, as
      // through in_: a larger read would touch more of the splitter's buffer (peak RSS).
      for (;;) {
        ssize_t got = RawRead(buf, kChunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
          pending_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
          return 0;
        }
        consumed_ += static_cast<uint64_t>(got);
        if (got == 0) {
          done_ = true;
          CheckShrank();
        }
        return static_cast<size_t>(got);
      }
    }
    if (zs_.avail_in == 0 && !Refill()) {
      done_ = true;
      return 0;
    }
    size_t k = std::min<size_t>(n, zs_.avail_in);
    std::memcpy(buf, zs_.next_in, k);
    zs_.next_in += k;
    zs_.avail_in -= static_cast<uInt>(k);
    return k;
  }

  // Inflates into buf until something came out, the data ended or an error (kept in pending_
  // for the next call, so the bytes before it are handed out first).
  size_t Inflate(char* buf, size_t n) {
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n && pending_.ok() && !done_) {
      if (!member_open_) {
        NextMember();
        continue;
      }
      if (zs_.avail_in == 0 && !Refill()) {
        if (pending_.ok()) {
          pending_ = Status::IoError(
              name_ + ": the gzip data is cut short: the file ends after " +
              std::to_string(consumed_) +
              " bytes, inside a compressed stream (a truncated or partly copied file)");
        }
        break;
      }
      int ret = inflate(&zs_, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        member_open_ = false;
      } else if (ret == Z_DATA_ERROR) {
        // RFC 1952 §2.3.1: CRC32 and ISIZE close a member, after all of its data. zlib tells
        // these checks from damaged data only by its message.
        const std::string what = zs_.msg ? zs_.msg : "invalid data";
        whole_ = what == "incorrect data check" || what == "incorrect length check";
        pending_ = Status::IoError(
            name_ + ": damaged gzip data after " + std::to_string(inflated_ + n - zs_.avail_out) +
            " decompressed bytes (" + what +
            (whole_ ? ": the CRC-32 or length in the gzip trailer does not match the data, "
                      "so a message above may hold damaged bytes"
                    : ": the compressed bytes are corrupt and nothing after them can be read") +
            ")");
      } else if (ret == Z_MEM_ERROR || ret == Z_STREAM_ERROR || ret == Z_NEED_DICT) {
        pending_ = Status::IoError(name_ + ": gzip data cannot be decompressed (zlib error " +
                                   std::to_string(ret) + ")");
      }
      // Z_OK, Z_BUF_ERROR: more input is needed (or output came out): go on.
    }
    const size_t out = n - zs_.avail_out;
    inflated_ += out;
    return out;
  }

  // After a member: another one (RFC 1952 §2.2: a gzip file is a series of members), the end
  // of the file, or bytes that are not gzip (an error, after everything that inflated).
  void NextMember() {
    if (zs_.avail_in == 0 && !Refill()) {
      if (pending_.ok()) done_ = true;
      return;
    }
    if (zs_.avail_in < 2) {
      // One byte left in the buffer: move it to the front and read more.
      in_[0] = static_cast<char>(zs_.next_in[0]);
      ssize_t got;
      do {
        got = RawRead(in_.get() + 1, kChunk - 1);
      } while (got < 0 && errno == EINTR);
      zs_.next_in = reinterpret_cast<Bytef*>(in_.get());
      zs_.avail_in = 1 + static_cast<uInt>(std::max<ssize_t>(got, 0));
      consumed_ += static_cast<uint64_t>(std::max<ssize_t>(got, 0));
    }
    if (IsGzipStart()) {
      inflateReset(&zs_);
      member_open_ = true;
      return;
    }
    whole_ = true;
    pending_ = Status::IoError(name_ + ": bytes that are not gzip data follow the end of the "
                               "gzip stream, at byte " +
                               std::to_string(consumed_ - zs_.avail_in) + " of the file");
  }

  // At the end of the file: when it holds fewer bytes than it did when opened, it was cut
  // while it was read (a mail client compacting or emptying the mbox, a rotation that
  // truncated it): the bytes read last are not what was there, and the message they end is
  // not whole. An error, as for a gzip stream cut short. (A file that grew is normal: mail
  // delivered meanwhile.)
  void CheckShrank() {
    if (opened_size_ == 0 || consumed_ >= opened_size_ || !pending_.ok()) return;
    pending_ = Status::IoError(name_ + ": the file shrank while it was read: " +
                               std::to_string(opened_size_) + " bytes when opened, " +
                               std::to_string(consumed_) +
                               " at the end (truncated or rewritten meanwhile)");
  }

  // read(2) on the file, or a copy out of memory_.
  ssize_t RawRead(char* buf, size_t n) {
    if (fd_ >= 0) return ::read(fd_, buf, n);
    const size_t k = std::min(n, memory_.size() - memory_pos_);
    std::memcpy(buf, memory_.data() + memory_pos_, k);
    memory_pos_ += k;
    return static_cast<ssize_t>(k);
  }

  int fd_;
  std::string name_;
  std::unique_ptr<char[]> in_;
  std::string memory_;  // fd_ < 0: the bytes to read
  size_t memory_pos_ = 0;
  z_stream zs_{};
  bool started_ = false;
  bool gzip_ = false;
  bool member_open_ = false;
  bool done_ = false;
  bool whole_ = false;       // pending_ leaves every byte handed out whole
  Status pending_;           // the error after the bytes handed out so far
  uint64_t consumed_ = 0;    // bytes read from the file
  uint64_t inflated_ = 0;    // bytes handed out
  uint64_t opened_size_ = 0;  // the file's size when opened (regular files only), else 0
};

}  // namespace

Result<std::unique_ptr<ByteReader>> OpenByteReader(const std::string& path) {
  int fd = path == "-" ? dup(0) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": " + std::strerror(e));
  }
  if (path == "-") fcntl(fd, F_SETFD, FD_CLOEXEC);
  // A named regular file's size, to tell a file cut while it is read from a whole one.
  // (Standard input may be read from any offset; it is not checked.)
  uint64_t size = 0;
  struct stat st;
  if (path != "-" && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size = st.st_size;
  return std::unique_ptr<ByteReader>(
      new FileReader(fd, path == "-" ? "standard input" : path, size));
}

std::unique_ptr<ByteReader> OpenMemoryByteReader(std::string bytes, std::string name) {
  return std::unique_ptr<ByteReader>(new FileReader(std::move(bytes), std::move(name)));
}

}  // namespace credence
