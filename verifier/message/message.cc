// RFC 5322 §2.2 header fields and §2.3 body, bounded by Limits. Iterative, single pass. A bound
// that is reached cuts what is read, never whether the message is judged (limits.h).
#include "credence/message.h"

#include <algorithm>
#include <numeric>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace credence {

namespace {

// AppendWithCrlf one line at a time (memchr for LF), stopping at max_out: the general form.
bool AppendWithCrlfByLine(std::string_view in, size_t max_out, std::string* out) {
  out->reserve(std::min(max_out, out->size() + in.size() + in.size() / 32 + 2));
  size_t pos = 0;
  while (pos < in.size()) {
    size_t lf = in.find('\n', pos);
    size_t end = lf == std::string_view::npos ? in.size() : lf;
    bool had_cr = lf != std::string_view::npos && lf > pos && in[lf - 1] == '\r';
    size_t chunk = end - pos;  // the line, its CR included when it has one
    size_t line_end = lf == std::string_view::npos ? 0 : (had_cr ? 1 : 2);
    if (out->size() + chunk + line_end > max_out) {
      out->append(in.data() + pos, std::min(chunk, max_out - out->size()));
      return true;
    }
    out->append(in.data() + pos, chunk);
    if (lf == std::string_view::npos) break;
    if (!had_cr) out->push_back('\r');
    out->push_back('\n');
    pos = lf + 1;
  }
  return false;
}

// Grows `out` to `size` bytes and lets `fill(data, size)` write the new ones, keeping the
// first bytes it returns. Where the library allows, the new bytes are not zeroed first.
template <typename Fill>
void GrowUninitialized(std::string* out, size_t size, Fill&& fill) {
#if defined(__cpp_lib_string_resize_and_overwrite)
  out->resize_and_overwrite(size, fill);
#else
  out->resize(size);
  out->resize(fill(out->data(), size));
#endif
}

#if defined(__SSE2__)
// AppendWithCrlf when the limit cannot be reached (every byte of `in` a bare LF would still
// fit), 16 bytes a step. A message's lines run ~70 bytes, and a loop that stops at each LF
// (memchr per line, or a block copy that moves on to the LF) mispredicts once a line and
// waits on it. Here the blocks are fixed and the output offset only adds each block's count
// of bare LFs, so no step waits on the one before. A block with one bare LF at k is stored
// twice: whole, then from k on one byte further, with the CR in the gap. With none, the
// second store and the CR land past the block's end, where the next block writes. A block
// with two or more (lines under 16 bytes: empty lines, short headers) goes byte by byte.
void AppendWithCrlfByBlock(std::string_view in, std::string* out) {
  const char* const src = in.data();
  const size_t n = in.size();
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  size_t i = 0;
  unsigned after_cr = 0;  // 1 when in[i - 1] is a CR
  // Each round keeps room for the rest and an eighth more; a rest with more bare LFs than
  // that (more CRs to add) takes another round.
  while (i < n) {
    size_t o = out->size();  // where the next output byte goes
    const size_t rest = n - i;
    GrowUninitialized(out, o + rest + rest / 8 + 64, [&](char* dst, size_t cap) {
      // A block reads in[i, i + 32) and writes out[o, o + 33).
      for (; i + 32 <= n && cap - o >= (n - i) + 33; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        const unsigned lfs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)));
        const unsigned crs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)));
        const unsigned bare = lfs & ~((crs << 1) | after_cr);
        after_cr = crs >> 15;
        char* const d = dst + o;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d), v);
        if (__builtin_expect((bare & (bare - 1)) != 0, 0)) {  // two or more
          size_t w = 0;
          for (unsigned j = 0; j < 16; ++j) {
            if (bare >> j & 1) d[w++] = '\r';
            d[w++] = src[i + j];
          }
          o += w;
          continue;
        }
        const unsigned k = static_cast<unsigned>(__builtin_ctz(bare | 0x10000u));  // 16: none
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + k + 1),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + k)));
        d[k] = '\r';
        o += 16 + (bare != 0);
      }
      // The last bytes (fewer than 32), one at a time, with room for a CR each.
      if (i + 32 > n && cap - o >= 2 * (n - i)) {
        for (; i < n; ++i) {
          if (src[i] == '\n' && (i == 0 || src[i - 1] != '\r')) dst[o++] = '\r';
          dst[o++] = src[i];
        }
      }
      return o;
    });
  }
}
#endif

}  // namespace

