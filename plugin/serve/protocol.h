// The `credence serve` wire protocol (docs/serve.md): one request per connection.
//
//   request  = header-line message
//   header-line = "CREDENCE/1" SP "VERIFY" SP length *(SP field) [CR] LF
//               / "CREDENCE/1" SP "PING" [CR] LF
//   length   = 1*20DIGIT             ; bytes of message that follow the LF
//   field    = key "=" value         ; each key at most once, any order
//   key      = "ip" / "helo" / "from" / "id" / "timeout"
//   value    = *(%x21-24 / %x26-7E / "%" 2HEXDIG)   ; bytes outside VCHAR and "%" itself are
//                                                     ; percent-encoded; empty is allowed
//   response = length LF json LF     ; length = bytes of json (the LF after it is not counted)
//
// The header line is at most kMaxHeaderLine bytes including its LF. Everything here is pure
// (no I/O) so it can be unit-tested and fuzzed; server.cc drives it from a socket.
#ifndef CREDENCE_PLUGIN_SERVE_PROTOCOL_H_
#define CREDENCE_PLUGIN_SERVE_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "credence/limits.h"
#include "credence/status.h"

namespace credence::serve {

inline constexpr std::string_view kProtocolTag = "CREDENCE/1";
// The header line, LF included. Longer lines are refused (kTooLarge) without reading on.
inline constexpr size_t kMaxHeaderLine = 16384;
// One decoded field value (a HELO name or an address is far shorter).
inline constexpr size_t kMaxFieldValue = 1024;
// The largest "timeout=" a client may give, in milliseconds (10 minutes).
inline constexpr int64_t kMaxClientTimeoutMs = kMaxSettingMilliseconds;

enum class RequestKind { kVerify, kPing };

// The SMTP envelope as the header line carries it (mirrors credence::Envelope).
struct RequestHeader {
  RequestKind kind = RequestKind::kVerify;
  size_t length = 0;      // message bytes that follow the header line (kVerify only)
  std::string client_ip;  // "ip=": IPv4 or IPv6 presentation form; empty = unknown
  std::string helo;       // "helo=": empty = not given
  std::string mail_from;  // "from=": without <> (stripped when sent); empty = null sender
  std::string id;         // "id=": an opaque client tag echoed back in the response
  // "timeout=": how long the client waits for the answer, in milliseconds from its connect
  // (1..kMaxClientTimeoutMs); 0 = not given. The service answers before it (docs/serve.md).
  int64_t timeout_ms = 0;
  // helo= or from= values longer than kMaxFieldValue once decoded are not refused (a sender
  // chooses them, and a refusal makes the filter go on without credence): they are left empty
  // and named here, for the evaluation's limit note (Envelope::host_limit). Empty normally.
  std::string dropped;
};

// Parses one header line (without its LF; a final CR is ignored). Every outcome:
//  - kInvalidInput naming the problem: wrong tag or command, missing or non-decimal length,
//    unknown or repeated key, a field without "=", bad percent-encoding, a decoded value with
//    NUL/CR/LF, an ip= or id= longer than kMaxFieldValue (a longer helo= or from= is dropped:
//    RequestHeader::dropped), an ip= that is not an IP address, a timeout=
//    that is not a decimal number of milliseconds from 1 to kMaxClientTimeoutMs, a line
//    longer than kMaxHeaderLine;
//  - kTooLarge when length exceeds `max_length` (or does not fit 64 bits);
//  - the parsed header otherwise.
// RequestReader passes kAnyLength: the service takes any announced length and keeps a prefix.
Result<RequestHeader> ParseRequestHeader(std::string_view line, size_t max_length);
inline constexpr size_t kAnyLength = static_cast<size_t>(-1);

// Incremental reader for one request: feed it bytes as they arrive. The first
// min(length, keep_limit) message bytes are kept; the rest of a longer message is read and
// dropped, so the handler gets a prefix (body().size() < header().length). The body buffer
// grows as bytes arrive (never to the announced length up front) and never past keep(), so a
// reader holds at most kMaxHeaderLine + keep_limit bytes. Nothing is consumed once the request
// is complete (bytes after the message are ignored).
class RequestReader {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit RequestReader(size_t keep_limit) : keep_limit_(keep_limit) {}

  // Consumes `data`; returns the state after it. Once kComplete or kError, further calls
  // change nothing and consume nothing. May throw std::bad_alloc (the body buffer grows).
  State Feed(std::string_view data);
  State state() const { return state_; }
  // The error (kError only).
  const Status& error() const { return error_; }
  // The parsed header (once the header line is complete).
  const RequestHeader& header() const { return header_; }
  bool header_done() const { return header_done_; }
  // Message bytes this request keeps: min(header().length, keep_limit) (once header_done()).
  size_t keep() const { return keep_; }
  // Message bytes received so far, kept or dropped.
  size_t received() const { return received_; }
  // The message bytes kept so far (the first keep() bytes once kComplete).
  const std::string& body() const { return body_; }
  std::string TakeBody() { return std::move(body_); }
  // Bytes consumed by Feed so far.
  size_t consumed() const { return consumed_; }

 private:
  State Fail(Status s);
  void GrowBody(size_t needed);

  size_t keep_limit_;
  State state_ = State::kNeedMore;
  Status error_;
  bool header_done_ = false;
  std::string line_;
  RequestHeader header_;
  size_t keep_ = 0;
  size_t received_ = 0;
  std::string body_;
  size_t consumed_ = 0;
};

// The framed response: decimal length, LF, the JSON document, LF.
std::string FrameResponse(std::string_view json);

// Undoes FrameResponse for a complete response. kInvalidInput when the frame is malformed or
// incomplete (for clients and tests).
Result<std::string> UnframeResponse(std::string_view framed);

// Percent-encodes `value` for a header field (the inverse of the decoding the parser does).
std::string EncodeFieldValue(std::string_view value);

// Builds a header line (with its LF) for a VERIFY request; timeout_ms 0 = no "timeout=". For
// clients and tests.
std::string MakeVerifyLine(size_t length, std::string_view client_ip, std::string_view helo,
                           std::string_view mail_from, std::string_view id = "",
                           int64_t timeout_ms = 0);

// The error document: {"error": message, "code": code[, "id": id]} (compact JSON).
std::string ErrorJson(std::string_view code, std::string_view message, std::string_view id = "");

// The machine-readable code for a Status in an error document: "bad_request" (kInvalidInput),
// "too_large" (kTooLarge: a header line over kMaxHeaderLine, a length over 64 bits),
// "timeout" (kTempFail), "internal" otherwise.
std::string_view ErrorCodeOf(const Status& status);

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_PROTOCOL_H_
