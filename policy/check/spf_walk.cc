// SPF records read for `credence check`: fetching, glued string splits and the walk over the
// include/redirect tree (RFC 7208 §4.6.4, §5.2, §6.1). The walk recurses at most kMaxDepth
// levels and follows at most CheckOptions::max_spf_records records.
#include "check/spf_walk.h"

#include <algorithm>
#include <cmath>

#include "credence/message.h"
#include "credence/spf_record.h"

namespace credence::check_internal {
namespace {

// Deeper than this, a tree already has more than the 10 lookups RFC 7208 §4.6.4 allows.
constexpr size_t kMaxDepth = 10;
// RFC 7208 §4.6.4: an "mx" term may name at most 10 MX hosts.
constexpr size_t kMaxMxNames = 10;

bool StartsWithVersion(std::string_view txt) {
  return txt.size() >= 6 && EqualsIgnoreCase(txt.substr(0, 6), "v=spf1");
}

bool IsTerm(std::string_view text) {
  return spf::CheckSpfRecordSyntax("v=spf1 " + std::string(text)).ok();
}

bool HasMacro(std::string_view spec) { return spec.find('%') != std::string_view::npos; }

class Walker {
 public:
  Walker(Context& ctx, SpfTree* tree) : ctx_(ctx), tree_(*tree) {}

  void Run(const std::string& domain, const std::string& record) {
    path_.push_back(domain);
    records_ = 1;
    Walk(domain, record, 0, /*chain=*/true);
  }

 private:
  // The lookups of `record`'s terms and of everything below them. `chain`: the top record
  // or a record reached from it by redirect= only (its "all" is the one that applies).
  size_t Walk(const std::string& domain, const std::string& record, size_t depth, bool chain) {
    std::vector<spf::SpfTerm> terms = spf::SplitSpfTerms(record);
    bool has_all = std::any_of(terms.begin(), terms.end(), [](const spf::SpfTerm& t) {
      return !t.modifier && EqualsIgnoreCase(t.name, "all");
    });
    bool has_redirect = std::any_of(terms.begin(), terms.end(), [](const spf::SpfTerm& t) {
      return t.modifier && EqualsIgnoreCase(t.name, "redirect");
    });
    if (chain && (has_all || !has_redirect)) tree_.chain_ended = true;
    size_t total = 0;
    for (const spf::SpfTerm& t : terms) {
      std::string name = ToLower(t.name);
      if (t.modifier) {
        if (name != "redirect") continue;  // exp= costs no §4.6.4 lookup
        if (has_all) {
          // RFC 7208 §5.1: "redirect" MUST be ignored when there is an "all" mechanism.
          ctx_.Add(CheckCode::kSpfRedirectIgnored, domain,
                   Shown(t.text, 80) + " in the record of " + domain +
                       " is ignored: the record also has an 'all' (RFC 7208 §5.1)",
                   "remove the redirect=, or the 'all' if the other domain's record should "
                   "decide");
          continue;
        }
        total += Term(t, domain, depth, [&] { return Follow(t, domain, depth, true, chain); });
        continue;
      }
      if (name == "ip4" || name == "ip6" || name == "a" || name == "mx") Range(t, domain);
      if (name == "all") {
        All(t, domain, chain);
      } else if (name == "include") {
        if (depth == 0) tree_.includes.push_back(Canonical(t.value));
        total += Term(t, domain, depth, [&] { return Follow(t, domain, depth, false, false); });
      } else if (name == "a") {
        total += Term(t, domain, depth, [&] { return Address(t, domain); });
      } else if (name == "mx") {
        total += Term(t, domain, depth, [&] { return Mx(t, domain); });
      } else if (name == "ptr") {
        total += Term(t, domain, depth, [&] { return Ptr(t, domain); });
      } else if (name == "exists") {
        total += Term(t, domain, depth, [&] { return Exists(t, domain); });
      }
    }
    return total;
  }

