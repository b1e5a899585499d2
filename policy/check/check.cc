// CheckDomain: the order of `credence check`. The message (if any) is verified first, since
// its signatures name selectors to check; the MX hosts are fetched before SPF, which checks
// whether they pass; DMARC comes after SPF and DKIM, whose findings decide the alignment
// advice. Findings are then grouped by section in reading order.
#include <algorithm>

#include "check/context.h"
#include "check/dkim_check.h"
#include "check/dmarc_check.h"
#include "check/message_check.h"
#include "check/mx_check.h"
#include "check/spf_check.h"
#include "common/idna.h"
#include "credence/policy/check.h"
#include "credence/policy/evaluate.h"
#include "dmarc/domain_util.h"

namespace credence {

using check_internal::Context;
using check_internal::DkimSelector;

namespace {

int SectionOrder(CheckArea a) {
  switch (a) {
    case CheckArea::kSpf: return 0;
    case CheckArea::kDkim: return 1;
    case CheckArea::kDmarc: return 2;
    case CheckArea::kMx: return 3;
    case CheckArea::kMessage: return 4;
    case CheckArea::kDns: return 5;
  }
  return 5;
}

// RFC 6376 §3.1: a selector is one or more dot-separated sub-domain labels.
bool IsValidSelector(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return !dmarc_internal::NormalizeDomain(std::string(s) + ".x").empty();
}

}  // namespace

Result<std::string> CheckedDomainName(const std::string& given) {
  Result<std::string> alabels = ToALabels(given);
  std::string domain = alabels.ok() ? dmarc_internal::NormalizeDomain(*alabels) : "";
  if (domain.empty() || domain.find('.') == std::string::npos) {
    return Status::Invalid("'" + given + "' is not a domain name");
  }
  return domain;
}

Result<CheckReport> CheckDomain(const CheckRequest& request, Resolver& resolver,
                                const Clock& clock, const CheckOptions& options) {
  Result<std::string> checked = CheckedDomainName(request.domain);
  if (!checked.ok()) return checked.status();
  const std::string domain = std::move(checked).value();
  std::vector<DkimSelector> selectors;
  for (const std::string& s : request.selectors) {
    if (!IsValidSelector(s)) return Status::Invalid("'" + s + "' is not a DKIM selector");
    DkimSelector sel{ToLower(s), domain};
    if (std::find(selectors.begin(), selectors.end(), sel) == selectors.end()) {
      selectors.push_back(sel);
    }
  }
  EvaluatorOptions eo;
  Result<std::unique_ptr<Evaluator>> evaluator = Evaluator::Create(eo, clock);
  if (!evaluator.ok()) return evaluator.status();

  CheckReport report;
  report.domain = domain;
  Deadline deadline = std::chrono::steady_clock::now() + options.deadline;
  Context ctx(request, domain, resolver, deadline, options, &report);

  check_internal::MessageFacts message = check_internal::EvaluateMessage(ctx, **evaluator);
  for (const DkimSelector& s : message.selectors) {
    if (std::find(selectors.begin(), selectors.end(), s) == selectors.end()) {
      selectors.push_back(s);
    }
  }
  check_internal::MxInfo mx = check_internal::FetchMx(ctx);
  check_internal::SpfFacts spf = check_internal::CheckSpf(ctx, mx);
  check_internal::DkimFacts dkim = check_internal::CheckDkim(ctx, selectors);
  Result<std::unique_ptr<DmarcEvaluator>> dmarc = DmarcEvaluator::Create(eo.dmarc);
  if (!dmarc.ok()) return dmarc.status();
  check_internal::CheckDmarc(ctx, **dmarc, spf, dkim);
  check_internal::ReportMx(ctx, mx);
  check_internal::ReportMessage(ctx, message);
  if (ctx.incomplete()) {
    ctx.section = CheckArea::kDns;
    ctx.Add(CheckCode::kCheckIncomplete, domain,
            "the check stopped early: " + ctx.incomplete_reason() +
                "; what it did not reach is not checked",
            "run it again with a faster DNS server, or on zone files (--zone)");
  }
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const CheckFinding& a, const CheckFinding& b) {
                     return SectionOrder(a.section) < SectionOrder(b.section);
                   });
  report.dns_queries = ctx.queries();
  return report;
}

}  // namespace credence
