// Time as an injected dependency: signature expiry (x=) and timestamps (t=) are judged
// against a Clock, so tests and `--at` re-verification use a fixed one.
#ifndef CREDENCE_CLOCK_H_
#define CREDENCE_CLOCK_H_

#include <cstdint>

namespace credence {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t Now() const override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now) : now_(now) {}
  int64_t Now() const override { return now_; }
  void Set(int64_t now) { now_ = now; }

 private:
  int64_t now_;
};

}  // namespace credence

#endif  // CREDENCE_CLOCK_H_
