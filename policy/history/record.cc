// Building a HistoryRecord from an evaluation, and telling a DMARC report from other mail.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "credence/policy/history.h"

namespace credence {
namespace {

std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view d = at == std::string_view::npos ? address : address.substr(at + 1);
  while (!d.empty() && (d.back() == '>' || d.back() == '.' || d.back() == ' ')) d.remove_suffix(1);
  return ToLower(d);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "receiver!policy-domain!begin!end[!unique-id].xml[.gz]" (RFC 9990 §5.2.1.1; RFC 7489
// §7.2.1.1 names .zip too).
bool ReportFileName(std::string_view name) {
  std::string n = ToLower(Trim(name));
  if (!n.empty() && n.front() == '"') n.erase(0, 1);
  size_t end = n.find_first_of("\";\r\n");
  if (end != std::string::npos) n.resize(end);
  bool extension =
      n.ends_with(".xml") || n.ends_with(".xml.gz") || n.ends_with(".gz") || n.ends_with(".zip");
  if (!extension) return false;
  std::vector<std::string_view> parts;
  std::string_view rest = n;
  while (parts.size() < 6) {
    size_t bang = rest.find('!');
    parts.push_back(rest.substr(0, bang));
    if (bang == std::string_view::npos) break;
    rest.remove_prefix(bang + 1);
  }
  if (parts.size() < 4) return false;
  std::string_view end_stamp = parts[3];
  if (parts.size() == 4) end_stamp = end_stamp.substr(0, end_stamp.find('.'));
  return !parts[0].empty() && !parts[1].empty() && AllDigits(parts[2]) && AllDigits(end_stamp);
}

// Every name= / filename= parameter value in `text`.
bool HasReportAttachment(std::string_view text) {
  std::string lower = ToLower(text);
  for (std::string_view key : {"filename=", "name="}) {
    for (size_t pos = lower.find(key); pos != std::string::npos; pos = lower.find(key, pos + 1)) {
      if (ReportFileName(std::string_view(lower).substr(pos + key.size(), 300))) return true;
    }
  }
  return false;
}

}  // namespace

bool HasReportableDmarc(const Evaluation& ev) {
  // An assumed record (the one above a name whose lookup failed, taken for the score only)
  // may not be the one that applies: its owner's rua gets no row for that mail.
  return ev.dmarc.has_record && !ev.dmarc.record_assumed && !ev.dmarc.from_domain.empty() &&
         !ev.dmarc.record_domain.empty();
}

HistoryRecord MakeHistoryRecord(const Evaluation& ev, const Envelope& envelope,
                                std::string_view envelope_to, int64_t time, OrgDomainMethod method,
                                bool is_report) {
  const DmarcResult& d = ev.dmarc;
  const DmarcRecord& rec = d.record;
  HistoryRecord r;
  r.time = time;
  r.source_ip = envelope.client_ip;
  r.envelope_from = envelope.mail_from.empty() ? "" : DomainOf(envelope.mail_from);
  r.envelope_to = envelope_to.empty() ? "" : DomainOf(envelope_to);
  r.header_from = d.from_domain;
  r.org_domain = d.org_domain;
  r.policy_domain = d.record_domain;
  r.p = DmarcPolicyName(rec.p);
  if (rec.sp) r.sp = DmarcPolicyName(*rec.sp);
  if (rec.np) r.np = DmarcPolicyName(*rec.np);
  r.adkim = DmarcAlignmentModeName(rec.adkim);
  r.aspf = DmarcAlignmentModeName(rec.aspf);
  r.testing = rec.t;
  r.fo = rec.fo;
  r.discovery = method == OrgDomainMethod::kPsl ? "psl" : "treewalk";
  r.rua = rec.rua;
  for (const DkimResult& s : ev.dkim) {
    if (s.domain.empty() || s.selector.empty()) continue;  // unreadable: no d= / s= to report
    r.dkim.push_back({s.domain, s.selector, std::string(DkimVerdictName(s.result))});
  }
  // RFC 9990 §2.1: the SPF result of the RFC5321.MailFrom identity (for a null reverse-path,
  // credence checks postmaster@HELO, RFC 7208 §2.4: the HELO's scope).
  const SpfResult& spf = ev.spf_mailfrom;
  r.spf_domain = ev.spf_evaluated ? spf.domain : "";
  if (r.spf_domain.empty()) r.spf_domain = r.envelope_from;
  r.spf_scope = envelope.mail_from.empty() ? "helo" : "mfrom";
  r.spf_result = ev.spf_evaluated ? std::string(SpfVerdictName(spf.result)) : "none";
  r.dmarc = DmarcVerdictName(d.verdict);
  r.dkim_aligned = d.dkim_aligned;
  r.spf_aligned = d.spf_aligned;
  r.disposition = DmarcDispositionName(d.disposition);
  // RFC 9990 §2.1.5 policy override reasons.
  if (d.arc_override) {
    r.override_type = "local_policy";
    r.override_comment = "arc=pass (trusted sealer " + d.arc_override_sealer + ")";
  } else if (d.verdict == DmarcVerdict::kFail && d.requested != DmarcPolicy::kNone &&
             d.disposition != DmarcDisposition::kReject) {
    if (rec.t) {
      r.override_type = "policy_test_mode";
    } else if (d.sampled_out || d.testing) {
      r.override_type = "other";
      r.override_comment = "pct=" + std::to_string(rec.pct) + ": outside the sample";
    }
  }
  r.is_report = is_report;
  return r;
}

bool LooksLikeDmarcReport(const Message& message) {
  // RFC 9990 §5.2.1 Subject: "Report Domain: <domain> Submitter: <org> Report-ID: <id>".
  for (const HeaderField* f : message.FindAll("Subject")) {
    std::string s = ToLower(Trim(f->value));
    if (s.rfind("report domain:", 0) == 0 && s.find("report-id:") != std::string::npos) return true;
  }
  for (const HeaderField* f : message.FindAll("Content-Type")) {
    if (HasReportAttachment(f->value)) return true;
  }
  // The MIME part headers of the first 64 KiB of the body (bounded).
  constexpr size_t kScan = 64 * 1024;
  return HasReportAttachment(message.body().substr(0, kScan));
}

}  // namespace credence
