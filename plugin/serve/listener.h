// Listening sockets for the service: a Unix socket file with chosen permissions, and a TCP
// address. Every descriptor is non-blocking and close-on-exec.
#ifndef CREDENCE_PLUGIN_SERVE_LISTENER_H_
#define CREDENCE_PLUGIN_SERVE_LISTENER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "credence/status.h"

namespace credence::serve {

// The socket file a listener created: removed at shutdown only if it is still that file.
struct SocketFile {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Binds and listens on `path`. A leftover socket file nobody answers on is replaced; a socket
// someone answers on ("already in use"), a symlink or any other file is kIoError. The socket
// is created in a private directory next to `path` (mode 0700, made with mkdtemp) with `mode`
// through the umask and, when `group` is not empty, that group (lchown inside the private
// directory), then renamed onto `path`: nothing is ever changed by `path` after bind, so a
// symlink planted there cannot redirect a chmod or chown. kInvalidInput when the group does
// not exist, or when the path, or its directory plus "/.credence-XXXXXX/s", does not fit
// sockaddr_un (107 bytes); kIoError when the directory is not writable. Changes the process
// umask for the duration of bind(): call it before other threads create files. `*created`
// (optional) gets the file's identity, for RemoveSocketFile.
Result<int> ListenUnix(const std::string& path, mode_t mode, const std::string& group,
                       SocketFile* created = nullptr);

// Unlinks the socket file if `path` still names the file ListenUnix created.
void RemoveSocketFile(const SocketFile& file);

// Who is on the other end of an accepted connection, for per-peer limits: the peer's uid on a
// Unix socket (SO_PEERCRED), one shared id for every TCP client (the protocol has no
// authentication: TCP peers cannot be told apart), kUnknownPeer when the kernel does not say.
using PeerId = uint64_t;
inline constexpr PeerId kTcpPeer = PeerId{1} << 32;
inline constexpr PeerId kUnknownPeer = PeerId{2} << 32;
PeerId PeerOf(int fd, bool tcp);

// Binds and listens on host:port (numeric host). `*bound_port` gets the port bound.
Result<int> ListenTcp(const std::string& host, uint16_t port, uint16_t* bound_port);

// The service's listening sockets (-1: none). Only the I/O thread closes them.
struct Listeners {
  int unix_fd = -1;
  int tcp_fd = -1;
  SocketFile socket_file;
  uint16_t tcp_port = 0;  // bound TCP port, 0 without a TCP listener

  // Listens on TCP `listen` ("HOST:PORT" / "[V6]:PORT", ParseListenAddress; empty = none),
  // then on the Unix socket `socket_path` (empty = none; ListenUnix with `mode` and `group`:
  // call it before other threads create files). The errors of those; on an error, what was
  // opened stays open for Close or the destructor.
  Status Open(const std::string& listen, const std::string& socket_path, mode_t mode,
              const std::string& group);
  // Stops listening and removes the socket file. Idempotent; never throws.
  void Close() noexcept;
  // Closes the descriptors still open (the socket file is left: Close removes it).
  ~Listeners();
};

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_LISTENER_H_
