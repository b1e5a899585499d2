#include "evaluation_json.h"

#include <optional>

namespace credence {
namespace {

using nlohmann::json;

template <typename T>
json OptionalJson(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json DkimResultToJson(const DkimResult& r) {
  json j = json::object();
  j["result"] = std::string(DkimVerdictName(r.result));
  j["reason"] = std::string(DkimReasonName(r.reason));
  j["detail"] = r.detail;
  j["domain"] = r.domain;
  j["selector"] = r.selector;
  j["algorithm"] = r.algorithm;
  j["canonicalization"] = r.canonicalization;
  j["identity"] = r.identity;
  j["testing"] = r.testing;
  j["key_bits"] = r.key_bits;
  j["body_length"] = OptionalJson(r.body_length);
  j["unsigned_body_bytes"] = r.unsigned_body_bytes;
  j["timestamp"] = OptionalJson(r.timestamp);
  j["expiration"] = OptionalJson(r.expiration);
  j["signed_headers"] = r.signed_headers;
  j["header_b"] = r.signature_b.substr(0, 8);  // RFC 6008 §4: header.b prefix, as in A-R
  j["header_index"] = r.header_index;
  return j;
}

json SpfResultToJson(const SpfResult& r) {
  json j = json::object();
  j["result"] = std::string(SpfVerdictName(r.result));
  j["identity"] = r.identity;
  j["domain"] = r.domain;
  j["sender"] = r.sender;
  j["explanation"] = r.explanation;
  j["detail"] = r.detail;
  j["dns_queries"] = r.dns_queries;
  return j;
}

json DmarcResultToJson(const DmarcResult& r) {
  json j = json::object();
  j["result"] = std::string(DmarcVerdictName(r.verdict));
  j["domain"] = r.from_domain;
  j["org_domain"] = r.org_domain;
  j["record_domain"] = r.record_domain;
  j["policy"] = r.has_record ? json(std::string(DmarcPolicyName(r.requested))) : json(nullptr);
  j["policy_tag"] = std::string(DmarcPolicyTagName(r.policy_tag));
  j["disposition"] = std::string(DmarcDispositionName(r.disposition));
  j["testing"] = r.testing;
  j["sampled_out"] = r.sampled_out;
  j["non_existent"] = r.non_existent;
  j["dkim_aligned"] = r.dkim_aligned;
  j["spf_aligned"] = r.spf_aligned;
  j["aligned_dkim_domain"] = r.aligned_dkim_domain;
  j["reason"] = r.reason;
  j["dns_queries"] = r.dns_queries;
  if (r.has_record) {
    const DmarcRecord& rec = r.record;
    json t = json::object();
    t["p"] = std::string(DmarcPolicyName(rec.p));
    t["sp"] = rec.sp ? json(std::string(DmarcPolicyName(*rec.sp))) : json(nullptr);
    t["np"] = rec.np ? json(std::string(DmarcPolicyName(*rec.np))) : json(nullptr);
    t["adkim"] = std::string(DmarcAlignmentModeName(rec.adkim));
    t["aspf"] = std::string(DmarcAlignmentModeName(rec.aspf));
    t["t"] = rec.t;
    t["psd"] = std::string(DmarcPsdName(rec.psd));
    t["pct"] = rec.pct;
    t["fo"] = rec.fo;
    t["rua"] = rec.rua;
    t["ruf"] = rec.ruf;
    t["warnings"] = rec.warnings;
    j["record"] = std::move(t);
  } else {
    j["record"] = nullptr;
  }
  return j;
}

json EvaluationToJson(const Evaluation& ev) {
  json j = json::object();
  json sigs = json::array();
  for (const DkimResult& r : ev.dkim) sigs.push_back(DkimResultToJson(r));
  j["dkim"] = std::move(sigs);
  j["spf"] = SpfResultToJson(ev.spf_mailfrom);
  j["spf_helo"] = SpfResultToJson(ev.spf_helo);
  j["dmarc"] = DmarcResultToJson(ev.dmarc);
  j["authentication_results"] = ev.authres.value;
  j["score"] = ev.score.score;
  json symbols = json::array();
  for (const ScoreSymbol& s : ev.score.symbols)
    symbols.push_back({{"name", s.name}, {"weight", s.weight}, {"description", s.description}});
  j["symbols"] = std::move(symbols);
  j["forged_authentication_results"] = ev.forged_authres;
  return j;
}

std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace credence
