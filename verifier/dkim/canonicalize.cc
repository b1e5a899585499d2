// RFC 6376 §3.4 canonicalization. Single pass over the body, buffered writes to the sink.
#include "dkim/canonicalize.h"

#include <algorithm>

namespace credence::dkim {
namespace {

inline bool IsWsp(char c) { return c == ' ' || c == '\t'; }

constexpr std::string_view kCrlf = "\r\n";

// RFC 6376 §3.4.3: "ignores all empty lines at the end of the message body ... If there is
// no body or no trailing CRLF on the message body, a CRLF is added."
void SimpleBody(std::string_view body, ByteSink* sink) {
  size_t end = body.size();
  while (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n') end -= 2;
  if (end > 0) sink->Write(body.data(), end);
  sink->Write(kCrlf.data(), kCrlf.size());
}

// RFC 6376 §3.4.4: ignore WSP at line ends, reduce WSP runs to one SP, ignore empty lines at
// the end; "If the body is non-empty but does not end with a CRLF, a CRLF is added."
// One tight loop per line writing straight into a buffer that always has room for the line.
void RelaxedBody(std::string_view body, ByteSink* sink) {
  std::string buf;
  buf.resize(16384);
  size_t len = 0;
  auto flush = [&] {
    if (len != 0) sink->Write(buf.data(), len);
    len = 0;
  };
  size_t pending_empty = 0;  // empty lines held back until a non-empty line follows
  size_t pos = 0;
  const size_t n = body.size();
  const char* data = body.data();
  while (pos < n) {
    size_t eol = body.find(kCrlf, pos);
    size_t line_end = eol == std::string_view::npos ? n : eol;
    size_t content_end = line_end;
    while (content_end > pos && IsWsp(data[content_end - 1])) --content_end;
    if (content_end == pos) {
      ++pending_empty;
    } else {
      // Worst case: the held-back CRLFs, then the line, then CRLF.
      size_t need = 2 * pending_empty + (content_end - pos) + 2;
      if (len + need > buf.size()) {
        flush();
        if (need > buf.size()) buf.resize(need);
      }
      char* out = buf.data() + len;
      for (; pending_empty > 0; --pending_empty) {
        *out++ = '\r';
        *out++ = '\n';
      }
      bool space = false;
      for (size_t i = pos; i < content_end; ++i) {
        char c = data[i];
        if (c == ' ' || c == '\t') {
          space = true;
        } else {
          if (space) *out++ = ' ';
          space = false;
          *out++ = c;
        }
      }
      *out++ = '\r';
      *out++ = '\n';
      len = static_cast<size_t>(out - buf.data());
    }
    pos = eol == std::string_view::npos ? n : eol + 2;
  }
  flush();
}

}  // namespace

void BodyHasher::Write(const char* data, size_t size) {
  if (total_ < limit_) {
    uint64_t room = limit_ - total_;
    sha_.Update(data, static_cast<size_t>(std::min<uint64_t>(room, size)));
  }
  total_ += size;
}

void CanonicalizeBody(Canon canon, std::string_view body, ByteSink* sink) {
  if (canon == Canon::kSimple) {
    SimpleBody(body, sink);
  } else {
    RelaxedBody(body, sink);
  }
}

void CanonicalizeHeader(Canon canon, std::string_view raw, bool crlf, std::string* out) {
  if (canon == Canon::kSimple) {
    // RFC 6376 §3.4.1: the field exactly as written.
    out->append(raw);
  } else {
    // RFC 6376 §3.4.2: lower-case name, unfold, WSP runs -> one SP, no WSP at the value's
    // ends or around the colon.
    size_t colon = raw.find(':');
    std::string_view name = raw.substr(0, colon);
    while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
    for (char c : name) out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    out->push_back(':');
    if (colon != std::string_view::npos) {
      std::string_view value = raw.substr(colon + 1);
      bool pending_space = false;
      bool content = false;
      for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
          ++i;  // unfold: drop the CRLF, keep the WSP that follows it
          continue;
        }
        if (IsWsp(c)) {
          pending_space = content;
          continue;
        }
        if (pending_space) out->push_back(' ');
        pending_space = false;
        content = true;
        out->push_back(c);
      }
    }
  }
  if (crlf) out->append(kCrlf);
}

HeaderIndex::HeaderIndex(const std::vector<HeaderField>& headers) : headers_(headers) {
  for (size_t i = 0; i < headers.size(); ++i) {
    std::string_view name = headers[i].name;
    while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
    by_name_[ToLower(name)].push_back(i);
  }
}

void HeaderIndex::AppendSignedHeaders(const std::vector<std::string>& h, Canon canon,
                                      std::string* out) const {
  // How many fields of each name are used so far (from the bottom).
  std::unordered_map<std::string, size_t> used;
  for (const std::string& name : h) {
    std::string key = ToLower(name);
    auto it = by_name_.find(key);
    if (it == by_name_.end()) continue;
    size_t& n = used[key];
    if (n >= it->second.size()) continue;  // over-signed: nothing (RFC 6376 §5.4)
    const HeaderField& f = headers_[it->second[it->second.size() - 1 - n]];
    ++n;
    CanonicalizeHeader(canon, f.raw, /*crlf=*/true, out);
  }
}

std::string RemoveBValue(std::string_view raw, size_t value_offset, size_t b_begin,
                         size_t b_end) {
  std::string out;
  out.reserve(raw.size());
  out.append(raw.substr(0, value_offset + b_begin));
  out.append(raw.substr(value_offset + b_end));
  return out;
}

}  // namespace credence::dkim
