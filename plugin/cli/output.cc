#include "output.h"

#include <array>
#include <charconv>
#include <ctime>
#include <cstdio>
#include <string_view>
#include <vector>

#include "common/evaluation_json.h"
#include "common/json_tree.h"  // the JSON door: nlohmann::json
#include "credence/utf8.h"

namespace credence::cli {
namespace {

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

std::string Padded(std::string_view verdict) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%-10s", std::string(verdict).c_str());
  return buf;
}

void AppendSignatureLine(const DkimResult& r, std::string* out) {
  *out += "  " + Padded(DkimVerdictName(r.result));
  *out += "d=" + Dash(r.domain) + " s=" + Dash(r.selector) + " a=" + Dash(r.algorithm) +
          " c=" + Dash(r.canonicalization);
  if (!r.identity.empty() && r.identity != "@" + r.domain) *out += " i=" + Printable(r.identity);
  if (r.key_bits > 0) {
    *out += ", " + std::to_string(r.key_bits) + "-bit " +
            (r.algorithm.rfind("ed25519", 0) == 0 ? "Ed25519 key" : "key");
  }
  if (r.testing) *out += ", testing (key t=y)";
  if (r.body_length) {
    *out += ", l=" + std::to_string(*r.body_length);
    if (r.unsigned_body_bytes > 0)
      *out += " (" + std::to_string(r.unsigned_body_bytes) + " body bytes unsigned)";
  }
  if (!r.unsigned_fields.empty()) {
    *out += ", unsigned instance of";
    for (const std::string& f : r.unsigned_fields) *out += " " + f;
  }
  if (r.reason != DkimReason::kNone) {
    *out += ": ";
    *out += DkimReasonName(r.reason);
    if (!r.detail.empty()) *out += " (" + Printable(r.detail) + ")";
  }
  *out += '\n';
}

// {"client_ip":..,"found":true,"helo":..,"mail_from":..} or {"found":false,"note":..}: the
// envelope taken from the Received field (--envelope received).
std::string EnvelopeJson(const DeliveredEnvelope& d) {
  std::string out = "{";
  if (d.found) {
    out += "\"client_ip\":";
    AppendJsonString(d.envelope.client_ip, &out);
    out += ",\"found\":true,\"helo\":";
    AppendJsonString(d.envelope.helo, &out);
    out += ",\"mail_from\":";
    AppendJsonString(d.envelope.mail_from, &out);
  } else {
    out += "\"found\":false,\"note\":";
    AppendJsonString(d.note, &out);
  }
  return out + "}";
}

// {"differences":[{"identity","method","now","then"}...],"found":true,"recorded":..,
// "same":bool} or {"found":false,"note":..}.
std::string ComparisonJson(const AuthResComparison& c) {
  std::string out = "{";
  if (!c.found) {
    out += "\"found\":false,\"note\":";
    AppendJsonString(c.note, &out);
    return out + "}";
  }
  out += "\"differences\":[";
  for (size_t i = 0; i < c.differences.size(); ++i) {
    const AuthResDifference& d = c.differences[i];
    if (i > 0) out += ',';
    out += "{\"identity\":";
    AppendJsonString(d.identity, &out);
    out += ",\"method\":";
    AppendJsonString(d.method, &out);
    out += ",\"now\":";
    AppendJsonString(d.now, &out);
    out += ",\"then\":";
    AppendJsonString(d.then, &out);
    out += '}';
  }
  out += "],\"found\":true,\"recorded\":";
  AppendJsonString(c.recorded, &out);
  out += c.differences.empty() ? ",\"same\":true}" : ",\"same\":false}";
  return out;
}

// The text line of --compare-authres.
std::string ComparisonText(const AuthResComparison& c) {
  std::string out = "  recorded  ";
  if (!c.found) return out + "none: " + Printable(c.note) + "\n";
  if (c.differences.empty()) return out + "same verdicts as at delivery\n";
  out += "differs from delivery:";
  for (size_t i = 0; i < c.differences.size(); ++i) {
    const AuthResDifference& d = c.differences[i];
    out += i == 0 ? " " : "; ";
    out += d.method;
    if (!d.identity.empty()) out += " " + Printable(d.identity);
    out += ": " + Printable(d.then) + " -> " + Printable(d.now);
  }
  return out + "\n";
}

// A CSV field: RFC 4180 quoting when it holds ',' or '"'; control bytes as in Printable; and
// each invalid UTF-8 sequence (a file name is any bytes) replaced by one U+FFFD exactly as the
// JSON output replaces it, so the two formats name a file alike and a CSV reader that
// expects UTF-8 does not stop on the row. (Read back through the JSON door: a rare path.)
std::string CsvField(std::string_view s) {
  std::string text = Printable(s);
  if (!IsUtf8(text)) {
    std::string quoted;
    AppendJsonString(text, &quoted);
    const nlohmann::json j = nlohmann::json::parse(quoted, nullptr, false);
    text = j.is_string() ? j.get<std::string>() : std::string();
  }
  if (text.find_first_of(",\"") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// "2023-11-14T22:15:00Z".
std::string UtcTime(int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  char date[32];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(seconds);
  }
  return date;
}

}  // namespace

const char kCsvHeader[] =
    "file,error,evaluated_at,evaluated_at_source,from_domain,dmarc,disposition,dkim,spf,score,"
    "dkim_cause\r\n";

std::string FormatCsvLine(const ItemResult& r) {
  std::string out = CsvField(r.name) + ",";
  if (!r.error.ok()) return out + CsvField(r.error.message()) + ",,,,,,,,,\r\n";
  const Evaluation& ev = r.evaluation;
  std::string dkim;
  for (const DkimResult& d : ev.dkim) {
    if (!dkim.empty()) dkim += "; ";
    dkim += std::string(DkimVerdictName(d.result)) + " d=" + d.domain + " s=" + d.selector;
    if (d.reason != DkimReason::kNone) dkim += " " + std::string(DkimReasonName(d.reason));
  }
  // Why a hash failed, for the signatures where that could be told (issue 17).
  std::string causes;
  for (size_t k = 0; k < ev.dkim.size() && k < r.dkim_causes.size(); ++k) {
    if (r.dkim_causes[k].sentence.empty()) continue;
    if (!causes.empty()) causes += "; ";
    causes += "d=" + ev.dkim[k].domain + " s=" + ev.dkim[k].selector + ": " +
              Printable(r.dkim_causes[k].sentence);
  }
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", ev.score.score);
  out += "," + UtcTime(r.evaluated_at) + "," + TimeSourceName(r.evaluated_at_source) + "," +
         CsvField(ev.dmarc.from_domain) + "," + std::string(DmarcVerdictName(ev.dmarc.verdict)) +
         "," + std::string(DmarcDispositionName(ev.dmarc.disposition)) + "," + CsvField(dkim) +
         "," + (ev.spf_evaluated ? std::string(SpfVerdictName(ev.spf_mailfrom.result)) : "") +
         "," + score + "," + CsvField(causes) + "\r\n";
  return out;
}

std::string FormatJsonLine(const ItemResult& r) {
  std::string out;
  if (!r.error.ok()) {
    out = "{\"error\":";  // keys in byte order, as nlohmann's sorted object prints them
    AppendJsonString(r.error.message(), &out);
    out += ",\"file\":";
    AppendJsonString(r.name, &out);
    out += "}\n";
    return out;
  }
  char at[24];
  std::string_view evaluated_at(at, std::to_chars(at, at + sizeof at, r.evaluated_at).ptr - at);
  // At most five members: on the stack (a vector cost an allocation per line).
  std::array<JsonMember, 5> extra = {
      JsonMember::String("file", r.name), JsonMember::Raw("evaluated_at", evaluated_at),
      JsonMember::String("evaluated_at_source", TimeSourceName(r.evaluated_at_source))};
  size_t extras = 3;
  std::string envelope, comparison;
  if (r.delivered) {
    envelope = EnvelopeJson(*r.delivered);
    extra[extras++] = JsonMember::Raw("envelope", envelope);
  }
  if (r.comparison) {
    comparison = ComparisonJson(*r.comparison);
    extra[extras++] = JsonMember::Raw("compare_authres", comparison);
  }
  AppendEvaluationJson(r.evaluation, std::span(extra.data(), extras), &out);
  out += '\n';
  return out;
}

std::string FormatText(const ItemResult& r) {
  std::string out = Printable(r.name) + ": ";
  if (!r.error.ok()) return out + "error: " + Printable(r.error.message()) + "\n";
  const Evaluation& ev = r.evaluation;
  size_t n = ev.dkim.size();
  if (n == 0) {
    out += "no DKIM signature\n";
  } else {
    out += std::to_string(n) + (n == 1 ? " DKIM signature\n" : " DKIM signatures\n");
    for (const DkimResult& s : ev.dkim) AppendSignatureLine(s, &out);
  }
  const SpfResult& spf = ev.spf_mailfrom;
  out += "  spf       " + Padded(SpfVerdictName(spf.result));
  if (!ev.spf_evaluated) {
    out += r.delivered && !r.delivered->found
               ? "(not evaluated: no envelope: " + Printable(r.delivered->note) + ")"
               : std::string("(not evaluated: no --client-ip)");
  } else {
    out += spf.identity + "=" + Dash(spf.sender);
    if (!spf.explanation.empty()) out += ": " + Printable(spf.explanation);
    else if (!spf.detail.empty()) out += ": " + Printable(spf.detail);
  }
  out += '\n';
  if (r.delivered && r.delivered->found) {
    const Envelope& e = r.delivered->envelope;
    out += "  envelope  client-ip=" + Printable(e.client_ip) + " helo=" + Dash(e.helo) +
           " mail-from=<" + Printable(e.mail_from) + "> (from the topmost Received field)\n";
  }
  const DmarcResult& d = ev.dmarc;
  out += "  dmarc     " + Padded(DmarcVerdictName(d.verdict)) + "from=" + Dash(d.from_domain);
  if (d.has_record) {
    out += " policy=" + std::string(DmarcPolicyName(d.requested)) + " (" +
           std::string(DmarcPolicyTagName(d.policy_tag)) + " at " + Printable(d.record_domain) +
           (d.record_assumed ? ", assumed" : "") +
           ") disposition=" + std::string(DmarcDispositionName(d.disposition));
    if (d.testing) out += " testing";
  }
  if (d.dkim_aligned) out += ", dkim aligned (d=" + Printable(d.aligned_dkim_domain) + ")";
  if (d.spf_aligned) out += ", spf aligned";
  if (!d.reason.empty()) out += ": " + Printable(d.reason);
  out += '\n';
  char score[32];
  std::snprintf(score, sizeof score, "%+.2f", ev.score.score);
  out += "  score     " + std::string(score);
  for (const ScoreSymbol& s : ev.score.symbols) {
    char w[32];
    std::snprintf(w, sizeof w, "(%+.2f)", s.weight);
    out += " " + Printable(s.name) + w;
  }
  out += '\n';
  out += "  Authentication-Results:" + Printable(ev.authres.value) + "\n";
  if (r.comparison) out += ComparisonText(*r.comparison);
  return out;
}

}  // namespace credence::cli
