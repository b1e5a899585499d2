#include "credence/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace credence {

std::string BytesText(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Status ReadRegularFile(const std::string& path, std::string_view what, size_t max_bytes,
                       std::string* text) {
  const std::string name = std::string(what) + " '" + path + "'";
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Status::IoError("cannot open " + name + ": " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::IoError("cannot read " + name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::IoError(name + " is not a regular file");
  const std::string limit = BytesText(max_bytes) + " a " + std::string(what) + " may have";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::IoError(name + " has " + std::to_string(st.st_size) + " bytes, more than the " +
                           limit);
  }
  text->clear();
  text->resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  for (;;) {
    if (got == text->size()) {
      if (got > max_bytes) break;  // grew past the maximum: refused below
      text->resize(std::min(max_bytes + 1, std::max(got * 2, got + 4096)));
    }
    ssize_t n = ::read(fd, text->data() + got, text->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) return Status::IoError(name + " grew past the " + limit + " while it was read");
  text->resize(got);
  return Status::Ok();
}

}  // namespace credence
