// The SPF section of `credence check`: RFC 7208 §3.1 and §4.5 (one TXT record, no SPF RR
// type), §12 (grammar), §3.3 (strings), §4.6.4 (lookup limits), §5.1 (all), and whether the
// domain's MX hosts pass (each evaluated by credence's own SPF check, verifier/spf).
#include "check/spf_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "check/spf_walk.h"
#include "credence/spf.h"
#include "credence/spf_record.h"

namespace credence::check_internal {
namespace {

// RFC 7208 §4.6.4.
constexpr size_t kMaxLookups = 10;
constexpr size_t kMaxVoidLookups = 2;
// RFC 7208 §3.1: the obsolete SPF RR type.
constexpr RRType kSpfRrType = static_cast<RRType>(99);
constexpr size_t kMaxBreakdownLines = 40;

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? std::string(sep) : "") + items[i];
  return out;
}

void CheckRrType(Context& ctx, bool txt_published) {
  Answer a = ctx.Ask(ctx.domain, kSpfRrType);
  if (a.dns.outcome != DnsOutcome::kOk || a.dns.records.empty()) return;
  ctx.Add(CheckCode::kSpfRrType, ctx.domain,
          ctx.domain + " publishes a record of the obsolete SPF type (99): receivers never "
          "look at it (RFC 7208 §3.1, §14.1)",
          txt_published ? "delete the SPF-type record and keep the TXT one"
                        : "publish the same text as a TXT record, then delete the SPF-type one");
}

// The SPF record of the domain itself, or what stands in its place. Returns the text to walk
// ("" when there is none).
std::string TopRecord(Context& ctx, const SpfFetch& f) {
  const std::string& d = ctx.domain;
  switch (f.kind) {
    case SpfFetch::kUnusable:
      return "";
    case SpfFetch::kMultiple:
      ctx.Add(CheckCode::kSpfMultiple, d,
              d + " has more than one SPF record: receivers return permerror, as if every "
              "record were broken (RFC 7208 §4.5)",
              "merge them into one TXT record starting with v=spf1");
      return "";
    case SpfFetch::kOne:
      ctx.Add(CheckCode::kSpfRecord, d, "one SPF record at " + d + ": \"" + Shown(f.record) + "\"");
      return CheckSpfText(ctx, d, f.record, f.breaks, /*report_ok=*/true);
    case SpfFetch::kNone:
      break;
  }
  if (!f.near.empty()) {
    const auto& [text, breaks] = f.near.front();
    std::string fixed;
    if (!FindGluedSplits(text, breaks, &fixed).empty() && spf::IsSpfRecord(fixed)) {
      return CheckSpfText(ctx, d, text, breaks, /*report_ok=*/false);
    }
    ctx.Add(CheckCode::kSpfSyntaxError, d,
            "the TXT record \"" + Shown(text, 80) + "\" at " + d + " starts like an SPF "
            "record but is not one: 'v=spf1' must be followed by a space (RFC 7208 §4.5); "
            "receivers see no SPF record",
            "write 'v=spf1 ' (with the space) before the first term");
    return "";
  }
  ctx.Add(CheckCode::kSpfMissing, d,
          "no SPF record at " + d + ": receivers cannot tell which hosts may send its mail "
          "(SPF none), and DMARC can only pass through DKIM",
          "publish '" + d + ". IN TXT \"v=spf1 mx -all\"' if your MX hosts send your mail "
          "(else list the sending hosts with ip4:/ip6:)");
  return "";
}

std::vector<std::string> Breakdown(const SpfTree& tree) {
  std::vector<std::string> lines;
  size_t width = 0;
  size_t shown = std::min(tree.terms.size(), kMaxBreakdownLines);
  for (size_t i = 0; i < shown; ++i) {
    width = std::max(width, 2 * tree.terms[i].depth + Shown(tree.terms[i].term, 60).size());
  }
  for (size_t i = 0; i < shown; ++i) {
    const SpfLookupTerm& t = tree.terms[i];
    std::string left = std::string(2 * t.depth, ' ') + Shown(t.term, 60);
    left.resize(width, ' ');
    lines.push_back(left + "  " + std::to_string(t.lookups));
  }
  if (tree.terms.size() > shown) {
    lines.push_back("... " + std::to_string(tree.terms.size() - shown) + " more terms");
  }
  return lines;
}

