// The DMARC section of `credence check`. The record is parsed by credence's own DMARC parser
// (policy/dmarc/record.cc) and found the way credence's own evaluation finds it
// (DmarcEvaluator::EvaluateDomain: RFC 9989 §4.10 DNS Tree Walk), so what the check says is
// what credence would apply.
#include "check/dmarc_check.h"

#include <optional>
#include <string>
#include <vector>

#include "credence/message.h"
#include "credence/policy/report.h"
#include "dmarc/discover.h"
#include "dmarc/domain_util.h"

namespace credence::check_internal {
namespace {

using dmarc_internal::DmarcName;
using dmarc_internal::IsSameOrSubdomain;

int Strength(DmarcPolicy p) {
  return p == DmarcPolicy::kReject ? 2 : p == DmarcPolicy::kQuarantine ? 1 : 0;
}

std::string PolicyEffect(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::kReject: return "receivers reject mail that fails DMARC";
    case DmarcPolicy::kQuarantine: return "receivers put mail that fails DMARC in quarantine (spam)";
    case DmarcPolicy::kNone: return "receivers only report mail that fails DMARC";
  }
  return "";
}

std::string Mode(DmarcAlignmentMode m) { return m == DmarcAlignmentMode::kStrict ? "s" : "r"; }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

// Tag names in the order the record text has them (for one line per tag).
std::vector<std::string> TagNames(std::string_view text) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size() && names.size() < 64) {
    size_t semi = std::min(text.find(';', start), text.size());
    std::string_view part = text.substr(start, semi - start);
    start = semi + 1;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = part.substr(0, eq);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!name.empty()) names.push_back(ToLower(name));
  }
  return names;
}

// The domain of a mailto: URI's address ("" when there is none).

// The resolver DMARC discovery asks: a name the zone files do not cover (kNotAsked from
// MakeZoneOverlayResolver without --dns) counts as having no record, so that a tree walk
// from a domain checked on its zone file can pass the names above it (_dmarc.com).
class AbsentOutsideZones final : public Resolver {
 public:
  explicit AbsentOutsideZones(Resolver& inner) : inner_(inner) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers = inner_.Resolve(questions, deadline);
    for (DnsAnswer& a : answers) {
      if (a.outcome == DnsOutcome::kNotAsked) a.outcome = DnsOutcome::kNxDomain;
    }
    return answers;
  }

 private:
  Resolver& inner_;
};

class DmarcSection {
 public:
  DmarcSection(Context& ctx, const DmarcEvaluator& dmarc)
      : ctx_(ctx), dmarc_(dmarc), discovery_(ctx.resolver) {}

  // Finds the record that applies and reports on it. Returns it (nullopt when none applies).
  std::optional<DmarcRecord> Run() {
    const std::string& d = ctx_.domain;
    std::string name = DmarcName(d);
    Answer own = ctx_.Ask(name, RRType::kTXT);
    if (!ctx_.Usable(own, name, RRType::kTXT, "the DMARC record")) return std::nullopt;
    std::vector<std::string> records, near;
    for (const ResourceRecord* rr : TxtRecords(own.dns)) {
      if (dmarc_internal::StartsWithDmarcVersion(rr->data)) {
        records.push_back(rr->data);
      } else if (ToLower(rr->data).find("dmarc1") != std::string::npos) {
        near.push_back(rr->data);
      }
    }
    if (records.size() > 1) {
      ctx_.Add(CheckCode::kDmarcMultiple, name,
               std::to_string(records.size()) + " DMARC records at " + name +
                   ": receivers discard them all (RFC 9989 §4.10)",
               "keep one record");
      return std::nullopt;
    }
    for (const std::string& n : near) {
      ctx_.Add(CheckCode::kDmarcSyntaxError, name,
               "the TXT record \"" + Shown(n, 80) + "\" at " + name + " is not a DMARC record: "
               "it must start with v=DMARC1, spelled exactly so (RFC 9989 §4.7)",
               "write it as \"v=DMARC1; p=...\" with v=DMARC1 first");
    }
    if (records.size() == 1) {
      Result<DmarcRecord> parsed = ParseDmarcRecord(records.front());
      if (!parsed.ok()) {
        ctx_.Add(CheckCode::kDmarcSyntaxError, name,
                 "the DMARC record at " + name + " is not usable: " +
                     Shown(parsed.status().message(), 100) +
                     " (RFC 9989 §4.7): receivers apply no DMARC policy",
                 "write it as \"v=DMARC1; p=none; rua=mailto:postmaster@" + d + "\" to start");
        return std::nullopt;
      }
      ctx_.Add(CheckCode::kDmarcRecord, name,
               "DMARC record at " + name + ": \"" + Shown(records.front()) + "\"");
      text_ = records.front();
      record_domain_ = d;
      Tags(*parsed, /*inherited=*/false);
      return parsed.value();
    }
    return Inherited();
  }

