#include "exim_options.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

#ifndef CREDENCE_DEFAULT_CONFIG
#define CREDENCE_DEFAULT_CONFIG "/etc/credence/credence.toml"
#endif

namespace credence::exim {
namespace {

bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == ';' || c == '\n' || c == '\r'; }

template <typename T>
bool ParseNumber(std::string_view v, T* out) {
  if (v.empty()) return false;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && end == v.data() + v.size();
}

}  // namespace

bool ParseShimOptions(std::string_view text, ShimOptions* out, std::string* why) {
  ShimOptions o;
  size_t pos = 0;
  size_t pairs = 0;
  while (pos < text.size()) {
    if (IsSeparator(text[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < text.size() && !IsSeparator(text[end])) ++end;
    std::string_view pair = text.substr(pos, end - pos);
    pos = end;
    if (++pairs > 64) return *why = "too many options", false;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos)
      return *why = "'" + std::string(pair) + "' is not key=value", false;
    std::string_view key = pair.substr(0, eq);
    std::string_view value = pair.substr(eq + 1);
    if (key == "authserv_id") {
      o.authserv_id = value;
    } else if (key == "dns") {
      o.dns = value;
    } else if (key == "dns_timeout_ms") {
      if (!ParseNumber(value, &o.dns_timeout_ms)) return *why = "dns_timeout_ms: not a number", false;
    } else if (key == "deadline_ms") {
      if (!ParseNumber(value, &o.deadline_ms)) return *why = "deadline_ms: not a number", false;
    } else if (key == "zone") {
      o.zones.emplace_back(value);
    } else if (key == "config") {
      o.config = value;
    } else if (key == "time") {
      int64_t t = 0;
      if (!ParseNumber(value, &t)) return *why = "time: not a number", false;
      o.time = t;
    } else if (key == "log") {
      if (value == "yes" || value == "true" || value == "1") {
        o.log = true;
      } else if (value == "no" || value == "false" || value == "0") {
        o.log = false;
      } else {
        return *why = "log: yes or no", false;
      }
    } else {
      return *why = "unknown option '" + std::string(key) + "'", false;
    }
  }
  *out = std::move(o);
  return true;
}

std::string ConfigPathOf(const std::string& given) {
  if (given == "none") return "";
  if (!given.empty()) return given;
  return access(CREDENCE_DEFAULT_CONFIG, F_OK) == 0 ? CREDENCE_DEFAULT_CONFIG : "";
}

credence_options_t* BuildOptions(const ShimOptions& o, char** errptr) {
  credence_options_t* opts = credence_options_create();
  if (opts == nullptr) return nullptr;
  bool ok = true;
  if (!o.authserv_id.empty())
    ok = credence_options_set_authserv_id(opts, o.authserv_id.c_str(), errptr) == 0;
  if (ok && !o.dns.empty()) ok = credence_options_set_dns_server(opts, o.dns.c_str(), errptr) == 0;
  if (ok && o.dns_timeout_ms != 0)
    ok = credence_options_set_dns_timeout_ms(opts, o.dns_timeout_ms, errptr) == 0;
  if (ok && o.deadline_ms != 0)
    ok = credence_options_set_deadline_ms(opts, o.deadline_ms, errptr) == 0;
  for (const std::string& z : o.zones)
    if (ok) ok = credence_options_add_zone_file(opts, z.c_str(), errptr) == 0;
  std::string config = ConfigPathOf(o.config);
  if (ok && !config.empty())
    ok = credence_options_set_config_file(opts, config.c_str(), errptr) == 0;
  if (ok && o.time) credence_options_set_fixed_time(opts, *o.time);
  if (!ok) {
    credence_options_destroy(opts);
    return nullptr;
  }
  return opts;
}

std::string DkimSummary(const credence_result_t* r) {
  size_t n = credence_result_dkim_count(r);
  if (n == 0) return "none";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += credence_result_dkim_result(r, i);
  }
  return out;
}

std::string DkimSummaryForLog(const credence_result_t* r) {
  constexpr size_t kShown = 8;  // then "+N": the log line stays within Exim's log buffer
  const size_t n = r == nullptr ? 0 : credence_result_dkim_count(r);
  if (n == 0) return "none";
  std::string out;
  for (size_t i = 0; i < n && i < kShown; ++i) {
    if (i > 0) out += ' ';
    out += credence_result_dkim_result(r, i);
  }
  if (n > kShown) out += " +" + std::to_string(n - kShown);
  return out;
}

