#include "dns/dns_name.h"

namespace credence::dns_internal {

std::string NormalizeName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  // One trailing dot, but not an escaped one ("a\." keeps its dot).
  if (!out.empty() && out.back() == '.') {
    size_t backslashes = 0;
    for (size_t i = out.size() - 1; i > 0 && out[i - 1] == '\\'; --i) ++backslashes;
    if (backslashes % 2 == 0) out.pop_back();
  }
  return out;
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