  // The address space a pass-qualified ip4/ip6 term covers (`a`/`mx` with a prefix length:
  // one address's worth, what a single-address name gives), added to the tree's share.
  // Terms that do not parse are reported by the syntax check.
  void Range(const spf::SpfTerm& t, const std::string& domain) {
    if (!passing_ || (t.qualifier != '\0' && t.qualifier != '+')) return;  // ~ ? -: no pass
    const bool is_ip4 = EqualsIgnoreCase(t.name, "ip4");
    const bool is_ip6 = EqualsIgnoreCase(t.name, "ip6");
    std::string_view v4, v6;  // the prefix lengths written, "" for none
    if (is_ip4 || is_ip6) {
      const size_t slash = t.value.find('/');
      if (slash == std::string_view::npos) return;  // one address
      (is_ip4 ? v4 : v6) = t.value.substr(slash + 1);
    } else {
      // a/mx: "/N", "//M" or "/N//M" (RFC 7208 §5.6 dual-cidr-length).
      std::string_view c = t.cidr;
      const size_t dual = c.find("//");
      if (dual != std::string_view::npos) {
        v6 = c.substr(dual + 2);
        c = c.substr(0, dual);
      }
      if (!c.empty() && c.front() == '/') v4 = c.substr(1);
    }
    auto add = [&](std::string_view len, unsigned bits, double* share) {
      if (len.empty() || len.size() > 3) return;
      unsigned n = 0;
      for (char c : len) {
        if (c < '0' || c > '9') return;
        n = n * 10 + static_cast<unsigned>(c - '0');
      }
      if (n > bits) return;
      const double part = std::ldexp(1.0, -static_cast<int>(n));
      *share += part;
      // Only terms wide enough to matter are named (a /16 of IPv4, a /32 of IPv6), and at
      // most 64: a tree of 40 records can hold thousands of ranges.
      if (n <= bits / 2 && tree_.wide_terms.size() < 64) {
        tree_.wide_terms.emplace_back(part, Shown(t.text, 60) + " (in " + domain + ")");
      }
    };
    add(v4, 32, &tree_.ipv4_share);
    add(v6, 128, &tree_.ipv6_share);
  }

  // Counts one DNS-querying term; `below` checks it and returns the lookups under it.
  template <typename Fn>
  size_t Term(const spf::SpfTerm& t, const std::string& domain, size_t depth, Fn below) {
    size_t index = tree_.terms.size();
    tree_.terms.push_back({std::string(t.text), domain, depth, 1});
    ++tree_.lookups;
    size_t sub = below();
    tree_.terms[index].lookups = 1 + sub;
    return 1 + sub;
  }

  void All(const spf::SpfTerm& t, const std::string& domain, bool chain) {
    char q = t.qualifier == '\0' ? '+' : t.qualifier;
    if (chain) {
      if (tree_.all == '\0') tree_.all = q;
      return;
    }
    if (q == '+' && passing_) {  // under -include: (or ~, ?) its +all makes nothing pass
      ctx_.Add(CheckCode::kSpfAllPass, domain,
               "the record of " + domain + " (included) ends in +all: every host on the "
               "Internet matches that include and passes SPF for your domain",
               "remove the include of " + domain + ", or ask its owner to end it in -all or "
               "~all");
    }
  }

  size_t Follow(const spf::SpfTerm& t, const std::string& from, size_t depth, bool redirect,
                bool chain) {
    std::string where = Shown(t.text, 80) + " in the record of " + from;
    if (HasMacro(t.value)) {
      tree_.truncated = true;
      ctx_.Add(CheckCode::kSpfMacroTarget, std::string(t.text),
               where + ": the target is built by a macro for each message, so its record is "
               "not followed and the lookup count is a lower bound",
               "make sure the records it can name stay within the 10 lookups");
      return 0;
    }
    std::string target = Canonical(t.value);
    if (std::find(path_.begin(), path_.end(), target) != path_.end()) {
      ctx_.Add(CheckCode::kSpfLoop, target,
               where + " leads back to " + target + ": a loop; receivers give up with "
               "permerror once 10 lookups are spent",
               "remove the term that points back");
      return 0;
    }
    if (depth + 1 > kMaxDepth || records_ >= ctx_.options.max_spf_records) {
      tree_.truncated = true;
      return 0;
    }
    ++records_;
    SpfFetch f = FetchSpfRecord(ctx_, target);
    std::string rfc = redirect ? "RFC 7208 §6.1" : "RFC 7208 §5.2";
    switch (f.kind) {
      case SpfFetch::kUnusable:
        tree_.truncated = true;
        return 0;
      case SpfFetch::kNone: {
        std::string hint;
        if (!f.near.empty()) {
          hint = " (its TXT record '" + Shown(f.near.front().first, 60) +
                 "' is not an SPF record: 'v=spf1' must be followed by a space)";
        }
        ctx_.Add(CheckCode::kSpfIncludeMissing, target,
                 where + ": " + target + " has no SPF record" + hint +
                     "; receivers return permerror when they reach it (" + rfc + ")",
                 "correct the name in " + Shown(t.text, 80) + ", or remove the term");
        return 0;
      }
      case SpfFetch::kMultiple:
        ctx_.Add(CheckCode::kSpfMultiple, target,
                 where + ": " + target + " has more than one SPF record; receivers return "
                 "permerror when they reach it (RFC 7208 §4.5)",
                 "ask the owner of " + target + " to keep one record");
        return 0;
      case SpfFetch::kOne:
        break;
    }
    std::string text = CheckSpfText(ctx_, target, f.record, f.breaks, /*report_ok=*/false);
    if (text.empty()) return 0;
    path_.push_back(target);
    // What matches under -include:, ~include: or ?include: does not pass (RFC 7208 §5.2: the
    // include's qualifier is the result): its ranges are no hole.
    const bool passing = passing_;
    if (!redirect && t.qualifier != '\0' && t.qualifier != '+') passing_ = false;
    size_t sub = Walk(target, text, depth + 1, chain && redirect);
    passing_ = passing;
    path_.pop_back();
    return sub;
  }

