// Listening sockets for the service: a Unix socket file with chosen permissions, and a TCP
// address. Every descriptor is non-blocking and close-on-exec.
#ifndef CREDENCE_PLUGIN_SERVE_LISTENER_H_
#define CREDENCE_PLUGIN_SERVE_LISTENER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "credence/status.h"

namespace credence::serve {

// Binds and listens on `path`. A leftover socket file nobody answers on is removed first; a
// socket someone answers on ("already in use") or a file that is not a socket is kIoError.
// The file gets `mode` and, when `group` is not empty, that group (kInvalidInput when the
// group does not exist). kInvalidInput when the path does not fit sockaddr_un.
Result<int> ListenUnix(const std::string& path, mode_t mode, const std::string& group);

// Binds and listens on host:port (numeric host). `*bound_port` gets the port bound.
Result<int> ListenTcp(const std::string& host, uint16_t port, uint16_t* bound_port);

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_LISTENER_H_
