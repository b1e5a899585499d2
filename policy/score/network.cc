#include "score/network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace credence::score_internal {

Result<IpAddress> ParseIp(std::string_view text) {
  if (text.empty() || text.size() > 64) return Status::Invalid("not an IP address");
  std::string s(text);
  IpAddress ip;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) != 1) {
      return Status::Invalid("'" + s + "' is not an IPv4 address");
    }
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) != 1) {
    return Status::Invalid("'" + s + "' is not an IPv6 address");
  }
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(ip.bytes.begin(), ip.bytes.begin() + 12, kMapped)) {
    std::copy(ip.bytes.begin() + 12, ip.bytes.end(), ip.bytes.begin());
    std::fill(ip.bytes.begin() + 4, ip.bytes.end(), 0);
    return ip;
  }
  ip.v6 = true;
  return ip;
}

bool Network::Contains(const IpAddress& ip) const {
  if (ip.v6 != base.v6) return false;
  unsigned full = prefix / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (ip.bytes[i] != base.bytes[i]) return false;
  }
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.bytes[full] & mask) == (base.bytes[full] & mask);
}

Result<Network> ParseNetwork(std::string_view text) {
  size_t slash = text.find('/');
  Result<IpAddress> ip = ParseIp(text.substr(0, slash));
  if (!ip.ok()) return ip.status();
  Network n;
  n.base = *ip;
  unsigned max = n.base.v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || p.size() > 3 || ec != std::errc() || end != p.data() + p.size() ||
        value > max) {
      return Status::Invalid("'" + std::string(text) + "': prefix length must be 0.." +
                             std::to_string(max));
    }
    n.prefix = value;
  }
  // Host bits below the prefix must be zero.
  for (unsigned bit = n.prefix; bit < max; ++bit) {
    if (n.base.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return Status::Invalid("'" + std::string(text) + "' has host bits set below /" +
                             std::to_string(n.prefix));
    }
  }
  return n;
}

}  // namespace credence::score_internal
