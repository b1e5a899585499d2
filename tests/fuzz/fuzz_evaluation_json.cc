// Differential fuzz target for the direct JSON writer (plugin/common/evaluation_json.h): an
// Evaluation filled from the input must give the same bytes from AppendEvaluationJson as from
// DumpJson(EvaluationToJson(...)), and the same again with extra members merged in (as the
// command and the companion service add them). AppendJsonString and AppendJsonNumber are also
// compared with nlohmann on the raw input.
//
// Every string comes from the input (any bytes: invalid UTF-8, controls, quotes), every double
// is 8 input bytes taken as its bit pattern (NaN, infinities, subnormals, huge and tiny) or one
// of a few special values, and every optional and count is chosen by the input.
#include <fuzzer/FuzzedDataProvider.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/evaluation_json.h"
#include "../unit/evaluation_json_tree.h"

namespace {

using credence::JsonMember;
using nlohmann::json;

void Check(bool ok, const std::string& got, const std::string& want) {
  if (ok) return;
  std::fprintf(stderr, "direct writer: %s\nnlohmann:      %s\n", got.c_str(), want.c_str());
  std::abort();
}

std::string Str(FuzzedDataProvider& in) { return in.ConsumeRandomLengthString(64); }

double Double(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return 0.0;
    case 1:
      return -0.0;
    case 2:
      return std::numeric_limits<double>::quiet_NaN();
    case 3:
      return in.ConsumeBool() ? std::numeric_limits<double>::infinity()
                              : -std::numeric_limits<double>::infinity();
    case 4:  // a small decimal weight such as -0.7 or 2.5
      return in.ConsumeIntegralInRange<int>(-1000, 1000) / 10.0;
    default:
      return std::bit_cast<double>(in.ConsumeIntegral<uint64_t>());
  }
}

template <typename T>
std::optional<T> Optional(FuzzedDataProvider& in) {
  if (!in.ConsumeBool()) return std::nullopt;
  return in.ConsumeIntegral<T>();
}

template <typename E>
E Enum(FuzzedDataProvider& in, int count) {
  return static_cast<E>(in.ConsumeIntegralInRange<int>(0, count - 1));
}

std::vector<std::string> Strings(FuzzedDataProvider& in, size_t max) {
  std::vector<std::string> v(in.ConsumeIntegralInRange<size_t>(0, max));
  for (std::string& s : v) s = Str(in);
  return v;
}

credence::DkimResult Dkim(FuzzedDataProvider& in) {
  credence::DkimResult r;
  r.result = Enum<credence::DkimVerdict>(in, 6);
  r.reason = Enum<credence::DkimReason>(in, 26);
  r.detail = Str(in);
  r.domain = Str(in);
  r.selector = Str(in);
  r.algorithm = Str(in);
  r.canonicalization = Str(in);
  r.identity = Str(in);
  r.signature_b = Str(in);
  r.signed_headers = Strings(in, 4);
  r.timestamp = Optional<int64_t>(in);
  r.expiration = Optional<int64_t>(in);
  r.body_length = Optional<uint64_t>(in);
  r.unsigned_body_bytes = in.ConsumeIntegral<uint64_t>();
  r.unsigned_fields = Strings(in, 2);
  r.testing = in.ConsumeBool();
  r.key_bits = in.ConsumeIntegral<unsigned>();
  r.header_index = in.ConsumeIntegral<size_t>();
  return r;
}

credence::SpfResult Spf(FuzzedDataProvider& in) {
  credence::SpfResult r;
  r.result = Enum<credence::SpfVerdict>(in, 7);
  r.identity = Str(in);
  r.domain = Str(in);
  r.sender = Str(in);
  r.explanation = Str(in);
  r.detail = Str(in);
  r.dns_queries = in.ConsumeIntegral<size_t>();
  r.limit_reached = in.ConsumeBool();
  return r;
}

credence::DmarcResult Dmarc(FuzzedDataProvider& in) {
  credence::DmarcResult r;
  r.verdict = Enum<credence::DmarcVerdict>(in, 5);
  r.from_domain = Str(in);
  r.org_domain = Str(in);
  r.record_domain = Str(in);
  r.has_record = in.ConsumeBool();
  if (r.has_record || in.ConsumeBool()) {  // a record is filled in even when unused
    credence::DmarcRecord& rec = r.record;
    rec.p = Enum<credence::DmarcPolicy>(in, 3);
    if (in.ConsumeBool()) rec.sp = Enum<credence::DmarcPolicy>(in, 3);
    if (in.ConsumeBool()) rec.np = Enum<credence::DmarcPolicy>(in, 3);
    rec.adkim = Enum<credence::DmarcAlignmentMode>(in, 2);
    rec.aspf = Enum<credence::DmarcAlignmentMode>(in, 2);
    rec.t = in.ConsumeBool();
    rec.psd = Enum<credence::DmarcPsd>(in, 3);
    rec.pct = in.ConsumeIntegral<unsigned>();
    rec.fo = Str(in);
    rec.rua = Strings(in, 3);
    rec.ruf = Strings(in, 3);
    rec.p_defaulted = in.ConsumeBool();
    rec.warnings = Strings(in, 3);
  }
  r.policy_tag = Enum<credence::DmarcPolicyTag>(in, 4);
  r.requested = Enum<credence::DmarcPolicy>(in, 3);
  r.disposition = Enum<credence::DmarcDisposition>(in, 3);
  r.testing = in.ConsumeBool();
  r.sampled_out = in.ConsumeBool();
  r.non_existent = in.ConsumeBool();
  r.dkim_aligned = in.ConsumeBool();
  r.spf_aligned = in.ConsumeBool();
  r.aligned_dkim_domain = Str(in);
  r.reason = Str(in);
  r.dns_queries = in.ConsumeIntegral<size_t>();
  r.from_problem = Enum<credence::DmarcFromProblem>(in, 4);
  r.temporary_identifier = Str(in);
  r.limit_reached = in.ConsumeBool();
  return r;
}

