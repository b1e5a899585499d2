// State shared by one SPF check and the libspf2 DNS layer under it (spf/dns_layer.cc): the
// Resolver, the deadline, and the RFC 7208 §4.6.4 counters libspf2 does not keep right.
// Private to verifier/spf; no libspf2 types here.
#ifndef CREDENCE_VERIFIER_SPF_SESSION_H_
#define CREDENCE_VERIFIER_SPF_SESSION_H_

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "credence/dns.h"
#include "credence/spf.h"

namespace credence::spf {

// Appended by the record rewriter to the target of an "a"/"mx" mechanism with a /0 prefix
// (libspf2 reads a zero prefix as "no prefix"); the DNS layer strips it and answers such a
// name with the client address when the real name has any address record.
inline constexpr std::string_view kAnyAddressSuffix = ".cidr0.credence.invalid";
// What libspf2 gets instead of explanation texts: "credence-exp-N" indexes
// Session::explanations, "credence-exp-default" is the default explanation.
inline constexpr std::string_view kExplanationMarker = "credence-exp-";
// What libspf2 gets instead of every domain-spec (and for the implicit current domain of
// "a" and "mx"): "N" + kTargetSuffix names Session::targets[N]. The DNS layer expands the
// target when libspf2 first asks about it (RFC 7208 §7, by spf/macro.h), so libspf2 never
// expands a macro and never decides which name is asked. ".invalid" names never resolve
// (RFC 6761 §6.4); a record that spells one itself gets a target of its own like any name.
inline constexpr std::string_view kTargetSuffix = ".target.credence.invalid";

// One domain-spec of a record libspf2 evaluates, expanded when first asked about.
struct Target {
  std::string spec;    // the macro-string as written; empty: the current domain itself
  std::string domain;  // the current domain of the record it is in (%{d})
  bool ptr = false;    // a "ptr" mechanism, evaluated by credence (libspf2 sees "exists")
  bool expanded = false;
  std::string name;    // the expanded name (lower-case, no trailing dot) once `expanded`
};

struct Session {
  // kNotEvaluated: a credence limit (the DNS query budget) stopped the check; reported as
  // permerror, never temperror (asking again would be refused again).
  enum class Abort { kNone, kPermError, kTempError, kNotEvaluated };

  Resolver* resolver = nullptr;
  Deadline deadline;
  const SpfOptions* options = nullptr;
  std::string client_ip;  // presentation form, for kAnyAddressSuffix answers
  bool client_v6 = false;
  std::string sender;  // local-part@domain being checked (%{s})
  std::string helo;    // %{h}
  // The libspf2 request, so the DNS layer can read its current domain (%{d}) when libspf2
  // asks for an exp= text. Opaque here.
  const void* request = nullptr;
  // Explanations credence expanded itself (RFC 7208 §6.2); libspf2 sees only the marker
  // kExplanationMarker + index. An empty entry means "use the default explanation".
  std::vector<std::string> explanations;
  // Every domain-spec of the records compiled so far (kTargetSuffix).
  std::vector<Target> targets;

  size_t dns_terms = 0;     // include a mx ptr exists redirect evaluated (§4.6.4)
  size_t void_lookups = 0;  // answers with NXDOMAIN or no records (§4.6.4)
  size_t queries = 0;       // DNS questions asked (Limits::max_spf_dns_queries)
  size_t record_fetches = 0;
  // MX or PTR target names whose address lookups follow; they are not terms of their own.
  std::deque<std::string> followups;

  // Set when evaluation must end with this result whatever libspf2 concludes.
  Abort abort = Abort::kNone;
  std::string detail;
  // The top-level record lookup found no SPF record (RFC 7208 §4.5: result none).
  bool top_none = false;

  void Fail(Abort kind, std::string why) {
    if (abort == Abort::kNone) {
      abort = kind;
      detail = std::move(why);
    }
  }

  // Asks the Resolver one question, within the deadline and the query budget
  // (Limits::max_spf_dns_queries: past it the answer is kNotAsked).
  DnsAnswer Ask(const std::string& name, RRType type);
  // RFC 7208 §4.6.4: counts one DNS-querying term; false (and permerror) past the limit.
  bool CountTerm();
  // RFC 7208 §4.6.4: counts a void lookup; false (and permerror) past the limit.
  bool CountVoid();

  // The marker name of targets[index] (kTargetSuffix).
  static std::string TargetName(size_t index);
  // The target `name` (lower-case) stands for, or nullptr when it is not a marker name.
  Target* FindTarget(std::string_view name);
};

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_SESSION_H_
