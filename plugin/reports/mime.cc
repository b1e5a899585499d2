#include "mime.h"

#include <cstdint>
#include <utility>

namespace credence::reports {
namespace {

char LowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerChar(c);
  return out;
}

bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

// Splits `entity` at the blank line that ends its header section (CRLF or LF line ends). No
// blank line: all header, empty body.
void SplitHeaderBody(std::string_view entity, std::string_view* header, std::string_view* body) {
  size_t pos = 0;
  while (pos < entity.size()) {
    size_t eol = entity.find('\n', pos);
    if (eol == std::string_view::npos) break;
    std::string_view line = entity.substr(pos, eol - pos);
    if (line.empty() || line == "\r") {
      *header = entity.substr(0, pos);
      *body = entity.substr(eol + 1);
      return;
    }
    pos = eol + 1;
  }
  // A part that starts with its blank line has no header at all.
  *header = entity;
  *body = {};
}

// The value of header field `name` (case-insensitive), unfolded (RFC 5322 §2.2.3); the first
// one when there are several.
std::string FieldValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t eol = header.find('\n', pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.empty() || IsWsp(line[0])) continue;
    if (Lower(Trim(line.substr(0, colon))) != name) continue;
    std::string value(line.substr(colon + 1));
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t')) {
      eol = header.find('\n', pos);
      if (eol == std::string_view::npos) eol = header.size();
      value += ' ';
      value += header.substr(pos, eol - pos);
      pos = eol + 1;
    }
    return std::string(Trim(value));
  }
  return "";
}

// `type/subtype; a=b; c="d"`: the lower-cased type and the parameter `param` (RFC 2045 §5.1;
// RFC 2231 `param*=charset''value` read without its charset, percent escapes left).
std::string Param(std::string_view value, std::string_view param) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size()) {
    ++pos;
    size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) return "";
    std::string key = Lower(Trim(value.substr(pos, eq - pos)));
    size_t vstart = eq + 1;
    while (vstart < value.size() && IsWsp(value[vstart])) ++vstart;
    std::string v;
    size_t next;
    if (vstart < value.size() && value[vstart] == '"') {
      size_t i = vstart + 1;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        v += value[i++];
      }
      next = value.find(';', i);
    } else {
      next = value.find(';', vstart);
      v = std::string(Trim(value.substr(vstart, next == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : next - vstart)));
    }
    if (key == param) return v;
    if (key == std::string(param) + "*") {
      size_t q = v.find("''");
      return q == std::string::npos ? v : v.substr(q + 2);
    }
    pos = next;
  }
  return "";
}

std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  std::string s = Lower(Trim(t));
  return s.empty() ? "text/plain" : s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = LowerChar(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2045 §6.7: =XX is a byte, '=' at a line's end a soft line break.
std::string DecodeQuotedPrintable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (i + 1 < s.size() && s[i + 1] == '\n') {
      i += 1;
    } else if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else {
      out += '=';
    }
  }
  return out;
}

// The body parts of a multipart body (RFC 2046 §5.1.1): between delimiter lines "--B"
// (trailing white space allowed), up to "--B--". The CRLF before a delimiter belongs to it.
std::vector<std::string_view> SplitMultipart(std::string_view body, const std::string& boundary) {
  std::vector<std::string_view> parts;
  const std::string delim = "--" + boundary;
  size_t pos = 0;
  size_t part_start = std::string_view::npos;
  while (pos <= body.size()) {
    size_t eol = body.find('\n', pos);
    size_t line_end = eol == std::string_view::npos ? body.size() : eol;
    std::string_view line = body.substr(pos, line_end - pos);
    if (line.substr(0, delim.size()) == delim) {
      std::string_view rest = Trim(line.substr(delim.size()));
      bool close = rest.substr(0, 2) == "--";
      if (rest.empty() || close) {
        if (part_start != std::string_view::npos) {
          size_t end = pos;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          parts.push_back(body.substr(part_start, end - part_start));
        }
        if (close) return parts;
        part_start = eol == std::string_view::npos ? body.size() : eol + 1;
      }
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  // No close delimiter: the last part runs to the end of the body.
  if (part_start != std::string_view::npos && part_start < body.size()) {
    parts.push_back(body.substr(part_start));
  }
  return parts;
}

}  // namespace

std::string DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::vector<MimeLeaf> MimeLeaves(std::string_view message, const MimeLimits& limits,
                                 bool* truncated) {
  *truncated = false;
  std::vector<MimeLeaf> leaves;
  // Entities still to open, with their depth; a stack read in document order.
  std::vector<std::pair<std::string_view, size_t>> todo = {{message, 0}};
  size_t seen = 0;
  while (!todo.empty()) {
    auto [entity, depth] = todo.back();
    todo.pop_back();
    if (++seen > limits.max_parts) {
      *truncated = true;
      break;
    }
    std::string_view header, body;
    SplitHeaderBody(entity, &header, &body);
    const std::string content_type = FieldValue(header, "content-type");
    const std::string type = MediaType(content_type);
    if (type.starts_with("multipart/") || type == "message/rfc822") {
      if (depth + 1 > limits.max_depth) {
        *truncated = true;
        continue;
      }
      std::vector<std::string_view> children;
      if (type == "message/rfc822") {
        children.push_back(body);
      } else {
        std::string boundary = Param(content_type, "boundary");
        if (boundary.empty()) continue;  // a multipart without a boundary cannot be split
        children = SplitMultipart(body, boundary);
      }
      for (auto it = children.rbegin(); it != children.rend(); ++it) {
        todo.emplace_back(*it, depth + 1);
      }
      continue;
    }
    MimeLeaf leaf;
    leaf.content_type = type;
    leaf.filename = Param(FieldValue(header, "content-disposition"), "filename");
    if (leaf.filename.empty()) leaf.filename = Param(content_type, "name");
    const std::string cte = Lower(FieldValue(header, "content-transfer-encoding"));
    if (cte == "base64") {
      leaf.bytes = DecodeBase64(body);
    } else if (cte == "quoted-printable") {
      leaf.bytes = DecodeQuotedPrintable(body);
    } else {
      leaf.bytes = std::string(body);
    }
    leaves.push_back(std::move(leaf));
  }
  return leaves;
}

}  // namespace credence::reports
