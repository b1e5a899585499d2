// ParseDnsServer: "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" -> AresOptions.
#include <arpa/inet.h>

#include <charconv>

#include "credence/dns.h"

namespace credence {

namespace {

Status ParsePort(std::string_view spec, std::string_view text, uint16_t* port) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return Status::Invalid("DNS server '" + std::string(spec) + "': port '" + std::string(text) +
                           "' is not a number in 1..65535");
  }
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

}  // namespace

Status ParseDnsServer(std::string_view spec, AresOptions* options) {
  if (spec.empty()) return Status::Invalid("DNS server: empty");
  std::string host;
  uint16_t port = 53;
  if (spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == std::string_view::npos) {
      return Status::Invalid("DNS server '" + std::string(spec) + "': missing ']'");
    }
    host = std::string(spec.substr(1, close - 1));
    std::string_view rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::Invalid("DNS server '" + std::string(spec) + "': expected ':PORT' after ']'");
      }
      Status s = ParsePort(spec, rest.substr(1), &port);
      if (!s.ok()) return s;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      return Status::Invalid("DNS server '" + std::string(spec) + "': '" + host +
                             "' is not an IPv6 address");
    }
  } else {
    size_t first = spec.find(':');
    size_t last = spec.rfind(':');
    if (first != std::string_view::npos && first == last) {
      // One colon: IPv4 (or a name) with a port.
      host = std::string(spec.substr(0, first));
      Status s = ParsePort(spec, spec.substr(first + 1), &port);
      if (!s.ok()) return s;
    } else {
      host = std::string(spec);  // no colon, or a bare IPv6 address
    }
    in_addr a4;
    in6_addr a6;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      // Each part named once: "DNS server 'localhost' is not ...", "DNS server 'x:53': 'x' is
      // not ...".
      std::string what = "DNS server '" + std::string(spec) + "'";
      if (host != spec) what += ": '" + host + "'";
      return Status::Invalid(what + " is not an IP address (names are not accepted)");
    }
  }
  options->server = host;
  options->port = port;
  return Status::Ok();
}

}  // namespace credence
