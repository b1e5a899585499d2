// `credence check --message`: the verdicts of credence's own Evaluator (the same call every
// host makes) on a message the domain owner sent, each explained for the person who can fix
// the signer, the key record or the SPF record.
#include "check/message_check.h"

#include "credence/message.h"
#include "dmarc/domain_util.h"

namespace credence::check_internal {
namespace {

using dmarc_internal::IsSameOrSubdomain;

struct Explanation {
  std::string why;  // plain words
  std::string fix;
};

// What a DKIM reason means for the signer's owner (credence/dkim.h lists the reasons).
Explanation Explain(const DkimResult& r) {
  std::string key = r.selector + "._domainkey." + r.domain;
  switch (r.reason) {
    case DkimReason::kBodyHashMismatch:
      return {"the body changed after it was signed (a footer, disclaimer or virus-scan note "
              "added later, or line ends or encoding rewritten on the way)",
              std::string("sign as the last step before the mail leaves (after anything that "
                          "adds to the body)") +
                  (r.canonicalization.rfind("relaxed/relaxed", 0) == 0
                       ? ""
                       : ", or use c=relaxed/relaxed (this one is " + r.canonicalization + ")")};
    case DkimReason::kSignatureMismatch:
      return {"the signature does not verify with the key at " + key +
                  ": a signed header field changed after signing, or that key is not the "
                  "public half of the signer's private key",
              "compare the p= at " + key + " with 'openssl pkey -in PRIVATE.pem -pubout' of "
              "the key the signer uses, and check nothing rewrites signed headers"};
    case DkimReason::kKeyRevoked:
      return {"the key at " + key + " is revoked (empty p=)",
              "sign with a current selector, or publish the key again"};
    case DkimReason::kKeyTooSmall:
      return {"the key at " + key + " has " + std::to_string(r.key_bits) +
                  " bits, under the 1024 RFC 8301 §3.2 requires",
              "generate a 2048-bit key under a new selector and switch the signer to it"};
    case DkimReason::kKeyTooLarge:
      return {"the key at " + key + " has " + std::to_string(r.key_bits) +
                  " bits, more than receivers verify",
              "use a 2048-bit key"};
    case DkimReason::kExpired:
      return {"the signature had expired (x=) when it was verified",
              "give the signer a longer expiry (or none)"};
    case DkimReason::kFutureTimestamp:
      return {"the signature's time (t=) is in the future: the signing server's clock is ahead",
              "set the signing server's clock right (NTP)"};
    case DkimReason::kNoKey:
      return {"there is no key record at " + key,
              "publish the public key at " + key + ", or make the signer use a selector that "
              "has one"};
    case DkimReason::kKeyDnsError:
    case DkimReason::kDeadline:
      return {"the key at " + key + " could not be fetched (DNS trouble)",
              "run the check again; if it persists, the name servers of " + r.domain +
                  " are not answering"};
    case DkimReason::kKeySyntax:
    case DkimReason::kKeyInvalid:
    case DkimReason::kKeyAlgorithmMismatch:
    case DkimReason::kKeyServiceType:
    case DkimReason::kKeyHashNotAllowed:
    case DkimReason::kKeyStrictSubdomain:
      return {"the key record at " + key + " does not allow this signature (" +
                  Shown(r.detail, 100) + ")",
              "see the DKIM section above for that selector"};
    case DkimReason::kUnsupportedAlgorithm:
      return {"the signature uses an algorithm receivers refuse (" + Shown(r.detail, 60) +
                  "; rsa-sha1 is not accepted, RFC 8301 §3.1)",
              "configure the signer for rsa-sha256"};
    case DkimReason::kFromNotSigned:
      return {"h= does not include From, which a signature must cover (RFC 6376 §5.4)",
              "add From to the signer's list of signed header fields"};
    case DkimReason::kIdentityMismatch:
      return {"i= is not in d=" + r.domain, "leave i= out, or use an address in " + r.domain};
    case DkimReason::kBodyLengthExceeded:
      return {"l= is longer than the body: the body was cut after signing",
              "do not use l= (the body length tag)"};
    case DkimReason::kNotEvaluated:
      return {"a credence limit left it out (" + Shown(r.detail, 80) + ")",
              "check a message with fewer signatures"};
    default:
      return {"the DKIM-Signature field is malformed (" + Shown(r.detail, 100) + ")",
              "check the signer's configuration"};
  }
}

std::string Label(const DkimResult& r) {
  return "signature d=" + (r.domain.empty() ? std::string("?") : r.domain) +
         " s=" + (r.selector.empty() ? std::string("?") : r.selector);
}

std::string KeyWords(const DkimResult& r) {
  if (r.key_bits == 0) return "";
  return " with the " + std::to_string(r.key_bits) + "-bit key at " + r.selector +
         "._domainkey." + r.domain;
}

std::string UnquotedAddress(std::string_view v) {
  size_t lt = v.find('<');
  size_t gt = v.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
    return std::string(v.substr(lt + 1, gt - lt - 1));
  }
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' ||
                        v.back() == '\n')) {
    v.remove_suffix(1);
  }
  return std::string(v);
}

