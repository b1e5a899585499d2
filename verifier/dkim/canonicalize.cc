// RFC 6376 §3.4 canonicalization. Single pass over the body; canonical stretches of the body go
// to the sink in place, rewritten lines through a small fixed buffer.
#include "dkim/canonicalize.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "credence/ascii.h"
#include "credence/simd.h"

namespace credence::dkim {
namespace {

inline bool IsWsp(char c) { return c == ' ' || c == '\t'; }

constexpr std::string_view kCrlf = "\r\n";

// RFC 6376 §3.4.3: "ignores all empty lines at the end of the message body ... If there is
// no body or no trailing CRLF on the message body, a CRLF is added."
void SimpleBody(std::string_view body, ByteSink* sink) {
  size_t end = body.size();
  while (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n') end -= 2;
  if (end > 0) sink->Write(body.data(), end);
  sink->Write(kCrlf.data(), kCrlf.size());
}

// Buffers small pieces of canonical output and hands large ones to the sink as they are, so
// text that canonicalization leaves alone goes to the hasher straight from the message.
class RelaxedWriter {
 public:
  explicit RelaxedWriter(ByteSink* sink) : sink_(sink) {}
  ~RelaxedWriter() { Flush(); }

  void Append(const char* data, size_t size) {
    if (size >= kDirect) {
      Flush();
      sink_->Write(data, size);
      return;
    }
    if (len_ + size > sizeof buf_) Flush();
    std::memcpy(buf_ + len_, data, size);
    len_ += size;
  }
  // Room for `size` bytes in the buffer (flushing it first if needed), or nullptr when
  // `size` is more than the buffer holds. Commit() with the end of what was written.
  char* Reserve(size_t size) {
    if (size > sizeof buf_) return nullptr;
    if (len_ + size > sizeof buf_) Flush();
    return buf_ + len_;
  }
  void Commit(const char* end) { len_ = static_cast<size_t>(end - buf_); }
  void AppendCrlfs(size_t count) {
    static constexpr std::string_view kMany =
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
    while (count > 0) {
      size_t k = std::min(count, kMany.size() / 2);
      Append(kMany.data(), 2 * k);
      count -= k;
    }
  }
  void Flush() {
    if (len_ != 0) sink_->Write(buf_, len_);
    len_ = 0;
  }

 private:
  static constexpr size_t kDirect = 512;  // pieces this large skip the buffer
  ByteSink* sink_;
  size_t len_ = 0;
  char buf_[4096];
};

#if defined(CREDENCE_AVX512_FORMS)
// FindRelaxedEvent 64 bytes a step; the last step's loads are masked to the bytes before n.
CREDENCE_AVX512_TARGET size_t FindRelaxedEvent64(const char* d, size_t i, size_t n) {
  const __m512i sp = _mm512_set1_epi8(' ');
  const __m512i tab = _mm512_set1_epi8('\t');
  const __m512i cr = _mm512_set1_epi8('\r');
  while (i < n) {
    const size_t left = n - i;
    __m512i a, b;
    if (left >= 65) {
      a = _mm512_loadu_si512(d + i);
      b = _mm512_loadu_si512(d + i + 1);
    } else {
      a = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(left)), d + i);
      b = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(left - 1)), d + i + 1);
    }
    const uint64_t ev =
        _mm512_cmpeq_epi8_mask(a, tab) |
        (_mm512_cmpeq_epi8_mask(a, sp) &
         (_mm512_cmpeq_epi8_mask(b, sp) | _mm512_cmpeq_epi8_mask(b, cr)));
    if (ev != 0) return i + static_cast<size_t>(__builtin_ctzll(ev));
    i += 64;
  }
  return n;
}
#endif

