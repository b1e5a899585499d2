// RFC 6376 §3.4 canonicalization (simple and relaxed, header and body), streaming: the body
// is written in chunks to a sink (the hasher), never copied whole.
#ifndef CREDENCE_DKIM_CANONICALIZE_H_
#define CREDENCE_DKIM_CANONICALIZE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "credence/message.h"
#include "crypto/crypto.h"
#include "dkim/signature.h"

namespace credence::dkim {

// Receives canonicalized bytes in chunks (one virtual call per chunk, not per byte).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Write(const char* data, size_t size) = 0;
};

// Appends everything to a string (tests, header data).
class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void Write(const char* data, size_t size) override { out_->append(data, size); }

 private:
  std::string* out_;
};

// Hashes the first `limit` bytes (RFC 6376 §3.5 l=) and counts all of them.
class BodyHasher final : public ByteSink {
 public:
  explicit BodyHasher(uint64_t limit = std::numeric_limits<uint64_t>::max()) : limit_(limit) {}
  void Write(const char* data, size_t size) override;
  uint64_t total() const { return total_; }  // canonicalized body length
  crypto::Sha256Digest Final() { return sha_.Final(); }

 private:
  crypto::Sha256 sha_;
  uint64_t limit_;
  uint64_t total_ = 0;
};

// RFC 6376 §3.4.3 / §3.4.4: writes the canonicalized `body` (CRLF line ends) to `sink`.
// simple: trailing empty lines removed, an empty body becomes one CRLF, a last line without
// CRLF gets one. relaxed: WSP at line ends removed, WSP runs become one SP, trailing empty
// lines removed, an empty body stays empty.
void CanonicalizeBody(Canon canon, std::string_view body, ByteSink* sink);

// RFC 6376 §3.4.1 / §3.4.2: appends the canonicalized header field `raw` (name, colon, value,
// without its final CRLF) to `out`, followed by CRLF when `crlf`.
void CanonicalizeHeader(Canon canon, std::string_view raw, bool crlf, std::string* out);

// Header fields by name (ASCII case-insensitive), each name's fields in message order. Built
// once per message.
class HeaderIndex {
 public:
  explicit HeaderIndex(const std::vector<HeaderField>& headers);
  // RFC 6376 §5.4.2: appends, for each name of `h` in order, the next not-yet-used field of
  // that name counting from the bottom, canonicalized with CRLF. Names with no field left
  // (over-signing) contribute nothing.
  void AppendSignedHeaders(const std::vector<std::string>& h, Canon canon,
                           std::string* out) const;

 private:
  // Up to this many fields, and names in h= times fields, the fields are searched from the
  // bottom for each name (a few hundred comparisons, most ending at the length), instead
  // of sorted and binary-searched: the usual message and signature.
  static constexpr size_t kScanFields = 64;
  static constexpr size_t kScanComparisons = 4096;

  void AppendBySearch(const std::vector<std::string>& h, const std::vector<size_t>& order,
                      Canon canon, std::string* out) const;

  const std::vector<HeaderField>& headers_;
  // With more than kScanFields fields: indices of headers_ sorted by field name, message
  // order kept within one name (one sort per message, no strings built). Empty otherwise.
  std::vector<size_t> order_;
};

// The single-instance fields (kSingleInstanceFields: RFC 5322 §3.6, and Content-Type and
// Content-Transfer-Encoding) that `h` names and that `message` holds more instances of than
// `h` names: h= takes instances from the bottom, so the extra ones, above, are not signed
// (RFC 6376 §8.15), unless each repeats a signed one word for word. Instances hidden behind
// a bare CR in another field or skipped past the header limits count too
// (Message::unkept_single_instance_count: some or all readers show them). Lower case, in
// that order. O(h + fields).
std::vector<std::string> UnsignedInstances(const Message& message,
                                           const std::vector<std::string>& h);

// The DKIM-Signature field `raw` with the b= tag's value (and the FWS around it) removed
// (RFC 6376 §3.7). `value_offset` is where the field's value starts in `raw`;
// [b_begin, b_end) are offsets in the value (Signature::b_value_begin / end).
std::string RemoveBValue(std::string_view raw, size_t value_offset, size_t b_begin,
                         size_t b_end);
// The same into `*out`, replacing what it held (its capacity is reused: one buffer for every
// signature verified).
void RemoveBValue(std::string_view raw, size_t value_offset, size_t b_begin, size_t b_end,
                  std::string* out);

}  // namespace credence::dkim

#endif  // CREDENCE_DKIM_CANONICALIZE_H_
