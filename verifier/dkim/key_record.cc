// RFC 6376 §3.6.1 key record parsing (with RFC 8463 §4 k=ed25519).
#include "dkim/key_record.h"

#include <algorithm>

#include "dkim/tag_list.h"

namespace credence::dkim {
namespace {

KeyError Err(DkimReason reason, std::string detail) { return {reason, std::move(detail)}; }

// Calls fn(item) for each FWS-trimmed item of a `sep`-separated list.
template <typename Fn>
void ForEachItem(std::string_view list, char sep, Fn fn) {
  while (true) {
    size_t p = list.find(sep);
    std::string_view item = list.substr(0, p);
    while (!item.empty() && IsFws(item.front())) item.remove_prefix(1);
    while (!item.empty() && IsFws(item.back())) item.remove_suffix(1);
    fn(item);
    if (p == std::string_view::npos) return;
    list.remove_prefix(p + 1);
  }
}

}  // namespace

KeyError ParseKeyRecord(std::string_view text, KeyRecord* key) {
  Result<std::vector<Tag>> parsed = ParseTagList(text);
  std::string opaque;  // the text with its 8-bit bytes as '~' (a VALCHAR, not base64)
  if (!parsed.ok()) {
    // RFC 6376 §3.2 tag values are VALCHAR (US-ASCII); a note (n=) in UTF-8 is common and
    // every other verifier reads past it. Read again with such bytes opaque: a p=, k=, h= or
    // s= holding one still fails below.
    if (std::none_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; })) {
      return Err(DkimReason::kKeySyntax, parsed.status().message());
    }
    opaque.assign(text);
    for (char& c : opaque) {
      if ((c & 0x80) != 0) c = '~';
    }
    Result<std::vector<Tag>> again = ParseTagList(opaque);
    if (!again.ok()) return Err(DkimReason::kKeySyntax, parsed.status().message());
    // Only where the value means nothing to a verifier (n= notes, unknown tags): in a tag
    // that decides, such a byte makes the record unusable, as before.
    for (const char* name : {"v", "k", "h", "s", "t", "p"}) {
      const Tag* t = FindTag(*again, name);
      if (t != nullptr && t->value.find('~') != std::string_view::npos) {
        return Err(DkimReason::kKeySyntax,
                   std::string("bytes outside US-ASCII in ") + name + "=");
      }
    }
    parsed = std::move(again);
    key->lenient = "bytes outside US-ASCII in a tag value";
  }
  const std::vector<Tag>& tags = *parsed;
  // RFC 6376 §3.6.1 v=: "If specified, this tag MUST be set to "DKIM1" ... This tag MUST be
  // the first tag in the record." A record that names DKIM1 later is read all the same (as
  // dkimpy and Mail::DKIM do): only "Records beginning with a "v=" tag with any other value
  // MUST be discarded."
  if (const Tag* v = FindTag(tags, "v")) {
    if (v->value != "DKIM1") {
      return Err(DkimReason::kKeySyntax, "v=" + std::string(v->value) + " is not DKIM1");
    }
    if (v != &tags.front()) {
      key->lenient += std::string(key->lenient.empty() ? "" : "; ") + "v= is not the first tag";
    }
  }
  const Tag* p = FindTag(tags, "p");
  if (p == nullptr) return Err(DkimReason::kKeySyntax, "missing p= tag");
  Result<std::string> der = DecodeBase64(p->value);
  if (!der.ok()) return Err(DkimReason::kKeySyntax, "p= " + der.status().message());
  if (const Tag* k = FindTag(tags, "k")) {
    if (k->value == "rsa") {
      key->type = crypto::KeyType::kRsa;
    } else if (k->value == "ed25519") {
      key->type = crypto::KeyType::kEd25519;
    } else {
      return Err(DkimReason::kKeyAlgorithmMismatch, "unknown key type k=" + std::string(k->value));
    }
  }
  if (const Tag* h = FindTag(tags, "h")) {
    bool sha256 = false;
    ForEachItem(h->value, ':', [&](std::string_view item) { sha256 |= item == "sha256"; });
    key->sha256_allowed = sha256;
  }
  if (const Tag* s = FindTag(tags, "s")) {
    bool email = false;
    ForEachItem(s->value, ':', [&](std::string_view item) { email |= item == "email" || item == "*"; });
    if (!email) {
      return Err(DkimReason::kKeyServiceType, "s=" + std::string(s->value) + " excludes email");
    }
  }
  if (const Tag* t = FindTag(tags, "t")) {
    ForEachItem(t->value, ':', [&](std::string_view item) {
      if (item == "y") key->testing = true;
      if (item == "s") key->strict = true;
    });
  }
  // RFC 6376 §3.6.1 p=: "An empty value means that this public key has been revoked."
  if (der->empty()) {
    key->revoked = true;
    return Err(DkimReason::kKeyRevoked, "key revoked (empty p=)");
  }
  Result<std::shared_ptr<const crypto::PublicKey>> decoded =
      key->type == crypto::KeyType::kRsa ? crypto::PublicKey::DecodeRsa(*der)
                                         : crypto::PublicKey::DecodeEd25519(*der);
  if (!decoded.ok()) return Err(DkimReason::kKeyInvalid, decoded.status().message());
  key->key = std::move(decoded).value();
  return {};
}

}  // namespace credence::dkim

namespace credence {

DkimKeyRecordInfo InspectDkimKeyRecord(std::string_view text) {
  dkim::KeyRecord key;
  dkim::KeyError error = dkim::ParseKeyRecord(text, &key);
  DkimKeyRecordInfo info;
  info.problem = error.reason;
  info.detail = std::move(error.detail);
  info.ed25519 = key.type == crypto::KeyType::kEd25519;
  info.key_bits = key.key ? key.key->bits() : 0;
  info.sha256_allowed = key.sha256_allowed;
  info.testing = key.testing;
  info.strict = key.strict;
  info.lenient = std::move(key.lenient);
  return info;
}

}  // namespace credence
