#include "output.h"

#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

namespace credence::cli {
namespace {

using nlohmann::json;

template <typename T>
json OptionalJson(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json SignatureJson(const DkimResult& r) {
  json j = json::object();
  j["result"] = std::string(DkimVerdictName(r.result));
  j["reason"] = std::string(DkimReasonName(r.reason));
  j["detail"] = r.detail;
  j["domain"] = r.domain;
  j["selector"] = r.selector;
  j["algorithm"] = r.algorithm;
  j["canonicalization"] = r.canonicalization;
  j["identity"] = r.identity;
  j["testing"] = r.testing;
  j["key_bits"] = r.key_bits;
  j["body_length"] = OptionalJson(r.body_length);
  j["unsigned_body_bytes"] = r.unsigned_body_bytes;
  j["timestamp"] = OptionalJson(r.timestamp);
  j["expiration"] = OptionalJson(r.expiration);
  j["signed_headers"] = r.signed_headers;
  j["header_b"] = r.signature_b.substr(0, 8);  // RFC 6977 §4: header.b prefix, as in A-R
  j["header_index"] = r.header_index;
  return j;
}

// Shows bytes below 0x20 and DEL as '?': message-controlled text must not drive a terminal.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string Dash(std::string_view s) { return s.empty() ? "-" : Printable(s); }

void AppendSignatureLine(const DkimResult& r, std::string* out) {
  char verdict[16];
  std::snprintf(verdict, sizeof verdict, "%-10s", std::string(DkimVerdictName(r.result)).c_str());
  *out += "  ";
  *out += verdict;
  *out += "d=" + Dash(r.domain) + " s=" + Dash(r.selector) + " a=" + Dash(r.algorithm) +
          " c=" + Dash(r.canonicalization);
  if (!r.identity.empty() && r.identity != "@" + r.domain) *out += " i=" + Printable(r.identity);
  if (r.algorithm.rfind("ed25519", 0) == 0 && r.key_bits > 0) {
    *out += ", Ed25519 key";
  } else if (r.key_bits > 0) {
    *out += ", " + std::to_string(r.key_bits) + "-bit key";
  }
  if (r.testing) *out += ", testing (key t=y)";
  if (r.body_length) {
    *out += ", l=" + std::to_string(*r.body_length);
    if (r.unsigned_body_bytes > 0)
      *out += " (" + std::to_string(r.unsigned_body_bytes) + " body bytes unsigned)";
  }
  if (r.reason != DkimReason::kNone) {
    *out += ": ";
    *out += DkimReasonName(r.reason);
    if (!r.detail.empty()) *out += " (" + Printable(r.detail) + ")";
  }
  *out += '\n';
}

}  // namespace

std::string FormatJsonLine(const MessageReport& report) {
  json j = json::object();
  j["file"] = report.file;
  if (report.error) {
    j["error"] = *report.error;
  } else {
    json sigs = json::array();
    for (const DkimResult& r : report.dkim) sigs.push_back(SignatureJson(r));
    j["dkim"] = std::move(sigs);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string FormatText(const MessageReport& report) {
  std::string out = Printable(report.file) + ": ";
  if (report.error) return out + "error: " + Printable(*report.error) + "\n";
  size_t n = report.dkim.size();
  if (n == 0) return out + "no DKIM signature\n";
  out += std::to_string(n) + (n == 1 ? " DKIM signature\n" : " DKIM signatures\n");
  for (const DkimResult& r : report.dkim) AppendSignatureLine(r, &out);
  return out;
}

}  // namespace credence::cli