  // "a[:domain]": void when the name has neither A nor AAAA records.
  size_t Address(const spf::SpfTerm& t, const std::string& domain) {
    if (HasMacro(t.value)) return 0;
    std::string target = t.value.empty() ? domain : Canonical(t.value);
    std::vector<DnsQuestion> qs = {{target, RRType::kA}, {target, RRType::kAAAA}};
    ctx_.Prefetch(qs);
    Answer a = ctx_.Ask(target, RRType::kA);
    Answer aaaa = ctx_.Ask(target, RRType::kAAAA);
    std::string what = "the term " + Shown(t.text, 80);
    if (!ctx_.Usable(a, target, RRType::kA, what) ||
        !ctx_.Usable(aaaa, target, RRType::kAAAA, what)) {
      return 0;
    }
    if (IsNegative(a.dns) && IsNegative(aaaa.dns)) Void(t, domain);
    return 0;
  }

  // "mx[:domain]": void without MX records; RFC 7208 §4.6.4 allows at most 10 MX names.
  size_t Mx(const spf::SpfTerm& t, const std::string& domain) {
    if (HasMacro(t.value)) return 0;
    std::string target = t.value.empty() ? domain : Canonical(t.value);
    Answer mx = ctx_.Ask(target, RRType::kMX);
    if (!ctx_.Usable(mx, target, RRType::kMX, "the term " + Shown(t.text, 80))) return 0;
    if (IsNegative(mx.dns)) {
      Void(t, domain);
    } else if (mx.dns.records.size() > kMaxMxNames) {
      ctx_.Add(CheckCode::kSpfMxLimit, target,
               Shown(t.text, 80) + " in the record of " + domain + ": " + target + " has " +
                   std::to_string(mx.dns.records.size()) +
                   " MX hosts, more than the 10 an mx term may name; receivers return "
                   "permerror (RFC 7208 §4.6.4)",
               "list the sending hosts with ip4:/ip6: (or a:) instead of mx");
    }
    return 0;
  }

  size_t Ptr(const spf::SpfTerm& t, const std::string& domain) {
    ctx_.Add(CheckCode::kSpfPtr, std::string(t.text),
             Shown(t.text, 80) + " in the record of " + domain +
                 ": ptr is deprecated (RFC 7208 §5.5: SHOULD NOT be used); it is slow, "
                 "depends on reverse DNS you may not control, and receivers check at most 10 "
                 "PTR names per client (§4.6.4)",
             "replace it with ip4:/ip6: (or a/mx) terms for the hosts that send your mail");
    return 0;
  }

  size_t Exists(const spf::SpfTerm& t, const std::string& domain) {
    if (HasMacro(t.value)) return 0;
    std::string target = Canonical(t.value);
    Answer a = ctx_.Ask(target, RRType::kA);
    if (!ctx_.Usable(a, target, RRType::kA, "the term " + Shown(t.text, 80))) return 0;
    if (IsNegative(a.dns)) Void(t, domain);
    return 0;
  }

  void Void(const spf::SpfTerm& t, const std::string& domain) {
    ++tree_.void_lookups;
    if (tree_.void_terms.size() < 20) {
      tree_.void_terms.push_back(Shown(t.text, 80) + " in " + domain);
    }
  }

