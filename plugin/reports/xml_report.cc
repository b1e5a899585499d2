// The only expat door: DMARC aggregate report XML (RFC 7489 appendix C; RFC 9990, the
// report format and its XML schema) into AggregateReport. A streaming (SAX) parse keeps only
// the struct: memory is the struct plus one element's text. Hostile documents: no DTD at all
// (a DOCTYPE stops the parse, so no entity is ever declared or expanded and nothing is
// fetched); nesting, text and record counts bounded by XmlLimits.
#include <arpa/inet.h>
#include <expat.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "credence/reports/report.h"

namespace credence::reports {
namespace {

// RFC 9990: the aggregate report's namespace (RFC 7489's had none).
constexpr std::string_view kNamespace9990 = "urn:ietf:params:xml:ns:dmarc-2.0";
constexpr char kNsSeparator = '\x01';  // between namespace URI and local name (expat)
constexpr size_t kFeedChunk = 1u << 20;
// A record's count above this is not believed (a trillion messages from one address in one
// report); it keeps every sum of counts far from overflowing.
constexpr uint64_t kMaxCount = 1000000000000ull;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A domain as reports spell it: lower case, no trailing dot.
std::string Domain(std::string s) {
  s = Lower(std::move(s));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Digits only (after trimming), fitting `max`. False otherwise.
bool ParseUnsigned(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// The address in inet_ntop's form, or "" when `s` is not an IPv4 or IPv6 address.
std::string CanonicalIp(const std::string& s) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, text, sizeof text) ? text : "";
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, text, sizeof text) ? text : "";
  }
  return "";
}

