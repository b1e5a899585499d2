#include "serve/protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "common/evaluation_json.h"

namespace credence::serve {
namespace {

constexpr size_t kMaxLengthDigits = 20;  // 2^64 has 20 digits
constexpr size_t kMaxFields = 8;         // five keys; more tokens is garbage

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes. Refuses raw bytes outside VCHAR, truncated escapes, decoded NUL/CR/LF
// and values longer than kMaxFieldValue.
Result<std::string> DecodeValue(std::string_view key, std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c < 0x21 || c > 0x7e) {
      return Status::Invalid("field " + std::string(key) + ": raw byte outside VCHAR");
    }
    if (c == '%') {
      if (i + 2 >= raw.size()) {
        return Status::Invalid("field " + std::string(key) + ": truncated %-escape");
      }
      int hi = HexValue(raw[i + 1]);
      int lo = HexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::Invalid("field " + std::string(key) + ": bad %-escape");
      }
      c = static_cast<unsigned char>(hi * 16 + lo);
      if (c == 0 || c == '\r' || c == '\n') {
        return Status::Invalid("field " + std::string(key) + ": NUL, CR or LF in value");
      }
      i += 2;
    }
    out.push_back(static_cast<char>(c));
    if (out.size() > kMaxFieldValue) {
      return Status::TooLarge("field " + std::string(key) + ": value longer than " +
                              std::to_string(kMaxFieldValue) + " bytes");
    }
  }
  return out;
}

// "timeout=": 1..kMaxClientTimeoutMs, decimal digits only.
Result<int64_t> ParseTimeout(std::string_view v) {
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (v.empty() || v.size() > 6 || ec != std::errc() || ptr != v.data() + v.size() ||
      v.front() == '-' || v.front() == '+' || ms < 1 || ms > kMaxClientTimeoutMs) {
    return Status::Invalid("field timeout: not a number of milliseconds from 1 to " +
                           std::to_string(kMaxClientTimeoutMs));
  }
  return ms;
}

bool IsIpAddress(const std::string& s) {
  std::array<unsigned char, 16> buf;
  return inet_pton(AF_INET, s.c_str(), buf.data()) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf.data()) == 1;
}

// Splits on single spaces; empty tokens (double spaces) are an error.
Status Tokenize(std::string_view line, std::vector<std::string_view>* tokens) {
  size_t start = 0;
  for (;;) {
    size_t sp = line.find(' ', start);
    std::string_view tok = line.substr(start, sp == std::string_view::npos ? sp : sp - start);
    if (tok.empty()) return Status::Invalid("empty token (leading, trailing or double space)");
    if (tokens->size() >= 3 + kMaxFields) return Status::Invalid("too many fields");
    tokens->push_back(tok);
    if (sp == std::string_view::npos) return Status::Ok();
    start = sp + 1;
  }
}

// The message length: 1*20DIGIT, at most `max_length`.
Result<size_t> ParseLength(std::string_view len, size_t max_length) {
  if (len.size() > kMaxLengthDigits) return Status::TooLarge("message length too large");
  for (char c : len) {
    if (c < '0' || c > '9') return Status::Invalid("message length is not a decimal number");
  }
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec == std::errc::result_out_of_range) return Status::TooLarge("message length too large");
  if (ec != std::errc() || ptr != len.data() + len.size()) {
    return Status::Invalid("message length is not a decimal number");
  }
  if (n > max_length) {
    return Status::TooLarge("message of " + std::to_string(n) + " bytes exceeds the limit of " +
                            std::to_string(max_length));
  }
  return static_cast<size_t>(n);
}

