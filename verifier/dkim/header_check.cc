// DkimHeaderCheck: one signature's header hash over header fields a caller supplies (the
// archive's header hash hints try repaired copies of a message's fields). Additive to
// verify.cc: the same canonicalization (HeaderIndex, RemoveBValue) and key parser.
#include "credence/dkim.h"
#include "dkim/canonicalize.h"
#include "dkim/key_record.h"
#include "dkim/signature.h"

namespace credence {

struct DkimHeaderCheck::Data {
  dkim::Signature sig;
  dkim::KeyRecord key;
  std::string stripped;  // the signature field with b= emptied (RFC 6376 §3.7)
};

DkimHeaderCheck::DkimHeaderCheck(const HeaderField& signature, std::string_view key_record) {
  auto data = std::make_unique<Data>();
  if (dkim::ParseSignature(signature.value, &data->sig).reason != DkimReason::kNone) return;
  if (dkim::ParseKeyRecord(key_record, &data->key).reason != DkimReason::kNone || !data->key.key) {
    return;
  }
  const bool rsa = data->sig.algorithm == dkim::Algorithm::kRsaSha256;
  if (rsa != (data->key.type == crypto::KeyType::kRsa)) return;
  const size_t value_offset = static_cast<size_t>(signature.value.data() - signature.raw.data());
  if (value_offset > signature.raw.size()) return;
  data->stripped = dkim::RemoveBValue(signature.raw, value_offset, data->sig.b_value_begin,
                                      data->sig.b_value_end);
  data_ = std::move(data);
}

DkimHeaderCheck::~DkimHeaderCheck() = default;

bool DkimHeaderCheck::ok() const { return data_ != nullptr; }

const std::vector<std::string>& DkimHeaderCheck::signed_headers() const {
  static const std::vector<std::string> kNone;
  return data_ ? data_->sig.signed_headers : kNone;
}

bool DkimHeaderCheck::simple_headers() const {
  return data_ && data_->sig.header_canon == dkim::Canon::kSimple;
}

bool DkimHeaderCheck::Verifies(const std::vector<HeaderField>& headers, bool relaxed,
                               size_t* hashed_bytes) const {
  if (!data_) return false;
  const dkim::Canon canon = relaxed ? dkim::Canon::kRelaxed : data_->sig.header_canon;
  // RFC 6376 §3.7: the signed fields (§5.4.2 bottom-up), then this field without b=, no CRLF.
  std::string input;
  dkim::HeaderIndex index(headers);
  index.AppendSignedHeaders(data_->sig.signed_headers, canon, &input);
  dkim::CanonicalizeHeader(canon, data_->stripped, /*crlf=*/false, &input);
  *hashed_bytes += input.size();
  return data_->key.key->VerifyDigest(crypto::Sha256::Hash(input), data_->sig.b);
}

}  // namespace credence
