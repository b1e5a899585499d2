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

constexpr char kPrivateDirName[] = "/.credence-XXXXXX";
constexpr char kPrivateFileName[] = "/s";

// Undoes the steps of ListenUnix that succeeded.
struct PendingSocket {
  int fd = -1;
  std::string dir;   // the private directory, once made
  std::string file;  // the socket file inside it, once bound
  ~PendingSocket() {
    if (!file.empty()) ::unlink(file.c_str());
    if (!dir.empty()) ::rmdir(dir.c_str());
    if (fd >= 0) ::close(fd);
  }
};

Result<gid_t> GroupId(const std::string& name) {
  std::vector<char> buf(16384);
  struct group gr;
  struct group* found = nullptr;
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return Status::Invalid("no such group: " + name);
  }
  return found->gr_gid;
}

}  // namespace

Result<int> ListenUnix(const std::string& path, mode_t mode, const std::string& group_name,
                       SocketFile* created) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const size_t max_path = sizeof addr.sun_path - 1;
  if (path.empty() || path.size() > max_path || path.back() == '/') {
    return Status::Invalid("socket path must be 1.." + std::to_string(max_path) +
                           " bytes and name a file: " + path);
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "" : path.substr(0, slash);
  std::string private_dir = dir + kPrivateDirName;
  if (private_dir.size() + sizeof kPrivateFileName - 1 > max_path) {
    return Status::Invalid("socket path's directory is too long (the socket is created in " + dir +
                           kPrivateDirName + " first, which must fit in " +
                           std::to_string(max_path) + " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  gid_t gid = static_cast<gid_t>(-1);
  if (!group_name.empty()) {
    Result<gid_t> g = GroupId(group_name);
    if (!g.ok()) return g.status();
    gid = *g;
  }

  // Refuse to replace anything but a dead socket. The check is advisory (the directory may
  // change before the rename below); what makes the path safe is that nothing is done by
  // `path` except the final rename(), which replaces the name itself and follows no symlink.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::IoError(path + ": exists and is not a socket");
    if (SomeoneListens(addr)) return Status::IoError(path + ": already in use by a live server");
  }

  PendingSocket p;
  std::vector<char> tmpl(private_dir.begin(), private_dir.end());
  tmpl.push_back('\0');
  if (::mkdtemp(tmpl.data()) == nullptr) return Errno("cannot create a directory in " + dir);
  p.dir = tmpl.data();
  std::string file = p.dir + kPrivateFileName;
  sockaddr_un tmp_addr = {};
  tmp_addr.sun_family = AF_UNIX;
  std::memcpy(tmp_addr.sun_path, file.data(), file.size());

  p.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p.fd < 0) return Errno("socket");
  // bind() creates the file with 0777 & ~umask: the umask gives it `mode` from the start (a
  // socket's fchmod changes the socket, not the file).
  mode_t old_umask = ::umask(~mode & 0777);
  int rc = ::bind(p.fd, reinterpret_cast<const sockaddr*>(&tmp_addr), sizeof tmp_addr);
  ::umask(old_umask);
  if (rc != 0) return Errno("bind " + file);
  p.file = file;
  // Inside the 0700 directory nobody else can swap the name; lchown would not follow a link
  // anyway.
  if (gid != static_cast<gid_t>(-1) && ::lchown(file.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return Errno("chown " + path + " to group " + group_name);
  }
  if (::lstat(file.c_str(), &st) != 0) return Errno("stat " + file);
  if (::listen(p.fd, kBacklog) != 0) return Errno("listen " + path);
  if (::rename(file.c_str(), path.c_str()) != 0) return Errno("rename the socket to " + path);
  p.file.clear();
  if (created != nullptr) *created = {path, st.st_dev, st.st_ino};
  int fd = p.fd;
  p.fd = -1;
  return fd;  // ~PendingSocket removes the private directory
}

void RemoveSocketFile(const SocketFile& file) {
  struct stat st;
  if (::lstat(file.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == file.dev &&
      st.st_ino == file.ino) {
    ::unlink(file.path.c_str());
  }
}

PeerId PeerOf(int fd, bool tcp) {
  if (tcp) return kTcpPeer;
  ucred cred = {};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    return kUnknownPeer;
  }
  return static_cast<PeerId>(cred.uid);
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

Status Listeners::Open(const std::string& listen, const std::string& socket_path, mode_t mode,
                       const std::string& group) {
  if (!listen.empty()) {
    std::string host;
    uint16_t port = 0;
    Status s = ParseListenAddress(listen, &host, &port);
    if (!s.ok()) return s;
    Result<int> fd = ListenTcp(host, port, &tcp_port);
    if (!fd.ok()) return fd.status();
    tcp_fd = *fd;
  }
  if (!socket_path.empty()) {
    Result<int> fd = ListenUnix(socket_path, mode, group, &socket_file);
    if (!fd.ok()) return fd.status();
    unix_fd = *fd;
  }
  return Status::Ok();
}

void Listeners::Close() noexcept {
  if (unix_fd >= 0) {
    ::close(unix_fd);
    unix_fd = -1;
    RemoveSocketFile(socket_file);
  }
  if (tcp_fd >= 0) {
    ::close(tcp_fd);
    tcp_fd = -1;
  }
}

Listeners::~Listeners() {
  for (int fd : {unix_fd, tcp_fd}) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace credence::serve
