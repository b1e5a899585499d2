// libFuzzer target: rua= URIs from published DMARC records (ParseRuaUri) and the text the
// report writer and loop detector read. Invariants: never a crash or hang; a parsed
// destination has one '@', a domain that is the address's (lower-cased) and no character a
// sendmail argument or an RFC 5322 header could be split on; the size is what the suffix
// said; the XML writer's output of any text stays well-formed enough to hold no raw '<' or
// '&' inside a value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "credence/message.h"
#include "credence/policy/history.h"
#include "credence/policy/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  credence::Result<credence::RuaDestination> d = credence::ParseRuaUri(text);
  if (d.ok()) {
    size_t at = d->address.rfind('@');
    if (at == std::string::npos || at == 0) abort();
    if (credence::ToLower(d->address.substr(at + 1)) != d->domain) abort();
    for (char c : d->address) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == ',' || c == '<' || c == '>') abort();
    }
    if (text.size() > 1024) abort();
  }
  // The same bytes as a value in a report: escaped.
  credence::AggregateReport rep;
  rep.policy_domain = std::string(text.substr(0, 200));
  credence::AggregateRow row;
  row.source_ip = "192.0.2.1";
  row.count = 1;
  row.header_from = std::string(text);
  row.override_type = "other";
  row.override_comment = std::string(text);
  rep.rows.push_back(row);
  credence::ReportIdentity id{std::string(text), "a@b.example", "", "b.example", "a@b.example", ""};
  std::string xml = credence::AggregateReportXml(rep, id, "id");
  size_t body = xml.find("<org_name>") + 10;
  size_t end = xml.find("</org_name>", body);
  if (end == std::string::npos) abort();
  std::string_view value(xml.data() + body, end - body);
  if (value.find('<') != std::string_view::npos) abort();
  // As a message: the loop detector reads it without trouble.
  credence::Result<credence::Message> m = credence::Message::Parse(text);
  if (m.ok()) (void)credence::LooksLikeDmarcReport(*m);
  return 0;
}
