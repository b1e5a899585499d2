// Test manifests (tests/data/score/cases.json, tests/data/authres/writer.json) describe DKIM,
// SPF and DMARC results as small JSON objects; these turn them into the library's structs.
// Verdict names are matched against the library's own *Name functions, so a manifest can only
// spell what the library prints. String values may hold "{{TEXT*N}}" (TEXT repeated N times)
// for long hostile values.
#ifndef CREDENCE_TESTS_UNIT_RESULTS_JSON_H_
#define CREDENCE_TESTS_UNIT_RESULTS_JSON_H_

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "credence/dkim.h"
#include "credence/policy/dmarc.h"
#include "credence/spf.h"

namespace credence::testing {

inline std::string ExpandRepeats(std::string s) {
  static const std::regex kMacro(R"(\{\{(.*?)\*(\d+)\}\})");
  std::smatch m;
  while (std::regex_search(s, m, kMacro)) {
    std::string rep;
    for (int i = 0; i < std::stoi(m[2]); ++i) rep += m[1].str();
    s = m.prefix().str() + rep + m.suffix().str();
  }
  return s;
}

// j[key] as a string with repeats expanded; "" when absent.
inline std::string JsonStr(const nlohmann::json& j, const char* key) {
  return j.contains(key) ? ExpandRepeats(j[key].get<std::string>()) : std::string();
}

// The enum value whose name (by `name_of`) is `s`; `fallback` when none is.
template <typename Enum, typename NameOf, size_t N>
Enum ByName(const std::string& s, const Enum (&values)[N], NameOf name_of, Enum fallback) {
  for (Enum v : values)
    if (name_of(v) == s) return v;
  return fallback;
}

inline DkimResult ToDkim(const nlohmann::json& j) {
  static const DkimVerdict kVerdicts[] = {DkimVerdict::kPass,      DkimVerdict::kFail,
                                          DkimVerdict::kNeutral,   DkimVerdict::kPolicy,
                                          DkimVerdict::kTempError, DkimVerdict::kPermError};
  static const DkimReason kReasons[] = {DkimReason::kBodyHashMismatch, DkimReason::kNoKey};
  DkimResult r;
  r.result = ByName(j.value("result", "pass"), kVerdicts, DkimVerdictName, DkimVerdict::kPermError);
  r.reason = ByName(j.value("reason", ""), kReasons, DkimReasonName, DkimReason::kNone);
  r.detail = JsonStr(j, "detail");
  r.domain = JsonStr(j, "d");
  r.selector = JsonStr(j, "s");
  r.algorithm = j.contains("a") ? JsonStr(j, "a") : "rsa-sha256";
  r.identity = JsonStr(j, "i");
  r.signature_b = JsonStr(j, "b");
  r.testing = j.value("testing", false);
  r.key_bits = j.value("bits", 0u);
  if (j.contains("l")) r.body_length = j["l"].get<uint64_t>();
  r.unsigned_body_bytes = j.value("unsigned", uint64_t{0});
  r.unsigned_fields = j.value("unsigned_fields", std::vector<std::string>{});
  r.signed_headers = j.value("h", std::vector<std::string>{});
  return r;
}

inline SpfResult ToSpf(const nlohmann::json& j, const char* identity = "mailfrom") {
  static const SpfVerdict kVerdicts[] = {SpfVerdict::kPass,      SpfVerdict::kFail,
                                         SpfVerdict::kSoftFail,  SpfVerdict::kNeutral,
                                         SpfVerdict::kTempError, SpfVerdict::kPermError,
                                         SpfVerdict::kNone};
  SpfResult r;
  r.result = ByName(j.value("result", "none"), kVerdicts, SpfVerdictName, SpfVerdict::kNone);
  r.identity = identity;
  r.domain = JsonStr(j, "domain");
  r.sender = JsonStr(j, "sender");
  r.detail = JsonStr(j, "detail");
  return r;
}

inline DmarcResult ToDmarc(const nlohmann::json& j) {
  static const DmarcVerdict kVerdicts[] = {DmarcVerdict::kPass, DmarcVerdict::kFail,
                                           DmarcVerdict::kTempError, DmarcVerdict::kPermError,
                                           DmarcVerdict::kNone};
  static const DmarcPolicy kPolicies[] = {DmarcPolicy::kNone, DmarcPolicy::kQuarantine,
                                          DmarcPolicy::kReject};
  static const DmarcDisposition kDispositions[] = {
      DmarcDisposition::kNone, DmarcDisposition::kQuarantine, DmarcDisposition::kReject};
  DmarcResult r;
  r.verdict = ByName(j.value("verdict", "none"), kVerdicts, DmarcVerdictName, DmarcVerdict::kNone);
  r.from_domain = JsonStr(j, "from");
  r.org_domain = JsonStr(j, "org_domain");
  r.has_record = j.value("has_record", false);
  r.record_assumed = j.value("record_assumed", false);
  r.author_public_suffix = j.value("author_public_suffix", false);
  r.requested = ByName(j.value("requested", "none"), kPolicies, DmarcPolicyName, DmarcPolicy::kNone);
  r.record.p = ByName(j.value("p", "none"), kPolicies, DmarcPolicyName, DmarcPolicy::kNone);
  r.disposition = ByName(j.value("disposition", "none"), kDispositions, DmarcDispositionName,
                         DmarcDisposition::kNone);
  r.disposition_if_fail = ByName(j.value("disposition_if_fail", "none"), kDispositions,
                                 DmarcDispositionName, DmarcDisposition::kNone);
  r.record_domain = JsonStr(j, "record_domain");
  r.testing = j.value("testing", false);
  r.sampled_out = j.value("sampled_out", false);
  r.reason = JsonStr(j, "reason");
  static const DmarcFromProblem kProblems[] = {
      DmarcFromProblem::kNone, DmarcFromProblem::kNoFrom, DmarcFromProblem::kMultipleFromFields,
      DmarcFromProblem::kUnreadable};
  r.from_problem = ByName(j.value("from_problem", "none"), kProblems, DmarcFromProblemName,
                          DmarcFromProblem::kNone);
  r.dkim_aligned = j.value("dkim_aligned", false);
  r.aligned_dkim_domain = JsonStr(j, "aligned_dkim_domain");
  r.aligned_dkim_testing = j.value("aligned_dkim_testing", false);
  r.spf_aligned = j.value("spf_aligned", false);
  return r;
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_RESULTS_JSON_H_
