// check_host() (RFC 7208 §4) for the MAIL FROM and HELO identities: credence checks the
// inputs and every record's grammar, libspf2 evaluates, and the DNS layer (spf/dns_layer.cc)
// counts the §4.6.4 limits. Results are mapped to SpfVerdict here and nowhere else.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>

extern "C" {
#include <spf2/spf.h>
}

#include "credence/spf.h"
#include "spf/dns_layer.h"
#include "spf/explain.h"
#include "spf/record.h"
#include "spf/session.h"

namespace credence {
namespace {

using spf::Session;

struct DnsLayerFree {
  void operator()(SPF_dns_server_t* p) const { SPF_dns_free(p); }
};
struct ServerFree {
  void operator()(SPF_server_t* p) const { SPF_server_free(p); }
};
struct RequestFree {
  void operator()(SPF_request_t* p) const { SPF_request_free(p); }
};
struct ResponseFree {
  void operator()(SPF_response_t* p) const { SPF_response_free(p); }
};

SpfVerdict MapResult(SPF_result_t r) {
  switch (r) {
    case SPF_RESULT_NEUTRAL: return SpfVerdict::kNeutral;
    case SPF_RESULT_PASS: return SpfVerdict::kPass;
    case SPF_RESULT_FAIL: return SpfVerdict::kFail;
    case SPF_RESULT_SOFTFAIL: return SpfVerdict::kSoftFail;
    case SPF_RESULT_NONE: return SpfVerdict::kNone;
    case SPF_RESULT_TEMPERROR: return SpfVerdict::kTempError;
    case SPF_RESULT_PERMERROR:
    case SPF_RESULT_INVALID:
    default: return SpfVerdict::kPermError;
  }
}

// Address in the form libspf2 and the "/0" rewrite use. RFC 7208 §5.6 compares an
// IPv4-mapped IPv6 client as the IPv4 address.
bool NormalizeClientIp(const std::string& ip, std::string* out, bool* v6) {
  in6_addr a6{};
  in_addr a4{};
  if (inet_pton(AF_INET, ip.c_str(), &a4) == 1) {
    *out = ip;
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &a6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    std::memcpy(&a4, &a6.s6_addr[12], 4);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a4, buf, sizeof(buf));
    *out = buf;
    *v6 = false;
    return true;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
  *out = buf;
  *v6 = true;
  return true;
}

// Turns libspf2's explanation (a marker, see spf/session.h) into the text credence expanded;
// the default explanation (RFC 7208 §6.2) when there is none.
std::string Explanation(const char* from_libspf2, Session& session) {
  std::string_view marker = from_libspf2 == nullptr ? "" : from_libspf2;
  if (marker.substr(0, spf::kExplanationMarker.size()) == spf::kExplanationMarker) {
    std::string_view index = marker.substr(spf::kExplanationMarker.size());
    size_t i = 0;
    bool digits = !index.empty();
    for (char c : index) {
      digits = digits && c >= '0' && c <= '9';
      if (digits) i = i * 10 + static_cast<size_t>(c - '0');
    }
    if (digits && i < session.explanations.size() && !session.explanations[i].empty()) {
      return session.explanations[i];
    }
  }
  const std::string& def = session.options->default_explanation;
  if (!spf::CheckMacroString(def, /*in_exp=*/true).ok()) return def;
  std::string domain = session.sender.substr(session.sender.rfind('@') + 1);
  return spf::ExpandExplanation(def, domain, session);
}

// SPF_request_query_mailfrom() without its first step: libspf2 answers pass ("localhost is
// always allowed") for a client in 127.0.0.0/8 or ::1 before looking at any record. RFC 7208
// knows no such rule and loopback reinjection is common, so credence evaluates the record for
// every client (a site that trusts its loopback says so in its configuration). The rest is
// the library's own sequence: the current domain is the MAIL FROM domain (SPF_request_prepare),
// the record is fetched (through GetSpf in spf/dns_layer.cc) and interpreted. nullptr when
// out of memory.
SPF_response_t* QueryMailFrom(SPF_request_t* request) {
  SPF_server_t* server = request->spf_server;
  SPF_response_t* response = SPF_response_new(request);
  if (response == nullptr) return nullptr;
  request->cur_dom = request->env_from_dp;
  SPF_record_t* record = nullptr;
  if (SPF_server_get_record(server, request, response, &record) != SPF_E_SUCCESS) {
    // The DNS layer recorded why (Session::abort or Session::top_none).
    if (record != nullptr) SPF_record_free(record);
    return response;
  }
  response->spf_record_exp = record;
  SPF_record_interpret(record, request, response, 0);
  SPF_record_free(record);
  return response;
}

// A libspf2 server asking through `layer`, with credence's settings; nullptr when out of
// memory. Credence counts DNS terms and PTR names itself (spf/dns_layer.cc); libspf2 keeps the
// MX rule (§4.6.4: more than max_mx_names MX names is permerror).
std::unique_ptr<SPF_server_t, ServerFree> NewServer(SPF_dns_server_t* layer,
                                                    const SpfOptions& options) {
  std::unique_ptr<SPF_server_t, ServerFree> server(SPF_server_new_dns(layer, 0));
  if (!server) return server;
  SPF_server_set_max_dns_mech(server.get(), 1000);
  SPF_server_set_max_dns_ptr(server.get(), 1000);
  SPF_server_set_max_dns_mx(server.get(), static_cast<int>(options.max_mx_names));
  SPF_server_set_rec_dom(server.get(), options.receiving_host.c_str());
  SPF_server_set_sanitize(server.get(), 0);
  SPF_response_t* errors = nullptr;
  std::string marker = std::string(spf::kExplanationMarker) + "default";
  SPF_server_set_explanation(server.get(), marker.c_str(), &errors);
  if (errors != nullptr) SPF_response_free(errors);
  return server;
}

// The verdict: why the DNS layer stopped the check (session.abort, top_none), else libspf2's
// response (nullptr: it gave none).
void SetVerdict(Session& session, SPF_response_t* response, const SpfOptions& options,
                SpfResult* result) {
  if (session.abort == Session::Abort::kPermError) {
    result->result = SpfVerdict::kPermError;
    result->detail = session.detail;
  } else if (session.abort == Session::Abort::kNotEvaluated) {
    result->result = SpfVerdict::kPermError;
    result->limit_reached = true;
    result->detail = "not evaluated: " + session.detail;
  } else if (session.abort == Session::Abort::kTempError) {
    result->result = SpfVerdict::kTempError;
    result->detail = session.detail;
  } else if (session.top_none) {
    result->result = SpfVerdict::kNone;
    result->detail = session.detail;
  } else if (response == nullptr) {
    result->result = SpfVerdict::kTempError;
    result->detail = "libspf2 returned no response";
  } else {
    result->result = MapResult(SPF_response_result(response));
    // libspf2 starts its comment with the receiving host's name ("credence: domain of ...");
    // in an A-R reason or a log line that prefix is noise.
    const char* comment = SPF_response_get_header_comment(response);
    if (comment != nullptr) {
      std::string_view text = comment;
      const std::string prefix = options.receiving_host + ": ";
      if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
      result->detail = std::string(text);
    }
    if (result->result == SpfVerdict::kFail) {
      result->explanation = Explanation(SPF_response_get_explanation(response), session);
    }
  }
}

SpfResult CheckHost(SpfResult result, const SpfRequest& request, Resolver& resolver,
                    Deadline deadline, const SpfOptions& options) {
  // RFC 7208 §4.3: a domain that is not a usable FQDN gives "none" without any DNS.
  if (!spf::IsValidCheckDomain(result.domain)) {
    result.result = SpfVerdict::kNone;
    result.detail = "'" + result.domain + "' is not a valid domain (RFC 7208 §4.3)";
    return result;
  }
  Session session;
  session.resolver = &resolver;
  session.deadline = std::min(deadline, std::chrono::steady_clock::now() + options.limits.deadline);
  session.options = &options;
  if (!NormalizeClientIp(request.client_ip, &session.client_ip, &session.client_v6)) {
    result.result = SpfVerdict::kPermError;
    result.detail = "invalid client IP address '" + request.client_ip + "'";
    return result;
  }

  // SPF_server_new_dns() does not take ownership of a layer the caller made (it frees only
  // the resolvers it creates itself), so the layer is freed here, after the server.
  std::unique_ptr<SPF_dns_server_t, DnsLayerFree> layer(spf::NewResolverDnsLayer(&session));
  if (!layer) {
    result.result = SpfVerdict::kTempError;
    result.detail = "out of memory";
    return result;
  }
  std::unique_ptr<SPF_server_t, ServerFree> server = NewServer(layer.get(), options);
  if (!server) {
    result.result = SpfVerdict::kTempError;
    result.detail = "out of memory";
    return result;
  }

  std::unique_ptr<SPF_request_t, RequestFree> req(SPF_request_new(server.get()));
  if (!req) {
    result.result = SpfVerdict::kTempError;
    result.detail = "out of memory";
    return result;
  }
  if (session.client_v6) {
    SPF_request_set_ipv6_str(req.get(), session.client_ip.c_str());
  } else {
    SPF_request_set_ipv4_str(req.get(), session.client_ip.c_str());
  }
  std::string helo = request.helo.empty() ? result.domain : request.helo;
  SPF_request_set_helo_dom(req.get(), helo.c_str());
  SPF_request_set_env_from(req.get(), result.sender.c_str());
  session.request = req.get();
  session.sender = result.sender;
  session.helo = helo;

  std::unique_ptr<SPF_response_t, ResponseFree> response(QueryMailFrom(req.get()));
  result.dns_queries = session.dns_terms;

  SetVerdict(session, response.get(), options, &result);
  return result;
}

// Splits MAIL FROM into the checked sender and domain (RFC 7208 §4.3: an empty local-part
// is "postmaster"; a null sender is checked as postmaster@HELO, §2.4).
void SetMailFromIdentity(const SpfRequest& request, SpfResult* result) {
  result->identity = "mailfrom";
  if (request.mail_from.empty()) {
    result->domain = request.helo;
    result->sender = "postmaster@" + request.helo;
    return;
  }
  size_t at = request.mail_from.rfind('@');
  std::string local = at == std::string::npos ? "" : request.mail_from.substr(0, at);
  result->domain = at == std::string::npos ? request.mail_from : request.mail_from.substr(at + 1);
  if (local.empty()) local = "postmaster";
  result->sender = local + "@" + result->domain;
}

}  // namespace

std::string_view SpfVerdictName(SpfVerdict v) {
  switch (v) {
    case SpfVerdict::kNone: return "none";
    case SpfVerdict::kNeutral: return "neutral";
    case SpfVerdict::kPass: return "pass";
    case SpfVerdict::kFail: return "fail";
    case SpfVerdict::kSoftFail: return "softfail";
    case SpfVerdict::kTempError: return "temperror";
    case SpfVerdict::kPermError: return "permerror";
  }
  return "permerror";
}

SpfResult CheckSpfMailFrom(const SpfRequest& request, Resolver& resolver, Deadline deadline,
                           const SpfOptions& options) {
  SpfResult result;
  SetMailFromIdentity(request, &result);
  return CheckHost(std::move(result), request, resolver, deadline, options);
}

SpfResult CheckSpfHelo(const SpfRequest& request, Resolver& resolver, Deadline deadline,
                       const SpfOptions& options) {
  // RFC 7208 §2.3: the HELO identity is checked as postmaster@HELO.
  SpfResult result;
  result.identity = "helo";
  result.domain = request.helo;
  result.sender = "postmaster@" + request.helo;
  return CheckHost(std::move(result), request, resolver, deadline, options);
}

}  // namespace credence
