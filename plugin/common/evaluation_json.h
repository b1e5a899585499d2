// The JSON form of an evaluation, shared by every host that prints or sends JSON (the
// command, the companion service, the C ABI). docs/cli.md documents the schema.
#ifndef CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
#define CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

#include "credence/dkim.h"
#include "credence/policy/evaluate.h"
#include "credence/spf.h"

namespace credence {

// One DKIM signature's result: result, reason, detail, domain, selector, algorithm,
// canonicalization, identity, testing, key_bits, body_length, unsigned_body_bytes, timestamp,
// expiration, signed_headers, header_b, header_index.
nlohmann::json DkimResultToJson(const DkimResult& r);
// result, identity, domain, sender, explanation, detail, dns_queries.
nlohmann::json SpfResultToJson(const SpfResult& r);
// result, domain (the From domain), org_domain, record_domain, policy, policy_tag,
// disposition, testing, sampled_out, non_existent, dkim_aligned, spf_aligned,
// aligned_dkim_domain, reason, dns_queries, record (null or the parsed tags).
nlohmann::json DmarcResultToJson(const DmarcResult& r);
// {"dkim": [...], "spf": {...}, "spf_helo": {...}, "dmarc": {...},
//  "authentication_results": "...", "score": 1.5, "symbols": [{"name","weight","description"}],
//  "forged_authentication_results": [header indexes]}
nlohmann::json EvaluationToJson(const Evaluation& ev);

// Serialises without ever throwing: invalid UTF-8 from a message becomes U+FFFD.
std::string DumpJson(const nlohmann::json& j);

}  // namespace credence

#endif  // CREDENCE_PLUGIN_COMMON_EVALUATION_JSON_H_
