// AppendWithCrlf (credence/message.h): a message's bare LFs made CR LF. The archive reader
// copies every message through it, so it comes in a block form for each level of
// credence/simd.h.
#include <algorithm>
#include <cstdint>
#include <string>

#include "credence/message.h"
#include "credence/simd.h"

namespace credence {
namespace {

// One line at a time (memchr for LF), stopping at max_out: the general form.
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

// The block forms' frame. A round grows `out` by the rest of `in` and an eighth more, and
// lets `blocks(dst, o, cap)` copy whole blocks from in[i] to dst[o] while the rest still fits
// (it advances i, after_cr and returns the new o); the last bytes, too few for a block, go one
// at a time. A rest with more bare LFs than the eighth kept for CRs takes another round.
// `after_cr` is 1 when in[i - 1] is a CR.
template <typename Blocks>
void AppendWithCrlfByBlocks(std::string_view in, size_t slack, std::string* out,
                            Blocks&& blocks) {
  const char* const src = in.data();
  const size_t n = in.size();
  size_t i = 0;
  uint32_t after_cr = 0;
  while (i < n) {
    size_t o = out->size();  // where the next output byte goes
    const size_t rest = n - i;
    GrowUninitialized(out, o + rest + rest / 8 + slack, [&](char* dst, size_t cap) {
      o = blocks(src, n, &i, &after_cr, dst, o, cap);
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

#if defined(__SSE2__)
// 16 bytes a step. A message's lines run ~70 bytes, and a loop that stops at each LF (memchr
// per line, or a block copy that moves on to the LF) mispredicts once a line and waits on it.
// Here the blocks are fixed and the output offset only adds each block's count of bare LFs,
// so no step waits on the one before. A block with one bare LF at k is stored twice: whole,
// then from k on one byte further, with the CR in the gap. With none, the second store and
// the CR land past the block's end, where the next block writes. A block with two or more
// (lines under 16 bytes: empty lines, short headers) goes byte by byte.
size_t Blocks16(const char* src, size_t n, size_t* ip, uint32_t* after_cr, char* dst, size_t o,
                size_t cap) {
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  size_t i = *ip;
  // A block reads in[i, i + 32) and writes out[o, o + 33).
  for (; i + 32 <= n && cap - o >= (n - i) + 33; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const unsigned lfs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)));
    const unsigned crs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)));
    const unsigned bare = lfs & ~((crs << 1) | *after_cr);
    *after_cr = crs >> 15;
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
  *ip = i;
  return o;
}
#endif

#if defined(CREDENCE_AVX512_FORMS)
// 32 bytes a step, whatever their LFs: VPEXPANDB spreads the block's bytes over up to 64,
// leaving a CR before each bare LF. Its mask has a 1 for each input byte and a 0 for each CR:
// with two bits per input byte (a CR's slot, then the byte's), `present` marks the slots
// used, and PEXT of the byte slots (0b10 each) over `present` packs them into that mask. Every
// CPU with VBMI2 (Ice Lake and later, Zen 4 and later) runs PDEP and PEXT in a few cycles.
CREDENCE_AVX512_TARGET size_t Blocks32Expand(const char* src, size_t n, size_t* ip,
                                             uint32_t* after_cr, char* dst, size_t o,
                                             size_t cap) {
  const __m512i crs_out = _mm512_set1_epi8('\r');
  const __m256i lf = _mm256_set1_epi8('\n');
  const __m256i cr = _mm256_set1_epi8('\r');
  constexpr uint64_t kByteSlots = 0xAAAAAAAAAAAAAAAAull;
  constexpr uint64_t kCrSlots = 0x5555555555555555ull;
  size_t i = *ip;
  // A block reads in[i, i + 32) and writes out[o, o + 64).
  for (; i + 32 <= n && cap - o >= (n - i) + 64; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const uint32_t lfs = _mm256_cmpeq_epi8_mask(v, lf);
    const uint32_t crs = _mm256_cmpeq_epi8_mask(v, cr);
    const uint32_t bare = lfs & ~((crs << 1) | *after_cr);
    *after_cr = crs >> 31;
    const uint64_t present = kByteSlots | _pdep_u64(bare, kCrSlots);
    const uint64_t spread = _pext_u64(kByteSlots, present);
    _mm512_storeu_si512(dst + o,
                        _mm512_mask_expand_epi8(crs_out, spread, _mm512_castsi256_si512(v)));
    o += 32 + static_cast<size_t>(_mm_popcnt_u32(bare));
  }
  *ip = i;
  return o;
}

#endif

}  // namespace

bool AppendWithCrlf(std::string_view in, size_t max_out, std::string* out) {
  // The block forms keep no count against the limit: only when every byte of `in` a bare LF
  // would still fit.
  if (out->size() <= max_out && in.size() <= (max_out - out->size()) / 2) {
    switch (simd::Active()) {
      case simd::Level::kAvx512:
#if defined(CREDENCE_AVX512_FORMS)
        AppendWithCrlfByBlocks(in, 128, out, Blocks32Expand);
        return false;
#endif
      case simd::Level::kSse2:
#if defined(__SSE2__)
        AppendWithCrlfByBlocks(in, 64, out, Blocks16);
        return false;
#endif
      case simd::Level::kScalar: break;
    }
  }
  return AppendWithCrlfByLine(in, max_out, out);
}

}  // namespace credence
