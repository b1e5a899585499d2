// The JSON form of an evaluation, shared by every host that prints or sends JSON (the
// command, the companion service, the C ABI). docs/cli.md documents the schema.
#ifndef CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
#define CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "credence/dkim.h"
#include "credence/policy/evaluate.h"
#include "credence/spf.h"

namespace credence {

// One DKIM signature's result: result, reason, detail, domain, selector, algorithm,
// canonicalization, identity, testing, key_bits, body_length, unsigned_body_bytes, timestamp,
// expiration, signed_headers, header_b, header_index.
nlohmann::json DkimResultToJson(const DkimResult& r);
// result, identity, domain, sender, explanation, detail, dns_queries, limit_reached.
nlohmann::json SpfResultToJson(const SpfResult& r);
// result, domain (the From domain), org_domain, record_domain, policy, policy_tag,
// disposition, testing, sampled_out, non_existent, dkim_aligned, spf_aligned,
// aligned_dkim_domain, reason, dns_queries, from_problem, temporary_identifier, limit_reached,
// local_policy (null, or the trusted-sealer override: type "local_policy", comment "arc=pass",
// sealer, instance, evidence, disposition_before), record (null or the parsed tags).
nlohmann::json DmarcResultToJson(const DmarcResult& r);
// {"dkim": [...], "arc": {result, reason, detail, oldest_pass, sealers, sets: [{instance, cv,
//  authserv_id, seal_domain, seal_selector, seal_result, ams_domain, ams_selector,
//  ams_result}]}, "spf": {...}, "spf_helo": {...}, "dmarc": {...},
//  "authentication_results": "... one line", "limits": ["what a limit left out", ...], "score": 1.5,
//  "symbols": [{"name","weight","description"}],
//  "forged_authentication_results": [header positions]}
nlohmann::json EvaluationToJson(const Evaluation& ev);

// Serialises without ever throwing: invalid UTF-8 from a message becomes U+FFFD.
std::string DumpJson(const nlohmann::json& j);

// ---- The direct writer: the bytes of DumpJson(EvaluationToJson(ev)), without the tree ----
// Hosts that print or send one object per message use it (building the nlohmann tree cost
// 13-20 us per message). Byte for byte as nlohmann 3.11's dump(-1, ' ', false,
// error_handler_t::replace): keys sorted by bytes (nlohmann's object is a std::map), compact
// separators, strings escaped as AppendJsonString does, numbers as nlohmann prints them.
// tests/unit/evaluation_json_test.cc and tests/fuzz/fuzz_evaluation_json.cc compare the two.

// Appends `text` as a JSON string (quotes included), exactly as nlohmann's dump escapes it
// with ensure_ascii=false and error_handler_t::replace: '"' and '\' escaped; \b \f \n \r
// \t; other bytes below 0x20 as \u00xx (lower-case hex); DEL and valid UTF-8 copied; each
// invalid UTF-8 sequence, as nlohmann's decoder delimits it, replaced by U+FFFD.
void AppendJsonString(std::string_view text, std::string* out);
// Appends `value` as nlohmann prints a number_float: shortest round-trip digits (grisu2),
// "2.0" for integral values, "1e+21"-style exponents; NaN and infinities as null.
void AppendJsonNumber(double value, std::string* out);

// A member to merge into the evaluation's object: `key` and its value, either JSON text
// written as is (Raw) or text written as a JSON string (String).
struct JsonMember {
  static JsonMember Raw(std::string_view key, std::string_view json) { return {key, json, false}; }
  static JsonMember String(std::string_view key, std::string_view text) {
    return {key, text, true};
  }
  std::string_view key;
  std::string_view value;
  bool is_string = false;
};

// Appends what DumpJson(EvaluationToJson(ev)) gives, with the `extra` members merged in key
// order (as if set on the tree before dumping). `extra` may come in any order; its keys must
// differ from each other and from the evaluation's own keys. Reserves room once. Throws only
// std::bad_alloc.
void AppendEvaluationJson(const Evaluation& ev, std::span<const JsonMember> extra,
                          std::string* out);
void AppendEvaluationJson(const Evaluation& ev, std::string* out);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