// The first i in [pos, n) where relaxed canonicalization (RFC 6376 §3.4.4) might not copy
// the bytes as they are: a tab; SP followed by SP (a WSP run) or by CR (WSP at a line end).
// n when none. Text with none of these is already canonical, line by line; its empty lines
// too, once the trailing ones are cut off (TrimTrailingEmptyLines).
size_t FindRelaxedEvent(const char* d, size_t pos, size_t n) {
  size_t i = pos;
  switch (simd::Active()) {
    case simd::Level::kAvx512:
#if defined(CREDENCE_AVX512_FORMS)
      return FindRelaxedEvent64(d, i, n);
#endif
    case simd::Level::kSse2: {
#if defined(__SSE2__)
      const __m128i sp = _mm_set1_epi8(' ');
      const __m128i tab = _mm_set1_epi8('\t');
      const __m128i cr = _mm_set1_epi8('\r');
      for (; n - i >= 17; i += 16) {  // bytes i .. i+16: 16 pairs
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 1));
        const __m128i a_sp = _mm_cmpeq_epi8(a, sp);
        __m128i ev = _mm_cmpeq_epi8(a, tab);
        ev = _mm_or_si128(ev, _mm_and_si128(a_sp, _mm_or_si128(_mm_cmpeq_epi8(b, sp),
                                                               _mm_cmpeq_epi8(b, cr))));
        const int mask = _mm_movemask_epi8(ev);
        if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
      }
#endif
      break;
    }
    case simd::Level::kScalar: break;
  }
  for (; i < n; ++i) {
    const char c = d[i];
    if (c == '\t') return i;
    if (i + 1 < n) {
      const char next = d[i + 1];
      if (c == ' ' && (next == ' ' || next == '\r')) return i;
    }
  }
  return n;
}

// Start of the line holding position x, not before `pos` (itself a line start): just after
// the last CRLF in [pos, x). A bare LF is line content, as everywhere in this file.
size_t LineStart(const char* d, size_t pos, size_t x) {
  while (x > pos) {
    const void* hit = memrchr(d + pos, '\n', x - pos);
    if (hit == nullptr) return pos;
    const size_t lf = static_cast<size_t>(static_cast<const char*>(hit) - d);
    if (lf > pos && d[lf - 1] == '\r') return lf + 1;
    x = lf;
  }
  return pos;
}

// End of the line starting at `pos`: the index of its CRLF, or n when it has none.
size_t LineEnd(const char* d, size_t pos, size_t n) {
  while (pos < n) {
    const void* hit = std::memchr(d + pos, '\r', n - pos);
    if (hit == nullptr) return n;
    const size_t cr = static_cast<size_t>(static_cast<const char*>(hit) - d);
    if (cr + 1 < n && d[cr + 1] == '\n') return cr;
    pos = cr + 1;
  }
  return n;
}

// The end of `body` without its trailing lines that relaxed canonicalization leaves empty
// (RFC 6376 §3.4.4 "Ignore all empty lines at the end of the message body"): lines of WSP
// only, or of nothing, the last one with or without its CRLF. What is left is empty or ends
// in a line with content, so every empty line in it stays, and goes out as it is.
size_t TrimTrailingEmptyLines(const char* d, size_t n) {
  while (n > 0) {
    // The last line: [start, end), its CRLF (if any) from end to n.
    const size_t end = n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n' ? n - 2 : n;
    const size_t start = LineStart(d, 0, end);
    for (size_t i = start; i < end; ++i) {
      if (!IsWsp(d[i])) return n;
    }
    n = start;
  }
  return 0;
}

// RFC 6376 §3.4.4: ignore WSP at line ends, reduce WSP runs to one SP, ignore empty lines at
// the end; "If the body is non-empty but does not end with a CRLF, a CRLF is added."
// Most lines are canonical already: the trailing empty lines are cut off first, then a vector
// scan finds the next line that is not, the canonical stretch before it goes to the sink in
// place, and only that line is rewritten. Each byte is looked at a bounded number of times;
// nothing is allocated.
class RelaxedBodyWriter {
 public:
  RelaxedBodyWriter(std::string_view body, ByteSink* sink)
      : d_(body.data()), n_(TrimTrailingEmptyLines(body.data(), body.size())), out_(sink) {}

