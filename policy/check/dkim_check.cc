// The DKIM section of `credence check`: key records read with the verifier's own parser
// (InspectDkimKeyRecord, RFC 6376 §3.6.1 / RFC 8463 §4) and judged for a domain owner:
// RFC 8301 §3.2 key sizes, §3.1 (no sha1), t=y (RFC 6376 §3.6.1), and the record some guides
// put at _domainkey itself.
#include "check/dkim_check.h"

#include "credence/dkim.h"
#include "credence/message.h"

namespace credence::check_internal {
namespace {

// RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits ... SHOULD use RSA keys of
// at least 2048 bits"; verifiers must accept 1024 to 4096.
constexpr unsigned kMinRsaBits = 1024;
constexpr unsigned kGoodRsaBits = 2048;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// What the tags of a DomainKeys-era policy record at _domainkey meant (RFC 4870 §3.6 and the
// DKIM SSP draft), for display: "o=~ (some mail signed), t=y (testing), r= (report address)".
std::string OldPolicyTags(std::string_view text, bool* testing) {
  std::string out;
  size_t start = 0, shown = 0;
  while (start <= text.size() && shown < 8) {
    size_t semi = std::min(text.find(';', start), text.size());
    std::string_view tag = Trim(text.substr(start, semi - start));
    start = semi + 1;
    size_t eq = tag.find('=');
    if (tag.empty() || eq == std::string_view::npos) continue;
    std::string name = ToLower(Trim(tag.substr(0, eq)));
    std::string_view value = Trim(tag.substr(eq + 1));
    std::string meaning;
    if (name == "o") {
      meaning = value == "-" ? "all mail signed" : value == "~" ? "some mail signed" : "";
    } else if (name == "t") {
      meaning = value == "y" ? "testing" : "";
      if (value == "y") *testing = true;
    } else if (name == "r") {
      meaning = "report address";
    } else if (name == "n") {
      meaning = "a note";
    }
    if (meaning.empty()) continue;
    out += (shown++ ? ", " : "") + name + "=" + Shown(value, 40) + " " + meaning;
  }
  return out;
}

// The record at _domainkey.DOMAIN. Returns whether it says t=y.
bool CheckDomainkeyRecord(Context& ctx, const std::vector<DkimSelector>& selectors) {
  std::string name = "_domainkey." + ctx.domain;
  Answer a = ctx.Ask(name, RRType::kTXT);
  if (!ctx.Usable(a, name, RRType::kTXT, "the record at " + name)) return false;
  std::vector<const ResourceRecord*> txt = TxtRecords(a.dns);
  if (txt.empty()) return false;
  bool testing = false;
  std::string tags = OldPolicyTags(txt.front()->data, &testing);
  std::string where = selectors.empty() ? std::string("SELECTOR._domainkey.") + ctx.domain
                                        : selectors.front().selector + "._domainkey." +
                                              selectors.front().domain;
  ctx.Add(CheckCode::kDkimDomainkeyRecord, name,
          name + " has a TXT record (\"" + Shown(txt.front()->data, 80) + "\"" +
              (tags.empty() ? "" : ": " + tags) +
              "): receivers ignore it; RFC 6376 reads only the key records at "
              "SELECTOR._domainkey, and this is a leftover of DomainKeys' sender signing "
              "policy" +
              (testing ? ", so its t=y puts no key into testing mode" : ""),
          "delete it. Testing mode is t=y in a selector's own key record (" + where +
              "), and makes receivers treat your signed mail as unsigned; what receivers do "
              "with unsigned mail is DMARC's job (_dmarc." + ctx.domain + ")");
  return testing;
}

std::string ProblemFix(DkimReason problem) {
  switch (problem) {
    case DkimReason::kKeyAlgorithmMismatch:
      return "use k=rsa or k=ed25519 (or leave k= out: rsa is the default)";
    case DkimReason::kKeyServiceType:
      return "remove s= from the record (or write s=email)";
    case DkimReason::kKeyInvalid:
      return "publish the public key your signer prints (base64 of the DER key, no line "
             "breaks or quotes inside one string)";
    default:
      return "publish the record as 'v=DKIM1; k=rsa; p=BASE64KEY' (v=DKIM1 first, tags "
             "separated by ';')";
  }
}

// The key itself: its algorithm and size (RFC 8301 §3.2, RFC 8463). False when receivers
// cannot use it.
bool KeySize(Context& ctx, const std::string& name, const std::string& label,
             const DkimKeyRecordInfo& info) {
  if (info.ed25519) {
    ctx.Add(CheckCode::kDkimKey, name,
            label + ": Ed25519 key (RFC 8463) at " + name +
                "; receivers that do not know Ed25519 need an RSA signature next to it");
  } else if (info.key_bits < kMinRsaBits) {
    ctx.Add(CheckCode::kDkimKeyTooSmall, name,
            label + ": " + std::to_string(info.key_bits) + "-bit RSA key, below the 1024 bits "
            "RFC 8301 §3.2 requires: receivers treat the signature as invalid",
            "generate a 2048-bit key under a new selector, publish it and switch the signer "
            "to it");
    return false;
  } else if (info.key_bits < kGoodRsaBits) {
    ctx.Add(CheckCode::kDkimKeyShort, name,
            label + ": " + std::to_string(info.key_bits) + "-bit RSA key: still accepted, but "
            "RFC 8301 §3.2 asks signers for at least 2048 bits",
            "generate a 2048-bit key under a new selector, publish it next to this one, switch "
            "the signer, then revoke this one (empty p=)");
  } else {
    ctx.Add(CheckCode::kDkimKey, name,
            label + ": " + std::to_string(info.key_bits) + "-bit RSA key at " + name);
  }
  return true;
}

// The record's flags: h= (RFC 8301 §3.1), t=y and t=s (RFC 6376 §3.6.1). False when h=
// leaves receivers no hash they accept.
bool KeyFlags(Context& ctx, const DkimSelector& s, const std::string& name,
              const std::string& label, const DkimKeyRecordInfo& info, bool domainkey_testing) {
  bool usable = true;
  if (!info.sha256_allowed) {
    usable = false;
    ctx.Add(CheckCode::kDkimSha1Only, name,
            label + ": h= in the key record excludes sha256, so only rsa-sha1 signatures could "
            "use it, and receivers refuse rsa-sha1 (RFC 8301 §3.1)",
            "remove h= from the record (or write h=sha256)");
  }
  if (info.testing) {
    ctx.Add(CheckCode::kDkimTesting, name,
            label + ": in testing mode (t=y): receivers treat mail signed with it as unsigned "
            "(RFC 6376 §3.6.1)",
            "once a message verifies (credence check --message), publish the record again "
            "without t=y");
  } else {
    ctx.Add(CheckCode::kDkimNotTesting, name,
            label + ": not in testing mode (no t=y in its key record" +
                (domainkey_testing ? "; the t=y at _domainkey." + ctx.domain + " does not count"
                                   : std::string()) +
                ")");
  }
  if (info.strict) {
    ctx.Add(CheckCode::kDkimStrict, name,
            label + ": t=s: a signature's i= must be in exactly " + s.domain +
                ", not a subdomain (RFC 6376 §3.6.1)");
  }
  return usable;
}

void CheckSelector(Context& ctx, const DkimSelector& s, bool domainkey_testing,
                   DkimFacts* facts) {
  std::string name = s.selector + "._domainkey." + s.domain;
  std::string label = "selector " + s.selector +
                      (s.domain == ctx.domain ? std::string() : " (d=" + s.domain + ")");
  Answer a = ctx.Ask(name, RRType::kTXT);
  if (!ctx.Usable(a, name, RRType::kTXT, "the key of " + label)) {
    ++facts->unknown;
    return;
  }
  std::vector<const ResourceRecord*> txt = TxtRecords(a.dns);
  if (txt.empty()) {
    ctx.Add(CheckCode::kDkimKeyMissing, name,
            label + ": no key record at " + name + ": mail signed with s=" + s.selector +
                " fails DKIM (RFC 6376 §6.1.2)",
            "publish the public key as '" + name + ". IN TXT \"v=DKIM1; k=rsa; p=...\"', or "
            "correct the selector");
    return;
  }
  if (txt.size() > 1) {
    ctx.Add(CheckCode::kDkimKeyMultiple, name,
            label + ": " + std::to_string(txt.size()) + " TXT records at " + name +
                ": which one a receiver uses is undefined (RFC 6376 §3.6.2.2)",
            "keep one key record per selector; publish a new key under a new selector");
    return;
  }
  DkimKeyRecordInfo info = InspectDkimKeyRecord(txt.front()->data);
  if (info.problem == DkimReason::kKeyRevoked) {
    ctx.Add(CheckCode::kDkimRevoked, name,
            label + ": the key is revoked (empty p=): mail signed with it fails DKIM (RFC 6376 "
            "§3.6.1)",
            "sign with a current selector; keep this record only once nothing signs with it");
    return;
  }
  if (info.problem != DkimReason::kNone) {
    ctx.Add(CheckCode::kDkimKeySyntax, name,
            label + ": the key record at " + name + " is not usable: " + Shown(info.detail, 120) +
                " (RFC 6376 §3.6.1)",
            ProblemFix(info.problem));
    return;
  }
  if (!info.lenient.empty()) {
    ctx.Add(CheckCode::kDkimKeyLenient, name,
            label + ": the key record at " + name + " is read by receivers, but RFC 6376 does "
                "not allow it: " + info.lenient + " (§3.6.1 v= first; §3.2 tag values are "
                "US-ASCII); a strict verifier fails every signature of this key",
            "publish it with v=DKIM1 first and US-ASCII only, e.g. \"v=DKIM1; k=rsa; p=...\"");
  }
  const bool size_ok = KeySize(ctx, name, label, info);
  const bool flags_ok = KeyFlags(ctx, s, name, label, info, domainkey_testing);
  const bool usable = size_ok && flags_ok;
  ++facts->checked;
  if (usable) (info.testing ? facts->testing : facts->usable).push_back(name);
}

}  // namespace

DkimFacts CheckDkim(Context& ctx, const std::vector<DkimSelector>& selectors) {
  ctx.section = CheckArea::kDkim;
  DkimFacts facts;
  std::vector<DnsQuestion> qs = {{"_domainkey." + ctx.domain, RRType::kTXT}};
  for (const DkimSelector& s : selectors) {
    qs.push_back({s.selector + "._domainkey." + s.domain, RRType::kTXT});
  }
  ctx.Prefetch(qs);
  if (selectors.empty()) {
    ctx.Add(CheckCode::kDkimNoSelector, ctx.domain,
            "no DKIM selector to check: the selectors of " + ctx.domain + " cannot be listed "
            "from DNS",
            "give --selector S (the s= of your DKIM-Signature fields), or --message FILE with "
            "a message you sent");
  }
  // Fetched first: a selector without t=y says whether _domainkey's t=y misled anyone.
  size_t before = ctx.report->findings.size();
  bool domainkey_testing = CheckDomainkeyRecord(ctx, selectors);
  std::vector<CheckFinding> domainkey(ctx.report->findings.begin() + static_cast<long>(before),
                                      ctx.report->findings.end());
  ctx.report->findings.resize(before);
  for (const DkimSelector& s : selectors) {
    CheckSelector(ctx, s, domainkey_testing, &facts);
    ctx.report->selectors.push_back(s.domain == ctx.domain
                                        ? s.selector
                                        : s.selector + "._domainkey." + s.domain);
  }
  for (CheckFinding& f : domainkey) ctx.report->findings.push_back(std::move(f));
  return facts;
}

}  // namespace credence::check_internal
