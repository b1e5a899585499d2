// RFC 7208 §6.2: the explanation TXT record, fetched by credence.
#include "spf/explain.h"

#include <string>
#include <vector>

#include "spf/record.h"

namespace credence::spf {

std::string FetchExplanation(const std::string& name, std::string_view domain, Session& s) {
  // RFC 7208 §6.2: trouble fetching the explanation only loses the explanation; it is asked
  // within the query budget but is no DNS-querying term (§4.6.4).
  DnsAnswer answer = s.Ask(name, RRType::kTXT);
  if (answer.outcome != DnsOutcome::kOk) return "";
  std::vector<const ResourceRecord*> txt;
  for (const ResourceRecord& r : answer.records) {
    if (r.type == RRType::kTXT) txt.push_back(&r);
  }
  // RFC 7208 §6.2: exactly one TXT record, 7-bit ASCII, valid macro-string; else default.
  if (txt.size() != 1) return "";
  const std::string& text = txt[0]->data;
  if (!CheckMacroString(text, /*in_exp=*/true).ok()) return "";
  return ExpandExplanation(text, domain, s);
}

}  // namespace credence::spf
