#include "evaluation_json.h"

#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>

namespace credence {
namespace {

using nlohmann::json;

template <typename T>
json OptionalJson(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json DkimResultToJson(const DkimResult& r) {
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
  j["header_b"] = r.signature_b.substr(0, 8);  // RFC 6008 §4: header.b prefix, as in A-R
  j["header_index"] = r.header_index;
  return j;
}

json SpfResultToJson(const SpfResult& r) {
  json j = json::object();
  j["result"] = std::string(SpfVerdictName(r.result));
  j["identity"] = r.identity;
  j["domain"] = r.domain;
  j["sender"] = r.sender;
  j["explanation"] = r.explanation;
  j["detail"] = r.detail;
  j["dns_queries"] = r.dns_queries;
  j["limit_reached"] = r.limit_reached;
  return j;
}

// RFC 7489 §6.7 local policy (the trusted-sealer override), as aggregate reports name it.
json LocalPolicyToJson(const DmarcResult& r) {
  if (!r.arc_override) return nullptr;
  json j = json::object();
  j["type"] = "local_policy";
  j["comment"] = "arc=pass";
  j["sealer"] = r.arc_override_sealer;
  j["instance"] = r.arc_override_instance;
  j["evidence"] = r.arc_override_evidence;
  j["disposition_before"] = std::string(DmarcDispositionName(r.disposition_before_override));
  return j;
}

json ArcResultToJson(const ArcResult& r) {
  json j = json::object();
  j["result"] = std::string(ArcVerdictName(r.result));
  j["reason"] = std::string(ArcReasonName(r.reason));
  j["detail"] = r.detail;
  j["oldest_pass"] = r.oldest_pass;
  j["sealers"] = r.Sealers();
  json sets = json::array();
  for (const ArcSet& s : r.sets) {
    json o = json::object();
    o["instance"] = s.instance;
    o["cv"] = s.cv;
    o["authserv_id"] = s.authserv_id;
    o["seal_domain"] = s.seal.domain;
    o["seal_selector"] = s.seal.selector;
    o["seal_result"] = std::string(DkimVerdictName(s.seal.result));
    o["ams_domain"] = s.message_signature.domain;
    o["ams_selector"] = s.message_signature.selector;
    o["ams_result"] = std::string(DkimVerdictName(s.message_signature.result));
    sets.push_back(std::move(o));
  }
  j["sets"] = std::move(sets);
  return j;
}

json DmarcResultToJson(const DmarcResult& r) {
  json j = json::object();
  j["result"] = std::string(DmarcVerdictName(r.verdict));
  j["domain"] = r.from_domain;
  j["org_domain"] = r.org_domain;
  j["record_domain"] = r.record_domain;
  j["policy"] = r.has_record ? json(std::string(DmarcPolicyName(r.requested))) : json(nullptr);
  j["policy_tag"] = std::string(DmarcPolicyTagName(r.policy_tag));
  j["disposition"] = std::string(DmarcDispositionName(r.disposition));
  j["testing"] = r.testing;
  j["sampled_out"] = r.sampled_out;
  j["non_existent"] = r.non_existent;
  j["dkim_aligned"] = r.dkim_aligned;
  j["spf_aligned"] = r.spf_aligned;
  j["aligned_dkim_domain"] = r.aligned_dkim_domain;
  j["reason"] = r.reason;
  j["dns_queries"] = r.dns_queries;
  j["from_problem"] = std::string(DmarcFromProblemName(r.from_problem));
  j["temporary_identifier"] = r.temporary_identifier;
  j["limit_reached"] = r.limit_reached;
  j["local_policy"] = LocalPolicyToJson(r);
  if (r.has_record) {
    const DmarcRecord& rec = r.record;
    json t = json::object();
    t["p"] = std::string(DmarcPolicyName(rec.p));
    t["sp"] = rec.sp ? json(std::string(DmarcPolicyName(*rec.sp))) : json(nullptr);
    t["np"] = rec.np ? json(std::string(DmarcPolicyName(*rec.np))) : json(nullptr);
    t["adkim"] = std::string(DmarcAlignmentModeName(rec.adkim));
    t["aspf"] = std::string(DmarcAlignmentModeName(rec.aspf));
    t["t"] = rec.t;
    t["psd"] = std::string(DmarcPsdName(rec.psd));
    t["pct"] = rec.pct;
    t["fo"] = rec.fo;
    t["rua"] = rec.rua;
    t["ruf"] = rec.ruf;
    t["warnings"] = rec.warnings;
    j["record"] = std::move(t);
  } else {
    j["record"] = nullptr;
  }
  return j;
}

json EvaluationToJson(const Evaluation& ev) {
  json j = json::object();
  json sigs = json::array();
  for (const DkimResult& r : ev.dkim) sigs.push_back(DkimResultToJson(r));
  j["dkim"] = std::move(sigs);
  j["arc"] = ArcResultToJson(ev.arc);
  j["spf"] = SpfResultToJson(ev.spf_mailfrom);
  j["spf_helo"] = SpfResultToJson(ev.spf_helo);
  j["dmarc"] = DmarcResultToJson(ev.dmarc);
  j["authentication_results"] = ev.authres.value;
  j["limits"] = ev.limits;
  j["score"] = ev.score.score;
  json symbols = json::array();
  for (const ScoreSymbol& s : ev.score.symbols)
    symbols.push_back({{"name", s.name}, {"weight", s.weight}, {"description", s.description}});
  j["symbols"] = std::move(symbols);
  j["forged_authentication_results"] = ev.forged_authres;
  return j;
}

std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- The direct writer ----

namespace {

// nlohmann's UTF-8 decoder (serializer::decode, Bjoern Hoehrmann's DFA), copied so that every
// invalid sequence is cut where nlohmann cuts it. Rows: byte -> character class, then
// state * 16 + class -> next state.
constexpr uint8_t kUtf8Accept = 0;
constexpr uint8_t kUtf8Reject = 1;
constexpr std::array<uint8_t, 400> kUtf8Dfa = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0xA, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x4, 0x3, 0x3,
    0xB, 0x6, 0x6, 0x6, 0x5, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8,
    0x0, 0x1, 0x2, 0x3, 0x5, 0x8, 0x7, 0x1, 0x1, 0x1, 0x4, 0x6, 0x1, 0x1, 0x1, 0x1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1,
    1, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1,
    1, 3, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

// Bytes copied as they are when no multi-byte sequence is open: printable ASCII but '"' and
// '\', and DEL.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int b = 0x20; b < 0x80; ++b) t[b] = b != '"' && b != '\\';
  return t;
}();

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// serializer::dump_escaped with ensure_ascii=false and error_handler_t::replace, writing
// straight into `out`. Only the last code point is ever taken back (on a rejected byte), so
// the position after the last accepted code point stands in for nlohmann's
// bytes_after_last_accept (its buffer flushes only after an accept or a replacement).
void AppendEscaped(std::string_view s, std::string* out) {
  uint8_t state = kUtf8Accept;
  size_t after_last_accept = out->size();
  size_t undumped = 0;  // bytes of the open sequence
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    if (state == kUtf8Accept) {
      // Fast path: a run of bytes that are copied as they are.
      size_t j = i;
      while (j < n && kPlainByte[static_cast<uint8_t>(s[j])]) ++j;
      if (j > i) {
        out->append(s.data() + i, j - i);
        after_last_accept = out->size();
        if (j == n) break;
        i = j;
      }
    }
    const uint8_t byte = static_cast<uint8_t>(s[i]);
    const uint8_t type = kUtf8Dfa[byte];
    // The code point itself only matters below 0x20, i.e. for a one-byte sequence.
    state = kUtf8Dfa[256 + state * 16 + type];
    if (state == kUtf8Accept) {
      if (undumped == 0 && byte < 0x80) {
        switch (byte) {
          case '\b': out->append("\\b"); break;
          case '\t': out->append("\\t"); break;
          case '\n': out->append("\\n"); break;
          case '\f': out->append("\\f"); break;
          case '\r': out->append("\\r"); break;
          case '"': out->append("\\\""); break;
          case '\\': out->append("\\\\"); break;
          default:
            if (byte <= 0x1F) {
              static constexpr char kHex[] = "0123456789abcdef";
              const char esc[6] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xF]};
              out->append(esc, 6);
            } else {
              out->push_back(static_cast<char>(byte));
            }
        }
      } else {
        out->push_back(static_cast<char>(byte));  // the sequence's earlier bytes are out
      }
      after_last_accept = out->size();
      undumped = 0;
    } else if (state == kUtf8Reject) {
      // Read this byte again when it broke an open sequence: it may start a valid one.
      if (undumped > 0) --i;
      out->resize(after_last_accept);
      out->append(kReplacement);
      after_last_accept = out->size();
      undumped = 0;
      state = kUtf8Accept;
    } else {
      out->push_back(static_cast<char>(byte));
      ++undumped;
    }
  }
  if (state != kUtf8Accept) {  // the string ended inside a sequence
    out->resize(after_last_accept);
    out->append(kReplacement);
  }
}