// The key=value fields after the length, each key at most once, into *h.
Status ParseFields(const std::vector<std::string_view>& tokens, size_t first, RequestHeader* h) {
  bool seen[5] = {false, false, false, false, false};
  for (size_t i = first; i < tokens.size(); ++i) {
    std::string_view tok = tokens[i];
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos) return Status::Invalid("field without '='");
    std::string_view key = tok.substr(0, eq);
    int k;
    std::string* dest;
    if (key == "timeout") {
      if (seen[4]) return Status::Invalid("repeated field timeout");
      seen[4] = true;
      Result<int64_t> ms = ParseTimeout(tok.substr(eq + 1));
      if (!ms.ok()) return ms.status();
      h->timeout_ms = *ms;
      continue;
    }
    if (key == "ip") {
      k = 0, dest = &h->client_ip;
    } else if (key == "helo") {
      k = 1, dest = &h->helo;
    } else if (key == "from") {
      k = 2, dest = &h->mail_from;
    } else if (key == "id") {
      k = 3, dest = &h->id;
    } else {
      return Status::Invalid("unknown field");
    }
    if (seen[k]) return Status::Invalid("repeated field " + std::string(key));
    seen[k] = true;
    Result<std::string> v = DecodeValue(key, tok.substr(eq + 1));
    if (!v.ok() && v.status().code() == StatusCode::kTooLarge && (k == 1 || k == 2)) {
      // A sender's HELO or MAIL FROM: judged without it (SPF cannot check it), not refused.
      if (!h->dropped.empty()) h->dropped += "; ";
      h->dropped += std::string(k == 1 ? "HELO" : "MAIL FROM") + " longer than " +
                    std::to_string(kMaxFieldValue) + " bytes: not evaluated";
      continue;
    }
    if (!v.ok()) return Status::Invalid(v.status().message());
    *dest = std::move(v).value();
  }
  return Status::Ok();
}

// The envelope as credence takes it: ip= an address, from= without its brackets.
Status CheckEnvelope(RequestHeader* h) {
  if (!h->client_ip.empty() && !IsIpAddress(h->client_ip)) {
    return Status::Invalid("field ip: not an IP address");
  }
  // RFC 5321 §4.1.2: Reverse-path = Path / "<>"; the envelope carries it without brackets.
  std::string& from = h->mail_from;
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>') {
    from = from.substr(1, from.size() - 2);
  }
  return Status::Ok();
}

}  // namespace

