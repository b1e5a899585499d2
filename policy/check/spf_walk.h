// Private to policy/check: reading SPF records for `credence check` without evaluating them
// for any client: the record at a name, the strings it was published in, and the walk over
// the include/redirect tree that counts what RFC 7208 §4.6.4 limits.
#ifndef CREDENCE_POLICY_CHECK_SPF_WALK_H_
#define CREDENCE_POLICY_CHECK_SPF_WALK_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "check/context.h"

namespace credence::check_internal {

// The SPF record at one name (RFC 7208 §4.5).
struct SpfFetch {
  enum Kind { kOne, kNone, kMultiple, kUnusable } kind = kNone;  // kUnusable: DNS trouble
  std::string record;            // kOne: the record (strings joined)
  std::vector<uint16_t> breaks;  // kOne: where each string after the first starts
  // TXT records that start with "v=spf1" but are not SPF records ("v=spf1-all", or "v=spf1"
  // glued to the next string), with their breaks.
  std::vector<std::pair<std::string, std::vector<uint16_t>>> near;
};
SpfFetch FetchSpfRecord(Context& ctx, const std::string& domain);

// A place where a record's character-strings meet inside a term (RFC 7208 §3.3: they are
// joined with nothing between) and both sides are terms of their own: the split glued two
// terms into one.
struct GluedSplit {
  std::string joined;  // the term as receivers read it ("ip4:192.0.2.1include:x.example")
  std::string left;    // the end of one string ("ip4:192.0.2.1")
  std::string right;   // the start of the next ("include:x.example")
};
// Every glued split of `txt` (a TXT record starting with "v=spf1", case-insensitively) whose
// strings start at `breaks`. `fixed` (optional) gets the text with a space at each of them.
std::vector<GluedSplit> FindGluedSplits(std::string_view txt, std::span<const uint16_t> breaks,
                                        std::string* fixed = nullptr);

// Checks the text of `record`, the SPF record of `domain` published in strings starting at
// `breaks`: a kSpfSplitGlued finding for each glued split; kSpfSyntaxError when the grammar
// fails and the glued splits do not explain it; kSpfSyntax (ok) when it holds, no split is
// glued and `report_ok`. Returns the text to walk: the record, or the record as it was meant
// (a space at each glued split); "" when it cannot be read.
std::string CheckSpfText(Context& ctx, const std::string& domain, const std::string& record,
                         std::span<const uint16_t> breaks, bool report_ok);

// What the walk over the include/redirect tree found.
struct SpfTree {
  size_t lookups = 0;       // DNS-querying terms (include a mx ptr exists redirect), all records
  size_t void_lookups = 0;  // a/mx/exists targets without records (RFC 7208 §4.6.4)
  std::vector<std::string> void_terms;  // "a:old.example.com (in example.com)"
  std::vector<SpfLookupTerm> terms;     // every DNS-querying term, in tree order
  std::vector<std::string> includes;    // include targets of the top record
  char all = '\0';  // qualifier of the "all" that ends the top record or its redirect chain
  bool chain_ended = false;  // the top record's redirect chain was read to its last record
  bool truncated = false;  // the walk stopped following (depth or record bound): "at least"
  // The share of all IPv4 / IPv6 addresses the pass-qualified ip4/ip6 terms (and a/mx terms
  // with a prefix length, one address each) of the whole tree cover, overlaps counted twice,
  // and those terms, widest first once sorted.
  double ipv4_share = 0, ipv6_share = 0;
  std::vector<std::pair<double, std::string>> wide_terms;  // (share of its family, "term (in d)")
};

// Walks `record` (valid, the SPF record of `domain`) and everything it includes or
// redirects to, at most CheckOptions::max_spf_records records and 10 levels deep. Problems
// below the top record (missing or broken include targets, loops, +all in an include, an
// mx term over 10 names, ptr, targets built by macros) become findings as they are met.
SpfTree WalkSpf(Context& ctx, const std::string& domain, const std::string& record);

}  // namespace credence::check_internal

#endif  // CREDENCE_POLICY_CHECK_SPF_WALK_H_
