// The RFC 9990 Appendix A XML writer. Every value is escaped; characters XML 1.0 cannot carry
// (C0 controls other than TAB/LF/CR, bytes that are not well-formed UTF-8, U+FFFE and U+FFFF)
// become '?'.
#include <string>

#include "credence/policy/report.h"
#include "credence/utf8.h"

namespace credence {
namespace {

std::string Escape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    uint32_t cp = 0;
    const size_t n = Utf8Sequence(s, i, &cp);
    // XML 1.0 §2.2 Char: well-formed UTF-8 (no surrogates, nothing past U+10FFFF), and
    // neither U+FFFE nor U+FFFF; one bad character must not make the whole report unreadable.
    if (n == 0 || cp == 0xFFFE || cp == 0xFFFF) {
      out += '?';
      i += n == 0 ? 1 : n;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

class Writer {
 public:
  void Open(std::string_view name) {
    Indent();
    out_ += '<' + std::string(name) + ">\n";
    ++depth_;
  }
  void Close(std::string_view name) {
    --depth_;
    Indent();
    out_ += "</" + std::string(name) + ">\n";
  }
  void Leaf(std::string_view name, std::string_view value) {
    Indent();
    out_ += '<' + std::string(name) + '>' + Escape(value) + "</" + std::string(name) + ">\n";
  }
  void Raw(std::string_view text) { out_ += text; }
  void Nest() { ++depth_; }
  std::string Take() { return std::move(out_); }

 private:
  void Indent() { out_.append(2 * depth_, ' '); }
  std::string out_;
  int depth_ = 0;
};

void PolicyPublished(Writer& w, const AggregateReport& rep) {
  const HistoryRecord& p = rep.policy;
  w.Open("policy_published");
  w.Leaf("domain", rep.policy_domain);
  w.Leaf("p", p.p);
  // sp: as published, else p applies to subdomains (RFC 9989 §4.7).
  w.Leaf("sp", p.sp.empty() ? p.p : p.sp);
  if (!p.np.empty()) w.Leaf("np", p.np);
  w.Leaf("adkim", p.adkim);
  w.Leaf("aspf", p.aspf);
  w.Leaf("discovery_method", p.discovery.empty() ? "treewalk" : p.discovery);
  w.Leaf("fo", p.fo);
  w.Leaf("testing", p.testing ? "y" : "n");
  w.Close("policy_published");
}

void Record(Writer& w, const AggregateRow& row) {
  w.Open("record");
  w.Open("row");
  w.Leaf("source_ip", row.source_ip);
  w.Leaf("count", std::to_string(row.count));
  w.Open("policy_evaluated");
  w.Leaf("disposition", row.disposition);
  w.Leaf("dkim", row.dkim_aligned ? "pass" : "fail");
  w.Leaf("spf", row.spf_aligned ? "pass" : "fail");
  if (!row.override_type.empty()) {
    w.Open("reason");
    w.Leaf("type", row.override_type);
    if (!row.override_comment.empty()) w.Leaf("comment", row.override_comment);
    w.Close("reason");
  }
  w.Close("policy_evaluated");
  w.Close("row");
  w.Open("identifiers");
  w.Leaf("header_from", row.header_from);
  // RFC 9990 §2.1: envelope_from MAY be present but empty for a null reverse-path.
  w.Leaf("envelope_from", row.envelope_from);
  if (!row.envelope_to.empty()) w.Leaf("envelope_to", row.envelope_to);
  w.Close("identifiers");
  w.Open("auth_results");
  for (const HistoryDkim& d : row.dkim) {
    w.Open("dkim");
    w.Leaf("domain", d.domain);
    w.Leaf("selector", d.selector);
    w.Leaf("result", d.result);
    w.Close("dkim");
  }
  if (!row.spf_domain.empty()) {
    w.Open("spf");
    w.Leaf("domain", row.spf_domain);
    // RFC 9990 keeps only the "mfrom" scope; a HELO-checked null sender has no scope element.
    if (row.spf_scope == "mfrom") w.Leaf("scope", "mfrom");
    w.Leaf("result", row.spf_result);
    w.Close("spf");
  }
  w.Close("auth_results");
  w.Close("record");
}

}  // namespace

std::string AggregateReportXml(const AggregateReport& rep, const ReportIdentity& id,
                               std::string_view report_id) {
  Writer w;
  w.Raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  w.Raw("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n");
  w.Nest();
  w.Leaf("version", "1.0");
  w.Open("report_metadata");
  w.Leaf("org_name", id.org_name);
  w.Leaf("email", id.email);
  if (!id.extra_contact_info.empty()) w.Leaf("extra_contact_info", id.extra_contact_info);
  w.Leaf("report_id", report_id);
  w.Open("date_range");
  w.Leaf("begin", std::to_string(rep.period.begin));
  w.Leaf("end", std::to_string(rep.period.end));
  w.Close("date_range");
  if (!id.generator.empty()) w.Leaf("generator", id.generator);
  w.Close("report_metadata");
  PolicyPublished(w, rep);
  for (const AggregateRow& row : rep.rows) Record(w, row);
  w.Raw("</feedback>\n");
  return w.Take();
}

}  // namespace credence