  const std::string& text() const { return text_; }
  const std::string& record_domain() const { return record_domain_; }

 private:
  // No record at the domain itself: credence's own DMARC discovery (the DNS Tree Walk).
  std::optional<DmarcRecord> Inherited() {
    const std::string& d = ctx_.domain;
    DmarcResult r = dmarc_.EvaluateDomain(d, {}, SpfResult(), discovery_, ctx_.deadline);
    if (r.verdict == DmarcVerdict::kTempError) {
      ctx_.Add(CheckCode::kDnsTempFail, "_dmarc." + d,
               "the DMARC tree walk above " + d + " failed (" + Shown(r.reason, 80) +
                   "): the DMARC policy is not checked",
               TempFailFix(r.reason, "_dmarc." + d));
      return std::nullopt;
    }
    if (!r.has_record) {
      ctx_.Add(CheckCode::kDmarcMissing, "_dmarc." + d,
               "no DMARC record at _dmarc." + d + " (nor above it): receivers apply no policy "
               "to mail that fails SPF and DKIM, and send you no reports",
               "publish a first record in monitoring mode, '_dmarc." + d +
                   ". IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@" + d +
                   "\"', and read the reports (docs/check.md)");
      return std::nullopt;
    }
    record_domain_ = r.record_domain;
    Answer a = ctx_.Ask("_dmarc." + r.record_domain, RRType::kTXT);
    for (const ResourceRecord* rr : TxtRecords(a.dns)) {
      if (dmarc_internal::StartsWithDmarcVersion(rr->data)) text_ = rr->data;
    }
    std::string tag(DmarcPolicyTagName(r.policy_tag));
    ctx_.Add(CheckCode::kDmarcRecord, "_dmarc." + r.record_domain,
             "no record at _dmarc." + d + "; the DNS tree walk (RFC 9989 §4.10) finds _dmarc." +
                 r.record_domain + ": \"" + Shown(text_) + "\", whose " + tag + "=" +
                 std::string(DmarcPolicyName(r.requested)) + " applies to " + d);
    Tags(r.record, /*inherited=*/true);
    return r.record;
  }

  // One finding per tag, in the record's order, then what is missing.
  void Tags(const DmarcRecord& rec, bool inherited) {
    const std::string subject = Subject();
    for (const std::string& w : rec.warnings) {
      ctx_.Add(CheckCode::kDmarcTagInvalid, subject,
               Shown(w, 100) + ": receivers use the default instead (RFC 9989 §4.7)",
               "correct the tag or remove it");
    }
    if (rec.p_defaulted) {
      ctx_.Add(CheckCode::kDmarcTagInvalid, subject,
               "no valid p= (or an invalid sp=/np=): the record is read as p=none because it "
               "has a valid rua (RFC 9989 §4.10.1)",
               "write p=none, p=quarantine or p=reject");
    }
    const DmarcPolicy sub = rec.sp.value_or(rec.p);
    for (const std::string& name : TagNames(text_)) ExplainTag(name, rec, sub);
    if (inherited && record_domain_ != ctx_.domain) {
      Tag("for " + ctx_.domain + ", a subdomain of " + record_domain_ + ", sp=" +
          std::string(DmarcPolicyName(sub)) + (rec.sp ? "" : " (from p=)") + " applies");
    }
    if (rec.rua.empty()) {
      ctx_.Add(CheckCode::kDmarcNoRua, subject,
               "no rua=: nobody sends you aggregate reports, so you cannot see who sends mail "
               "as " + ctx_.domain + " or whether your own passes",
               "add rua=mailto:postmaster@" + ctx_.domain);
    }
    ReportUris(rec);
  }

