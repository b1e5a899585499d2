// The JSON form of an evaluation, shared by every host that prints or sends JSON (the
// command, the companion service, the C ABI). docs/cli.md documents the schema.
#ifndef CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
#define CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_

#include <span>
#include <string>
#include <string_view>

#include "credence/dkim.h"
#include "credence/policy/evaluate.h"
#include "credence/spf.h"

namespace credence {

// One object per message, written straight into the caller's string: no JSON tree, no JSON
// library (building a tree cost 13-20 us per message). Keys are sorted by bytes at every
// level, separators compact. tests/unit/evaluation_json_tree.h keeps the same schema as an
// nlohmann tree: the oracle that tests/unit/evaluation_json_test.cc and
// tests/fuzz/fuzz_evaluation_json.cc check these bytes against.
//
// The evaluation object: {"arc": {detail, oldest_pass, reason, result, sealers, sets:
// [{ams_domain, ams_result, ams_selector, authserv_id, cv, instance, seal_domain, seal_result,
// seal_selector}]}, "authentication_results": "... one line", "dkim": [{algorithm,
// body_length, canonicalization, detail, domain, expiration, header_b, header_index, identity,
// key_bits, reason, result, selector, signed_headers, testing, timestamp,
// unsigned_body_bytes, unsigned_fields}], "dmarc": {aligned_dkim_domain, disposition, dkim_aligned,
// dns_queries, domain (the From domain), from_problem, limit_reached, local_policy (null, or
// the trusted-sealer override: comment "arc=pass", disposition_before, evidence, instance,
// sealer, type "local_policy"), non_existent, org_domain, policy, policy_tag, record (null or
// the parsed tags), record_domain, result, sampled_out, spf_aligned, temporary_identifier,
// testing}, "forged_authentication_results": [header positions], "limits": ["what a limit
// left out", ...], "score": 1.5, "spf": {...}, "spf_helo": {...}, "symbols": [{description,
// name, weight}]}. An SPF object: {detail, dns_queries, domain, explanation, identity,
// limit_reached, result, sender}.

// Appends `text` as a JSON string (quotes included): '"' and '\' escaped; \b \f \n \r \t;
// other bytes below 0x20 as \u00xx (lower-case hex); DEL and valid UTF-8 (U+2028 included)
// copied; each invalid UTF-8 sequence, cut at its first byte that cannot continue it, replaced
// by one U+FFFD. (The bytes of nlohmann's dump with ensure_ascii=false and
// error_handler_t::replace.)
void AppendJsonString(std::string_view text, std::string* out);
// Appends `value` as a JSON number: Grisu2's round-trip digits (plugin/common/json_number.cc),
// "2.0" for integral values, "0.0001", "1.5e-05" and "1e+21"-style exponents; NaN and
// infinities as null. (The bytes of nlohmann's dump of a number_float.)
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

// Appends the evaluation object, with the `extra` members merged in key order. `extra` may
// come in any order; its keys must differ from each other and from the evaluation's own keys.
// Reserves room once. Throws only std::bad_alloc.
void AppendEvaluationJson(const Evaluation& ev, std::span<const JsonMember> extra,
                          std::string* out);
void AppendEvaluationJson(const Evaluation& ev, std::string* out);
// Appends one SPF result's object, `extra` merged in as above (`credence spf` adds "helo").
void AppendSpfResultJson(const SpfResult& r, std::span<const JsonMember> extra,
                         std::string* out);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