  void Run() {
    size_t pos = 0;  // always a line start
    // Text that needed rewriting tends to go on needing it (double spaces after full stops,
    // tab-indented blocks): after a changed line the next is rewritten directly, and the
    // vector scan resumes after the first line that came out unchanged.
    bool rewriting = false;
    while (pos < n_) {
      if (rewriting) {
        pos = RewriteFrom(pos, false);
        rewriting = changed_;
        continue;
      }
      const size_t event = FindRelaxedEvent(d_, pos, n_);
      if (event == n_) {
        // No event left: every complete line is canonical; a last line without CRLF is not.
        if (n_ - pos >= 2 && d_[n_ - 2] == '\r' && d_[n_ - 1] == '\n') {
          EmitRun(pos, n_);
          break;
        }
        const size_t last = LineStart(d_, pos, n_);
        EmitRun(pos, last);
        pos = RewriteFrom(last, false);
        continue;
      }
      // A WSP run to rewrite: the line up to the start of that run is canonical and goes out
      // with the run before it (a line with text before the run is not empty).
      const size_t line = LineStart(d_, pos, event);
      size_t start = event;
      while (start > line && IsWsp(d_[start - 1])) --start;
      EmitRun(pos, start);
      pos = RewriteFrom(start, start > line);
      rewriting = changed_;
    }
  }

 private:
  // Canonical bytes [begin, end) as they are, after the empty lines held back.
  void EmitRun(size_t begin, size_t end) {
    if (begin == end) return;
    out_.AppendCrlfs(pending_empty_);
    pending_empty_ = 0;
    out_.Append(d_ + begin, end - begin);
  }

  // Rewrites the line from `s` to its end; `s` is the line's start, or (`has_content`) the
  // start of a WSP run after the line's canonical beginning, already written. Returns where
  // the next line starts; sets changed_ when the output differs from the input.
  size_t RewriteFrom(size_t s, bool has_content) {
    const size_t eol = LineEnd(d_, s, n_);
    const size_t next = eol == n_ ? n_ : eol + 2;
    size_t content_end = eol;
    while (content_end > s && IsWsp(d_[content_end - 1])) --content_end;
    changed_ = content_end != eol || eol == n_;
    if (content_end == s && !has_content) {
      ++pending_empty_;
      return next;
    }
    out_.AppendCrlfs(pending_empty_);
    pending_empty_ = 0;
    if (char* o = out_.Reserve(content_end - s + 2)) {
      out_.Commit(CollapseInto(s, content_end, o));
    } else {
      AppendLongLine(s, content_end);
    }
    return next;
  }

  // The usual case: one branch-free loop into the buffer at `o`. Every byte is written (WSP
  // as SP); the output advances except over the second and later WSP of a run. Returns the
  // end of what was written, its CRLF included.
  char* CollapseInto(size_t s, size_t content_end, char* o) {
    char* const begin = o;
    bool prev_wsp = false;
    bool tab = false;
    for (size_t i = s; i < content_end; ++i) {
      const char c = d_[i];
      const bool wsp = (c == ' ') | (c == '\t');
      tab |= c == '\t';
      *o = wsp ? ' ' : c;
      o += !(wsp & prev_wsp);
      prev_wsp = wsp;
    }
    changed_ |= tab || static_cast<size_t>(o - begin) != content_end - s;
    *o++ = '\r';
    *o++ = '\n';
    return o;
  }

  // A line longer than the writer's buffer: word by word.
  void AppendLongLine(size_t s, size_t content_end) {
    size_t i = s;
    while (i < content_end) {
      size_t j = i;
      while (j < content_end && !IsWsp(d_[j])) ++j;
      out_.Append(d_ + i, j - i);
      if (j == content_end) break;
      while (IsWsp(d_[j])) ++j;  // stops inside the line: d_[content_end - 1] is not WSP
      out_.Append(" ", 1);
      i = j;
    }
    out_.Append(kCrlf.data(), kCrlf.size());
  }

  const char* const d_;
  const size_t n_;
  RelaxedWriter out_;
  size_t pending_empty_ = 0;  // empty lines held back until a non-empty line follows
  bool changed_ = false;
};

void RelaxedBody(std::string_view body, ByteSink* sink) { RelaxedBodyWriter(body, sink).Run(); }

}  // namespace

void BodyHasher::Write(const char* data, size_t size) {
  if (total_ < limit_) {
    uint64_t room = limit_ - total_;
    sha_.Update(data, static_cast<size_t>(std::min<uint64_t>(room, size)));
  }
  total_ += size;
}

void CanonicalizeBody(Canon canon, std::string_view body, ByteSink* sink) {
  if (canon == Canon::kSimple) {
    SimpleBody(body, sink);
  } else {
    RelaxedBody(body, sink);
  }
}