  std::string Subject() const { return "_dmarc." + record_domain_; }
  void Tag(std::string message) { ctx_.Add(CheckCode::kDmarcTag, Subject(), std::move(message)); }

  // What one tag of the record asks of receivers, in words; `sub` is the subdomain policy.
  void ExplainTag(const std::string& name, const DmarcRecord& rec, DmarcPolicy sub) {
    const std::string subject = Subject();
    if (name == "v") return;
    if (name == "p" && !rec.p_defaulted) {
      if (rec.p == DmarcPolicy::kNone) {
        ctx_.Add(CheckCode::kDmarcPolicyNone, subject,
                 "p=none: monitoring only: " + PolicyEffect(rec.p) + ", they deliver it as usual",
                 "once the reports show all your own mail passing, move to p=quarantine, "
                 "then p=reject (docs/check.md)");
      } else {
        Tag("p=" + std::string(DmarcPolicyName(rec.p)) + ": " + PolicyEffect(rec.p));
      }
    } else if (name == "sp" && rec.sp) {
      Tag("sp=" + std::string(DmarcPolicyName(*rec.sp)) + ": for mail from subdomains of " +
          record_domain_ + ", " + PolicyEffect(*rec.sp));
      Weaker("sp", *rec.sp, "p", rec.p, "subdomains of " + record_domain_);
    } else if (name == "np" && rec.np) {
      Tag("np=" + std::string(DmarcPolicyName(*rec.np)) + ": for mail from names under " +
          record_domain_ + " that do not exist, " + PolicyEffect(*rec.np));
      Weaker("np", *rec.np, rec.sp ? "sp" : "p", sub,
             "names under " + record_domain_ + " that do not exist");
    } else if (name == "adkim" || name == "aspf") {
      bool dkim = name == "adkim";
      DmarcAlignmentMode m = dkim ? rec.adkim : rec.aspf;
      std::string id = dkim ? "a DKIM d=" : "an SPF MAIL FROM domain";
      Tag(name + "=" + Mode(m) + ": " + id +
          (m == DmarcAlignmentMode::kStrict
               ? " aligns only when it is exactly the From domain"
               : " aligns when it is in the same organizational domain as the From domain"));
    } else if (name == "pct") {
      if (rec.pct < 100) {
        ctx_.Add(CheckCode::kDmarcPct, subject,
                 "pct=" + std::to_string(rec.pct) + ": the policy applies to " +
                     std::to_string(rec.pct) + "% of failing mail, the rest is treated one "
                     "step more leniently (RFC 7489 §6.3; RFC 9989 dropped pct)",
                 "raise pct to 100 (or remove it) once the reports look right");
      } else {
        Tag("pct=100: the policy applies to all failing mail");
      }
    } else if (name == "t") {
      if (rec.t) {
        ctx_.Add(CheckCode::kDmarcTesting, subject,
                 "t=y: testing: receivers apply one step less than the policy (reject as "
                 "quarantine, quarantine as none) (RFC 9989 §4.7)",
                 "remove t=y once the reports look right");
      } else {
        Tag("t=n: not testing, the policy applies as written");
      }
    } else if (name == "fo") {
      Tag("fo=" + Shown(rec.fo, 20) + ": which failures ask for failure reports (0: SPF and "
          "DKIM both fail, 1: either fails, d: DKIM fails, s: SPF fails)");
    } else if (name == "rua" || name == "ruf") {
      const std::vector<std::string>& uris = name == "rua" ? rec.rua : rec.ruf;
      if (uris.empty()) return;  // every URI was invalid: a warning above
      Tag(name + "=" + Shown(Join(uris), 120) +
          (name == "rua" ? ": daily aggregate reports go there"
                         : ": failure reports go there (few receivers send them)"));
    } else if (name == "psd") {
      Tag("psd=" + std::string(DmarcPsdName(rec.psd)) +
          (rec.psd == DmarcPsd::kYes   ? ": a public suffix domain's record"
           : rec.psd == DmarcPsd::kNo  ? ": this is an organizational domain"
                                       : ": unspecified"));
    } else if (name == "ri" || name == "rf") {
      Tag(name + "=: from RFC 7489, gone from RFC 9989: receivers ignore it");
    } else if (name != "p" && name != "sp" && name != "np") {
      ctx_.Add(CheckCode::kDmarcTagInvalid, subject,
               "unknown tag " + Shown(name, 20) + "=: receivers ignore it (RFC 9989 §4.7)",
               "remove it, or correct it if it is a typo");
    }
  }