credence::Evaluation Fill(FuzzedDataProvider& in) {
  credence::Evaluation ev;
  ev.dkim.resize(in.ConsumeIntegralInRange<size_t>(0, 4));
  for (credence::DkimResult& r : ev.dkim) r = Dkim(in);
  ev.spf_evaluated = in.ConsumeBool();
  ev.spf_mailfrom = Spf(in);
  ev.spf_helo = Spf(in);
  ev.dmarc = Dmarc(in);
  ev.authres.value = Str(in);
  ev.authres.folded = Str(in);
  ev.score.score = Double(in);
  ev.score.symbols.resize(in.ConsumeIntegralInRange<size_t>(0, 5));
  for (credence::ScoreSymbol& s : ev.score.symbols) {
    // Names are views of the default table's (ScoreSymbol::name).
    const auto table = credence::DefaultSymbols();
    s.name = table[in.ConsumeIntegralInRange<size_t>(0, table.size() - 1)].name;
    s.weight = Double(in);
    s.description = Str(in);
  }
  ev.limits = Strings(in, 3);
  ev.forged_authres.resize(in.ConsumeIntegralInRange<size_t>(0, 3));
  for (size_t& f : ev.forged_authres) f = in.ConsumeIntegral<size_t>();
  // ARC and the trusted-sealer override (last, so older seeds keep their meaning).
  ev.arc.result = Enum<credence::ArcVerdict>(in, 3);
  ev.arc.reason = Enum<credence::ArcReason>(in, 9);
  ev.arc.detail = Str(in);
  ev.arc.oldest_pass = in.ConsumeIntegral<int>();
  ev.arc.sets.resize(in.ConsumeIntegralInRange<size_t>(0, 3));
  for (credence::ArcSet& set : ev.arc.sets) {
    set.instance = in.ConsumeIntegral<int>();
    set.cv = Str(in);
    set.authserv_id = Str(in);
    set.seal = Dkim(in);
    set.message_signature = Dkim(in);
  }
  ev.dmarc.arc_override = in.ConsumeBool();
  ev.dmarc.disposition_before_override = Enum<credence::DmarcDisposition>(in, 3);
  ev.dmarc.arc_override_sealer = Str(in);
  ev.dmarc.arc_override_instance = in.ConsumeIntegral<int>();
  ev.dmarc.arc_override_evidence = Str(in);
  return ev;
}

// Keys the evaluation does not use, including ones that sort first, last and in between.
constexpr const char* kExtraKeys[] = {"file", "evaluated_at", "error", "id",
                                      "remove_authentication_results", "", "a", "zz", "spf_",
                                      "dkim\xff", "\x01"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);

  // The string and number helpers on their own.
  std::string text = Str(in);
  std::string got;
  credence::AppendJsonString(text, &got);
  std::string want = credence::testing::DumpJson(json(text));
  Check(got == want, got, want);
  double d = Double(in);
  got.clear();
  credence::AppendJsonNumber(d, &got);
  want = credence::testing::DumpJson(json(d));
  Check(got == want, got, want);

  // Extra members: up to four distinct keys, string or raw (an integer or a nested value).
  std::vector<std::string> values;
  std::vector<JsonMember> extra;
  json extra_tree = json::object();
  values.reserve(4);
  for (const char* key : kExtraKeys) {
    if (extra.size() == 4 || !in.ConsumeBool()) continue;
    if (in.ConsumeBool()) {
      values.push_back(Str(in));
      extra.push_back(JsonMember::String(key, values.back()));
      extra_tree[key] = values.back();
    } else {
      json v = in.ConsumeBool() ? json(in.ConsumeIntegral<int64_t>()) : json::array({1, "x"});
      values.push_back(credence::testing::DumpJson(v));
      extra.push_back(JsonMember::Raw(key, values.back()));
      extra_tree[key] = v;
    }
  }

  credence::Evaluation ev = Fill(in);
  json tree = credence::testing::EvaluationToJson(ev);
  got = "prefix";  // appends after what is there
  credence::AppendEvaluationJson(ev, &got);
  want = "prefix" + credence::testing::DumpJson(tree);
  Check(got == want, got, want);

  for (auto& [k, v] : extra_tree.items()) tree[k] = v;
  got.clear();
  credence::AppendEvaluationJson(ev, extra, &got);
  want = credence::testing::DumpJson(tree);
  Check(got == want, got, want);
  return 0;
}