class Parser {
 public:
  explicit Parser(const XmlLimits& limits) : limits_(limits) {
    p_ = XML_ParserCreateNS(nullptr, kNsSeparator);
  }
  ~Parser() {
    if (p_) XML_ParserFree(p_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  Result<AggregateReport> Run(std::string_view xml) {
    if (!p_) return Status::Internal("cannot start the XML parser");
    XML_SetUserData(p_, this);
    XML_SetElementHandler(p_, &Parser::OnStart, &Parser::OnEnd);
    XML_SetCharacterDataHandler(p_, &Parser::OnText);
    XML_SetStartDoctypeDeclHandler(p_, &Parser::OnDoctype);
    XML_SetEntityDeclHandler(p_, &Parser::OnEntity);
    XML_SetParamEntityParsing(p_, XML_PARAM_ENTITY_PARSING_NEVER);
    do {
      const size_t n = std::min(xml.size(), kFeedChunk);
      const bool final = n == xml.size();
      if (XML_Parse(p_, xml.data(), static_cast<int>(n), final) != XML_STATUS_OK) {
        if (!error_.ok()) return error_;
        return Status::Invalid("not well-formed XML at line " +
                               std::to_string(XML_GetCurrentLineNumber(p_)) + ", column " +
                               std::to_string(XML_GetCurrentColumnNumber(p_)) + ": " +
                               XML_ErrorString(XML_GetErrorCode(p_)));
      }
      xml.remove_prefix(n);
    } while (!xml.empty());
    if (!error_.ok()) return error_;
    return Finish();
  }

 private:
  static void XMLCALL OnStart(void* self, const XML_Char* name, const XML_Char** /*atts*/) {
    static_cast<Parser*>(self)->Start(name);
  }
  static void XMLCALL OnEnd(void* self, const XML_Char* /*name*/) {
    static_cast<Parser*>(self)->End();
  }
  static void XMLCALL OnText(void* self, const XML_Char* s, int len) {
    static_cast<Parser*>(self)->Text(s, static_cast<size_t>(len));
  }
  static void XMLCALL OnDoctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*,
                                int) {
    static_cast<Parser*>(self)->Stop(
        Status::Invalid("the document has a DOCTYPE: refused (a report needs no DTD, and a "
                        "DTD can declare entities that expand or fetch)"));
  }
  static void XMLCALL OnEntity(void* self, const XML_Char*, int, const XML_Char*, int,
                               const XML_Char*, const XML_Char*, const XML_Char*,
                               const XML_Char*) {
    static_cast<Parser*>(self)->Stop(Status::Invalid("the document declares an entity: refused"));
  }

  void Stop(Status s) {
    if (error_.ok()) error_ = std::move(s);
    XML_StopParser(p_, XML_FALSE);
  }

  void Start(std::string_view name) {
    if (!error_.ok()) return;
    std::string_view ns, local = name;
    if (size_t sep = name.find(kNsSeparator); sep != std::string_view::npos) {
      ns = name.substr(0, sep);
      local = name.substr(sep + 1);
    }
    if (path_.size() >= limits_.max_depth) {
      return Stop(Status::TooLarge("elements nested deeper than " +
                                   std::to_string(limits_.max_depth)));
    }
    std::string element = Lower(std::string(local));
    if (path_.empty()) {
      if (element != "feedback") {
        return Stop(Status::Invalid("not a DMARC aggregate report: the root element is <" +
                                    std::string(local) + ">, not <feedback>"));
      }
      report_.era = ns.empty() ? ReportEra::kRfc7489
                               : (ns == kNamespace9990 ? ReportEra::kRfc9990 : ReportEra::kOther);
    }
    path_.push_back(std::move(element));
    text_.clear();
    key_ = Key();
    if (key_ == "record") {
      if (report_.records.size() >= limits_.max_records) {
        return Stop(Status::TooLarge("more than " + std::to_string(limits_.max_records) +
                                     " records"));
      }
      report_.records.emplace_back();
      ++record_number_;
      has_ip_ = has_count_ = false;
      record_problem_.clear();
    } else if (key_ == "record/auth_results/dkim") {
      Current().dkim.emplace_back();
    } else if (key_ == "record/auth_results/spf") {
      Current().spf.emplace_back();
    } else if (key_ == "record/row/policy_evaluated/reason") {
      Current().reasons.emplace_back();
    } else if (key_ == "report_metadata/date_range") {
      has_begin_ = has_end_ = false;
    }
  }

  void Text(const char* s, size_t len) {
    if (!error_.ok()) return;
    if (text_.size() + len > limits_.max_text_bytes) {
      return Stop(Status::TooLarge("the text of <" + path_.back() + "> is longer than " +
                                   std::to_string(limits_.max_text_bytes) + " bytes"));
    }
    text_.append(s, len);
  }

  void End() {
    if (!error_.ok() || path_.empty()) return;
    key_ = Key();
    Assign(key_, Trim(text_));
    text_.clear();
    path_.pop_back();
    key_ = Key();
  }

  // The element path below <feedback>, joined with '/' ("record/row/count").
  std::string Key() const {
    std::string k;
    for (size_t i = 1; i < path_.size(); ++i) {
      if (i > 1) k += '/';
      k += path_[i];
    }
    return k;
  }

  ReportRecord& Current() { return report_.records.back(); }
  bool InRecord() const { return path_.size() >= 2 && path_[1] == "record" &&
                                 !report_.records.empty(); }

  void Assign(const std::string& key, std::string v) {
    AggregateReport& r = report_;
    PublishedPolicy& pp = r.policy;
    if (key == "version") r.version = v;
    else if (key == "report_metadata/org_name") r.org_name = v;
    else if (key == "report_metadata/email") r.email = v;
    else if (key == "report_metadata/extra_contact_info") r.extra_contact_info = v;
    else if (key == "report_metadata/report_id") r.report_id = v;
    else if (key == "report_metadata/generator") r.generator = v;
    else if (key == "report_metadata/error") r.errors.push_back(v);
    else if (key == "report_metadata/date_range/begin") has_begin_ = Date(v, &r.begin, "begin");
    else if (key == "report_metadata/date_range/end") has_end_ = Date(v, &r.end, "end");
    else if (key == "report_metadata/date_range") has_range_ = has_begin_ && has_end_;
    else if (key == "policy_published/domain") pp.domain = Domain(v);
    else if (key == "policy_published/adkim") pp.adkim = Lower(v);
    else if (key == "policy_published/aspf") pp.aspf = Lower(v);
    else if (key == "policy_published/p") pp.p = Lower(v);
    else if (key == "policy_published/sp") pp.sp = Lower(v);
    else if (key == "policy_published/np") pp.np = Lower(v);
    else if (key == "policy_published/pct") pp.pct = v;
    else if (key == "policy_published/fo") pp.fo = v;
    else if (key == "policy_published/testing") pp.testing = Lower(v);
    else if (key == "policy_published/discovery_method") pp.discovery_method = Lower(v);
    else if (InRecord()) AssignRecord(key, std::move(v));
  }

  bool Date(const std::string& v, int64_t* out, const char* which) {
    uint64_t u;
    if (!ParseUnsigned(v, static_cast<uint64_t>(INT64_MAX), &u)) {
      date_problem_ = std::string("date_range/") + which + " '" + v.substr(0, 40) +
                      "' is not a number of seconds";
      return false;
    }
    // 9999-12-31T23:59:59Z: a later date has no day to show or count a report under.
    constexpr uint64_t kLastSecondOf9999 = 253402300799;
    if (u > kLastSecondOf9999) {
      date_problem_ = std::string("date_range/") + which + " '" + v.substr(0, 40) +
                      "' is after the year 9999";
      return false;
    }
    *out = static_cast<int64_t>(u);
    return true;
  }

  void AssignRecord(const std::string& key, std::string v) {
    ReportRecord& rec = Current();
    if (key == "record/row/source_ip") {
      has_ip_ = true;
      rec.source_ip = CanonicalIp(v);
      if (rec.source_ip.empty()) {
        RecordProblem("<source_ip> '" + v.substr(0, 60) + "' is not an IP address");
      }
    } else if (key == "record/row/count") {
      has_count_ = true;
      if (!ParseUnsigned(v, kMaxCount, &rec.count)) {
        RecordProblem("<count> '" + v.substr(0, 40) + "' is not a whole number");
      }
    } else if (key == "record/row/policy_evaluated/disposition") {
      rec.disposition = Lower(v);
    } else if (key == "record/row/policy_evaluated/dkim") {
      rec.dkim_aligned = Lower(v);
    } else if (key == "record/row/policy_evaluated/spf") {
      rec.spf_aligned = Lower(v);
    } else if (key == "record/row/policy_evaluated/reason/type") {
      if (!rec.reasons.empty()) rec.reasons.back().type = Lower(v);
    } else if (key == "record/row/policy_evaluated/reason/comment") {
      if (!rec.reasons.empty()) rec.reasons.back().comment = v;
    } else if (key == "record/identifiers/header_from") {
      rec.header_from = Domain(v);
    } else if (key == "record/identifiers/envelope_from") {
      rec.envelope_from = Domain(v);
    } else if (key == "record/identifiers/envelope_to") {
      rec.envelope_to = Domain(v);
    } else if (key == "record/auth_results/dkim/domain") {
      if (!rec.dkim.empty()) rec.dkim.back().domain = Domain(v);
    } else if (key == "record/auth_results/dkim/selector") {
      if (!rec.dkim.empty()) rec.dkim.back().selector = v;
    } else if (key == "record/auth_results/dkim/result") {
      if (!rec.dkim.empty()) rec.dkim.back().result = Lower(v);
    } else if (key == "record/auth_results/spf/domain") {
      if (!rec.spf.empty()) rec.spf.back().domain = Domain(v);
    } else if (key == "record/auth_results/spf/scope") {
      if (!rec.spf.empty()) rec.spf.back().scope = Lower(v);
    } else if (key == "record/auth_results/spf/result") {
      if (!rec.spf.empty()) rec.spf.back().result = Lower(v);
    } else if (key == "record") {
      EndRecord();
    }
  }

  void RecordProblem(std::string what) {
    if (record_problem_.empty()) record_problem_ = std::move(what);
  }

  // RFC 7489 appendix C / RFC 9990: <row> holds source_ip and count, both required. A record
  // missing either says nothing countable: dropped and named.
  void EndRecord() {
    if (!has_ip_) RecordProblem("no <source_ip>");
    if (!has_count_) RecordProblem("no <count>");
    if (!record_problem_.empty()) {
      report_.problems.push_back("record " + std::to_string(record_number_) + ": " +
                                 record_problem_ + " (record left out)");
      report_.records.pop_back();
    }
  }

  Result<AggregateReport> Finish() {
    AggregateReport& r = report_;
    std::vector<std::string> missing;
    if (r.org_name.empty()) missing.push_back("report_metadata/org_name");
    if (r.report_id.empty()) missing.push_back("report_metadata/report_id");
    if (!has_range_) {
      if (!date_problem_.empty()) {
        return Status::Invalid("not a usable report: " + date_problem_);
      }
      missing.push_back("report_metadata/date_range (begin and end)");
    }
    if (r.policy.domain.empty()) missing.push_back("policy_published/domain");
    if (!missing.empty()) {
      std::string what;
      for (const std::string& m : missing) what += (what.empty() ? "" : ", ") + m;
      return Status::Invalid("not a usable report: no " + what);
    }
    if (r.end < r.begin) {
      return Status::Invalid("not a usable report: date_range ends before it begins");
    }
    // RFC 9990 §3: a report covers a day (at most a few, when a reporter batches); one that
    // claims months would take over the summary's days and its latest published policy.
    constexpr int64_t kMaxRangeSeconds = int64_t{31} * 86400;
    if (r.end - r.begin > kMaxRangeSeconds) {
      return Status::Invalid("not a usable report: date_range spans " +
                             std::to_string((r.end - r.begin) / 86400) +
                             " days (at most 31 are read)");
    }
    return std::move(report_);
  }

  const XmlLimits& limits_;
  XML_Parser p_ = nullptr;
  AggregateReport report_;
  std::vector<std::string> path_;
  std::string key_;
  std::string text_;
  Status error_;
  size_t record_number_ = 0;
  bool has_ip_ = false, has_count_ = false;
  std::string record_problem_;
  bool has_begin_ = false, has_end_ = false, has_range_ = false;
  std::string date_problem_;
};

// A UTF-8 byte order mark, then white space: skipped (expat refuses white space before the
// XML declaration). Trailing white space and NUL padding: dropped.
std::string_view StripEdges(std::string_view xml) {
  if (xml.substr(0, 3) == "\xEF\xBB\xBF") xml.remove_prefix(3);
  while (!xml.empty() && IsSpace(xml.front())) xml.remove_prefix(1);
  while (!xml.empty() && (IsSpace(xml.back()) || xml.back() == '\0')) xml.remove_suffix(1);
  return xml;
}

}  // namespace

std::string_view ReportEraName(ReportEra era) {
  switch (era) {
    case ReportEra::kRfc7489: return "rfc7489";
    case ReportEra::kRfc9990: return "rfc9990";
    case ReportEra::kOther: return "other";
  }
  return "other";
}

uint64_t AggregateReport::MessageCount() const {
  uint64_t n = 0;
  for (const ReportRecord& r : records) n += r.count;
  return n;
}

bool LooksLikeXml(std::string_view bytes) {
  bytes = StripEdges(bytes);
  return !bytes.empty() && bytes.front() == '<';
}

Result<AggregateReport> ParseAggregateReport(std::string_view xml, const XmlLimits& limits) {
  if (xml.size() > limits.max_bytes) {
    return Status::TooLarge("the XML document is larger than " +
                            std::to_string(limits.max_bytes) + " bytes");
  }
  bool utf16 = xml.substr(0, 2) == "\xFF\xFE" || xml.substr(0, 2) == "\xFE\xFF";
  if (!utf16) xml = StripEdges(xml);
  if (xml.empty()) return Status::Invalid("empty document");
  Parser parser(limits);
  return parser.Run(xml);
}

}  // namespace credence::reports
