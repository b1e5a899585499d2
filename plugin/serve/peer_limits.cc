#include "serve/peer_limits.h"

#include <algorithm>

namespace credence::serve {

PeerLimits::Verdict PeerLimits::OpenConnection(PeerId peer) {
  if (connections_ >= bounds_.connections) return Verdict::kTotalFull;
  Held& h = peers_[peer];  // may throw before anything is taken
  if (h.connections >= bounds_.connections_per_peer) {
    if (h.connections == 0 && h.bytes == 0) peers_.erase(peer);
    return Verdict::kPeerFull;
  }
  ++h.connections;
  ++connections_;
  return Verdict::kGranted;
}

void PeerLimits::CloseConnection(PeerId peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.connections == 0) return;
  --it->second.connections;
  --connections_;
  Forget(it);
}

PeerLimits::Verdict PeerLimits::Reserve(PeerId peer, size_t bytes) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return Verdict::kPeerFull;  // holds no connection: a caller's bug
  if (bytes > bounds_.bytes_per_peer || it->second.bytes > bounds_.bytes_per_peer - bytes) {
    return Verdict::kPeerFull;
  }
  if (bytes > bounds_.bytes || bytes_ > bounds_.bytes - bytes) return Verdict::kTotalFull;
  it->second.bytes += bytes;
  bytes_ += bytes;
  return Verdict::kGranted;
}

void PeerLimits::Release(PeerId peer, size_t bytes) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  size_t n = std::min(bytes, it->second.bytes);
  it->second.bytes -= n;
  bytes_ -= n;
  Forget(it);
}

size_t PeerLimits::connections_of(PeerId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.connections;
}

size_t PeerLimits::bytes_of(PeerId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.bytes;
}

void PeerLimits::Forget(std::unordered_map<PeerId, Held>::iterator it) {
  if (it->second.connections == 0 && it->second.bytes == 0) peers_.erase(it);
}

}  // namespace credence::serve