void CanonicalizeHeader(Canon canon, std::string_view raw, bool crlf, std::string* out) {
  if (canon == Canon::kSimple) {
    // RFC 6376 §3.4.1: the field exactly as written.
    out->append(raw);
  } else {
    // RFC 6376 §3.4.2: lower-case name, unfold, WSP runs -> one SP, no WSP at the value's
    // ends or around the colon. The result is never longer than `raw`: written in place.
    const size_t start = out->size();
    out->resize(start + raw.size() + 1);
    char* o = out->data() + start;
    size_t colon = raw.find(':');
    std::string_view name = raw.substr(0, colon);
    while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
    for (char c : name) *o++ = AsciiLower(c);
    *o++ = ':';
    if (colon != std::string_view::npos) {
      std::string_view value = raw.substr(colon + 1);
      bool pending_space = false;
      bool content = false;
      for (size_t i = 0; i < value.size(); ++i) {
#if defined(__SSE2__)
        // A run of bytes other than SP, HTAB and CR goes out 16 bytes a step: the block is
        // stored whole and the output moves to the run's end (the output is never ahead of
        // the input, so the 16 bytes fit). The byte that ends the run takes the path below.
        while (i + 16 <= value.size()) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(value.data() + i));
          const int special = _mm_movemask_epi8(
              _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                                        _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
          const int run = special == 0 ? 16 : __builtin_ctz(static_cast<unsigned>(special));
          if (run == 0) break;
          if (pending_space) *o++ = ' ';
          pending_space = false;
          content = true;
          _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
          o += run;
          i += run;
          if (run < 16) break;
        }
        if (i == value.size()) break;
#endif
        char c = value[i];
        if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
          ++i;  // unfold: drop the CRLF, keep the WSP that follows it
          continue;
        }
        if (IsWsp(c)) {
          pending_space = content;
          continue;
        }
        if (pending_space) *o++ = ' ';
        pending_space = false;
        content = true;
        *o++ = c;
      }
    }
    out->resize(static_cast<size_t>(o - out->data()));
  }
  if (crlf) out->append(kCrlf);
}

namespace {

// RFC 5322 field names compare ASCII case-insensitively: <0, 0, >0 like memcmp.
int CompareNames(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

std::string_view TrimmedName(const HeaderField& f) {
  std::string_view name = f.name;
  while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
  return name;
}

// Indices of `headers` sorted by field name, ties broken by index: the order of a stable
// sort, without its temporary buffer.
std::vector<size_t> SortedByName(const std::vector<HeaderField>& headers) {
  std::vector<size_t> order(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int c = CompareNames(TrimmedName(headers[a]), TrimmedName(headers[b]));
    return c != 0 ? c < 0 : a < b;
  });
  return order;
}

}  // namespace

HeaderIndex::HeaderIndex(const std::vector<HeaderField>& headers) : headers_(headers) {
  if (headers.size() > kScanFields) order_ = SortedByName(headers);
}

void HeaderIndex::AppendSignedHeaders(const std::vector<std::string>& h, Canon canon,
                                      std::string* out) const {
  if (!order_.empty()) return AppendBySearch(h, order_, canon, out);
  if (h.size() * headers_.size() > kScanComparisons) {
    return AppendBySearch(h, SortedByName(headers_), canon, out);
  }
  uint64_t used = 0;  // bit i: field i is taken (at most kScanFields fields)
  for (const std::string& name : h) {
    for (size_t i = headers_.size(); i-- > 0;) {
      if ((used >> i & 1) == 0 && EqualsIgnoreCase(TrimmedName(headers_[i]), name)) {
        used |= uint64_t{1} << i;
        CanonicalizeHeader(canon, headers_[i].raw, /*crlf=*/true, out);
        break;
      }
    }
  }
}

void HeaderIndex::AppendBySearch(const std::vector<std::string>& h,
                                 const std::vector<size_t>& order, Canon canon,
                                 std::string* out) const {
  // used[k]: how many fields of the name whose group starts at order[k] are used so far
  // (from the bottom).
  std::vector<uint32_t> used(order.size(), 0);
  for (const std::string& name : h) {
    const std::string_view key = name;
    const auto lo = std::lower_bound(order.begin(), order.end(), key,
                                     [&](size_t i, std::string_view k) {
                                       return CompareNames(TrimmedName(headers_[i]), k) < 0;
                                     });
    const auto hi = std::upper_bound(lo, order.end(), key, [&](std::string_view k, size_t i) {
      return CompareNames(k, TrimmedName(headers_[i])) < 0;
    });
    if (lo == hi) continue;
    uint32_t& n = used[static_cast<size_t>(lo - order.begin())];
    const size_t count = static_cast<size_t>(hi - lo);
    if (n >= count) continue;  // over-signed: nothing (RFC 6376 §5.4)
    const HeaderField& f = headers_[*(hi - 1 - n)];
    ++n;
    CanonicalizeHeader(canon, f.raw, /*crlf=*/true, out);
  }
}


