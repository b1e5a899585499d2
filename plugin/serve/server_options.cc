// ServerOptions with every default filled in and every range checked (Server::Resolve).
#include <algorithm>
#include <limits>
#include <string>

#include "serve/server.h"

namespace credence::serve {
namespace {

constexpr size_t kDefaultInflightBytes = size_t{256} << 20;

}  // namespace

Result<ServerOptions> Server::Resolve(ServerOptions o) {
  if (o.workers < 1 || o.workers > 256) return Status::Invalid("workers must be 1..256");
  if (o.reserve_workers > 256) return Status::Invalid("reserve workers must be 0..256");
  if (o.request_timeout.count() < 1 || o.header_timeout.count() < 1) {
    return Status::Invalid("request and header timeouts must be > 0");
  }
  if (o.max_connections < 1 || o.max_queued < 1) {
    return Status::Invalid("max_connections and max_queued must be > 0");
  }
  if (o.max_connections_per_peer < 1 || o.max_connections_per_peer > o.max_connections) {
    return Status::Invalid("--max-connections-per-peer must be 1..--max-connections (" +
                           std::to_string(o.max_connections) + ")");
  }
  if (o.max_request_bytes < 1) return Status::Invalid("--max-request-bytes must be > 0");
  if (o.max_inflight_bytes == 0) {
    if (o.max_request_bytes > std::numeric_limits<size_t>::max() / 4) {
      return Status::Invalid("--max-request-bytes is too large");
    }
    o.max_inflight_bytes = std::max(kDefaultInflightBytes, 4 * o.max_request_bytes);
  }
  if (o.max_inflight_bytes < o.max_request_bytes) {
    return Status::Invalid("--max-inflight-bytes (" + std::to_string(o.max_inflight_bytes) +
                           ") must be at least --max-request-bytes (" +
                           std::to_string(o.max_request_bytes) + ")");
  }
  if (o.max_inflight_bytes_per_peer == 0) {
    o.max_inflight_bytes_per_peer = std::max(o.max_inflight_bytes / 2, o.max_request_bytes);
  }
  if (o.max_inflight_bytes_per_peer < o.max_request_bytes ||
      o.max_inflight_bytes_per_peer > o.max_inflight_bytes) {
    return Status::Invalid(
        "--max-inflight-bytes-per-peer (" + std::to_string(o.max_inflight_bytes_per_peer) +
        ") must be from --max-request-bytes (" + std::to_string(o.max_request_bytes) +
        ") to --max-inflight-bytes (" + std::to_string(o.max_inflight_bytes) + ")");
  }
  return o;
}

}  // namespace credence::serve
