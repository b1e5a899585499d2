#include "credence/simd.h"

#include <algorithm>
#include <atomic>

namespace credence::simd {
namespace {

std::atomic<int> cap{static_cast<int>(Level::kAvx512)};

Level Detect() {
#if defined(CREDENCE_AVX512_FORMS)
  // libgcc's answers include the OS's: AVX-512 counts only when the kernel saves its state.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2") &&
      __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt")) {
    return Level::kAvx512;
  }
#endif
#if defined(__SSE2__)
  return Level::kSse2;
#else
  return Level::kScalar;
#endif
}

}  // namespace

Level Best() {
  static const Level best = Detect();
  return best;
}

Level Active() {
  return static_cast<Level>(
      std::min(static_cast<int>(Best()), cap.load(std::memory_order_relaxed)));
}

ScopedCap::ScopedCap(Level level) : saved_(cap.exchange(static_cast<int>(level))) {}

ScopedCap::~ScopedCap() { cap.store(saved_); }

}  // namespace credence::simd
