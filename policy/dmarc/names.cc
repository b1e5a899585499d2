// Enum spellings, domain helpers, the tree-walk name list and the sampling key.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credence/policy/dmarc.h"
#include "dmarc/domain_util.h"

namespace credence {

std::string_view DmarcVerdictName(DmarcVerdict v) {
  switch (v) {
    case DmarcVerdict::kNone: return "none";
    case DmarcVerdict::kPass: return "pass";
    case DmarcVerdict::kFail: return "fail";
    case DmarcVerdict::kTempError: return "temperror";
    case DmarcVerdict::kPermError: return "permerror";
  }
  return "permerror";
}

std::string_view DmarcFromProblemName(DmarcFromProblem p) {
  switch (p) {
    case DmarcFromProblem::kNone: return "none";
    case DmarcFromProblem::kNoFrom: return "no_from";
    case DmarcFromProblem::kMultipleFromFields: return "multiple_from_fields";
    case DmarcFromProblem::kUnreadable: return "unreadable";
  }
  return "none";
}

std::string_view DmarcPolicyName(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::kNone: return "none";
    case DmarcPolicy::kQuarantine: return "quarantine";
    case DmarcPolicy::kReject: return "reject";
  }
  return "none";
}

std::string_view DmarcDispositionName(DmarcDisposition d) {
  switch (d) {
    case DmarcDisposition::kNone: return "none";
    case DmarcDisposition::kQuarantine: return "quarantine";
    case DmarcDisposition::kReject: return "reject";
  }
  return "none";
}

std::string_view DmarcPolicyTagName(DmarcPolicyTag t) {
  switch (t) {
    case DmarcPolicyTag::kNoRecord: return "";
    case DmarcPolicyTag::kP: return "p";
    case DmarcPolicyTag::kSp: return "sp";
    case DmarcPolicyTag::kNp: return "np";
  }
  return "";
}

std::string_view DmarcAlignmentModeName(DmarcAlignmentMode m) {
  return m == DmarcAlignmentMode::kStrict ? "s" : "r";
}

std::string_view DmarcPsdName(DmarcPsd p) {
  switch (p) {
    case DmarcPsd::kUnspecified: return "u";
    case DmarcPsd::kYes: return "y";
    case DmarcPsd::kNo: return "n";
  }
  return "u";
}

uint64_t DmarcSamplingKey(std::string_view message_id) {
  while (!message_id.empty() && (message_id.front() == ' ' || message_id.front() == '\t' ||
                                 message_id.front() == '\r' || message_id.front() == '\n')) {
    message_id.remove_prefix(1);
  }
  while (!message_id.empty() && (message_id.back() == ' ' || message_id.back() == '\t' ||
                                 message_id.back() == '\r' || message_id.back() == '\n')) {
    message_id.remove_suffix(1);
  }
  if (message_id.empty()) return 0;
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : message_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t DmarcSamplingKey(const Message& message) {
  const HeaderField* mid = message.Find("Message-ID");
  return DmarcSamplingKey(mid ? mid->value : std::string_view());
}

// RFC 9989 §4.10 (the walk's order is in TreeWalkNameViews).
std::vector<std::string> TreeWalkNames(std::string_view domain) {
  const dmarc_internal::TreeWalkViews views = dmarc_internal::TreeWalkNameViews(domain);
  return std::vector<std::string>(views.begin(), views.end());
}

namespace dmarc_internal {

std::string NormalizeDomain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return "";
  // Every character maps to one: copied once, then checked and lower-cased in place (no
  // push_back per character; called three times per message).
  std::string out(domain);
  size_t label_len = 0;
  for (char& ch : out) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '.') {
      if (label_len == 0) return "";
      label_len = 0;
      continue;
    }
    if (++label_len > 63) return "";
    if (c >= 'A' && c <= 'Z') {
      ch = static_cast<char>(c - 'A' + 'a');
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c >= 0x80)) {
      return "";
    }
  }
  if (label_len == 0) return "";
  return out;
}

FromFields FindFromFields(const Message& message) {
  FromFields out;
  for (const HeaderField& f : message.headers()) {
    if (!EqualsIgnoreCase(f.name, "From")) continue;
    if (out.count++ == 0) out.first = &f;
  }
  // A From behind a bare CR is one more for a reader that splits there, and one skipped past
  // the header limits one more for every reader: the author shown may not be the one judged
  // (docs/dmarc.md). Without a From of its own the message has no author to judge (count 0:
  // no From field), whatever such a reader shows: `first` is set whenever count is not 0.
  if (out.count > 0) {
    out.count += message.unkept_single_instance_count(SingleInstanceFieldIndex("from"));
  }
  return out;
}

size_t LabelCount(std::string_view domain) {
  return static_cast<size_t>(std::count(domain.begin(), domain.end(), '.')) + 1;
}

// RFC 9989 §4.10: the first query is at the domain itself; then, step 4, "If x < 8, remove
// the left-most label ... If x >= 8, remove the left-most labels until 7 labels remain";
// step 7, one label at a time "until ... there are no more labels remaining". So at most 8
// names, the last one the TLD.
TreeWalkViews TreeWalkNameViews(std::string_view domain) {
  constexpr size_t kShortcutAt = 8;  // RFC 9989 §4.10 step 4: "If x >= 8"
  constexpr size_t kShortenTo = 7;   // "until 7 labels remain"
  static_assert(kShortenTo + 1 == kMaxTreeWalkNames);
  TreeWalkViews out;
  if (domain.empty()) return out;
  out.names[out.size++] = domain;
  const size_t x = LabelCount(domain);
  const size_t next = x >= kShortcutAt ? kShortenTo : x - 1;
  for (size_t n = next; n >= 1; --n) out.names[out.size++] = LastLabels(domain, n);
  return out;
}

std::string_view LastLabels(std::string_view domain, size_t n) {
  if (n == 0) return {};
  size_t pos = domain.size();
  for (size_t i = 0; i < n; ++i) {
    size_t dot = pos == 0 ? std::string_view::npos : domain.rfind('.', pos - 1);
    if (dot == std::string_view::npos) return domain;
    pos = dot;
  }
  return domain.substr(pos + 1);
}

bool IsSameOrSubdomain(std::string_view sub, std::string_view parent) {
  if (sub == parent) return true;
  return sub.size() > parent.size() && sub.ends_with(parent) &&
         sub[sub.size() - parent.size() - 1] == '.';
}

}  // namespace dmarc_internal
}  // namespace credence
