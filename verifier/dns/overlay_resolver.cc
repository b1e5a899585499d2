// Zone files in front of another resolver: each question goes to the zones when they cover
// its name, else to the resolver behind (or nowhere).
#include <memory>
#include <utility>
#include <vector>

#include "credence/dns.h"

namespace credence {
namespace {

class ZoneOverlayResolver final : public Resolver {
 public:
  ZoneOverlayResolver(std::unique_ptr<ZoneResolver> zones, std::unique_ptr<Resolver> rest)
      : zones_(std::move(zones)), rest_(std::move(rest)) {}

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers(questions.size());
    std::vector<DnsQuestion> local, remote;
    std::vector<size_t> local_index, remote_index;
    for (size_t i = 0; i < questions.size(); ++i) {
      if (zones_->Covers(questions[i].name)) {
        local.push_back(questions[i]);
        local_index.push_back(i);
      } else if (rest_) {
        remote.push_back(questions[i]);
        remote_index.push_back(i);
      } else {
        answers[i] = DnsAnswer::NotAsked("outside the zone files");
      }
    }
    Place(zones_->Resolve(local, deadline), local_index, &answers);
    if (!remote.empty()) Place(rest_->Resolve(remote, deadline), remote_index, &answers);
    return answers;
  }

 private:
  static void Place(std::vector<DnsAnswer> got, const std::vector<size_t>& index,
                    std::vector<DnsAnswer>* answers) {
    for (size_t i = 0; i < index.size(); ++i) {
      if (i < got.size()) {
        (*answers)[index[i]] = std::move(got[i]);
      } else {
        (*answers)[index[i]].detail = "no answer";
      }
    }
  }

  std::unique_ptr<ZoneResolver> zones_;
  std::unique_ptr<Resolver> rest_;
};

}  // namespace

std::unique_ptr<Resolver> MakeZoneOverlayResolver(std::unique_ptr<ZoneResolver> zones,
                                                  std::unique_ptr<Resolver> rest) {
  return std::make_unique<ZoneOverlayResolver>(std::move(zones), std::move(rest));
}

}  // namespace credence
