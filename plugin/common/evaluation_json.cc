#include "evaluation_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>

namespace credence {

namespace {

// UTF-8 as the Unicode Standard's Table 3-7 (well-formed byte sequences) allows it, read one
// byte at a time: a state says what the next byte may be. A byte that cannot come next is
// rejected at once, so an invalid sequence is cut at its first wrong byte: no overlong forms,
// no surrogates (ED A0..BF), nothing above U+10FFFF.
enum Utf8State : uint8_t {
  kUtf8Accept,  // between characters
  kUtf8Reject,  // the byte just read cannot be here
  kTail1,       // one more 80..BF
  kTail2,       // two more 80..BF
  kTail3,       // three more 80..BF
  kAfterE0,     // A0..BF, then one more (no overlong 3-byte form)
  kAfterED,     // 80..9F, then one more (no surrogates)
  kAfterF0,     // 90..BF, then two more (no overlong 4-byte form)
  kAfterF4,     // 80..8F, then two more (nothing above U+10FFFF)
};

Utf8State Utf8Step(Utf8State state, uint8_t byte) {
  if (state == kUtf8Accept) {
    if (byte < 0x80) return kUtf8Accept;
    if (byte < 0xC2) return kUtf8Reject;  // a lone tail byte, or an overlong 2-byte lead
    if (byte < 0xE0) return kTail1;
    if (byte == 0xE0) return kAfterE0;
    if (byte == 0xED) return kAfterED;
    if (byte < 0xF0) return kTail2;
    if (byte == 0xF0) return kAfterF0;
    if (byte < 0xF4) return kTail3;
    if (byte == 0xF4) return kAfterF4;
    return kUtf8Reject;
  }
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (state == kAfterE0) lo = 0xA0;
  if (state == kAfterED) hi = 0x9F;
  if (state == kAfterF0) lo = 0x90;
  if (state == kAfterF4) hi = 0x8F;
  if (byte < lo || byte > hi) return kUtf8Reject;
  switch (state) {
    case kTail1: return kUtf8Accept;
    case kTail2: case kAfterE0: case kAfterED: return kTail1;
    default: return kTail2;  // kTail3, kAfterF0, kAfterF4
  }
}

// Bytes copied as they are when no multi-byte sequence is open: printable ASCII but '"' and
// '\', and DEL.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int b = 0x20; b < 0x80; ++b) t[b] = b != '"' && b != '\\';
  return t;
}();

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// True when the eight bytes at `p` hold one that is not plain (kPlainByte): >= 0x80, < 0x20,
// '"' or '\\'. Each test sets the top bit of some byte exactly when the word has such a byte
// (borrows only make false hits above a true one, and a hit only sends the caller to its byte
// loop, which decides).
[[gnu::always_inline]] inline bool HasSpecialByte(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighs = 0x8080808080808080;
  auto has_zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return ((w & kHighs) | ((w - kOnes * 0x20) & ~w & kHighs) | has_zero_byte(w ^ (kOnes * '"')) |
          has_zero_byte(w ^ (kOnes * '\\'))) != 0;
}

// True when every byte of `s` is plain: the short strings of a line (most of its members) in
// one or two words when they have eight bytes or more, overlapping, else byte by byte.
[[gnu::always_inline]] inline bool IsPlain(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      if (!kPlainByte[static_cast<uint8_t>(p[i])]) return false;
    }
    return true;
  }
  for (size_t i = 0; i + 8 < n; i += 8) {
    if (HasSpecialByte(p + i)) return false;
  }
  return !HasSpecialByte(p + n - 8);
}

// The end of the run of plain bytes that starts at `i`: eight bytes at a time while all eight
// are plain (the strings are mostly plain, the A-R value alone ~250 bytes a message), the
// last eight bytes of the string at once when fewer are left, then byte by byte.
size_t PlainRunEnd(std::string_view s, size_t i) {
  const size_t n = s.size();
  while (n - i >= 8) {
    if (HasSpecialByte(s.data() + i)) break;
    i += 8;
  }
  // The tail, in the word that ends the string: when all its eight bytes are plain, so are the
  // last ones (a special byte before `i` in it only sends the tail to the byte loop).
  if (n - i < 8 && n >= 8 && !HasSpecialByte(s.data() + n - 8)) return n;
  while (i < n && kPlainByte[static_cast<uint8_t>(s[i])]) ++i;
  return i;
}

