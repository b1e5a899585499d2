// MakeSerializedResolver: one lock in front of a Resolver that is not thread-safe.
#include <memory>
#include <mutex>

#include "credence/dns.h"

namespace credence {
namespace {

class SerializedResolver final : public Resolver {
 public:
  explicit SerializedResolver(std::unique_ptr<Resolver> inner) : inner_(std::move(inner)) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_->Resolve(questions, deadline);
  }

 private:
  std::mutex mu_;
  std::unique_ptr<Resolver> inner_;
};

}  // namespace

std::unique_ptr<Resolver> MakeSerializedResolver(std::unique_ptr<Resolver> inner) {
  return std::make_unique<SerializedResolver>(std::move(inner));
}

}  // namespace credence