template <std::integral T>
void AppendInteger(T v, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

// One JSON object being written: '{' now, '}' at End(). Keys must come in byte order, the
// order of nlohmann's std::map; Key() takes literals that need no escaping.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;
  void End() { out_->push_back('}'); }

  // Writes `"key":` and returns the string to append the value to.
  std::string* Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
    return out_;
  }
  // Same for a key that may need escaping.
  std::string* EscapedKey(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    AppendJsonString(key, out_);
    out_->push_back(':');
    return out_;
  }
  void String(std::string_view key, std::string_view v) { AppendJsonString(v, Key(key)); }
  void Bool(std::string_view key, bool v) { Key(key)->append(v ? "true" : "false"); }
  void Null(std::string_view key) { Key(key)->append("null"); }
  template <std::integral T>
  void Integer(std::string_view key, T v) {
    AppendInteger(v, Key(key));
  }
  template <std::integral T>
  void Integer(std::string_view key, const std::optional<T>& v) {
    if (v) {
      AppendInteger(*v, Key(key));
    } else {
      Null(key);
    }
  }
  void Strings(std::string_view key, const std::vector<std::string>& v) {
    std::string* out = Key(key);
    out->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out->push_back(',');
      AppendJsonString(v[i], out);
    }
    out->push_back(']');
  }

 private:
  std::string* out_;
  bool first_ = true;
};