namespace {

// A field's value as a reader takes it: unfolded (RFC 5322 §2.2.3: the CRLFs of folds
// removed, the white space after them kept), white space at both ends trimmed. Nothing else
// is changed: white space inside a value can matter (a quoted MIME boundary).
std::string UnfoldedValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    // Only a fold's CRLF goes: a bare CR or LF is part of what differs (readers that end a
    // line there show something else).
    if (value[i] == '\r' && i + 2 < value.size() && value[i + 1] == '\n' &&
        (value[i + 2] == ' ' || value[i + 2] == '\t')) {
      ++i;
      continue;
    }
    out.push_back(value[i]);
  }
  const size_t b = out.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  out.erase(out.find_last_not_of(" \t") + 1);
  out.erase(0, b);
  return out;
}

// Whether every instance of kSingleInstanceFields[index] above the `signed_here` bottom ones
// (those h= signs, RFC 6376 §5.4.2) repeats one of them word for word (UnfoldedValue): a
// sender that writes a field twice shows nothing the signature does not cover. Linear in the
// fields (a set of the signed values).
bool OnlyRepeatsSigned(const Message& message, size_t index, size_t signed_here) {
  std::vector<std::string> values;  // in message order
  for (const HeaderField& f : message.headers()) {
    if (SingleInstanceFieldIndex(TrimmedName(f)) == index) values.push_back(UnfoldedValue(f.value));
  }
  const auto signed_begin = values.end() - static_cast<std::ptrdiff_t>(signed_here);
  const std::unordered_set<std::string> signed_values(signed_begin, values.end());
  return std::all_of(values.begin(), signed_begin,
                     [&](const std::string& v) { return signed_values.count(v) > 0; });
}

}  // namespace

std::vector<std::string> UnsignedInstances(const Message& message,
                                           const std::vector<std::string>& h) {
  constexpr size_t kCount = kSingleInstanceFieldCount;
  std::array<size_t, kCount + 1> signed_count{};  // the last: every other name
  for (const std::string& name : h) ++signed_count[SingleInstanceFieldIndex(name)];
  if (std::all_of(signed_count.begin(), signed_count.end() - 1, [](size_t n) { return n == 0; })) {
    return {};
  }
  std::array<size_t, kCount + 1> visible{};
  for (const HeaderField& f : message.headers()) ++visible[SingleInstanceFieldIndex(TrimmedName(f))];
  std::vector<std::string> out;
  for (size_t i = 0; i < kCount; ++i) {
    if (signed_count[i] == 0) continue;
    // Only fields of their own can be signed: at most min(listed, visible) instances are. A
    // hidden one (or one skipped past the header limits) is never signed, even where h=
    // over-signs (an empty slot absorbs nothing).
    const size_t hidden = message.unkept_single_instance_count(i);
    const size_t signed_here = std::min(signed_count[i], visible[i]);
    if (visible[i] + hidden <= signed_here) continue;
    if (hidden == 0 && signed_here > 0 && OnlyRepeatsSigned(message, i, signed_here)) continue;
    out.emplace_back(kSingleInstanceFields[i]);
  }
  return out;
}

std::string RemoveBValue(std::string_view raw, size_t value_offset, size_t b_begin,
                         size_t b_end) {
  std::string out;
  RemoveBValue(raw, value_offset, b_begin, b_end, &out);
  return out;
}

void RemoveBValue(std::string_view raw, size_t value_offset, size_t b_begin, size_t b_end,
                  std::string* out) {
  out->clear();
  out->reserve(raw.size());
  out->append(raw.substr(0, value_offset + b_begin));
  out->append(raw.substr(value_offset + b_end));
}

}  // namespace credence::dkim
