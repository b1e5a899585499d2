// RFC 8617 §4.2 ARC sets and §5.2 steps 1-3 (collect, structure, cv= rules).
#include "arc/sets.h"

#include <algorithm>
#include <array>

#include "dkim/tag_list.h"

namespace credence::arc {
namespace {

enum Kind { kAar = 0, kAms = 1, kAs = 2 };
constexpr const char* kNames[] = {"ARC-Authentication-Results", "ARC-Message-Signature",
                                  "ARC-Seal"};

void SkipFws(std::string_view* s) {
  while (!s->empty() && dkim::IsFws(s->front())) s->remove_prefix(1);
}

// 1*9DIGIT (so that i=51 or i=999 is read and refused as "more than 50", not as garbage).
bool ParseNumber(std::string_view s, long* out) {
  if (s.empty() || s.size() > 9) return false;
  long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// The i= of an ARC-Message-Signature or ARC-Seal value, without a full parse.
bool PeekInstance(std::string_view value, long* instance) {
  Result<std::vector<dkim::Tag>> tags = dkim::ParseTagList(value);
  if (!tags.ok()) return false;
  const dkim::Tag* i = dkim::FindTag(*tags, "i");
  return i != nullptr && ParseNumber(i->value, instance);
}

// The authserv-id that starts an A-R payload (RFC 8601 §2.2: a value, then optional version),
// when it is domain-like; "" otherwise.
std::string AuthServId(std::string_view results) {
  SkipFws(&results);
  size_t end = 0;
  while (end < results.size() && !dkim::IsFws(results[end]) && results[end] != ';' &&
         results[end] != '(') {
    ++end;
  }
  std::string_view id = results.substr(0, end);
  return dkim::IsDomainLike(id) ? ToLower(id) : std::string();
}

ParsedChain Fail(ArcReason reason, std::string detail) {
  ParsedChain c;
  c.decided = true;
  c.verdict = ArcVerdict::kFail;
  c.reason = reason;
  c.detail = std::move(detail);
  return c;
}

}  // namespace

bool ParseAarInstance(std::string_view value, long* instance, std::string_view* rest) {
  SkipFws(&value);
  if (value.empty() || (value[0] != 'i')) return false;
  value.remove_prefix(1);
  SkipFws(&value);
  if (value.empty() || value[0] != '=') return false;
  value.remove_prefix(1);
  SkipFws(&value);
  size_t digits = 0;
  while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9') ++digits;
  if (!ParseNumber(value.substr(0, digits), instance)) return false;
  value.remove_prefix(digits);
  SkipFws(&value);
  if (value.empty() || value[0] != ';') return false;
  *rest = value.substr(1);
  return true;
}

namespace {

// An ARC header field: its instance, which of the three it is, and its index in the header.
struct ArcField {
  long instance;
  Kind kind;
  size_t index;
};

// RFC 8617 §5.2 step 1: every ARC field with its instance, and the newest instance. False, with
// *failed set, when a field has no readable instance or one past 50 (§4.2.1: 1 to 50).
bool CollectFields(const std::vector<HeaderField>& headers, std::vector<ArcField>* fields,
                   long* newest, ParsedChain* failed) {
  for (size_t i = 0; i < headers.size(); ++i) {
    Kind kind;
    if (EqualsIgnoreCase(headers[i].name, kNames[kAar])) {
      kind = kAar;
    } else if (EqualsIgnoreCase(headers[i].name, kNames[kAms])) {
      kind = kAms;
    } else if (EqualsIgnoreCase(headers[i].name, kNames[kAs])) {
      kind = kAs;
    } else {
      continue;
    }
    long instance = 0;
    std::string_view rest;
    bool ok = kind == kAar ? ParseAarInstance(headers[i].value, &instance, &rest)
                           : PeekInstance(headers[i].value, &instance);
    if (!ok || instance < 1) {
      *failed = Fail(ArcReason::kStructure,
                     std::string(kNames[kind]) + " without a readable instance (i=)");
      return false;
    }
    if (instance > dkim::kMaxArcInstance) {
      *failed = Fail(ArcReason::kTooManySets,
                     "instance " + std::to_string(instance) + " (more than 50 ARC sets)");
      return false;
    }
    *newest = std::max(*newest, instance);
    fields->push_back({instance, kind, i});
  }
  return true;
}

// RFC 8617 §5.2 step 3: each instance 1..n exactly once of each field; fills chain->sets with
// their header indexes, or sets *chain to the failure.
bool GroupSets(const std::vector<ArcField>& fields, size_t n, ParsedChain* chain) {
  std::vector<std::array<int, 3>> counts(n, {0, 0, 0});
  chain->sets.resize(n);
  for (const ArcField& f : fields) {
    ParsedSet& set = chain->sets[f.instance - 1];
    ++counts[f.instance - 1][f.kind];
    (f.kind == kAar ? set.aar : f.kind == kAms ? set.ams : set.as) = f.index;
  }
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) {
      if (counts[i][k] != 1) {
        *chain = Fail(ArcReason::kStructure,
                      "instance " + std::to_string(i + 1) +
                          (counts[i][k] == 0 ? " has no " : " has more than one ") + kNames[k]);
        return false;
      }
    }
  }
  return true;
}

// Every field of every set parsed: a malformed one anywhere breaks the chain, as in dkimpy.
bool ParseSets(const std::vector<HeaderField>& headers, ParsedChain* chain) {
  for (size_t i = 0; i < chain->sets.size(); ++i) {
    ParsedSet& set = chain->sets[i];
    const std::string at = " of instance " + std::to_string(i + 1) + ": ";
    dkim::SignatureError e = dkim::ParseSignature(headers[set.ams].value, &set.ams_sig,
                                                  dkim::SignatureKind::kArcMessage);
    if (e.reason != DkimReason::kNone) {
      *chain = Fail(ArcReason::kMessageSignature, std::string(kNames[kAms]) + at + e.detail);
      return false;
    }
    e = dkim::ParseSignature(headers[set.as].value, &set.as_sig, dkim::SignatureKind::kArcSeal);
    if (e.reason != DkimReason::kNone) {
      *chain = Fail(ArcReason::kSeal, std::string(kNames[kAs]) + at + e.detail);
      return false;
    }
    long instance = 0;
    std::string_view rest;
    ParseAarInstance(headers[set.aar].value, &instance, &rest);
    set.results = std::string(rest);
    set.authserv_id = AuthServId(rest);
  }
  return true;
}

// RFC 8617 §5.2 steps 2-3: the cv= values the seals claim.
void CheckChainStatus(ParsedChain* chain) {
  const size_t n = chain->sets.size();
  // Step 2: a newest ARC-Seal saying cv=fail ends validation with "fail".
  if (chain->sets.back().as_sig.cv == "fail") {
    *chain = Fail(ArcReason::kSealedFail,
                  "the newest ARC-Seal (instance " + std::to_string(n) + ") says cv=fail");
    return;
  }
  // Step 3: instance 1 cv=none, every later one cv=pass.
  for (size_t i = 0; i < n; ++i) {
    const std::string& cv = chain->sets[i].as_sig.cv;
    if ((i == 0) != (cv == "none") || (i > 0 && cv != "pass")) {
      *chain = Fail(ArcReason::kChainStatus,
                    "ARC-Seal of instance " + std::to_string(i + 1) + " says cv=" + cv);
      return;
    }
  }
}

}  // namespace

ParsedChain ReadChain(const Message& message) {
  const std::vector<HeaderField>& headers = message.headers();
  ParsedChain chain;
  std::vector<ArcField> fields;
  long newest = 0;
  if (!CollectFields(headers, &fields, &newest, &chain)) return chain;
  if (fields.empty()) {  // RFC 8617 §5.2 step 1: no ARC sets, "none"
    chain.decided = true;
    return chain;
  }
  if (GroupSets(fields, static_cast<size_t>(newest), &chain) && ParseSets(headers, &chain)) {
    CheckChainStatus(&chain);
  }
  return chain;
}

}  // namespace credence::arc