  bool passing_ = true;  // a match here passes (no non-pass include above)
  Context& ctx_;
  SpfTree& tree_;
  std::vector<std::string> path_;  // the records from the top to the one being walked
  size_t records_ = 0;
};

}  // namespace

SpfFetch FetchSpfRecord(Context& ctx, const std::string& domain) {
  SpfFetch out;
  Answer a = ctx.Ask(domain, RRType::kTXT);
  if (!ctx.Usable(a, domain, RRType::kTXT, "the SPF record of " + domain)) {
    out.kind = SpfFetch::kUnusable;
    return out;
  }
  size_t count = 0;
  for (const ResourceRecord* rr : TxtRecords(a.dns)) {
    if (spf::IsSpfRecord(rr->data)) {
      if (++count == 1) {
        out.record = rr->data;
        out.breaks = rr->txt_breaks;
      }
    } else if (StartsWithVersion(rr->data) && out.near.size() < 4) {
      out.near.emplace_back(rr->data, rr->txt_breaks);
    }
  }
  out.kind = count == 0 ? SpfFetch::kNone : count == 1 ? SpfFetch::kOne : SpfFetch::kMultiple;
  return out;
}

std::vector<GluedSplit> FindGluedSplits(std::string_view txt, std::span<const uint16_t> breaks,
                                        std::string* fixed) {
  std::vector<GluedSplit> out;
  if (fixed) fixed->clear();
  size_t copied = 0;
  // Breaks from DNS never decrease; an empty string ("") repeats one, which is read once.
  // Other breaks (a repeat, a step back) are skipped: each one read is past all before it.
  size_t last = 0;
  for (size_t i = 0; i < breaks.size(); ++i) {
    size_t b = breaks[i];
    if (i > 0 && b <= last) continue;
    size_t before = last;  // the last break read, 0 for none
    last = b;
    if (b == 0 || b >= txt.size() || txt[b - 1] == ' ' || txt[b] == ' ') continue;
    // The term around the break, and the pieces of it on either side between breaks.
    size_t start = txt.rfind(' ', b - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    size_t end = std::min(txt.find(' ', b), txt.size());
    size_t left_start = before > start ? before : start;
    size_t right_end = end;
    if (i + 1 < breaks.size() && breaks[i + 1] > b && breaks[i + 1] < end) right_end = breaks[i + 1];
    std::string_view left = txt.substr(left_start, b - left_start);
    std::string_view right = txt.substr(b, right_end - b);
    bool left_ok = left_start == 0 ? EqualsIgnoreCase(left, "v=spf1") : IsTerm(left);
    if (left.empty() || right.empty() || !left_ok || !IsTerm(right)) continue;
    out.push_back({std::string(txt.substr(start, end - start)), std::string(left),
                   std::string(right)});
    if (fixed) {
      fixed->append(txt.substr(copied, b - copied));
      fixed->push_back(' ');
      copied = b;
    }
  }
  if (fixed) fixed->append(txt.substr(copied));
  return out;
}

std::string CheckSpfText(Context& ctx, const std::string& domain, const std::string& record,
                         std::span<const uint16_t> breaks, bool report_ok) {
  std::string fixed;
  std::vector<GluedSplit> glued = FindGluedSplits(record, breaks, &fixed);
  for (const GluedSplit& g : glued) {
    ctx.Add(CheckCode::kSpfSplitGlued, domain,
            "the record of " + domain + " is published in several strings, and '" +
                Shown(g.left, 60) + "' ends one where '" + Shown(g.right, 60) +
                "' starts the next: receivers join them with nothing between (RFC 7208 "
                "§3.3) and read '" + Shown(g.joined, 100) + "'",
            "put a space at the end of the first string or the start of the next");
  }
  Status syntax = spf::CheckSpfRecordSyntax(record);
  std::string walk = glued.empty() ? record : fixed;
  if (!syntax.ok()) {
    if (!glued.empty() && spf::CheckSpfRecordSyntax(fixed).ok()) return walk;
    ctx.Add(CheckCode::kSpfSyntaxError, domain,
            "the record of " + domain + " breaks the SPF grammar: " + Shown(syntax.message()) +
                "; receivers return permerror (RFC 7208 §12)",
            "correct or remove that term");
    return "";
  }
  if (report_ok && glued.empty()) {
    ctx.Add(CheckCode::kSpfSyntax, domain, "syntax valid (RFC 7208 §12)");
  }
  return walk;
}

SpfTree WalkSpf(Context& ctx, const std::string& domain, const std::string& record) {
  SpfTree tree;
  Walker(ctx, &tree).Run(domain, record);
  return tree;
}

}  // namespace credence::check_internal
