// Private to policy/check: the domain's MX hosts (RFC 5321 §5.1, RFC 7505, RFC 2181 §10.3),
// fetched once and used by the SPF check (are they authorised?) and the MX section.
#ifndef CREDENCE_POLICY_CHECK_MX_CHECK_H_
#define CREDENCE_POLICY_CHECK_MX_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "check/context.h"

namespace credence::check_internal {

struct MxHost {
  std::string name;
  uint16_t preference = 0;
  std::vector<std::string> addresses;  // A then AAAA
  bool answered = false;  // both address questions got an answer (ok, nxdomain or nodata)
  bool cname = false;     // the name is an alias (RFC 2181 §10.3: MUST NOT)
};

struct MxInfo {
  enum Kind { kHosts, kNull, kNone, kNxDomain, kUnusable } kind = kNone;
  std::vector<MxHost> hosts;  // kHosts: by preference, at most CheckOptions::max_mx_hosts
  size_t total_hosts = 0;     // MX records published
};

// Asks the MX records of the checked domain and the addresses of its hosts. DNS trouble is
// reported in the MX section.
MxInfo FetchMx(Context& ctx);
// The MX section's findings.
void ReportMx(Context& ctx, const MxInfo& mx);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_MX_CHECK_H_
