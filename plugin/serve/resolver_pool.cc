#include "serve/resolver_pool.h"

#include <condition_variable>
#include <mutex>

namespace credence::serve {
namespace {

class ResolverPool final : public Resolver {
 public:
  explicit ResolverPool(std::vector<std::unique_ptr<Resolver>> members)
      : members_(std::move(members)) {
    for (auto& m : members_) idle_.push_back(m.get());
  }

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    Resolver* r = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, deadline, [this] { return !idle_.empty(); })) {
        return std::vector<DnsAnswer>(questions.size(), DnsAnswer::DeadlinePassed());
      }
      r = idle_.back();
      idle_.pop_back();
    }
    std::vector<DnsAnswer> answers = r->Resolve(questions, deadline);
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(r);
    }
    cv_.notify_one();
    return answers;
  }

 private:
  std::vector<std::unique_ptr<Resolver>> members_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Resolver*> idle_;
};

}  // namespace

std::unique_ptr<Resolver> MakeResolverPool(std::vector<std::unique_ptr<Resolver>> members) {
  return std::make_unique<ResolverPool>(std::move(members));
}

}  // namespace credence::serve