std::string LimitsForLog(const credence_result_t* r) {
  constexpr size_t kMaxLimits = 512;  // bytes of notes; a sender chooses what they name
  std::string out;
  for (size_t i = 0, n = r == nullptr ? 0 : credence_result_limit_count(r); i < n; ++i) {
    out += out.empty() ? " limits=\"" : "; ";
    for (const char* c = credence_result_limit(r, i); *c != '\0'; ++c) {
      out.push_back(*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\' ? '?' : *c);
    }
    if (out.size() > kMaxLimits) {
      out.resize(kMaxLimits);
      out += "...";
      break;
    }
  }
  if (!out.empty()) out += '"';
  return out;
}

std::string DkimDomains(const credence_result_t* r) {
  std::string out;
  for (size_t i = 0, n = credence_result_dkim_count(r); i < n; ++i) {
    if (i > 0) out += ' ';
    out += credence_result_dkim_result(r, i);
    out += ':';
    out += credence_result_dkim_domain(r, i);
  }
  return out;
}

std::string SymbolSummary(const credence_result_t* r) {
  std::string out;
  for (size_t i = 0, n = credence_result_symbol_count(r); i < n; ++i) {
    if (i > 0) out += ' ';
    char weight[32];
    std::snprintf(weight, sizeof weight, "(%g)", credence_result_symbol_weight(r, i));
    out += credence_result_symbol_name(r, i);
    out += weight;
  }
  return out;
}

// 127.0.0.0/8, ::1, or 127.x written as an IPv4-mapped IPv6 address (any case).
bool IsLoopback(std::string_view ip) {
  std::string lower(ip.substr(0, 16));
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  const std::string_view l = lower;
  return l.substr(0, 4) == "127." || ip == "::1" || l.substr(0, 11) == "::ffff:127.";
}

std::string DmarcAction(const credence_result_t* r, std::string_view client_ip) {
  if (r == nullptr) return "none";
  // A loopback client the site allowlists ([allowlist] networks: local submission, a content
  // filter reinjecting) is never refused or deferred for DMARC: its mail is signed on the way
  // out, after this check. Only loopback: an inbound relay in the allowlist still passes on
  // spoofs from outside. Not when the site weighs the allowlist 0 or more.
  if (IsLoopback(client_ip)) {
    for (size_t i = 0, n = credence_result_symbol_count(r); i < n; ++i) {
      if (std::string_view(credence_result_symbol_name(r, i)) == "CREDENCE_ALLOWLIST_IP" &&
          credence_result_symbol_weight(r, i) < 0) {
        return "none";
      }
    }
  }
  const char* disposition = credence_result_dmarc_disposition(r);
  if (disposition != nullptr && std::string_view(disposition) == "reject") {
    // A trusted sealer would have overridden it but its chain could not be checked (DNS):
    // try again later rather than refuse what may be a list's real mail.
    for (size_t i = 0, n = credence_result_symbol_count(r); i < n; ++i) {
      if (std::string_view(credence_result_symbol_name(r, i)) == "CREDENCE_ARC_TRUSTED_DNSFAIL") {
        return "defer";
      }
    }
    return "reject";
  }
  bool defer = false;
  for (size_t i = 0, n = credence_result_symbol_count(r); i < n; ++i) {
    // A site that weighs one of these 0 ([score.weights]) does not want it enforced either.
    if (!(credence_result_symbol_weight(r, i) > 0)) continue;
    const std::string_view name = credence_result_symbol_name(r, i);
    if (name == "CREDENCE_DMARC_MULTIPLE_FROM" || name == "CREDENCE_DMARC_BAD_FROM" ||
        name == "CREDENCE_DMARC_PARTIAL_REJECT") {
      return "reject";
    }
    defer = defer || name == "CREDENCE_DMARC_TEMPERROR_REJECT";
  }
  return defer ? "defer" : "none";
}

std::string DmarcReasonForLog(const credence_result_t* r) {
  const char* result = credence_result_dmarc(r);
  const char* reason = credence_result_dmarc_reason(r);
  if (result == nullptr || reason == nullptr || *reason == '\0') return "";
  std::string_view verdict = result;
  if (verdict != "temperror" && verdict != "permerror") return "";
  constexpr size_t kMaxReason = 512;
  constexpr std::string_view kPrefix = " dmarc_reason=\"";
  std::string out(kPrefix);
  for (std::string_view v = reason; !v.empty() && out.size() < kPrefix.size() + kMaxReason;
       v.remove_prefix(1)) {
    const char c = v.front();
    out.push_back(c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? '?' : c);
  }
  out.push_back('"');
  return out;
}

std::string TenthsToDecimal(long tenths) {
  unsigned long magnitude =
      tenths < 0 ? 0ul - static_cast<unsigned long>(tenths) : static_cast<unsigned long>(tenths);
  std::string out = tenths < 0 ? "-" : "";
  out += std::to_string(magnitude / 10) + "." + std::to_string(magnitude % 10);
  return out;
}

}  // namespace credence::exim
