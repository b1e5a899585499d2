// Where a report may go: rua= URIs (RFC 9989 §4.7, RFC 6068 mailto:, RFC 7489 §6.2 "!size")
// and External Destination Verification (RFC 9990 §4, RFC 9989 §...: a destination outside
// the policy's organizational domain must publish "<policy-domain>._report._dmarc.<dest>").
#include <cctype>

#include "credence/policy/report.h"

namespace credence {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  if (d.find("..") != std::string_view::npos) return false;
  for (char c : d) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<RuaDestination> ParseRuaUri(std::string_view uri) {
  if (uri.size() > 1024) return Status::Invalid("rua URI over 1024 bytes");
  RuaDestination d;
  d.uri = std::string(uri);
  std::string_view rest = uri;
  // RFC 7489 §6.2: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (RFC 9989
  // dropped it; honoured when published, as RFC 9990 §3 asks of size limits).
  if (size_t bang = rest.rfind('!'); bang != std::string_view::npos) {
    std::string_view size = rest.substr(bang + 1);
    rest = rest.substr(0, bang);
    uint64_t n = 0;
    size_t i = 0;
    for (; i < size.size() && std::isdigit(static_cast<unsigned char>(size[i])); ++i) {
      if (n > (uint64_t{1} << 40)) return Status::Invalid("rua size too large");
      n = n * 10 + static_cast<uint64_t>(size[i] - '0');
    }
    if (i == 0 || size.size() - i > 1)
      return Status::Invalid("rua size '" + std::string(size) + "'");
    int shift = 0;
    if (i < size.size()) {
      switch (std::tolower(static_cast<unsigned char>(size[i]))) {
        case 'k':
          shift = 10;
          break;
        case 'm':
          shift = 20;
          break;
        case 'g':
          shift = 30;
          break;
        case 't':
          shift = 40;
          break;
        default:
          return Status::Invalid("rua size unit '" + std::string(size.substr(i)) + "'");
      }
    }
    d.max_bytes = n << shift;
    if (d.max_bytes == 0) return Status::Invalid("rua size 0");
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Status::Invalid("rua URI without a scheme");
  std::string scheme = ToLower(rest.substr(0, colon));
  if (scheme != "mailto") return Status::Unsupported("rua scheme '" + scheme + "' (mail only)");
  std::string_view addr = rest.substr(colon + 1);
  addr = addr.substr(0, addr.find('?'));  // RFC 6068 hfields are not used
  for (size_t i = 0; i < addr.size(); ++i) {
    if (addr[i] == '%' && i + 2 < addr.size() && HexValue(addr[i + 1]) >= 0 &&
        HexValue(addr[i + 2]) >= 0) {
      d.address += static_cast<char>(HexValue(addr[i + 1]) * 16 + HexValue(addr[i + 2]));
      i += 2;
    } else {
      d.address += addr[i];
    }
  }
  size_t at = d.address.rfind('@');
  if (at == std::string::npos || at == 0) return Status::Invalid("rua mailto: without an address");
  for (char c : d.address) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == ',' || c == '<' || c == '>' || c == '"' ||
        c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
      return Status::Invalid("rua address with a character mail cannot carry");
    }
    // One '@', no comment: the consent is asked of the domain after the '@', so an address
    // another reader could split elsewhere ("a%40victim.example@evil.example",
    // "v@victim.example(x)@evil.example") is refused rather than sent somewhere unconsented.
    if (c == '(' || c == ')' || c == ';' || c == ':' || c == '[' || c == ']') {
      return Status::Invalid("rua address with a character mail reads as more than an address");
    }
  }
  if (d.address.find('@') != at) return Status::Invalid("rua address with more than one '@'");
  d.domain = ToLower(d.address.substr(at + 1));
  if (!ValidDomain(d.domain)) return Status::Invalid("rua address domain '" + d.domain + "'");
  return d;
}

bool NeedsExternalVerification(std::string_view org_domain, std::string_view dest_domain) {
  std::string org = ToLower(org_domain), dest = ToLower(dest_domain);
  if (dest == org) return false;
  return !(dest.size() > org.size() && dest.ends_with(org) &&
           dest[dest.size() - org.size() - 1] == '.');
}

std::string ExternalVerificationName(std::string_view policy_domain, std::string_view dest_domain) {
  return std::string(policy_domain) + "._report._dmarc." + std::string(dest_domain);
}

Result<bool> VerifyExternalDestination(Resolver& resolver, std::string_view policy_domain,
                                       std::string_view dest_domain, Deadline deadline) {
  std::string name = ExternalVerificationName(policy_domain, dest_domain);
  DnsAnswer a = resolver.ResolveOne({name, RRType::kTXT}, deadline);
  if (a.outcome == DnsOutcome::kTempFail || a.outcome == DnsOutcome::kNotAsked) {
    return Status::TempFail(name + " TXT: " + (a.detail.empty() ? "DNS failure" : a.detail));
  }
  if (a.outcome != DnsOutcome::kOk) return false;
  for (const ResourceRecord& r : a.records) {
    // RFC 9990 §4: the record starts with "v=DMARC1" (white space allowed around '=').
    std::string_view t = r.data;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (t.substr(0, 1) != "v" && t.substr(0, 1) != "V") continue;
    t.remove_prefix(1);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (t.substr(0, 1) != "=") continue;
    t.remove_prefix(1);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (t.substr(0, 6) == "DMARC1" &&
        (t.size() == 6 || t[6] == ';' || t[6] == ' ' || t[6] == '\t')) {
      return true;
    }
  }
  return false;
}

}  // namespace credence
