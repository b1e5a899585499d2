// A DMARC aggregate report as a plain struct, and the parser that fills it from the XML of
// either era: RFC 7489 appendix C (no namespace) and RFC 9990 (the DMARCbis aggregate
// report, namespace urn:ietf:params:xml:ns:dmarc-2.0). The parser is tolerant of what big
// receivers really send (upper-case result words, optional elements left out, a byte order
// mark, white space around values and before the XML declaration, elements it does not know)
// and strict about what a count depends on: a record without a count or a source IP, or
// with one that does not parse, is dropped and named in `problems`, never guessed.
#ifndef CREDENCE_PLUGIN_REPORTS_REPORT_H_
#define CREDENCE_PLUGIN_REPORTS_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credence/status.h"

namespace credence::reports {

enum class ReportEra {
  kRfc7489,  // <feedback> without a namespace (RFC 7489 appendix C)
  kRfc9990,  // <feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0"> (RFC 9990)
  kOther,    // another namespace (draft-era "http://dmarc.org/dmarc-xml/0.1"): read the same way
};
std::string_view ReportEraName(ReportEra era);  // "rfc7489", "rfc9990", "other"

// One <auth_results><dkim>: the raw DKIM result, before alignment. Words lower-cased.
struct DkimAuth {
  std::string domain;    // d=
  std::string selector;  // s= ("" when the reporter left it out: optional in RFC 7489)
  std::string result;    // none pass fail policy neutral temperror permerror
};

// One <auth_results><spf>: the raw SPF result, before alignment.
struct SpfAuth {
  std::string domain;
  std::string scope;   // mfrom or helo ("" when left out)
  std::string result;  // none neutral pass fail softfail temperror permerror
};

// A <reason> under <policy_evaluated>: why the receiver applied another disposition
// (forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, other).
struct OverrideReason {
  std::string type;
  std::string comment;
};

// One <record>: `count` messages from `source_ip` with the same results.
struct ReportRecord {
  std::string source_ip;  // as inet_ntop prints it (IPv6 compressed, lower case)
  uint64_t count = 0;
  // <policy_evaluated>: DMARC's view, after alignment.
  std::string disposition;   // none quarantine reject ("" when left out)
  std::string dkim_aligned;  // pass fail ("" when left out)
  std::string spf_aligned;   // pass fail
  std::vector<OverrideReason> reasons;
  // <identifiers>
  std::string header_from, envelope_from, envelope_to;
  // <auth_results>
  std::vector<DkimAuth> dkim;
  std::vector<SpfAuth> spf;

  // DMARC passed for these messages: DKIM or SPF passed aligned (RFC 7489 §3.1, RFC 9989).
  bool DmarcPass() const { return dkim_aligned == "pass" || spf_aligned == "pass"; }
};

// <policy_published>: the DMARC record the reporter found. Tags as published, lower-cased.
struct PublishedPolicy {
  std::string domain;
  std::string adkim, aspf, p, sp, np, pct, fo, testing, discovery_method;
};

struct AggregateReport {
  ReportEra era = ReportEra::kRfc7489;
  std::string version;  // <version> (RFC 9990: "1.0"); "" when absent
  // <report_metadata>
  std::string org_name, email, extra_contact_info, report_id, generator;
  int64_t begin = 0, end = 0;  // <date_range>, seconds since the epoch, UTC
  std::vector<std::string> errors;  // <error>: what the reporter says went wrong
  PublishedPolicy policy;
  std::vector<ReportRecord> records;
  // Records dropped, each with its position and why ("record 3: no <count>"). A report with
  // problems still counts the records that are whole.
  std::vector<std::string> problems;

  uint64_t MessageCount() const;
};

// Bounds on one XML document (docs/reports.md "Limits").
struct XmlLimits {
  size_t max_bytes = 64u << 20;        // the document itself
  size_t max_depth = 32;               // element nesting (a report needs 6)
  size_t max_text_bytes = 64u << 10;   // one element's text
  size_t max_records = 1000000;        // <record> elements
};

// Parses one aggregate report. Errors (kInvalidInput) say why in one line: not XML (with
// expat's message, line and column), a DOCTYPE (refused: no DTD, no entity beyond the five
// predefined ones, nothing fetched), not a <feedback> root, no report_metadata/report_id,
// org_name or date_range, no policy_published/domain; kTooLarge for a bound of `limits`.
Result<AggregateReport> ParseAggregateReport(std::string_view xml, const XmlLimits& limits = {});

// True when `bytes` look like an XML document (after a UTF-8 BOM and white space, '<').
bool LooksLikeXml(std::string_view bytes);

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_REPORT_H_