// Keys in byte order, as in DkimResultToJson.
void AppendDkim(const DkimResult& r, std::string* out) {
  ObjectWriter o(out);
  o.String("algorithm", r.algorithm);
  o.Integer("body_length", r.body_length);
  o.String("canonicalization", r.canonicalization);
  o.String("detail", r.detail);
  o.String("domain", r.domain);
  o.Integer("expiration", r.expiration);
  // RFC 6008 §4: header.b prefix, as in A-R (substr: the bytes, even mid-character).
  o.String("header_b", std::string_view(r.signature_b).substr(0, 8));
  o.Integer("header_index", r.header_index);
  o.String("identity", r.identity);
  o.Integer("key_bits", r.key_bits);
  o.String("reason", DkimReasonName(r.reason));
  o.String("result", DkimVerdictName(r.result));
  o.String("selector", r.selector);
  o.Strings("signed_headers", r.signed_headers);
  o.Bool("testing", r.testing);
  o.Integer("timestamp", r.timestamp);
  o.Integer("unsigned_body_bytes", r.unsigned_body_bytes);
  o.End();
}

// Keys in byte order, as in SpfResultToJson.
void AppendSpf(const SpfResult& r, std::string* out) {
  ObjectWriter o(out);
  o.String("detail", r.detail);
  o.Integer("dns_queries", r.dns_queries);
  o.String("domain", r.domain);
  o.String("explanation", r.explanation);
  o.String("identity", r.identity);
  o.Bool("limit_reached", r.limit_reached);
  o.String("result", SpfVerdictName(r.result));
  o.String("sender", r.sender);
  o.End();
}

// Keys in byte order, as in DmarcResultToJson.
void AppendDmarcRecord(const DmarcRecord& rec, std::string* out) {
  ObjectWriter t(out);
  t.String("adkim", DmarcAlignmentModeName(rec.adkim));
  t.String("aspf", DmarcAlignmentModeName(rec.aspf));
  t.String("fo", rec.fo);
  if (rec.np) {
    t.String("np", DmarcPolicyName(*rec.np));
  } else {
    t.Null("np");
  }
  t.String("p", DmarcPolicyName(rec.p));
  t.Integer("pct", rec.pct);
  t.String("psd", DmarcPsdName(rec.psd));
  t.Strings("rua", rec.rua);
  t.Strings("ruf", rec.ruf);
  if (rec.sp) {
    t.String("sp", DmarcPolicyName(*rec.sp));
  } else {
    t.Null("sp");
  }
  t.Bool("t", rec.t);
  t.Strings("warnings", rec.warnings);
  t.End();
}