  void Weaker(const std::string& name, DmarcPolicy p, const std::string& than, DmarcPolicy q,
              const std::string& who) {
    if (Strength(p) >= Strength(q)) return;
    ctx_.Add(CheckCode::kDmarcSubdomainWeaker, "_dmarc." + record_domain_,
             name + "=" + std::string(DmarcPolicyName(p)) + " is weaker than " + than + "=" +
                 std::string(DmarcPolicyName(q)) + ": mail claiming to come from " + who +
                 " is held to less",
             "raise " + name + "= to " + std::string(DmarcPolicyName(q)) +
                 " unless those names send mail that cannot pass yet");
  }

  // RFC 9990: reports go by mail; an address outside the domain's organizational domain
  // needs that domain's consent (External Destination Verification).
  void ReportUris(const DmarcRecord& rec) {
    std::string subject = "_dmarc." + record_domain_;
    std::string org = OrgDomain();
    std::vector<std::string> uris = rec.rua;
    uris.insert(uris.end(), rec.ruf.begin(), rec.ruf.end());
    constexpr size_t kMaxExternal = 8;  // consent records asked, at most
    size_t checked = 0;
    std::vector<std::string> unchecked;
    for (const std::string& uri : uris) {
      // Read as credence reads it when it sends reports (ParseRuaUri): the same domain, and the
      // same refusals.
      Result<RuaDestination> dest = ParseRuaUri(uri);
      if (!dest.ok()) {
        const bool not_mail = dest.status().code() == StatusCode::kUnsupported ||
                              uri.size() < 7 || !EqualsIgnoreCase(uri.substr(0, 7), "mailto:");
        ctx_.Add(CheckCode::kDmarcReportUri, subject,
                 not_mail ? "report URI " + Shown(uri, 80) +
                                " is not a mailto: address: receivers send reports by mail "
                                "(RFC 9990)"
                          : "report URI " + Shown(uri, 80) + " is not usable: " +
                                Shown(dest.status().message(), 80),
                 "use rua=mailto:ADDRESS, one plain address at a domain");
        continue;
      }
      const std::string domain = Canonical(dest->domain);
      if (IsSameOrSubdomain(domain, org) || IsSameOrSubdomain(domain, record_domain_)) continue;
      if (++checked > kMaxExternal) {
        unchecked.push_back(uri);
        continue;
      }
      std::string name = record_domain_ + "._report._dmarc." + domain;
      Answer a = ctx_.Ask(name, RRType::kTXT);
      if (!ctx_.Usable(a, name, RRType::kTXT, "the consent of " + domain + " to get reports")) {
        continue;
      }
      bool consent = false;
      for (const ResourceRecord* rr : TxtRecords(a.dns)) {
        consent = consent || dmarc_internal::StartsWithDmarcVersion(rr->data);
      }
      if (consent) {
        ctx_.Add(CheckCode::kDmarcExternalVerified, name,
                 "reports to " + Shown(uri, 80) + " (another domain) are authorised: " + name +
                     " has v=DMARC1 (RFC 9990 External Destination Verification)");
      } else {
        ctx_.Add(CheckCode::kDmarcExternalUnverified, name,
                 "reports to " + Shown(uri, 80) + " go to another domain, and " + name +
                     " has no v=DMARC1 record: receivers will not send them (RFC 9990 External "
                     "Destination Verification)",
                 "ask the owner of " + domain + " to publish '" + name +
                     ". IN TXT \"v=DMARC1\"', or send reports to an address in " +
                     record_domain_);
      }
    }
    if (!unchecked.empty()) {
      ctx_.Add(CheckCode::kDmarcExternalUnverified, subject,
               std::to_string(unchecked.size()) + " more report address(es) at other domains "
               "not checked (the check asks at most " + std::to_string(kMaxExternal) +
                   "), from " + Shown(unchecked.front(), 80) + ": whether they consent to "
                   "reports is unknown",
               "keep the report addresses to a few; check the others by hand");
    }
  }