// `as_meant`: the tree was walked on the record with its glued strings separated.
void ReportLookups(Context& ctx, const SpfTree& tree, bool as_meant) {
  std::string count = (tree.truncated ? "at least " : "") +
                      Plural(tree.lookups, "DNS lookup", "DNS lookups");
  CheckFinding* f = nullptr;
  if (tree.lookups > kMaxLookups) {
    f = &ctx.Add(CheckCode::kSpfLookupLimit, ctx.domain,
                 count + " over the include/redirect tree, more than the 10 RFC 7208 §4.6.4 "
                 "allows: receivers that reach the 11th return permerror, and DMARC then "
                 "counts SPF as failed",
                 "drop includes of services you no longer use, list your own hosts with "
                 "ip4:/ip6: instead of a/mx, or send some mail from a subdomain with its own "
                 "record");
  } else {
    f = &ctx.Add(CheckCode::kSpfLookups, ctx.domain,
                 count + " of the 10 allowed, " +
                     Plural(tree.void_lookups, "void lookup", "void lookups") +
                     " of the 2 allowed (RFC 7208 §4.6.4)" +
                     (as_meant ? ", counted on the record as meant (strings separated)" : ""));
  }
  f->details = Breakdown(tree);
  if (tree.void_lookups == 0) return;
  std::string list = Join(tree.void_terms, "; ");
  if (tree.void_lookups > kMaxVoidLookups) {
    ctx.Add(CheckCode::kSpfVoidLimit, ctx.domain,
            Plural(tree.void_lookups, "void lookup", "void lookups") +
                " (names with no records), more than the 2 RFC 7208 §4.6.4 allows: receivers "
                "return permerror: " + list,
            "remove the terms whose names no longer exist");
  } else {
    ctx.Add(CheckCode::kSpfVoid, ctx.domain,
            Plural(tree.void_lookups, "void lookup", "void lookups") +
                " (a name with no records): " + list +
                "; a third would make receivers return permerror (RFC 7208 §4.6.4)",
            "remove the terms whose names no longer exist");
  }
}