void ReportDkim(Context& ctx, const Evaluation& ev) {
  const std::string& d = ctx.domain;
  bool own = false;
  std::vector<std::string> others;
  for (const DkimResult& r : ev.dkim) {
    std::string result(DkimVerdictName(r.result));
    if (r.domain.empty() || !IsSameOrSubdomain(r.domain, d)) {
      ctx.Add(CheckCode::kMessageDkimOther, Label(r),
              Label(r) + " (another domain): " + result +
                  "; it does not align with From: " + d + " for DMARC");
      others.push_back(r.domain.empty() ? "?" : r.domain);
      continue;
    }
    own = true;
    if (r.result == DkimVerdict::kPass) {
      if (r.testing) {
        ctx.Add(CheckCode::kMessageDkimTesting, Label(r),
                Label(r) + " passes" + KeyWords(r) + ", but that key is in testing mode "
                "(t=y): receivers treat the message as unsigned",
                "publish the key record of selector " + r.selector + " again without t=y");
      } else {
        ctx.Add(CheckCode::kMessageDkimPass, Label(r),
                Label(r) + " passes" + KeyWords(r) + " (" + r.algorithm + ", " +
                    r.canonicalization + ")");
      }
      continue;
    }
    Explanation e = Explain(r);
    ctx.Add(CheckCode::kMessageDkimFail, Label(r),
            Label(r) + (r.key_bits ? ", checked" + KeyWords(r) : std::string()) + ": " + result +
                ": " + e.why,
            e.fix);
  }
  if (!own) {
    std::string other = others.empty() ? "" : " (only by " + Shown(others.front(), 60) + ")";
    ctx.Add(CheckCode::kMessageUnsigned, d,
            "the message has no DKIM signature by " + d + other +
                ": DMARC can then pass only through SPF",
            "have your server sign outgoing mail with d=" + d +
                " (Exim: dkim_domain, dkim_selector and dkim_private_key on the remote_smtp "
                "transport)");
  }
}

void ReportSpf(Context& ctx, const MessageFacts& m) {
  const Evaluation& ev = m.evaluation;
  if (!ev.spf_evaluated) return;
  const SpfResult& s = ev.spf_mailfrom;
  std::string what = "SPF for MAIL FROM " + Shown(s.sender, 80) + " from " + ctx.request.client_ip;
  if (s.result == SpfVerdict::kPass) {
    ctx.Add(CheckCode::kMessageSpfPass, s.domain, what + ": pass");
    return;
  }
  std::string why = !s.explanation.empty() ? s.explanation : s.detail;
  std::string fix;
  switch (s.result) {
    case SpfVerdict::kTempError:
      fix = "run the check again; if it persists, DNS for " + s.domain + " is failing";
      break;
    case SpfVerdict::kPermError:
      fix = "correct the SPF record of " + s.domain + " (see the SPF section)";
      break;
    default:
      fix = "if " + ctx.request.client_ip + " sends your mail, list it in the SPF record of " +
            s.domain + " (ip4:/ip6:, or mx if it is your MX host)";
      break;
  }
  ctx.Add(CheckCode::kMessageSpfFail, s.domain,
          what + ": " + std::string(SpfVerdictName(s.result)) +
              (why.empty() ? "" : " (" + Shown(why, 120) + ")"),
          fix);
}