void AppendArc(const ArcResult& r, std::string* out) {
  ObjectWriter o(out);
  o.String("detail", r.detail);
  o.Integer("oldest_pass", r.oldest_pass);
  o.String("reason", ArcReasonName(r.reason));
  o.String("result", ArcVerdictName(r.result));
  o.Strings("sealers", r.Sealers());
  std::string* sets = o.Key("sets");
  sets->push_back('[');
  for (size_t i = 0; i < r.sets.size(); ++i) {
    if (i > 0) sets->push_back(',');
    const ArcSet& s = r.sets[i];
    ObjectWriter w(sets);
    w.String("ams_domain", s.message_signature.domain);
    w.String("ams_result", DkimVerdictName(s.message_signature.result));
    w.String("ams_selector", s.message_signature.selector);
    w.String("authserv_id", s.authserv_id);
    w.String("cv", s.cv);
    w.Integer("instance", s.instance);
    w.String("seal_domain", s.seal.domain);
    w.String("seal_result", DkimVerdictName(s.seal.result));
    w.String("seal_selector", s.seal.selector);
    w.End();
  }
  sets->push_back(']');
  o.End();
}

void AppendDmarc(const DmarcResult& r, std::string* out) {
  ObjectWriter o(out);
  o.String("aligned_dkim_domain", r.aligned_dkim_domain);
  o.String("disposition", DmarcDispositionName(r.disposition));
  o.Bool("dkim_aligned", r.dkim_aligned);
  o.Integer("dns_queries", r.dns_queries);
  o.String("domain", r.from_domain);
  o.String("from_problem", DmarcFromProblemName(r.from_problem));
  o.Bool("limit_reached", r.limit_reached);
  if (r.arc_override) {
    ObjectWriter l(o.Key("local_policy"));
    l.String("comment", "arc=pass");
    l.String("disposition_before", DmarcDispositionName(r.disposition_before_override));
    l.String("evidence", r.arc_override_evidence);
    l.Integer("instance", r.arc_override_instance);
    l.String("sealer", r.arc_override_sealer);
    l.String("type", "local_policy");
    l.End();
  } else {
    o.Null("local_policy");
  }
  o.Bool("non_existent", r.non_existent);
  o.String("org_domain", r.org_domain);
  if (r.has_record) {
    o.String("policy", DmarcPolicyName(r.requested));
  } else {
    o.Null("policy");
  }
  o.String("policy_tag", DmarcPolicyTagName(r.policy_tag));
  o.String("reason", r.reason);
  if (r.has_record) {
    AppendDmarcRecord(r.record, o.Key("record"));
  } else {
    o.Null("record");
  }
  o.String("record_domain", r.record_domain);
  o.String("result", DmarcVerdictName(r.verdict));
  o.Bool("sampled_out", r.sampled_out);
  o.Bool("spf_aligned", r.spf_aligned);
  o.String("temporary_identifier", r.temporary_identifier);
  o.Bool("testing", r.testing);
  o.End();
}