// Pass ranges that cover a large share of the Internet: a /8 of IPv4 in all (more than the
// largest mail providers list, a few /14s), or a /24 of IPv6 (a regional registry's
// allocation). A spoofer anywhere in them passes SPF, and DMARC, for the domain.
void ReportWideRanges(Context& ctx, SpfTree tree) {
  const bool v4 = tree.ipv4_share >= std::ldexp(1.0, -8);
  const bool v6 = tree.ipv6_share >= std::ldexp(1.0, -24);
  if (!v4 && !v6) return;
  std::stable_sort(tree.wide_terms.begin(), tree.wide_terms.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string named;
  for (size_t i = 0; i < tree.wide_terms.size() && i < 3; ++i) {
    named += (i ? ", " : "") + tree.wide_terms[i].second;
  }
  auto percent = [](double share) {
    char buf[32];
    std::snprintf(buf, sizeof buf, share >= 0.01 ? "%.0f%%" : "%.2g%%", 100 * std::min(share, 1.0));
    return std::string(buf);
  };
  std::string what = "the record passes ";
  if (v4) what += percent(tree.ipv4_share) + " of all IPv4 addresses";
  if (v4 && v6) what += " and ";
  if (v6) what += percent(tree.ipv6_share) + " of all IPv6 addresses";
  ctx.Add(CheckCode::kSpfWideRange, ctx.domain,
          what + " (" + named + "): a spoofer anywhere in them passes SPF, and so DMARC, for " +
              ctx.domain,
          "list only the addresses of the hosts that send your mail (ip4:/ip6: with the "
          "provider's published ranges, or include: of the provider's record)");
}

void ReportAll(Context& ctx, const SpfTree& tree) {
  const std::string& d = ctx.domain;
  switch (tree.all) {
    case '-':
      ctx.Add(CheckCode::kSpfAll, d, "ends in -all: mail from hosts not listed fails SPF");
      return;
    case '~':
      ctx.Add(CheckCode::kSpfAll, d,
              "ends in ~all: mail from hosts not listed soft-fails (DMARC counts it as not "
              "passing)");
      return;
    case '+':
      ctx.Add(CheckCode::kSpfAllPass, d,
              "ends in +all: every host on the Internet passes SPF for " + d,
              "end the record with -all (or ~all while you test)");
      return;
    case '?':
      ctx.Add(CheckCode::kSpfAllNeutral, d,
              "ends in ?all: mail from hosts not listed gets neutral, the same as no SPF at all",
              "end the record with ~all, then -all once your senders are all listed");
      return;
    default:
      break;
  }
  if (!tree.chain_ended) return;  // a broken redirect= is reported already
  ctx.Add(CheckCode::kSpfNoAll, d,
          "no 'all' at the end (and no redirect=): mail from hosts not listed gets neutral "
          "(RFC 7208 §4.7), the same as no SPF at all",
          "end the record with -all (or ~all while you test)");
}

// Runs each MX host address through credence's SPF check for postmaster@DOMAIN.
void CheckMxAuthorised(Context& ctx, const MxInfo& mx) {
  if (mx.kind != MxInfo::kHosts) return;
  std::vector<std::string> pass, other;
  size_t checked = 0;
  for (const MxHost& h : mx.hosts) {
    for (const std::string& address : h.addresses) {
      if (checked++ >= ctx.options.max_mx_hosts) break;
      SpfRequest request{address, h.name, "postmaster@" + ctx.domain};
      SpfResult r = CheckSpfMailFrom(request, ctx.resolver, ctx.deadline);
      std::string label = h.name + " " + address;
      if (r.result == SpfVerdict::kPass) {
        pass.push_back(label);
      } else if (r.result != SpfVerdict::kTempError && r.result != SpfVerdict::kPermError) {
        other.push_back(label + " (" + std::string(SpfVerdictName(r.result)) + ")");
      }
      // temperror and permerror: the reason is a finding of its own already.
    }
  }
  if (!pass.empty()) {
    ctx.Add(CheckCode::kSpfMxAuthorised, ctx.domain,
            "the MX hosts pass SPF for " + ctx.domain + ": " + Join(pass, "; "));
  }
  if (!other.empty()) {
    ctx.Add(CheckCode::kSpfMxNotAuthorised, ctx.domain,
            "MX hosts that do not pass SPF for " + ctx.domain + ": " + Join(other, "; ") +
                "; mail they send for it (replies, bounces, forwards) fails SPF",
            "if they send mail for " + ctx.domain + ", add 'mx' (or their ip4:/ip6: "
            "addresses) before the 'all'");
  }
}

}  // namespace

SpfFacts CheckSpf(Context& ctx, const MxInfo& mx) {
  ctx.section = CheckArea::kSpf;
  SpfFacts facts;
  size_t first = ctx.report->findings.size();
  SpfFetch fetch = FetchSpfRecord(ctx, ctx.domain);
  facts.unknown = fetch.kind == SpfFetch::kUnusable;
  std::string text = TopRecord(ctx, fetch);
  CheckRrType(ctx, fetch.kind == SpfFetch::kOne);
  if (fetch.kind == SpfFetch::kOne) ctx.report->spf_record = fetch.record;
  if (text.empty()) return facts;
  SpfTree tree = WalkSpf(ctx, ctx.domain, text);
  ReportLookups(ctx, tree, text != fetch.record);
  ReportAll(ctx, tree);
  ReportWideRanges(ctx, tree);
  // Only a record receivers can find is evaluated (a glued "v=spf1" is none to them).
  if (fetch.kind == SpfFetch::kOne) CheckMxAuthorised(ctx, mx);
  ctx.report->spf_lookups = tree.lookups;
  ctx.report->spf_void_lookups = tree.void_lookups;
  ctx.report->spf_terms = tree.terms;
  facts.includes = tree.includes;
  facts.usable = fetch.kind == SpfFetch::kOne &&
                 std::none_of(ctx.report->findings.begin() + static_cast<long>(first),
                              ctx.report->findings.end(), [](const CheckFinding& f) {
                                // +all passes everyone: a hole, but SPF still aligns.
                                return f.severity() == CheckSeverity::kError &&
                                       f.code != CheckCode::kSpfAllPass &&
                                       f.code != CheckCode::kSpfWideRange;
                              });
  return facts;
}

}  // namespace credence::check_internal
