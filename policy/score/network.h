// IP ranges for site rules and allowlists: IPv4 and IPv6 CIDR, parsed with inet_pton.
#ifndef CREDENCE_POLICY_SCORE_NETWORK_H_
#define CREDENCE_POLICY_SCORE_NETWORK_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "credence/status.h"

namespace credence::score_internal {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4
};

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (IPv4-mapped becomes IPv4). kInvalidInput
// otherwise.
Result<IpAddress> ParseIp(std::string_view text);

struct Network {
  IpAddress base;
  unsigned prefix = 0;  // 0..32 or 0..128
  bool Contains(const IpAddress& ip) const;
};

// "ADDR" (host route) or "ADDR/PREFIX". Host bits set below the prefix are an error, so a typo
// such as "192.0.2.1/16" is caught at load time.
Result<Network> ParseNetwork(std::string_view text);

}  // namespace credence::score_internal

#endif  // CREDENCE_POLICY_SCORE_NETWORK_H_
