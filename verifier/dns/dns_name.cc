#include "dns/dns_name.h"

#include "credence/ascii.h"

namespace credence::dns_internal {

namespace {


// The octet an escape at name[i] == '\\' stands for, and its length in *len; -1 when the
// escape is not valid (dangling, or a \DDD that is short or over 255).
int DecodeEscape(std::string_view name, size_t i, size_t* len) {
  if (i + 1 >= name.size()) return -1;
  if (!IsAsciiDigit(name[i + 1])) {
    *len = 2;
    return static_cast<unsigned char>(name[i + 1]);
  }
  if (i + 3 >= name.size() || !IsAsciiDigit(name[i + 2]) || !IsAsciiDigit(name[i + 3])) return -1;
  int v = (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
  if (v > 255) return -1;
  *len = 4;
  return v;
}

// Removes one trailing dot unless it is escaped ("a\\." keeps its dot).
void DropTrailingDot(std::string* out) {
  if (out->empty() || out->back() != '.') return;
  size_t backslashes = 0;
  for (size_t i = out->size() - 1; i > 0 && (*out)[i - 1] == '\\'; --i) ++backslashes;
  if (backslashes % 2 == 0) out->pop_back();
}

}  // namespace

void AppendNameOctet(unsigned char c, std::string* out) {
  if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
  if (c == '.' || c == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(c));
  } else if (c < 0x21 || c > 0x7e) {
    const char esc[4] = {'\\', static_cast<char>('0' + c / 100),
                         static_cast<char>('0' + c / 10 % 10), static_cast<char>('0' + c % 10)};
    out->append(esc, 4);
  } else {
    out->push_back(static_cast<char>(c));
  }
}

bool PlainName(std::string_view name) {
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\\' || c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string NormalizeName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  if (PlainName(name)) {
    for (char c : name) out.push_back(AsciiLower(c));
    DropTrailingDot(&out);
    return out;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      out.push_back('.');
      continue;
    }
    if (c != '\\') {
      AppendNameOctet(static_cast<unsigned char>(c), &out);
      continue;
    }
    size_t len = 0;
    const int octet = DecodeEscape(name, i, &len);
    if (octet < 0) {  // not valid: kept as it is, for CheckName to refuse
      out.append(name.substr(i));
      break;
    }
    AppendNameOctet(static_cast<unsigned char>(octet), &out);
    i += len - 1;
  }
  DropTrailingDot(&out);
  return out;
}

std::string ZoneFileName(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 8);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '\\') {  // an escape of the normalised form: copied whole
      size_t len = 2;
      if (DecodeEscape(name, i, &len) < 0) len = 1;
      out.append(name.substr(i, len));
      i += len - 1;
      continue;
    }
    // RFC 1035 §5.1: ";" starts a comment, "(" ")" group lines, '"' quotes, "$" at the
    // start of a line is a directive and "@" alone is the origin.
    if (c == ';' || c == '(' || c == ')' || c == '"' || c == '$' || c == '@') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

bool NameWithoutDecimalEscapes(std::string_view name, std::string* out) {
  out->clear();
  out->reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    size_t len = 0;
    const int octet = c == '\\' ? DecodeEscape(name, i, &len) : -1;
    if (octet < 0) {
      out->push_back(c);
      continue;
    }
    if (octet == 0) return false;
    if (octet == '.' || octet == '\\') out->push_back('\\');
    out->push_back(static_cast<char>(octet));
    i += len - 1;
  }
  return true;
}

std::string CheckName(std::string_view name) {
  if (name.empty()) return "empty name";
  size_t label = 0;  // octets in the current label
  size_t wire = 1;   // octets on the wire: a length byte per label plus the root byte
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label == 0) return "empty label";
      wire += label + 1;
      label = 0;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= name.size()) return "dangling backslash";
      if (name[i + 1] >= '0' && name[i + 1] <= '9') {
        if (i + 3 >= name.size()) return "bad \\DDD escape";
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char d = name[i + k];
          if (d < '0' || d > '9') return "bad \\DDD escape";
          v = v * 10 + (d - '0');
        }
        if (v > 255) return "bad \\DDD escape";
        i += 3;
      } else {
        i += 1;
      }
    }
    ++label;
    if (label > kMaxLabelLength) return "label longer than 63 octets";
  }
  if (label == 0) return "empty label";
  wire += label + 1;
  if (wire > kMaxNameLength + 2) return "name longer than 253 octets";
  return "";
}

bool IsAtOrBelow(std::string_view name, std::string_view zone) {
  if (zone.empty()) return true;  // everything is below the root
  if (name.size() < zone.size()) return false;
  if (name.substr(name.size() - zone.size()) != zone) return false;
  if (name.size() == zone.size()) return true;
  size_t dot = name.size() - zone.size() - 1;
  if (name[dot] != '.') return false;
  // The dot must not be escaped.
  size_t backslashes = 0;
  for (size_t i = dot; i > 0 && name[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

std::string_view ParentName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\') {
      ++i;
      continue;
    }
    if (name[i] == '.') return name.substr(i + 1);
  }
  return {};
}

}  // namespace credence::dns_internal
