// The finding codes of `credence check`: one name and one severity each (docs/check.md).
#include <algorithm>

#include "credence/policy/check.h"

namespace credence {

std::string_view CheckSeverityName(CheckSeverity s) {
  switch (s) {
    case CheckSeverity::kOk: return "ok";
    case CheckSeverity::kWarning: return "warning";
    case CheckSeverity::kError: return "error";
  }
  return "error";
}

std::string_view CheckAreaName(CheckArea a) {
  switch (a) {
    case CheckArea::kSpf: return "spf";
    case CheckArea::kDkim: return "dkim";
    case CheckArea::kDmarc: return "dmarc";
    case CheckArea::kMx: return "mx";
    case CheckArea::kMessage: return "message";
    case CheckArea::kDns: return "dns";
  }
  return "dns";
}

CheckCodeInfo InfoOf(CheckCode code) {
  constexpr CheckSeverity kOk = CheckSeverity::kOk;
  constexpr CheckSeverity kWarn = CheckSeverity::kWarning;
  constexpr CheckSeverity kErr = CheckSeverity::kError;
  switch (code) {
    case CheckCode::kSpfRecord: return {"spf.record", kOk};
    case CheckCode::kSpfMissing: return {"spf.missing", kErr};
    case CheckCode::kSpfMultiple: return {"spf.multiple", kErr};
    case CheckCode::kSpfRrType: return {"spf.rr_type", kWarn};
    case CheckCode::kSpfSyntax: return {"spf.syntax", kOk};
    case CheckCode::kSpfSyntaxError: return {"spf.syntax_error", kErr};
    case CheckCode::kSpfSplitGlued: return {"spf.split_glued", kErr};
    case CheckCode::kSpfLookups: return {"spf.lookups", kOk};
    case CheckCode::kSpfLookupLimit: return {"spf.lookup_limit", kErr};
    case CheckCode::kSpfVoid: return {"spf.void", kWarn};
    case CheckCode::kSpfVoidLimit: return {"spf.void_limit", kErr};
    case CheckCode::kSpfMxLimit: return {"spf.mx_limit", kErr};
    case CheckCode::kSpfPtr: return {"spf.ptr", kWarn};
    case CheckCode::kSpfAll: return {"spf.all", kOk};
    case CheckCode::kSpfAllPass: return {"spf.all_pass", kErr};
    case CheckCode::kSpfWideRange: return {"spf.wide_range", kErr};
    case CheckCode::kSpfAllNeutral: return {"spf.all_neutral", kWarn};
    case CheckCode::kSpfNoAll: return {"spf.no_all", kWarn};
    case CheckCode::kSpfRedirectIgnored: return {"spf.redirect_ignored", kWarn};
    case CheckCode::kSpfIncludeMissing: return {"spf.include_missing", kErr};
    case CheckCode::kSpfLoop: return {"spf.loop", kErr};
    case CheckCode::kSpfMacroTarget: return {"spf.macro_target", kWarn};
    case CheckCode::kSpfMxAuthorised: return {"spf.mx_authorised", kOk};
    case CheckCode::kSpfMxNotAuthorised: return {"spf.mx_not_authorised", kWarn};
    case CheckCode::kDkimNoSelector: return {"dkim.no_selector", kWarn};
    case CheckCode::kDkimKey: return {"dkim.key", kOk};
    case CheckCode::kDkimKeyMissing: return {"dkim.key_missing", kErr};
    case CheckCode::kDkimKeyMultiple: return {"dkim.key_multiple", kErr};
    case CheckCode::kDkimKeySyntax: return {"dkim.key_syntax", kErr};
    case CheckCode::kDkimKeyLenient: return {"dkim.key_lenient", kWarn};
    case CheckCode::kDkimKeyTooSmall: return {"dkim.key_too_small", kErr};
    case CheckCode::kDkimKeyShort: return {"dkim.key_short", kWarn};
    case CheckCode::kDkimSha1Only: return {"dkim.sha1_only", kErr};
    case CheckCode::kDkimRevoked: return {"dkim.revoked", kErr};
    case CheckCode::kDkimTesting: return {"dkim.testing", kWarn};
    case CheckCode::kDkimNotTesting: return {"dkim.not_testing", kOk};
    case CheckCode::kDkimStrict: return {"dkim.strict", kOk};
    case CheckCode::kDkimDomainkeyRecord: return {"dkim.domainkey_record", kWarn};
    case CheckCode::kDmarcRecord: return {"dmarc.record", kOk};
    case CheckCode::kDmarcMissing: return {"dmarc.missing", kErr};
    case CheckCode::kDmarcMultiple: return {"dmarc.multiple", kErr};
    case CheckCode::kDmarcSyntaxError: return {"dmarc.syntax_error", kErr};
    case CheckCode::kDmarcTag: return {"dmarc.tag", kOk};
    case CheckCode::kDmarcTagInvalid: return {"dmarc.tag_invalid", kWarn};
    case CheckCode::kDmarcPolicyNone: return {"dmarc.policy_none", kWarn};
    case CheckCode::kDmarcTesting: return {"dmarc.testing", kWarn};
    case CheckCode::kDmarcPct: return {"dmarc.pct", kWarn};
    case CheckCode::kDmarcSubdomainWeaker: return {"dmarc.subdomain_weaker", kWarn};
    case CheckCode::kDmarcNoRua: return {"dmarc.no_rua", kWarn};
    case CheckCode::kDmarcReportUri: return {"dmarc.report_uri", kWarn};
    case CheckCode::kDmarcExternalVerified: return {"dmarc.external_verified", kOk};
    case CheckCode::kDmarcExternalUnverified: return {"dmarc.external_unverified", kWarn};
    case CheckCode::kDmarcAlignment: return {"dmarc.alignment", kOk};
    case CheckCode::kDmarcAlignmentWeak: return {"dmarc.alignment_weak", kWarn};
    case CheckCode::kDmarcAlignmentNone: return {"dmarc.alignment_none", kErr};
    case CheckCode::kMxHosts: return {"mx.hosts", kOk};
    case CheckCode::kMxNull: return {"mx.null", kOk};
    case CheckCode::kMxMissing: return {"mx.missing", kWarn};
    case CheckCode::kMxNoAddress: return {"mx.no_address", kErr};
    case CheckCode::kMxCname: return {"mx.cname", kWarn};
    case CheckCode::kMessageUnreadable: return {"message.unreadable", kErr};
    case CheckCode::kMessageFromDomain: return {"message.from_domain", kWarn};
    case CheckCode::kMessageUnsigned: return {"message.unsigned", kWarn};
    case CheckCode::kMessageDkimPass: return {"message.dkim_pass", kOk};
    case CheckCode::kMessageDkimFail: return {"message.dkim_fail", kErr};
    case CheckCode::kMessageDkimTesting: return {"message.dkim_testing", kWarn};
    case CheckCode::kMessageDkimOther: return {"message.dkim_other", kOk};
    case CheckCode::kMessageSpfPass: return {"message.spf_pass", kOk};
    case CheckCode::kMessageSpfFail: return {"message.spf_fail", kErr};
    case CheckCode::kMessageDmarcPass: return {"message.dmarc_pass", kOk};
    case CheckCode::kMessageDmarcFail: return {"message.dmarc_fail", kErr};
    case CheckCode::kMessageDmarcNone: return {"message.dmarc_none", kWarn};
    case CheckCode::kDnsTempFail: return {"dns.tempfail", kErr};
    case CheckCode::kDnsOutsideZones: return {"dns.outside_zones", kWarn};
    case CheckCode::kCheckIncomplete: return {"check.incomplete", kErr};
  }
  return {"check.incomplete", kErr};
}

size_t CheckReport::Count(CheckSeverity s) const {
  return static_cast<size_t>(std::count_if(findings.begin(), findings.end(),
                                           [s](const CheckFinding& f) { return f.severity() == s; }));
}

CheckSeverity CheckReport::Worst() const {
  CheckSeverity worst = CheckSeverity::kOk;
  for (const CheckFinding& f : findings) worst = std::max(worst, f.severity());
  return worst;
}

int CheckReport::ExitStatus() const {
  switch (Worst()) {
    case CheckSeverity::kOk: return 0;
    case CheckSeverity::kWarning: return 1;
    case CheckSeverity::kError: return 2;
  }
  return 2;
}

}  // namespace credence