// Room for the object: its fixed text plus every string at its plain length (escapes and
// replacements may still grow the string, rarely).
size_t EstimateSize(const Evaluation& ev, std::span<const JsonMember> extra) {
  auto strings = [](const std::vector<std::string>& v) {
    size_t n = 0;
    for (const std::string& s : v) n += s.size() + 3;
    return n;
  };
  size_t n = 1024 + ev.authres.value.size() + 24 * ev.forged_authres.size() +
             strings(ev.limits);
  for (const DkimResult& r : ev.dkim) {
    n += 420 + r.detail.size() + r.domain.size() + r.selector.size() + r.algorithm.size() +
         r.canonicalization.size() + r.identity.size() + strings(r.signed_headers);
  }
  for (const SpfResult* r : {&ev.spf_mailfrom, &ev.spf_helo}) {
    n += r->domain.size() + r->sender.size() + r->explanation.size() + r->detail.size();
  }
  n += 160 + ev.arc.detail.size();
  for (const ArcSet& s : ev.arc.sets) {
    n += 240 + 2 * s.seal.domain.size() + s.seal.selector.size() + s.authserv_id.size() +
         s.message_signature.domain.size() + s.message_signature.selector.size();
  }
  const DmarcResult& d = ev.dmarc;
  n += 200 + d.arc_override_sealer.size() + d.arc_override_evidence.size() + d.from_domain.size() + d.org_domain.size() + d.record_domain.size() +
       d.aligned_dkim_domain.size() + d.reason.size();
  if (d.has_record) {
    n += 160 + d.record.fo.size() + strings(d.record.rua) + strings(d.record.ruf) +
         strings(d.record.warnings);
  }
  for (const ScoreSymbol& s : ev.score.symbols) {
    n += 64 + s.name.size() + s.description.size();
  }
  for (const JsonMember& m : extra) n += m.key.size() + m.value.size() + 8;
  return n;
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  AppendEscaped(text, out);
  out->push_back('"');
}

void AppendJsonNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  // nlohmann's own formatter (serializer::dump_float calls it with its 64-byte buffer).
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, end);
}

void AppendEvaluationJson(const Evaluation& ev, std::span<const JsonMember> extra,
                          std::string* out) {
  out->reserve(out->size() + EstimateSize(ev, extra));
  ObjectWriter o(out);
  // Writes, in key order, the extra members whose keys sort before `next_key` (all that are
  // left when `next_key` is null). Few members: pick the next one by scanning.
  const JsonMember* last = nullptr;  // the last extra member written
  auto extras_before = [&](const char* next_key) {
    for (;;) {
      const JsonMember* pick = nullptr;
      for (const JsonMember& m : extra) {
        if ((last == nullptr || m.key > last->key) && (next_key == nullptr || m.key < next_key) &&
            (pick == nullptr || m.key < pick->key)) {
          pick = &m;
        }
      }
      if (pick == nullptr) return;
      last = pick;
      std::string* value = o.EscapedKey(pick->key);
      if (pick->is_string) {
        AppendJsonString(pick->value, value);
      } else {
        value->append(pick->value);
      }
    }
  };
  // Keys in byte order, as in EvaluationToJson.
  extras_before("arc");
  AppendArc(ev.arc, o.Key("arc"));
  extras_before("authentication_results");
  o.String("authentication_results", ev.authres.value);
  extras_before("dkim");
  std::string* dkim = o.Key("dkim");
  dkim->push_back('[');
  for (size_t i = 0; i < ev.dkim.size(); ++i) {
    if (i > 0) dkim->push_back(',');
    AppendDkim(ev.dkim[i], dkim);
  }
  dkim->push_back(']');
  extras_before("dmarc");
  AppendDmarc(ev.dmarc, o.Key("dmarc"));
  extras_before("forged_authentication_results");
  std::string* forged = o.Key("forged_authentication_results");
  forged->push_back('[');
  for (size_t i = 0; i < ev.forged_authres.size(); ++i) {
    if (i > 0) forged->push_back(',');
    AppendInteger(ev.forged_authres[i], forged);
  }
  forged->push_back(']');
  extras_before("limits");
  o.Strings("limits", ev.limits);
  extras_before("score");
  AppendJsonNumber(ev.score.score, o.Key("score"));
  extras_before("spf");
  AppendSpf(ev.spf_mailfrom, o.Key("spf"));
  extras_before("spf_helo");
  AppendSpf(ev.spf_helo, o.Key("spf_helo"));
  extras_before("symbols");
  std::string* symbols = o.Key("symbols");
  symbols->push_back('[');
  for (size_t i = 0; i < ev.score.symbols.size(); ++i) {
    if (i > 0) symbols->push_back(',');
    const ScoreSymbol& s = ev.score.symbols[i];
    ObjectWriter sym(symbols);
    sym.String("description", s.description);
    sym.String("name", s.name);
    AppendJsonNumber(s.weight, sym.Key("weight"));
    sym.End();
  }
  symbols->push_back(']');
  extras_before(nullptr);
  o.End();
}

void AppendEvaluationJson(const Evaluation& ev, std::string* out) {
  AppendEvaluationJson(ev, {}, out);
}

}  // namespace credence
