// AppendJsonNumber: a double as the JSON output has always printed it (nlohmann 3.11's
// serializer, which the schema's consumers and the tests' oracle use): the digits of Grisu2
// (Florian Loitsch, "Printing Floating-Point Numbers Quickly and Accurately with Integers",
// PLDI 2010, with the boundaries m-/m+ of §5 and the rounding of §5.1: the digits round-trip,
// and are the shortest in ~99.9% of cases, which is why std::to_chars, always the shortest,
// cannot stand in for it), then the layout "123.0", "0.001", "1.5e-05", "1e+21".
// Written from the paper; the table of cached powers of ten is computed exactly at first use.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "evaluation_json.h"

namespace credence {
namespace {

// A "do-it-yourself floating point" number: f * 2^e.
struct DiyFp {
  uint64_t f = 0;
  int e = 0;
};

DiyFp Sub(DiyFp x, DiyFp y) { return {x.f - y.f, x.e}; }

// GCC's and Clang's 128-bit integer (__extension__: no -Wpedantic warning for it).
__extension__ typedef unsigned __int128 Uint128;

// x * y, the upper 64 bits of the 128-bit product rounded to nearest (ties up).
DiyFp Mul(DiyFp x, DiyFp y) {
  const Uint128 p = static_cast<Uint128>(x.f) * y.f;
  const Uint128 rounded = p + (static_cast<Uint128>(1) << 63);
  return {static_cast<uint64_t>(rounded >> 64), x.e + y.e + 64};
}

DiyFp Normalize(DiyFp x) {
  while ((x.f >> 63) == 0) {
    x.f <<= 1;
    --x.e;
  }
  return x;
}

// --- Cached powers of ten: c_k = 10^k as a normalized DiyFp, k = -300, -292, ..., 324 ---

constexpr int kMinDecExp = -300;
constexpr int kDecStep = 8;
constexpr int kCachedPowers = 79;

struct CachedPower {
  uint64_t f;
  int e;
  int k;
};

// A nonnegative integer of 32-bit limbs, little-endian: just enough to get 10^k exactly.
class BigInt {
 public:
  explicit BigInt(uint32_t v) : limbs_{v} {}
  static BigInt PowerOfTwo(int n) {
    BigInt b(0);
    b.limbs_.assign(n / 32 + 1, 0);
    b.limbs_.back() = uint32_t{1} << (n % 32);
    return b;
  }
  void MulSmall(uint32_t m) {
    uint64_t carry = 0;
    for (uint32_t& l : limbs_) {
      const uint64_t v = uint64_t{l} * m + carry;
      l = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
    if (carry != 0) limbs_.push_back(static_cast<uint32_t>(carry));
  }
  void DivSmall(uint32_t d) {  // floor division
    uint64_t rem = 0;
    for (size_t i = limbs_.size(); i-- > 0;) {
      const uint64_t v = (rem << 32) | limbs_[i];
      limbs_[i] = static_cast<uint32_t>(v / d);
      rem = v % d;
    }
    while (limbs_.size() > 1 && limbs_.back() == 0) limbs_.pop_back();
  }
  int BitLength() const {
    const uint32_t top = limbs_.back();
    return static_cast<int>(32 * (limbs_.size() - 1)) + (32 - __builtin_clz(top));
  }
  bool Bit(int i) const {
    return i >= 0 && (limbs_[i / 32] >> (i % 32)) & 1;
  }
  // The 64 bits from bit `high` down, rounded to nearest on the bit below; the exponent of
  // the result's last bit goes up by one when rounding carries out.
  uint64_t Top64Rounded(int* shift) const {
    const int high = BitLength() - 1;
    uint64_t f = 0;
    for (int i = high; i > high - 64; --i) f = (f << 1) | (Bit(i) ? 1 : 0);
    *shift = high - 63;
    if (Bit(high - 64)) {
      ++f;
      if (f == 0) {  // 2^64: 1 followed by zeros
        f = uint64_t{1} << 63;
        ++*shift;
      }
    }
    return f;
  }

 private:
  std::vector<uint32_t> limbs_;
};

std::array<CachedPower, kCachedPowers> ComputeCachedPowers() {
  std::array<CachedPower, kCachedPowers> table{};
  for (int i = 0; i < kCachedPowers; ++i) {
    const int k = kMinDecExp + i * kDecStep;
    int shift = 0;
    uint64_t f = 0;
    if (k >= 0) {
      BigInt p(1);
      for (int j = 0; j < k; ++j) p.MulSmall(10);
      f = p.Top64Rounded(&shift);
    } else {
      // floor(2^n / 10^-k) with n large enough that the floor cannot change the rounding.
      const int n = 4 * -k + 192;  // 10^-k < 2^(4 * -k)
      BigInt q = BigInt::PowerOfTwo(n);
      for (int j = 0; j < -k; ++j) q.DivSmall(10);
      f = q.Top64Rounded(&shift);
      shift -= n;
    }
    table[i] = {f, shift, k};
  }
  return table;
}

const CachedPower& CachedPowerFor(int e) {
  static const std::array<CachedPower, kCachedPowers> kTable = ComputeCachedPowers();
  // The k with alpha <= e_c + e + 64 <= gamma (alpha = -60, gamma = -32): ceil((alpha - e -
  // 1) * log10(2)), log10(2) ~ 78913 / 2^18, then the table entry at or above it.
  constexpr int kAlpha = -60;
  const int f = kAlpha - e - 1;
  const int k = (f * 78913) / (1 << 18) + static_cast<int>(f > 0);
  const int index = (-kMinDecExp + k + (kDecStep - 1)) / kDecStep;
  return kTable[index];
}

// --- Digit generation (Grisu2, §5) ---

// The number of decimal digits of n (n > 0) and 10^(digits - 1).
int LargestPow10(uint32_t n, uint32_t* pow10) {
  int digits = 1;
  uint32_t p = 1;
  while (digits < 10 && n / p >= 10) {
    p *= 10;
    ++digits;
  }
  *pow10 = p;
  return digits;
}

// Moves the last digit down while that brings the result closer to w (§5.1 "round weed").
void Round(char* buf, int len, uint64_t dist, uint64_t delta, uint64_t rest, uint64_t ten_k) {
  while (rest < dist && delta - rest >= ten_k &&
         (rest + ten_k < dist || dist - rest > rest + ten_k - dist)) {
    --buf[len - 1];
    rest += ten_k;
  }
}

// Digits of a number in [m_minus, m_plus] closest to w; `*decimal_exponent` adjusted so that
// digits * 10^decimal_exponent is that number.
void GenerateDigits(char* buf, int* len, int* decimal_exponent, DiyFp m_minus, DiyFp w,
                    DiyFp m_plus) {
  uint64_t delta = Sub(m_plus, m_minus).f;
  uint64_t dist = Sub(m_plus, w).f;
  const DiyFp one{uint64_t{1} << -m_plus.e, m_plus.e};
  uint32_t p1 = static_cast<uint32_t>(m_plus.f >> -one.e);  // integral part
  uint64_t p2 = m_plus.f & (one.f - 1);                      // fractional part
  uint32_t pow10 = 0;
  int n = LargestPow10(p1, &pow10);
  while (n > 0) {
    const uint32_t d = p1 / pow10;
    p1 %= pow10;
    buf[(*len)++] = static_cast<char>('0' + d);
    --n;
    const uint64_t rest = (uint64_t{p1} << -one.e) + p2;
    if (rest <= delta) {
      *decimal_exponent += n;
      Round(buf, *len, dist, delta, rest, uint64_t{pow10} << -one.e);
      return;
    }
    pow10 /= 10;
  }
  int m = 0;
  for (;;) {
    p2 *= 10;
    const uint64_t d = p2 >> -one.e;
    p2 &= one.f - 1;
    buf[(*len)++] = static_cast<char>('0' + d);
    ++m;
    delta *= 10;
    dist *= 10;
    if (p2 <= delta) break;
  }
  *decimal_exponent -= m;
  Round(buf, *len, dist, delta, p2, one.f);
}

// value > 0, finite: its Grisu2 digits and decimal exponent.
void Grisu2(double value, char* buf, int* len, int* decimal_exponent) {
  constexpr int kBias = 1023 + 52;
  constexpr uint64_t kHiddenBit = uint64_t{1} << 52;
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  const uint64_t biased_e = bits >> 52;
  const uint64_t fraction = bits & (kHiddenBit - 1);
  const DiyFp v = biased_e == 0 ? DiyFp{fraction, 1 - kBias}
                                : DiyFp{fraction + kHiddenBit, static_cast<int>(biased_e) - kBias};
  // The boundaries halfway to the neighbours; the lower one is closer at a power of two.
  const bool lower_closer = fraction == 0 && biased_e > 1;
  const DiyFp plus = Normalize({2 * v.f + 1, v.e - 1});
  DiyFp minus = lower_closer ? DiyFp{4 * v.f - 1, v.e - 2} : DiyFp{2 * v.f - 1, v.e - 1};
  minus = {minus.f << (minus.e - plus.e), plus.e};
  const DiyFp w = Normalize(v);

  const CachedPower& c = CachedPowerFor(plus.e);
  const DiyFp c_minus_k{c.f, c.e};
  const DiyFp w_scaled = Mul(w, c_minus_k);
  const DiyFp minus_scaled = Mul(minus, c_minus_k);
  const DiyFp plus_scaled = Mul(plus, c_minus_k);
  // One unit of the last place of imprecision on each side (§5: "safe" interval).
  const DiyFp m_minus{minus_scaled.f + 1, minus_scaled.e};
  const DiyFp m_plus{plus_scaled.f - 1, plus_scaled.e};
  *decimal_exponent = -c.k;
  GenerateDigits(buf, len, decimal_exponent, m_minus, w_scaled, m_plus);
}

// `value` (> 0) when it is the double nearest a decimal of at most three places below 100000
// (the usual score or weight: 2.0, 1.5, 0.25): "integer.fraction", the fraction's trailing
// zeros dropped ("2.0" keeps one), straight from the integers, and true. Grisu2 and the
// layout below give the same bytes for every such value (all 10^8 were compared when this was
// written; the unit test compares a sample): the decimal is the shortest that reads back as
// `value`, and it is never near enough the interval's ends for Grisu2 to miss it. Else false.
bool AppendShortDecimal(double value, std::string* out) {
  constexpr double kLimit = 100000.0;
  if (!(value < kLimit)) return false;
  const double thousandths = std::nearbyint(value * 1000);
  if (thousandths / 1000 != value) return false;  // not the double of such a decimal
  const auto scaled = static_cast<uint64_t>(thousandths);
  uint64_t whole = scaled / 1000;
  uint32_t fraction = static_cast<uint32_t>(scaled % 1000);
  char buf[16];
  char* end = buf + sizeof buf;
  char* p = end;
  int places = 3;
  if (fraction == 0) {
    *--p = '0';
  } else {
    while (fraction % 10 == 0) {
      fraction /= 10;
      --places;
    }
    for (int i = 0; i < places; ++i) {
      *--p = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
  }
  *--p = '.';
  do {
    *--p = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  out->append(p, end);
  return true;
}

}  // namespace

void AppendJsonNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  if (std::signbit(value)) {
    out->push_back('-');
    value = -value;
  }
  if (value == 0) {
    out->append("0.0");
    return;
  }
  if (AppendShortDecimal(value, out)) return;
  char digits[32];
  int k = 0;
  int decimal_exponent = 0;
  Grisu2(value, digits, &k, &decimal_exponent);
  // Layout: plain decimal while the point falls within 15 digits of the start and not more
  // than three zeros after "0.", else d.ddde+XX (at least two exponent digits).
  const int n = k + decimal_exponent;  // the decimal point's place after the first digit
  constexpr int kMaxExp = 15;
  constexpr int kMinExp = -4;
  if (k <= n && n <= kMaxExp) {
    out->append(digits, k);
    out->append(n - k, '0');
    out->append(".0");
  } else if (0 < n && n <= kMaxExp) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (kMinExp < n && n <= 0) {
    out->append("0.");
    out->append(-n, '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    int e = n - 1;
    out->append(e < 0 ? "e-" : "e+");
    if (e < 0) e = -e;
    if (e < 10) out->push_back('0');
    out->append(std::to_string(e));
  }
}

}  // namespace credence
