// The JSON schema of an evaluation as an nlohmann tree: the slow, obvious form, kept in the tests
// as the oracle for the direct writer that production uses (plugin/common/evaluation_json.h).
// tests/unit/evaluation_json_test.cc and tests/fuzz/fuzz_evaluation_json.cc check that
// AppendEvaluationJson writes the bytes of DumpJson(EvaluationToJson(ev)): nlohmann's
// std::map-backed objects print their keys sorted by bytes, dump(-1, ' ', false, replace)
// escapes strings and replaces invalid UTF-8 with U+FFFD, and prints doubles with Grisu2.
#ifndef CREDENCE_TESTS_UNIT_EVALUATION_JSON_TREE_H_
#define CREDENCE_TESTS_UNIT_EVALUATION_JSON_TREE_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "credence/dkim.h"
#include "credence/policy/evaluate.h"
#include "credence/spf.h"

namespace credence::testing {

using nlohmann::json;

template <typename T>
inline json OptionalJson(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

inline json DkimResultToJson(const DkimResult& r) {
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
  j["unsigned_fields"] = r.unsigned_fields;
  j["timestamp"] = OptionalJson(r.timestamp);
  j["expiration"] = OptionalJson(r.expiration);
  j["signed_headers"] = r.signed_headers;
  j["header_b"] = r.signature_b.substr(0, 8);  // RFC 6008 §4: header.b prefix, as in A-R
  j["header_index"] = r.header_index;
  return j;
}

inline json SpfResultToJson(const SpfResult& r) {
  json j = json::object();
  j["result"] = std::string(SpfVerdictName(r.result));
  j["identity"] = r.identity;
  j["domain"] = r.domain;
  j["sender"] = r.sender;
  j["explanation"] = r.explanation;
  j["detail"] = r.detail;
  j["dns_queries"] = r.dns_queries;
  j["limit_reached"] = r.limit_reached;
  return j;
}

// RFC 7489 §6.7 local policy (the trusted-sealer override), as aggregate reports name it.
inline json LocalPolicyToJson(const DmarcResult& r) {
  if (!r.arc_override) return nullptr;
  json j = json::object();
  j["type"] = "local_policy";
  j["comment"] = "arc=pass";
  j["sealer"] = r.arc_override_sealer;
  j["instance"] = r.arc_override_instance;
  j["evidence"] = r.arc_override_evidence;
  j["disposition_before"] = std::string(DmarcDispositionName(r.disposition_before_override));
  return j;
}

inline json ArcResultToJson(const ArcResult& r) {
  json j = json::object();
  j["result"] = std::string(ArcVerdictName(r.result));
  j["reason"] = std::string(ArcReasonName(r.reason));
  j["detail"] = r.detail;
  j["oldest_pass"] = r.oldest_pass;
  j["sealers"] = r.Sealers();
  json sets = json::array();
  for (const ArcSet& s : r.sets) {
    json o = json::object();
    o["instance"] = s.instance;
    o["cv"] = s.cv;
    o["authserv_id"] = s.authserv_id;
    o["seal_domain"] = s.seal.domain;
    o["seal_selector"] = s.seal.selector;
    o["seal_result"] = std::string(DkimVerdictName(s.seal.result));
    o["ams_domain"] = s.message_signature.domain;
    o["ams_selector"] = s.message_signature.selector;
    o["ams_result"] = std::string(DkimVerdictName(s.message_signature.result));
    sets.push_back(std::move(o));
  }
  j["sets"] = std::move(sets);
  return j;
}

inline json DmarcResultToJson(const DmarcResult& r) {
  json j = json::object();
  j["result"] = std::string(DmarcVerdictName(r.verdict));
  j["domain"] = r.from_domain;
  j["org_domain"] = r.org_domain;
  j["record_domain"] = r.record_domain;
  j["record_assumed"] = r.record_assumed;
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
  j["from_problem"] = std::string(DmarcFromProblemName(r.from_problem));
  j["temporary_identifier"] = r.temporary_identifier;
  j["limit_reached"] = r.limit_reached;
  j["local_policy"] = LocalPolicyToJson(r);
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

inline json EvaluationToJson(const Evaluation& ev) {
  json j = json::object();
  json sigs = json::array();
  for (const DkimResult& r : ev.dkim) sigs.push_back(DkimResultToJson(r));
  j["dkim"] = std::move(sigs);
  j["arc"] = ArcResultToJson(ev.arc);
  j["spf"] = SpfResultToJson(ev.spf_mailfrom);
  j["spf_helo"] = SpfResultToJson(ev.spf_helo);
  j["dmarc"] = DmarcResultToJson(ev.dmarc);
  j["authentication_results"] = ev.authres.value;
  j["limits"] = ev.limits;
  j["score"] = ev.score.score;
  json symbols = json::array();
  for (const ScoreSymbol& s : ev.score.symbols)
    symbols.push_back({{"name", s.name}, {"weight", s.weight}, {"description", s.description}});
  j["symbols"] = std::move(symbols);
  j["forged_authentication_results"] = ev.forged_authres;
  return j;
}

inline std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_EVALUATION_JSON_TREE_H_
