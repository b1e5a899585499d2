#include "serve/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "serve/server.h"

namespace credence::serve {
namespace {

constexpr int kBacklog = 128;

Status Errno(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

// True when something accepts connections on the Unix socket `path`.
bool SomeoneListens(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

Result<int> ListenUnix(const std::string& path, mode_t mode, const std::string& group_name) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::Invalid("socket path must be 1.." + std::to_string(sizeof addr.sun_path - 1) +
                           " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  gid_t gid = static_cast<gid_t>(-1);
  if (!group_name.empty()) {
    std::vector<char> buf(16384);
    struct group gr;
    struct group* found = nullptr;
    if (getgrnam_r(group_name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 ||
        found == nullptr) {
      return Status::Invalid("no such group: " + group_name);
    }
    gid = found->gr_gid;
  }

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::IoError(path + ": exists and is not a socket");
    if (SomeoneListens(addr)) return Status::IoError(path + ": already in use by a live server");
    if (::unlink(path.c_str()) != 0) return Errno("cannot remove stale socket " + path);
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  // The file is created by bind() with the umask's permissions: create it private, then open it
  // up to `mode`, so there is no moment where it is wider than asked.
  mode_t old_umask = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old_umask);
  if (rc != 0) {
    Status s = Errno("bind " + path);
    ::close(fd);
    return s;
  }
  if (gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    Status s = Errno("chown " + path);
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  if (::chmod(path.c_str(), mode) != 0) {
    Status s = Errno("chmod " + path);
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  if (::listen(fd, kBacklog) != 0) {
    Status s = Errno("listen " + path);
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  return fd;
}

Result<int> ListenTcp(const std::string& host, uint16_t port, uint16_t* bound_port) {
  sockaddr_storage ss = {};
  socklen_t len = 0;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return Status::Invalid("listen address is not a numeric IP address: " + host);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Status s = Errno("bind " + host + ":" + std::to_string(port));
    ::close(fd);
    return s;
  }
  if (::listen(fd, kBacklog) != 0) {
    Status s = Errno("listen");
    ::close(fd);
    return s;
  }
  sockaddr_storage got = {};
  socklen_t got_len = sizeof got;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len);
  *bound_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  return fd;
}

Status ParseListenAddress(std::string_view spec, std::string* host, uint16_t* port) {
  std::string_view h, p;
  if (!spec.empty() && spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return Status::Invalid("expected [V6]:PORT: " + std::string(spec));
    }
    h = spec.substr(1, close - 1);
    p = spec.substr(close + 2);
  } else {
    size_t colon = spec.rfind(':');
    if (colon == std::string_view::npos || spec.find(':') != colon) {
      return Status::Invalid("expected HOST:PORT or [V6]:PORT: " + std::string(spec));
    }
    h = spec.substr(0, colon);
    p = spec.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5) {
    return Status::Invalid("expected HOST:PORT: " + std::string(spec));
  }
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return Status::Invalid("bad port: " + std::string(spec));
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return Status::Invalid("port out of range: " + std::string(spec));
  *host = std::string(h);
  *port = static_cast<uint16_t>(v);
  std::array<unsigned char, 16> buf;
  if (inet_pton(AF_INET, host->c_str(), buf.data()) != 1 &&
      inet_pton(AF_INET6, host->c_str(), buf.data()) != 1) {
    return Status::Invalid("listen host must be a numeric IP address: " + std::string(spec));
  }
  return Status::Ok();
}

}  // namespace credence::serve