  std::string OrgDomain() {
    Result<std::string> org = dmarc_.OrgDomain(ctx_.domain, discovery_, ctx_.deadline);
    return org.ok() && !org->empty() ? *org : record_domain_;
  }

  Context& ctx_;
  const DmarcEvaluator& dmarc_;
  AbsentOutsideZones discovery_;
  std::string text_;           // the record that applies
  std::string record_domain_;  // where it is (without "_dmarc.")
};

void Alignment(Context& ctx, const std::optional<DmarcRecord>& rec, const SpfFacts& spf,
               const DkimFacts& dkim) {
  const std::string& d = ctx.domain;
  // What could not be fetched is reported where it was asked; no advice is built on it.
  if (spf.unknown || (dkim.usable.empty() && dkim.testing.empty() && dkim.unknown > 0)) return;
  DmarcAlignmentMode aspf = rec ? rec->aspf : DmarcAlignmentMode::kRelaxed;
  DmarcAlignmentMode adkim = rec ? rec->adkim : DmarcAlignmentMode::kRelaxed;
  std::string modes = " (aspf=" + Mode(aspf) + ", adkim=" + Mode(adkim) +
                      (rec ? ")" : ", the defaults)");
  std::string spf_how = aspf == DmarcAlignmentMode::kStrict
                            ? "SPF for a MAIL FROM of exactly " + d
                            : "SPF for a MAIL FROM in " + d;
  std::string dkim_how = "DKIM with d=" + d;
  bool spf_ok = spf.usable;
  bool dkim_ok = !dkim.usable.empty();
  std::string dkim_why = dkim.checked == 0 && dkim.testing.empty()
                             ? "DKIM was not checked (no selector)"
                         : !dkim.testing.empty()
                             ? "the DKIM key checked above is in testing mode (t=y), so "
                               "receivers treat its signatures as absent"
                             : "no DKIM key checked above is usable";
  if (spf_ok && dkim_ok) {
    CheckFinding& f = ctx.Add(CheckCode::kDmarcAlignment, d,
                              spf_how + " and " + dkim_how + " can both align with From: " + d +
                                  modes);
    for (const std::string& inc : spf.includes) {
      f.details.push_back("mail sent through include:" + Shown(inc, 60) +
                          " aligns only if that service signs it with d=" + d +
                          " or uses a MAIL FROM in " + d);
      if (f.details.size() >= 10) break;
    }
  } else if (spf_ok) {
    ctx.Add(CheckCode::kDmarcAlignmentWeak, d,
            "only " + spf_how + " can align with From: " + d + modes + "; " + dkim_why +
                ", and mail forwarded by others fails SPF, so it fails DMARC",
            dkim.usable.empty() && !dkim.testing.empty()
                ? "leave DKIM testing mode (see DKIM above) once a message verifies"
                : "sign your mail with DKIM, d=" + d + ", and check the selector with --selector");
  } else if (dkim_ok) {
    ctx.Add(CheckCode::kDmarcAlignmentWeak, d,
            "only " + dkim_how + " can align with From: " + d + modes +
                "; SPF is missing or broken (see SPF above)",
            "publish a working SPF record so that DMARC has a second way to pass");
  } else {
    ctx.Add(CheckCode::kDmarcAlignmentNone, d,
            "neither SPF nor DKIM can align with From: " + d + modes + ": " + dkim_why +
                " and SPF is missing or broken, so DMARC fails for all its mail",
            "fix the SPF and DKIM problems above");
  }
}

}  // namespace

void CheckDmarc(Context& ctx, const DmarcEvaluator& dmarc, const SpfFacts& spf,
                const DkimFacts& dkim) {
  ctx.section = CheckArea::kDmarc;
  DmarcSection section(ctx, dmarc);
  std::optional<DmarcRecord> rec = section.Run();
  ctx.report->dmarc_record = section.text();
  ctx.report->dmarc_record_domain = section.record_domain();
  Alignment(ctx, rec, spf, dkim);
}

}  // namespace credence::check_internal