void ReportDmarc(Context& ctx, const MessageFacts& m) {
  const Evaluation& ev = m.evaluation;
  const DmarcResult& r = ev.dmarc;
  std::string from = r.from_domain.empty() ? "?" : r.from_domain;
  std::string spf_note = ev.spf_evaluated ? "" : "; SPF not evaluated (give --client-ip)";
  switch (r.verdict) {
    case DmarcVerdict::kPass: {
      std::string via;
      if (r.dkim_aligned) via = "DKIM d=" + r.aligned_dkim_domain;
      if (r.spf_aligned) via += std::string(via.empty() ? "" : " and ") + "SPF";
      ctx.Add(CheckCode::kMessageDmarcPass, from,
              "DMARC pass for From: " + from + ", aligned through " + via + spf_note);
      return;
    }
    case DmarcVerdict::kNone:
      if (r.from_problem == DmarcFromProblem::kNone) {
        ctx.Add(CheckCode::kMessageDmarcNone, from,
                "DMARC none: no DMARC record applies to " + from,
                "publish a DMARC record (see the DMARC section)");
        return;
      }
      break;
    default:
      break;
  }
  std::string why = r.reason.empty() ? "" : " (" + Shown(r.reason, 100) + ")";
  std::string effect = r.has_record ? "; under p=" + std::string(DmarcPolicyName(r.requested)) +
                                          " receivers would " +
                                          std::string(r.requested == DmarcPolicy::kNone
                                                          ? "deliver it and report it"
                                                          : DmarcPolicyName(r.requested))
                                    : "";
  ctx.Add(CheckCode::kMessageDmarcFail, from,
          "DMARC " + std::string(DmarcVerdictName(r.verdict)) + " for From: " + from + why +
              effect + spf_note,
          "sign with d=" + from + " (or a domain in it), or send with a MAIL FROM in " + from +
              " from a host its SPF record lists");
}

}  // namespace

MessageFacts EvaluateMessage(Context& ctx, Evaluator& evaluator) {
  MessageFacts m;
  if (ctx.request.message.empty() && ctx.request.message_name.empty()) return m;
  m.present = true;
  Result<Message> message = Message::Parse(ctx.request.message, evaluator.options().limits);
  if (!message.ok()) return m;
  m.parsed = true;
  m.mail_from = ctx.request.mail_from;
  if (m.mail_from.empty()) {
    if (const HeaderField* rp = message->Find("Return-Path")) {
      m.mail_from = UnquotedAddress(rp->value);
    }
  }
  Envelope envelope{ctx.request.client_ip, "", m.mail_from};
  m.evaluation = evaluator.Evaluate(*message, envelope, ctx.resolver, ctx.deadline);
  for (const DkimResult& r : m.evaluation.dkim) {
    if (r.selector.empty() || r.domain.empty() || !IsSameOrSubdomain(r.domain, ctx.domain)) {
      continue;
    }
    DkimSelector s{r.selector, r.domain};
    bool seen = false;
    for (const DkimSelector& x : m.selectors) seen = seen || x == s;
    if (!seen) m.selectors.push_back(s);
  }
  return m;
}

void ReportMessage(Context& ctx, const MessageFacts& m) {
  if (!m.present) return;
  ctx.section = CheckArea::kMessage;
  std::string name = ctx.request.message_name.empty() ? "the message" : ctx.request.message_name;
  if (!m.parsed) {
    ctx.Add(CheckCode::kMessageUnreadable, name, name + " is empty: nothing to verify",
            "save the whole message (header and body) you received, and give that file");
    return;
  }
  const std::string& from = m.evaluation.dmarc.from_domain;
  if (!from.empty() && from != ctx.domain) {
    ctx.Add(CheckCode::kMessageFromDomain, from,
            "the From domain of " + name + " is " + from + ", not " + ctx.domain +
                ": the record checks above are for " + ctx.domain,
            "check a message sent as " + ctx.domain + ", or run the check for " + from);
  }
  ReportDkim(ctx, m.evaluation);
  ReportSpf(ctx, m);
  ReportDmarc(ctx, m);
}

}  // namespace credence::check_internal
