#include "history/codec.h"

#include <charconv>

namespace credence::history {
namespace {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string EncodeLines(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) out += '\n';
    out += v;
  }
  return out;
}

std::vector<std::string> DecodeLines(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view l : SplitLines(text)) out.emplace_back(l);
  return out;
}

std::string EncodeDkim(const std::vector<HistoryDkim>& dkim) {
  std::string out;
  for (const HistoryDkim& d : dkim) {
    if (!out.empty()) out += '\n';
    out += d.domain + ' ' + d.selector + ' ' + d.result;
  }
  return out;
}

std::vector<HistoryDkim> DecodeDkim(std::string_view text) {
  std::vector<HistoryDkim> out;
  for (std::string_view l : SplitLines(text)) {
    size_t a = l.find(' ');
    size_t b = a == std::string_view::npos ? a : l.find(' ', a + 1);
    if (b == std::string_view::npos || l.find(' ', b + 1) != std::string_view::npos) continue;
    out.push_back({std::string(l.substr(0, a)), std::string(l.substr(a + 1, b - a - 1)),
                   std::string(l.substr(b + 1))});
  }
  return out;
}

std::string SchemaSql(std::string_view id_type) {
  std::string s =
      "CREATE TABLE IF NOT EXISTS credence_history ("
      " id " +
      std::string(id_type) +
      ","
      " time BIGINT NOT NULL, source_ip TEXT NOT NULL, envelope_from TEXT NOT NULL,"
      " envelope_to TEXT NOT NULL, header_from TEXT NOT NULL, org_domain TEXT NOT NULL,"
      " policy_domain TEXT NOT NULL, p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL,"
      " adkim TEXT NOT NULL, aspf TEXT NOT NULL, testing INTEGER NOT NULL, fo TEXT NOT NULL,"
      " discovery TEXT NOT NULL, rua TEXT NOT NULL, dkim TEXT NOT NULL,"
      " spf_domain TEXT NOT NULL, spf_scope TEXT NOT NULL, spf_result TEXT NOT NULL,"
      " dmarc TEXT NOT NULL, dkim_aligned INTEGER NOT NULL, spf_aligned INTEGER NOT NULL,"
      " disposition TEXT NOT NULL, override_type TEXT NOT NULL,"
      " override_comment TEXT NOT NULL, is_report INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS credence_history_time ON credence_history (time);"
      "CREATE TABLE IF NOT EXISTS credence_report_state ("
      " policy_domain TEXT NOT NULL, period_begin BIGINT NOT NULL, period_end BIGINT NOT NULL,"
      " report_id TEXT NOT NULL, state TEXT NOT NULL,"
      " PRIMARY KEY (policy_domain, period_begin));";
  return s;
}

std::vector<std::string> ToColumns(const HistoryRecord& r) {
  auto b = [](bool v) { return std::string(v ? "1" : "0"); };
  return {std::to_string(r.time),
          r.source_ip,
          r.envelope_from,
          r.envelope_to,
          r.header_from,
          r.org_domain,
          r.policy_domain,
          r.p,
          r.sp,
          r.np,
          r.adkim,
          r.aspf,
          b(r.testing),
          r.fo,
          r.discovery,
          EncodeLines(r.rua),
          EncodeDkim(r.dkim),
          r.spf_domain,
          r.spf_scope,
          r.spf_result,
          r.dmarc,
          b(r.dkim_aligned),
          b(r.spf_aligned),
          r.disposition,
          r.override_type,
          r.override_comment,
          b(r.is_report)};
}

bool FromColumns(const std::vector<std::string>& c, HistoryRecord* r) {
  if (c.size() != static_cast<size_t>(kColumnCount)) return false;
  int64_t testing = 0, dkim_aligned = 0, spf_aligned = 0, is_report = 0;
  if (!ParseInt(c[0], &r->time) || !ParseInt(c[12], &testing) || !ParseInt(c[21], &dkim_aligned) ||
      !ParseInt(c[22], &spf_aligned) || !ParseInt(c[26], &is_report)) {
    return false;
  }
  r->source_ip = c[1];
  r->envelope_from = c[2];
  r->envelope_to = c[3];
  r->header_from = c[4];
  r->org_domain = c[5];
  r->policy_domain = c[6];
  r->p = c[7];
  r->sp = c[8];
  r->np = c[9];
  r->adkim = c[10];
  r->aspf = c[11];
  r->testing = testing != 0;
  r->fo = c[13];
  r->discovery = c[14];
  r->rua = DecodeLines(c[15]);
  r->dkim = DecodeDkim(c[16]);
  r->spf_domain = c[17];
  r->spf_scope = c[18];
  r->spf_result = c[19];
  r->dmarc = c[20];
  r->dkim_aligned = dkim_aligned != 0;
  r->spf_aligned = spf_aligned != 0;
  r->disposition = c[23];
  r->override_type = c[24];
  r->override_comment = c[25];
  r->is_report = is_report != 0;
  return true;
}

}  // namespace credence::history