Result<RequestHeader> ParseRequestHeader(std::string_view line, size_t max_length) {
  if (line.size() + 1 > kMaxHeaderLine) {
    return Status::Invalid("header line longer than " + std::to_string(kMaxHeaderLine) + " bytes");
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> tokens;
  Status s = Tokenize(line, &tokens);
  if (!s.ok()) return s;
  if (tokens[0] != kProtocolTag) {
    return Status::Invalid("not a " + std::string(kProtocolTag) + " request");
  }
  if (tokens.size() < 2) return Status::Invalid("missing command");
  RequestHeader h;
  if (tokens[1] == "PING") {
    if (tokens.size() != 2) return Status::Invalid("PING takes no arguments");
    h.kind = RequestKind::kPing;
    return h;
  }
  if (tokens[1] != "VERIFY") return Status::Invalid("unknown command");
  if (tokens.size() < 3) return Status::Invalid("missing message length");
  Result<size_t> length = ParseLength(tokens[2], max_length);
  if (!length.ok()) return length.status();
  h.length = *length;
  s = ParseFields(tokens, 3, &h);
  if (s.ok()) s = CheckEnvelope(&h);
  if (!s.ok()) return s;
  return h;
}

RequestReader::State RequestReader::Fail(Status s) {
  error_ = std::move(s);
  state_ = State::kError;
  line_.clear();
  body_.clear();
  return state_;
}

// Doubling (not growing to the announced length) keeps copies linear in the bytes received;
// the cap at keep_ keeps the capacity within what the server reserved for this request. The
// copy goes to a fresh string: reserve() on the old one may round up to twice its capacity,
// past keep_; a fresh string gets the capacity asked for.
void RequestReader::GrowBody(size_t needed) {
  constexpr size_t kMinCapacity = 64 * 1024;
  if (needed <= body_.capacity()) return;
  size_t cap = std::min(std::max({needed, body_.capacity() * 2, kMinCapacity}), keep_);
  std::string grown;
  grown.reserve(cap);
  grown.append(body_);
  body_.swap(grown);
}

RequestReader::State RequestReader::Feed(std::string_view data) {
  if (state_ != State::kNeedMore) return state_;
  if (!header_done_) {
    size_t lf = data.find('\n');
    size_t take = lf == std::string_view::npos ? data.size() : lf;
    if (line_.size() + take + 1 > kMaxHeaderLine) {
      consumed_ += data.size();
      return Fail(Status::TooLarge("header line longer than " + std::to_string(kMaxHeaderLine) +
                                   " bytes"));
    }
    line_.append(data.substr(0, take));
    if (lf == std::string_view::npos) {
      consumed_ += data.size();
      return state_;
    }
    consumed_ += lf + 1;
    data.remove_prefix(lf + 1);
    Result<RequestHeader> h = ParseRequestHeader(line_, kAnyLength);
    line_.clear();
    line_.shrink_to_fit();
    if (!h.ok()) return Fail(h.status());
    header_ = std::move(h).value();
    header_done_ = true;
    keep_ = std::min(header_.length, keep_limit_);
    if (header_.kind == RequestKind::kPing || header_.length == 0) {
      state_ = State::kComplete;
      return state_;
    }
  }
  size_t take = std::min(header_.length - received_, data.size());
  size_t kept = std::min(keep_ - body_.size(), take);
  if (kept > 0) {
    GrowBody(body_.size() + kept);
    body_.append(data.substr(0, kept));
  }
  received_ += take;
  consumed_ += take;
  if (received_ == header_.length) state_ = State::kComplete;
  return state_;
}

std::string FrameResponse(std::string_view json) {
  std::string out = std::to_string(json.size());
  out.reserve(out.size() + json.size() + 2);
  out.push_back('\n');
  out.append(json);
  out.push_back('\n');
  return out;
}

Result<std::string> UnframeResponse(std::string_view framed) {
  size_t lf = framed.find('\n');
  if (lf == std::string_view::npos || lf == 0 || lf > kMaxLengthDigits) {
    return Status::Invalid("no length line");
  }
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(framed.data(), framed.data() + lf, n);
  if (ec != std::errc() || ptr != framed.data() + lf) return Status::Invalid("bad length");
  std::string_view rest = framed.substr(lf + 1);
  if (rest.size() != n + 1 || rest.back() != '\n') {
    return Status::Invalid("length does not match the document");
  }
  return std::string(rest.substr(0, n));
}

std::string EncodeFieldValue(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : value) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string MakeVerifyLine(size_t length, std::string_view client_ip, std::string_view helo,
                           std::string_view mail_from, std::string_view id,
                           int64_t timeout_ms) {
  std::string line = std::string(kProtocolTag) + " VERIFY " + std::to_string(length);
  line += " ip=" + EncodeFieldValue(client_ip);
  line += " helo=" + EncodeFieldValue(helo);
  line += " from=" + EncodeFieldValue(mail_from);
  if (!id.empty()) line += " id=" + EncodeFieldValue(id);
  if (timeout_ms > 0) line += " timeout=" + std::to_string(timeout_ms);
  line.push_back('\n');
  return line;
}

std::string ErrorJson(std::string_view code, std::string_view message, std::string_view id) {
  std::string out = "{\"code\":";  // keys in byte order, as every object credence writes
  AppendJsonString(code, &out);
  out += ",\"error\":";
  AppendJsonString(message, &out);
  if (!id.empty()) {
    out += ",\"id\":";
    AppendJsonString(id, &out);
  }
  out.push_back('}');
  return out;
}

std::string_view ErrorCodeOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidInput:
      return "bad_request";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kTempFail:
      return "timeout";
    default:
      return "internal";
  }
}

}  // namespace credence::serve
