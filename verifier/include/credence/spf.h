// SPF (RFC 7208), evaluated by libspf2 with credence's DNS layer underneath it.
#ifndef CREDENCE_SPF_H_
#define CREDENCE_SPF_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "credence/dns.h"
#include "credence/limits.h"

namespace credence {

// RFC 7208 §2.6 results (RFC 8601 spellings).
enum class SpfVerdict { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };
std::string_view SpfVerdictName(SpfVerdict v);  // "none", "neutral", "pass", "fail", "softfail", ...

struct SpfRequest {
  std::string client_ip;  // IPv4 or IPv6 presentation form; required
  std::string helo;       // HELO/EHLO name as given
  std::string mail_from;  // MAIL FROM address without <>; empty = null sender (bounce)
};

struct SpfResult {
  SpfVerdict result = SpfVerdict::kNone;
  std::string identity;     // "mailfrom" or "helo": which identity this result is for
  std::string domain;       // the domain checked (MAIL FROM's domain, or the HELO name)
  std::string sender;       // the address checked ("postmaster@HELO" for a null sender)
  std::string explanation;  // fail only: the exp= text, or the default explanation
  std::string detail;       // why (which mechanism matched, which limit was hit, ...)
  size_t dns_queries = 0;   // DNS-querying terms evaluated
  // A credence limit (Limits::max_spf_dns_queries) stopped the check before it could
  // conclude: the result is permerror ("not evaluated"), never temperror.
  bool limit_reached = false;
};

struct SpfOptions {
  Limits limits;
  // RFC 7208 §4.6.4 limits.
  size_t max_dns_mechanisms = 10;  // include a mx ptr exists redirect
  size_t max_mx_names = 10;
  size_t max_ptr_names = 10;
  size_t max_void_lookups = 2;
  // The default explanation for fail when the record has no exp= (RFC 7208 §6.2).
  std::string default_explanation = "See https://www.openspf.net/Why?s=%{o}";
  std::string receiving_host = "credence";  // %{r}
};

// Checks the MAIL FROM identity (RFC 7208 §2.4); with an empty MAIL FROM, checks
// "postmaster@HELO" (§2.4). Never throws; DNS trouble gives temperror.
SpfResult CheckSpfMailFrom(const SpfRequest& request, Resolver& resolver, Deadline deadline,
                           const SpfOptions& options = SpfOptions());
// Checks the HELO identity (RFC 7208 §2.3).
SpfResult CheckSpfHelo(const SpfRequest& request, Resolver& resolver, Deadline deadline,
                       const SpfOptions& options = SpfOptions());

}  // namespace credence

#endif  // CREDENCE_SPF_H_