// The escaping AppendJsonString documents, written straight into `out`. On a rejected byte the
// open sequence is taken back (to the position after the last accepted character) and one
// U+FFFD written; the rejected byte is read again when it broke an open sequence, since it may
// start a valid one.
void AppendEscaped(std::string_view s, std::string* out) {
  Utf8State state = kUtf8Accept;
  size_t after_last_accept = out->size();
  size_t undumped = 0;  // bytes of the open sequence
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    if (state == kUtf8Accept) {
      // Fast path: a run of bytes that are copied as they are.
      const size_t j = PlainRunEnd(s, i);
      if (j > i) {
        out->append(s.data() + i, j - i);
        after_last_accept = out->size();
        if (j == n) break;
        i = j;
      }
    }
    const uint8_t byte = static_cast<uint8_t>(s[i]);
    // The code point itself only matters below 0x20, i.e. for a one-byte sequence.
    state = Utf8Step(state, byte);
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

// The first and the last sizeof(Word) bytes of [s, s + n), n between one and two Words: two
// loads, then two stores (overlapping when n is less than two Words).
template <typename Word>
[[gnu::always_inline]] inline void CopyEnds(char* d, const char* s, size_t n) {
  Word first, last;
  std::memcpy(&first, s, sizeof(Word));
  std::memcpy(&last, s + n - sizeof(Word), sizeof(Word));
  std::memcpy(d, &first, sizeof(Word));
  std::memcpy(d + n - sizeof(Word), &last, sizeof(Word));
}

// memcpy of a few bytes, inline (no byte outside [s, s + n) is read or written), the library's
// call above 32 bytes. The JSON line is ~100 short pieces, where the call and its size dispatch
// cost more than the copy.
[[gnu::always_inline]] inline void CopyShort(char* d, const char* s, size_t n) {
  struct Bytes16 {
    char b[16];
  };
  if (n > 32) {
    std::memcpy(d, s, n);
  } else if (n >= 16) {
    CopyEnds<Bytes16>(d, s, n);
  } else if (n >= 8) {
    CopyEnds<uint64_t>(d, s, n);
  } else if (n >= 4) {
    CopyEnds<uint32_t>(d, s, n);
  } else if (n > 0) {
    const char first = s[0], middle = s[n / 2], last = s[n - 1];
    d[0] = first;
    d[n / 2] = middle;
    d[n - 1] = last;
  }
}

// Writes at most `max` bytes at the end of `out` with `put(char* at)`, which returns how many
// it wrote: straight into the string's storage (grown first when it is short of room), not
// through a buffer on the stack, whose small stores a wide load would have to wait for.
template <typename Put>
[[gnu::always_inline]] inline void Emit(std::string* out, size_t max, Put put) {
  const size_t size = out->size();
  if (out->capacity() - size < max) out->reserve(std::max(size + max, 2 * out->capacity()));
  out->resize_and_overwrite(size + max, [&](char* p, size_t) { return size + put(p + size); });
}

template <std::integral T>
void AppendInteger(T v, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

// One JSON object being written: '{' now, '}' at End(). Keys must come in byte order (the
// schema's order: keys sorted by bytes); Key() takes literals that need no escaping. `extra`
// members are merged in key order: each goes out just before the first key that sorts after
// it, the rest at End(). The extra member due next is kept at hand, so a key costs one
// comparison; the extras are scanned only when one has been written (few members).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out, std::span<const JsonMember> extra = {})
      : out_(out), extra_(extra) {
    out_->push_back('{');
    if (!extra_.empty()) next_extra_ = NextExtra();
  }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;
  void End() {
    if (next_extra_ != nullptr) ExtrasBefore(nullptr);
    out_->push_back('}');
  }

  // Writes `"key":` and returns the string to append the value to.
  std::string* Key(std::string_view key) {
    if (ExtraDueBefore(key)) ExtrasBefore(&key);
    // `,"key":` in one write (the schema's keys are literals that need no escaping).
    Emit(out_, key.size() + 4, [&](char* at) { return PutKey(at, key); });
    first_ = false;
    return out_;
  }
  void String(std::string_view key, std::string_view v) {
    // The usual member, a value that needs no escaping, in one write.
    if (IsPlain(v)) {
      if (ExtraDueBefore(key)) ExtrasBefore(&key);
      Emit(out_, key.size() + v.size() + 6, [&](char* at) {
        size_t n = PutKey(at, key);
        at[n++] = '"';
        CopyShort(at + n, v.data(), v.size());
        n += v.size();
        at[n++] = '"';
        return n;
      });
      first_ = false;
      return;
    }
    AppendJsonString(v, Key(key));
  }
  // A member whose value is JSON text as it is (a number, true, false, null), with its key in
  // one write.
  void Literal(std::string_view key, std::string_view json) {
    if (ExtraDueBefore(key)) ExtrasBefore(&key);
    Emit(out_, key.size() + json.size() + 4, [&](char* at) {
      const size_t n = PutKey(at, key);
      CopyShort(at + n, json.data(), json.size());
      return n + json.size();
    });
    first_ = false;
  }
  void Bool(std::string_view key, bool v) { Literal(key, v ? "true" : "false"); }
  void Null(std::string_view key) { Literal(key, "null"); }
  template <std::integral T>
  void Integer(std::string_view key, T v) {
    char digits[24];
    Literal(key, std::string_view(digits, std::to_chars(digits, digits + sizeof digits, v).ptr));
  }
  template <std::integral T>
  void Integer(std::string_view key, const std::optional<T>& v) {
    if (v) {
      Integer(key, *v);
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
  // Puts `,"key":` (no comma before the first member) at `buf`, which has room for
  // key.size() + 4 bytes; returns the bytes put.
  [[gnu::always_inline]] size_t PutKey(char* buf, std::string_view key) const {
    size_t n = 0;
    if (!first_) buf[n++] = ',';
    buf[n++] = '"';
    CopyShort(buf + n, key.data(), key.size());
    n += key.size();
    buf[n++] = '"';
    buf[n++] = ':';
    return n;
  }

  // The extra member with the least key above the last one written, or null.
  // An extra member is due before `key` (keys in byte order). Most keys differ from it in
  // their first byte, which decides without a call to memcmp.
  bool ExtraDueBefore(std::string_view key) const {
    if (next_extra_ == nullptr) return false;
    const std::string_view due = next_extra_->key;
    if (!due.empty() && !key.empty() && due[0] != key[0]) {
      return static_cast<unsigned char>(due[0]) < static_cast<unsigned char>(key[0]);
    }
    return due < key;
  }
  const JsonMember* NextExtra() const {
    const JsonMember* pick = nullptr;
    for (const JsonMember& m : extra_) {
      if ((last_extra_ == nullptr || m.key > last_extra_->key) &&
          (pick == nullptr || m.key < pick->key)) {
        pick = &m;
      }
    }
    return pick;
  }

  // Writes, in key order, the extra members whose keys sort before `*next_key` (all that are
  // left when it is null).
  void ExtrasBefore(const std::string_view* next_key) {
    while (next_extra_ != nullptr && (next_key == nullptr || next_extra_->key < *next_key)) {
      const JsonMember& m = *next_extra_;
      if (!first_) out_->push_back(',');
      first_ = false;
      AppendJsonString(m.key, out_);
      out_->push_back(':');
      if (m.is_string) {
        AppendJsonString(m.value, out_);
      } else {
        out_->append(m.value);
      }
      last_extra_ = &m;
      next_extra_ = NextExtra();
    }
  }

  std::string* out_;
  std::span<const JsonMember> extra_;
  const JsonMember* last_extra_ = nullptr;  // the last extra member written
  const JsonMember* next_extra_ = nullptr;  // the extra member due next; null: none left
  bool first_ = true;
};

// Keys in byte order (so at every level below).
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
  o.Strings("unsigned_fields", r.unsigned_fields);
  o.End();
}

// Keys in byte order.
void AppendSpf(const SpfResult& r, std::string* out, std::span<const JsonMember> extra = {}) {
  ObjectWriter o(out, extra);
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
  o.Bool("record_assumed", r.record_assumed);
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
  // A string that needs no escaping (most of them) goes out in one write.
  if (IsPlain(text)) {
    Emit(out, text.size() + 2, [&](char* at) {
      at[0] = '"';
      CopyShort(at + 1, text.data(), text.size());
      at[text.size() + 1] = '"';
      return text.size() + 2;
    });
    return;
  }
  out->push_back('"');
  AppendEscaped(text, out);
  out->push_back('"');
}

void AppendEvaluationJson(const Evaluation& ev, std::span<const JsonMember> extra,
                          std::string* out) {
  out->reserve(out->size() + EstimateSize(ev, extra));
  ObjectWriter o(out, extra);
  AppendArc(ev.arc, o.Key("arc"));
  o.String("authentication_results", ev.authres.value);
  std::string* dkim = o.Key("dkim");
  dkim->push_back('[');
  for (size_t i = 0; i < ev.dkim.size(); ++i) {
    if (i > 0) dkim->push_back(',');
    AppendDkim(ev.dkim[i], dkim);
  }
  dkim->push_back(']');
  AppendDmarc(ev.dmarc, o.Key("dmarc"));
  std::string* forged = o.Key("forged_authentication_results");
  forged->push_back('[');
  for (size_t i = 0; i < ev.forged_authres.size(); ++i) {
    if (i > 0) forged->push_back(',');
    AppendInteger(ev.forged_authres[i], forged);
  }
  forged->push_back(']');
  o.Strings("limits", ev.limits);
  AppendJsonNumber(ev.score.score, o.Key("score"));
  AppendSpf(ev.spf_mailfrom, o.Key("spf"));
  AppendSpf(ev.spf_helo, o.Key("spf_helo"));
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
  o.End();
}

void AppendEvaluationJson(const Evaluation& ev, std::string* out) {
  AppendEvaluationJson(ev, {}, out);
}

void AppendSpfResultJson(const SpfResult& r, std::span<const JsonMember> extra,
                         std::string* out) {
  AppendSpf(r, out, extra);
}

}  // namespace credence
