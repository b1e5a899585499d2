// MX presence and resolution for `credence check`.
#include "check/mx_check.h"

#include <algorithm>

namespace credence::check_internal {

MxInfo FetchMx(Context& ctx) {
  CheckArea saved = ctx.section;
  ctx.section = CheckArea::kMx;
  MxInfo info;
  Answer mx = ctx.Ask(ctx.domain, RRType::kMX);
  if (!ctx.Usable(mx, ctx.domain, RRType::kMX, "the MX hosts")) {
    info.kind = MxInfo::kUnusable;
  } else if (mx.dns.outcome == DnsOutcome::kNxDomain) {
    info.kind = MxInfo::kNxDomain;
  } else if (IsNegative(mx.dns)) {
    info.kind = MxInfo::kNone;
  } else if (mx.dns.records.size() == 1 && mx.dns.records[0].data.empty()) {
    info.kind = MxInfo::kNull;  // RFC 7505 §3: "0 ."
  } else {
    info.kind = MxInfo::kHosts;
    std::vector<ResourceRecord> records = mx.dns.records;
    std::stable_sort(records.begin(), records.end(),
                     [](const ResourceRecord& a, const ResourceRecord& b) {
                       return a.preference < b.preference;
                     });
    info.total_hosts = records.size();
    std::vector<DnsQuestion> qs;
    for (const ResourceRecord& rr : records) {
      if (info.hosts.size() >= ctx.options.max_mx_hosts) break;
      MxHost h;
      h.name = Canonical(rr.data);
      h.preference = rr.preference;
      info.hosts.push_back(h);
      if (h.name.empty()) continue;
      for (RRType t : {RRType::kA, RRType::kAAAA, RRType::kCNAME}) qs.push_back({h.name, t});
    }
    ctx.Prefetch(qs);
    for (MxHost& h : info.hosts) {
      if (h.name.empty()) continue;
      Answer a = ctx.Ask(h.name, RRType::kA);
      Answer aaaa = ctx.Ask(h.name, RRType::kAAAA);
      Answer cname = ctx.Ask(h.name, RRType::kCNAME);
      std::string what = "the addresses of MX host " + h.name;
      bool a_ok = ctx.Usable(a, h.name, RRType::kA, what);
      bool aaaa_ok = ctx.Usable(aaaa, h.name, RRType::kAAAA, what);
      h.answered = a_ok && aaaa_ok;
      for (const Answer* ans : {&a, &aaaa}) {
        if (ans->dns.outcome != DnsOutcome::kOk) continue;
        for (const ResourceRecord& rr : ans->dns.records) h.addresses.push_back(rr.data);
      }
      h.cname = cname.dns.outcome == DnsOutcome::kOk && !cname.dns.records.empty();
    }
  }
  ctx.section = saved;
  return info;
}

void ReportMx(Context& ctx, const MxInfo& mx) {
  ctx.section = CheckArea::kMx;
  const std::string& d = ctx.domain;
  switch (mx.kind) {
    case MxInfo::kUnusable:
      return;
    case MxInfo::kNxDomain:
      ctx.Add(CheckCode::kMxMissing, d,
              d + " does not exist in DNS (NXDOMAIN): nothing can be delivered to it, and "
              "receivers may refuse mail from it",
              "publish the zone of " + d + " (or check the name you gave)");
      return;
    case MxInfo::kNone:
      ctx.Add(CheckCode::kMxMissing, d,
              "no MX record at " + d + ": senders fall back to its address records (RFC 5321 "
              "§5.1), and many receivers distrust mail from a domain without MX",
              "publish '" + d + ". IN MX 10 mail." + d + ".' naming the host that receives "
              "your mail (or '0 .' if the domain receives none, RFC 7505)");
      return;
    case MxInfo::kNull:
      ctx.Add(CheckCode::kMxNull, d,
              "null MX (RFC 7505): " + d + " receives no mail, so nobody can reply to or "
              "bounce mail sent from it");
      return;
    case MxInfo::kHosts:
      break;
  }
  std::vector<std::string> good;
  for (const MxHost& h : mx.hosts) {
    if (h.name.empty()) {
      ctx.Add(CheckCode::kMxNoAddress, d,
              "an MX record of " + d + " names the root ('.'): that is a null MX, which must "
              "be the only MX record (RFC 7505 §3)",
              "remove it, or make it the only MX record if the domain receives no mail");
      continue;
    }
    if (!h.answered) continue;  // DNS trouble is reported already
    if (h.addresses.empty()) {
      ctx.Add(CheckCode::kMxNoAddress, h.name,
              "MX host " + h.name + " (preference " + std::to_string(h.preference) +
                  ") has no A or AAAA record: mail for " + d + " cannot be delivered to it",
              "publish the address of " + h.name + " or correct the MX record");
      continue;
    }
    if (h.cname) {
      ctx.Add(CheckCode::kMxCname, h.name,
              "MX host " + h.name + " is an alias (CNAME); MX records must name a host "
              "directly (RFC 2181 §10.3) and some senders will not follow it",
              "point the MX record at the name the CNAME leads to");
    }
    std::string line = h.name + " (" + std::to_string(h.preference) + ") ";
    for (size_t i = 0; i < h.addresses.size() && i < 4; ++i) {
      line += (i ? ", " : "") + h.addresses[i];
    }
    good.push_back(line);
  }
  if (good.empty()) return;
  std::string more = mx.total_hosts > mx.hosts.size()
                         ? " (the first " + std::to_string(mx.hosts.size()) + " of " +
                               std::to_string(mx.total_hosts) + " checked)"
                         : "";
  std::string message = Plural(good.size(), "MX host resolves", "MX hosts resolve") + more +
                        ": " + good.front();
  CheckFinding& f = ctx.Add(CheckCode::kMxHosts, d, message);
  for (size_t i = 1; i < good.size(); ++i) f.details.push_back(good[i]);
}

}  // namespace credence::check_internal
