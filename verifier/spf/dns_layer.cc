// libspf2's pluggable DNS layer over credence's Resolver. Together with spf/check.cc this is
// the only code that includes <spf2/spf.h>.
#include "spf/dns_layer.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
}

#include "credence/ascii.h"
#include "spf/explain.h"
#include "spf/macro.h"
#include "spf/record.h"

namespace credence::spf {
namespace {

using Abort = Session::Abort;

// Lower case without the trailing dot: the form the caches and the zone compare.
std::string Lowered(std::string_view s) {
  std::string out = ToLower(s);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

SPF_dns_rr_t* Empty(SPF_dns_server_t* server, const char* domain, ns_type type, int herrno) {
  return SPF_dns_rr_new_init(server, domain, type, 0, herrno);
}

// Copies `records` into a new SPF_dns_rr_t in libspf2's layout (see spf_dns_zone.c).
SPF_dns_rr_t* Build(SPF_dns_server_t* server, const char* domain, ns_type type,
                    const std::vector<std::string>& records) {
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, 0, NETDB_SUCCESS);
  if (rr == nullptr) return nullptr;
  int n = 0;
  for (const std::string& data : records) {
    if (type == ns_t_a) {
      in_addr a{};
      if (inet_pton(AF_INET, data.c_str(), &a) != 1) continue;
      if (SPF_dns_rr_buf_realloc(rr, n, sizeof(a)) != SPF_E_SUCCESS) break;
      rr->rr[n]->a = a;
    } else if (type == ns_t_aaaa) {
      in6_addr a{};
      if (inet_pton(AF_INET6, data.c_str(), &a) != 1) continue;
      if (SPF_dns_rr_buf_realloc(rr, n, sizeof(a)) != SPF_E_SUCCESS) break;
      rr->rr[n]->aaaa = a;
    } else {
      if (SPF_dns_rr_buf_realloc(rr, n, data.size() + 1) != SPF_E_SUCCESS) break;
      std::memcpy(rr->rr[n]->txt, data.c_str(), data.size() + 1);
    }
    ++n;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

// The name `target` stands for (RFC 7208 §7: expanded now, once). False when the expansion
// ended the check (s.abort says why).
bool ResolveTarget(Target& target, Session& s, std::string* name) {
  if (!target.expanded) {
    if (target.spec.empty()) {
      target.name = target.domain;
    } else {
      Status st = ExpandDomainSpec(target.spec, target.domain, s, &target.name);
      if (!st.ok()) {
        s.Fail(Abort::kPermError, st.message());
        return false;
      }
    }
    target.expanded = true;
  }
  *name = target.name;
  return true;
}

// RFC 7208 §5.5 "ptr", evaluated by credence (libspf2 sees "exists:" + the marker and asks
// for A): one matching answer when a validated name of the client is the target domain or
// under it, none otherwise.
SPF_dns_rr_t* EvaluatePtr(SPF_dns_server_t* server, const char* domain, ns_type ns_type,
                          Target& target, Session& s) {
  std::string want;
  if (!ResolveTarget(target, s, &want)) return Empty(server, domain, ns_type, TRY_AGAIN);
  std::vector<std::string> names = ValidatedNames(s, /*term=*/true);
  if (s.abort != Abort::kNone) return Empty(server, domain, ns_type, TRY_AGAIN);
  for (const std::string& n : names) {
    if (IsSameOrSubdomain(n, want)) return Build(server, domain, ns_type, {"127.0.0.1"});
  }
  return Empty(server, domain, ns_type, NO_DATA);
}

std::optional<RRType> RRTypeOf(ns_type ns_type) {
  switch (ns_type) {
    case ns_t_a: return RRType::kA;
    case ns_t_aaaa: return RRType::kAAAA;
    case ns_t_mx: return RRType::kMX;
    case ns_t_ptr: return RRType::kPTR;
    case ns_t_txt: return RRType::kTXT;
    default: return std::nullopt;
  }
}

// Only libspf2's exp= lookup asks for TXT here (records go through GetSpf). Credence fetches
// and expands the text itself and hands libspf2 a marker (spf/session.h). libspf2 asks when
// any evaluation (an include's too) ends in fail, softfail, neutral or none; RFC 7208 §6.2:
// the explanation never changes the result, so whatever its %{p} counted or stopped is undone.
SPF_dns_rr_t* ExplanationMarker(SPF_dns_server_t* server, const char* domain, ns_type ns_type,
                                Target* target, Session& s) {
  const Abort abort = s.abort;
  const std::string detail = s.detail;
  const size_t terms = s.dns_terms, voids = s.void_lookups;
  std::string text;
  std::string exp_name;
  if (target != nullptr && ResolveTarget(*target, s, &exp_name) &&
      IsValidCheckDomain(exp_name)) {
    text = FetchExplanation(exp_name, target->domain, s);
  }
  s.abort = abort;
  s.detail = detail;
  s.dns_terms = terms;
  s.void_lookups = voids;
  s.explanations.push_back(std::move(text));
  std::string marker = std::string(kExplanationMarker) + std::to_string(s.explanations.size() - 1);
  return Build(server, domain, ns_type, {marker});
}

// One address/MX/PTR question of libspf2's, as this layer answers it.
struct Question {
  SPF_dns_server_t* server;
  const char* domain;  // as libspf2 asked (its answer must carry the same name)
  ns_type wire_type;
  RRType type;
  std::string name;  // what is asked of the resolver: lower case, target expanded
  bool is_term;      // a term of its own (counted; a void answer counts), not an MX follow-up
  bool any_address;  // a "/0" prefix: any address of the family matches
  SPF_dns_rr_t* Empty(int code) const { return spf::Empty(server, domain, wire_type, code); }
};

// The records of a kOk answer in libspf2's form. MX names are sorted by preference and kept
// (bounded) as the follow-ups libspf2 will ask addresses for.
SPF_dns_rr_t* Records(const Question& q, DnsAnswer answer, Session& s) {
  std::vector<ResourceRecord> records;
  for (ResourceRecord& r : answer.records) {
    if (r.type == q.type) records.push_back(std::move(r));
  }
  if (records.empty()) {
    if (q.is_term && !s.CountVoid()) return q.Empty(TRY_AGAIN);
    return q.Empty(NO_DATA);
  }
  if (q.type == RRType::kMX && records.size() > s.options->max_mx_names) {
    // RFC 7208 §4.6.4: more MX names than the limit make the mx mechanism a permerror,
    // whatever the names' addresses (libspf2 checks only after the names it looked at, so an
    // early match there would pass).
    s.Fail(Abort::kPermError, "more than " + std::to_string(s.options->max_mx_names) +
                                  " MX names at " + q.name + " (RFC 7208 §4.6.4)");
    return q.Empty(TRY_AGAIN);
  }
  if (q.type == RRType::kMX) {
    std::stable_sort(records.begin(), records.end(),
                     [](const ResourceRecord& a, const ResourceRecord& b) {
                       return a.preference < b.preference;
                     });
  }
  std::vector<std::string> data;
  for (const ResourceRecord& r : records) {
    if (q.type == RRType::kMX || q.type == RRType::kPTR) {
      std::string mx = Lowered(r.data);
      if (s.followups.size() < s.options->max_mx_names) s.followups.push_back(mx);
      data.push_back(q.any_address ? mx + std::string(kAnyAddressSuffix) : mx);
    } else {
      data.push_back(r.data);
    }
  }
  if (q.any_address && (q.type == RRType::kA || q.type == RRType::kAAAA)) {
    // A "/0" prefix: any address of the asked family matches the client.
    data.assign(1, s.client_ip);
  }
  return Build(q.server, q.domain, q.wire_type, data);
}

SPF_dns_rr_t* Lookup(SPF_dns_server_t* server, const char* domain, ns_type ns_type,
                     int /*should_cache*/) {
  Session& s = *static_cast<Session*>(server->hook);
  // RFC 7208 §3.1, §14.1: the SPF RR type is obsolete; never ask for it.
  if (ns_type == ns_t_spf) return Empty(server, domain, ns_type, NO_DATA);
  if (s.abort != Abort::kNone) return Empty(server, domain, ns_type, TRY_AGAIN);
  std::optional<RRType> type = RRTypeOf(ns_type);
  if (!type) return Empty(server, domain, ns_type, NO_DATA);

  Question q{server, domain, ns_type, *type, Lowered(domain), false, false};
  q.any_address = EndsWith(q.name, kAnyAddressSuffix);
  if (q.any_address) q.name.resize(q.name.size() - kAnyAddressSuffix.size());

  // Every name in a rewritten record is a target marker (spf/record.h); other names are the
  // MX targets libspf2 got from this layer.
  Target* target = s.FindTarget(q.name);
  if (q.type == RRType::kTXT) return ExplanationMarker(server, domain, ns_type, target, s);

  // Which term asks? A marker is a term of its own; an address lookup for the next pending
  // MX target is part of the mx term.
  q.is_term = target != nullptr;
  if (!q.is_term && (q.type == RRType::kA || q.type == RRType::kAAAA)) {
    if (!s.followups.empty() && s.followups.front() == q.name) {
      s.followups.pop_front();
    } else {
      q.is_term = true;
    }
  }
  if (q.is_term) {
    s.followups.clear();
    if (!s.CountTerm()) return q.Empty(TRY_AGAIN);
  }
  if (target != nullptr) {
    if (target->ptr) return EvaluatePtr(server, domain, ns_type, *target, s);
    if (!ResolveTarget(*target, s, &q.name)) return q.Empty(TRY_AGAIN);
  }
  // RFC 7208 §4.8, §7.3: a target name that is not a valid domain after expansion (say from
  // a %{h} of a bogus HELO) is not asked about and matches nothing.
  if (q.is_term && !IsValidCheckDomain(q.name)) return q.Empty(HOST_NOT_FOUND);

  DnsAnswer answer = s.Ask(q.name, q.type);
  switch (answer.outcome) {
    case DnsOutcome::kNotAsked:
      s.Fail(Abort::kNotEvaluated, answer.detail);
      return q.Empty(TRY_AGAIN);
    case DnsOutcome::kTempFail:
      s.Fail(Abort::kTempError, "DNS " + RRTypeName(q.type) + " " + q.name + ": " +
                                    (answer.detail.empty() ? "temporary failure" : answer.detail));
      return q.Empty(TRY_AGAIN);
    case DnsOutcome::kNxDomain:
    case DnsOutcome::kNoData:
      if (q.is_term && !s.CountVoid()) return q.Empty(TRY_AGAIN);
      return q.Empty(answer.outcome == DnsOutcome::kNxDomain ? HOST_NOT_FOUND : NO_DATA);
    case DnsOutcome::kOk:
      break;
  }
  return Records(q, std::move(answer), s);
}

// Replaces libspf2's SPF_server_get_record: find exactly one "v=spf1" TXT record, check it
// against the RFC 7208 grammar, and only then let libspf2 compile it.
// An include or redirect: counted as a DNS-querying term (RFC 7208 §4.6.4); *domain, the
// marker libspf2 handed over (spf/session.h), becomes the target's expanded domain.
SPF_errcode_t FollowTarget(Session& s, std::string* domain) {
  s.followups.clear();
  if (!s.CountTerm()) return SPF_E_BIG_DNS;
  Target* target = s.FindTarget(*domain);
  if (target == nullptr) {
    s.Fail(Abort::kPermError, "include/redirect target '" + *domain + "' is no credence target");
    return SPF_E_INVALID_CHAR;
  }
  if (!ResolveTarget(*target, s, domain)) return SPF_E_BIG_DNS;
  // RFC 7208 §4.8, §5.2: the target must be a usable domain name.
  if (!IsValidCheckDomain(*domain) || !HasValidTopLabel(*domain)) {
    s.Fail(Abort::kPermError, "invalid include/redirect target '" + *domain + "'");
    return SPF_E_INVALID_CHAR;
  }
  return SPF_E_SUCCESS;
}

// The one SPF record at `domain` into *record (RFC 7208 §4.4, §4.5), or why there is none.
SPF_errcode_t FetchRecord(Session& s, const std::string& domain, bool top, std::string* record) {
  DnsAnswer answer = s.Ask(domain, RRType::kTXT);
  std::vector<std::string> spf_records;
  switch (answer.outcome) {
    case DnsOutcome::kNotAsked:
      s.Fail(Abort::kNotEvaluated, answer.detail);
      return SPF_E_DNS_ERROR;
    case DnsOutcome::kTempFail:
      // RFC 7208 §4.4: a DNS error while fetching the record is temperror.
      s.Fail(Abort::kTempError, "DNS TXT " + domain + ": " +
                                    (answer.detail.empty() ? "temporary failure" : answer.detail));
      return SPF_E_DNS_ERROR;
    case DnsOutcome::kNxDomain:
    case DnsOutcome::kNoData:
      if (!top && !s.CountVoid()) return SPF_E_BIG_DNS;
      break;
    case DnsOutcome::kOk:
      for (const ResourceRecord& r : answer.records) {
        if (r.type == RRType::kTXT && IsSpfRecord(r.data)) spf_records.push_back(r.data);
      }
      break;
  }
  if (spf_records.empty()) {
    // RFC 7208 §4.5: no record is "none" at the top; §5.2, §6.1: permerror below it.
    if (top) {
      s.top_none = true;
      s.detail = "no SPF record at " + domain;
    } else {
      s.Fail(Abort::kPermError, "no SPF record at include/redirect target " + domain);
    }
    return SPF_E_NOT_SPF;
  }
  if (spf_records.size() > 1) {
    // RFC 7208 §4.5: more than one record is permerror.
    s.Fail(Abort::kPermError, "multiple SPF records at " + domain);
    return SPF_E_MULTIPLE_RECORDS;
  }
  Status syntax = CheckSpfRecordSyntax(spf_records[0]);
  if (!syntax.ok()) {
    // RFC 7208 §4.6: a syntax error anywhere in the record is permerror.
    s.Fail(Abort::kPermError, "SPF record at " + domain + ": " + syntax.message());
    return SPF_E_SYNTAX;
  }
  *record = std::move(spf_records[0]);
  return SPF_E_SUCCESS;
}

SPF_errcode_t GetSpf(SPF_server_t* spf_server, SPF_request_t* spf_request,
                     SPF_response_t* spf_response, SPF_record_t** spf_recordp) {
  *spf_recordp = nullptr;
  Session& s = *static_cast<Session*>(spf_server->resolver->hook);
  bool top = s.record_fetches++ == 0;
  if (s.abort != Abort::kNone) return SPF_E_DNS_ERROR;
  std::string domain = Lowered(spf_request->cur_dom ? spf_request->cur_dom : "");
  if (!top) {
    if (SPF_errcode_t e = FollowTarget(s, &domain); e != SPF_E_SUCCESS) return e;
  }
  std::string record;
  if (SPF_errcode_t e = FetchRecord(s, domain, top, &record); e != SPF_E_SUCCESS) return e;
  // Every domain-spec of the record becomes a target whose %{d} is this record's domain.
  std::string compiled = RewriteForLibspf2(
      record, s.client_v6, [&s, &domain](std::string_view spec, bool ptr) {
        s.targets.push_back(Target{std::string(spec), domain, ptr});
        return Session::TargetName(s.targets.size() - 1);
      });
  SPF_errcode_t err = SPF_record_compile(spf_server, spf_response, spf_recordp, compiled.c_str());
  if (err != SPF_E_SUCCESS) {
    s.Fail(Abort::kPermError, "libspf2 rejected the SPF record at " + domain + ": " +
                                  SPF_strerror(err));
    if (*spf_recordp != nullptr) {
      SPF_record_free(*spf_recordp);
      *spf_recordp = nullptr;
    }
    return err;
  }
  return SPF_E_SUCCESS;
}

void Destroy(SPF_dns_server_t* server) { std::free(server); }

}  // namespace

SPF_dns_server_struct* NewResolverDnsLayer(Session* session) {
  auto* server = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
  if (server == nullptr) return nullptr;
  server->destroy = &Destroy;
  server->lookup = &Lookup;
  server->get_spf = &GetSpf;
  server->get_exp = nullptr;
  server->add_cache = nullptr;
  server->layer_below = nullptr;
  server->name = "credence";
  server->debug = 0;
  server->hook = session;
  return server;
}

}  // namespace credence::spf