bool AppendWithCrlf(std::string_view in, size_t max_out, std::string* out) {
#if defined(__SSE2__)
  if (out->size() <= max_out && in.size() <= (max_out - out->size()) / 2) {
    AppendWithCrlfByBlock(in, out);
    return false;
  }
#endif
  return AppendWithCrlfByLine(in, max_out, out);
}

namespace {

// RFC 5322 §3.6.8: ftext = %d33-57 / %d59-126.
bool IsFieldNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// The fields verdicts depend on, still read past the header limits: the author (DMARC), the
// signatures (DKIM) and the A-R fields a host must remove when they claim our authserv-id.
bool IsVerdictField(std::string_view name) {
  return EqualsIgnoreCase(name, "From") || EqualsIgnoreCase(name, "DKIM-Signature") ||
         EqualsIgnoreCase(name, "Authentication-Results");
}

// The name of the field `line` starts, or npos when it is not a field start: "name:" with an
// ftext name, white space allowed before the colon (obsolete syntax, RFC 5322 §4.5).
// `*colon` gets the colon's offset in `line`.
size_t FieldNameLength(std::string_view line, size_t* colon) {
  size_t c = line.find(':');
  if (c == std::string_view::npos) return std::string_view::npos;
  size_t name_end = c;
  while (name_end > 0 && (line[name_end - 1] == ' ' || line[name_end - 1] == '\t')) --name_end;
  if (name_end == 0) return std::string_view::npos;
  for (size_t i = 0; i < name_end; ++i) {
    if (!IsFieldNameChar(static_cast<unsigned char>(line[i]))) return std::string_view::npos;
  }
  *colon = c;
  return name_end;
}

// Reads the header section of a message's CRLF text `d` (RFC 5322 §2.2: fields, folds, the
// empty line) into the Message's fields, within the header limits: past max_header_fields
// fields or max_header_bytes bytes only the verdict fields are kept (at most
// max_header_fields more), the rest counted as skipped.
class HeaderSectionReader {
 public:
  HeaderSectionReader(std::string_view d, const Limits& limits, std::vector<HeaderField>* headers,
                      std::vector<size_t>* positions, size_t* skipped)
      : d_(d), limits_(limits), headers_(*headers), positions_(*positions), skipped_(*skipped) {}

  // Returns where the body starts (d.size() when there is none).
  size_t Read() {
    size_t pos = 0;
    while (pos < d_.size()) {
      const size_t eol = d_.find("\r\n", pos);
      const size_t line_end = eol == std::string_view::npos ? d_.size() : eol;
      const size_t next = eol == std::string_view::npos ? d_.size() : eol + 2;
      const std::string_view line = d_.substr(pos, line_end - pos);
      if (line.empty()) {  // the blank line ends the header section
        FinishField(pos - 2);  // the blank line starts right after the field's final CRLF
        return next;
      }
      if ((line[0] == ' ' || line[0] == '\t') && field_start_ != std::string_view::npos) {
        pos = next;  // continuation of a folded field
        continue;
      }
      size_t c = 0;
      const size_t n = (line[0] == ' ' || line[0] == '\t') ? std::string_view::npos
                                                            : FieldNameLength(line, &c);
      if (n == std::string_view::npos) {
        // Not a field and not a continuation: the header section ends and this line is the
        // first of the body, as Exim and Postfix read it.
        FinishField(pos - 2);
        return pos;
      }
      FinishField(pos - 2);
      StartField(pos, c, n, line.substr(0, n));
      pos = next;
    }
    // No blank line: all header section, the last field running to the end.
    size_t end = d_.size();
    if (end >= 2 && d_.substr(end - 2) == "\r\n") end -= 2;
    FinishField(end);
    return d_.size();
  }

  // Verdict fields skipped past even the second max_header_fields.
  size_t verdict_fields_skipped() const { return verdict_fields_skipped_; }

 private:
  // A field starts at `pos` (its colon at pos + colon, its name `name`): kept or skipped.
  void StartField(size_t pos, size_t colon, size_t name_len, std::string_view name) {
    ++position_;
    if (!past_limits_ && (headers_.size() >= limits_.max_header_fields ||
                          pos >= limits_.max_header_bytes)) {
      past_limits_ = true;
    }
    keep_ = true;
    if (past_limits_) {
      const bool verdict = IsVerdictField(name);
      keep_ = verdict && kept_past_limits_ < limits_.max_header_fields;
      if (keep_) {
        ++kept_past_limits_;
      } else {
        ++skipped_;
        if (verdict) ++verdict_fields_skipped_;
      }
    }
    field_start_ = pos;
    colon_ = pos + colon;
    name_len_ = name_len;
  }

