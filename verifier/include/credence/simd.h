// Which vector instructions the byte scans use (the archive reader's line marks and LF -> CRLF
// copy, relaxed body canonicalization): the widest form this build and this CPU run, chosen
// once at run time, so one binary (the Debian package is built for any x86-64) runs the
// AVX-512 forms where the CPU has them. Every form follows the same rule; the tests cap the
// level to hold each narrower form to it.
#ifndef CREDENCE_SIMD_H_
#define CREDENCE_SIMD_H_

namespace credence::simd {

enum class Level : int {
  kScalar = 0,  // a byte (or a memchr) at a time
  kSse2 = 1,    // 16 bytes a step: every x86-64
  kAvx512 = 2,  // 32 or 64 bytes a step: AVX-512 F, BW, VL and VBMI2, BMI2, POPCNT
};

// The widest level this build and this CPU run.
Level Best();
// The level the scans use: Best(), or less while a ScopedCap lives.
Level Active();

// Caps Active() at `level` while it lives. For tests: set it while no other thread scans.
class ScopedCap {
 public:
  explicit ScopedCap(Level level);
  ~ScopedCap();
  ScopedCap(const ScopedCap&) = delete;
  ScopedCap& operator=(const ScopedCap&) = delete;

 private:
  int saved_;
};

}  // namespace credence::simd

// The attribute that compiles one function for Level::kAvx512 (call it only when Active() is
// that level); defined where this compiler can. This header brings the intrinsics of each
// level the build has, so a scan includes only it.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CREDENCE_AVX512_FORMS 1
#define CREDENCE_AVX512_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi2,popcnt")))
#endif

#endif  // CREDENCE_SIMD_H_
