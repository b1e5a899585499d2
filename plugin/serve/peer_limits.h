// What the service lets clients hold, in total and per peer (a uid on the Unix socket, all of
// TCP as one): connection slots and bytes of the in-flight budget. Bookkeeping only; the I/O
// thread (server.cc) decides what to do with a refusal. Not thread-safe.
//
// A peer may hold at most `connections_per_peer` of the `connections` slots and
// `bytes_per_peer` of the `bytes` budget, so with one peer at its share the rest stays free
// for the others (docs/serve.md: reserved slots and bytes).
#ifndef CREDENCE_PLUGIN_SERVE_PEER_LIMITS_H_
#define CREDENCE_PLUGIN_SERVE_PEER_LIMITS_H_

#include <cstddef>
#include <unordered_map>

#include "serve/listener.h"

namespace credence::serve {

class PeerLimits {
 public:
  struct Bounds {
    size_t connections = 256;
    size_t connections_per_peer = 64;
    size_t bytes = 256u << 20;
    size_t bytes_per_peer = 128u << 20;
  };
  // What stops a connection or a reservation: nothing, the total, or the peer's share.
  enum class Verdict { kGranted, kTotalFull, kPeerFull };

  explicit PeerLimits(const Bounds& bounds) : bounds_(bounds) {}

  // Takes a connection slot for `peer`: kGranted (taken), or what is full (nothing taken).
  // May throw std::bad_alloc (a new peer's entry) with nothing taken.
  Verdict OpenConnection(PeerId peer);
  // Gives back a slot OpenConnection granted. Never throws.
  void CloseConnection(PeerId peer);
  // Takes `bytes` of the budget for `peer` (which holds a connection): kGranted (taken), or
  // what is full (nothing taken). A request larger than the peer's share is kPeerFull even
  // with nothing held, as is a peer that holds no connection. Never throws.
  Verdict Reserve(PeerId peer, size_t bytes);
  // Gives back bytes Reserve granted. Never throws.
  void Release(PeerId peer, size_t bytes);

  size_t connections() const { return connections_; }
  size_t bytes() const { return bytes_; }
  size_t connections_of(PeerId peer) const;
  size_t bytes_of(PeerId peer) const;
  const Bounds& bounds() const { return bounds_; }

 private:
  struct Held {
    size_t connections = 0;
    size_t bytes = 0;
  };
  void Forget(std::unordered_map<PeerId, Held>::iterator it);

  Bounds bounds_;
  size_t connections_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<PeerId, Held> peers_;
};

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_PEER_LIMITS_H_