  // The field being collected ends at `end` (the position of its final CRLF).
  void FinishField(size_t end) {
    if (field_start_ == std::string_view::npos) return;
    if (keep_) {
      if (skipped_ > 0 && positions_.empty()) {
        positions_.resize(headers_.size());
        std::iota(positions_.begin(), positions_.end(), size_t{0});
      }
      if (skipped_ > 0) positions_.push_back(position_ - 1);
      HeaderField f;
      f.name = d_.substr(field_start_, name_len_);
      f.value = d_.substr(colon_ + 1, end - colon_ - 1);
      f.raw = d_.substr(field_start_, end - field_start_);
      headers_.push_back(f);
    }
    field_start_ = std::string_view::npos;
  }

  const std::string_view d_;
  const Limits& limits_;
  std::vector<HeaderField>& headers_;
  std::vector<size_t>& positions_;
  size_t& skipped_;
  size_t field_start_ = std::string_view::npos;  // start of the field being collected
  size_t colon_ = 0;
  size_t name_len_ = 0;       // field name length without white space before the colon
  bool keep_ = true;          // the field being collected goes into headers_
  size_t position_ = 0;       // fields seen so far, skipped ones included
  bool past_limits_ = false;  // max_header_bytes or max_header_fields reached
  size_t kept_past_limits_ = 0;
  size_t verdict_fields_skipped_ = 0;
};

// The note for fields skipped past the header limits.
std::string SkippedFieldsNote(const Limits& limits, size_t skipped, size_t verdict_skipped) {
  return "header section over " + std::to_string(limits.max_header_bytes) + " bytes or " +
         std::to_string(limits.max_header_fields) + " fields: " + std::to_string(skipped) +
         " fields after it not read" +
         (verdict_skipped == 0
              ? std::string(" (From, DKIM-Signature and Authentication-Results were)")
              : ", " + std::to_string(verdict_skipped) +
                    " of them From, DKIM-Signature or Authentication-Results");
}

}  // namespace

Result<Message> Message::Parse(std::string_view bytes, const Limits& limits,
                               size_t original_size) {
  return Parse(bytes, limits, original_size, nullptr);
}

Result<Message> Message::Parse(std::string_view bytes, const Limits& limits, size_t original_size,
                               std::unique_ptr<std::string> buffer) {
  if (bytes.empty() && original_size == 0) return Status::Invalid("empty message");
  Message m;
  m.data_ = buffer ? std::move(buffer) : std::make_unique<std::string>();
  m.data_->clear();
  bool cut = AppendWithCrlf(bytes, limits.max_message_bytes, m.data_.get());
  if (cut || original_size > bytes.size()) {
    m.body_truncated_ = true;
    m.limit_notes_.push_back(
        "message of " + std::to_string(std::max(original_size, bytes.size())) +
        " bytes: only the first " + std::to_string(m.data_->size()) + " read");
  }
  m.ReadFields(limits);
  return m;
}

Result<Message> Message::ParseNormalised(std::unique_ptr<std::string> text, const Limits& limits) {
  if (text == nullptr || text->empty()) return Status::Invalid("empty message");
  Message m;
  m.data_ = std::move(text);
  m.ReadFields(limits);
  return m;
}

void Message::ReadFields(const Limits& limits) {
  const std::string_view d = *data_;
  HeaderSectionReader reader(d, limits, &headers_, &positions_, &skipped_fields_);
  headers_.reserve(16);  // most messages: one allocation for the field list
  const size_t body = reader.Read();
  if (skipped_fields_ > 0) {
    limit_notes_.push_back(
        SkippedFieldsNote(limits, skipped_fields_, reader.verdict_fields_skipped()));
  }
  body_ = d.substr(body);
}

std::vector<const HeaderField*> Message::FindAll(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const HeaderField& f : headers_)
    if (EqualsIgnoreCase(f.name, name)) out.push_back(&f);
  return out;
}

const HeaderField* Message::Find(std::string_view name) const {
  for (const HeaderField& f : headers_)
    if (EqualsIgnoreCase(f.name, name)) return &f;
  return nullptr;
}

}  // namespace credence
