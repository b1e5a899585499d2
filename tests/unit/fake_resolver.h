// The unit tests' one in-memory DNS: a Resolver over a map (STYLE.md: fakes are Resolver
// implementations, not hooks in production code). Names are compared without case. A name
// with records answers them for their type and NODATA for another; a name that only has
// names below it is an empty non-terminal (NODATA); anything else is NXDOMAIN. A name can be
// made to fail instead: SERVFAIL, the deadline passed, or NODATA/NXDOMAIN whatever it holds.
// Counts batches and questions and keeps every question asked, in order.
#ifndef CREDENCE_TESTS_UNIT_FAKE_RESOLVER_H_
#define CREDENCE_TESTS_UNIT_FAKE_RESOLVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "credence/dns.h"
#include "credence/message.h"

namespace credence::testing {

class FakeResolver final : public Resolver {
 public:
  enum class Fault { kServFail, kDeadline, kNoData, kNxDomain };

  void Add(const std::string& name, RRType type, const std::string& data,
           uint16_t preference = 0) {
    const std::string n = ToLower(name);
    rrs_[{n, type}].push_back(ResourceRecord{type, 300, data, preference});
    names_.insert(n);
  }
  void AddTxt(const std::string& name, const std::string& txt) { Add(name, RRType::kTXT, txt); }
  void Fail(const std::string& name, Fault fault = Fault::kServFail) {
    faults_[ToLower(name)] = fault;
  }

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions, Deadline) override {
    ++batches;
    std::vector<DnsAnswer> out;
    out.reserve(questions.size());
    for (const DnsQuestion& q : questions) {
      ++queries;
      asked.push_back(q);
      out.push_back(Answer(ToLower(q.name), q.type));
    }
    return out;
  }

  size_t batches = 0;
  size_t queries = 0;
  std::vector<DnsQuestion> asked;

 private:
  DnsAnswer Answer(const std::string& n, RRType type) const {
    DnsAnswer a;
    if (auto f = faults_.find(n); f != faults_.end()) {
      switch (f->second) {
        case Fault::kServFail: a.outcome = DnsOutcome::kTempFail; a.detail = "SERVFAIL"; break;
        case Fault::kDeadline: a = DnsAnswer::DeadlinePassed(); break;
        case Fault::kNoData: a.outcome = DnsOutcome::kNoData; break;
        case Fault::kNxDomain: a.outcome = DnsOutcome::kNxDomain; break;
      }
      return a;
    }
    if (auto it = rrs_.find({n, type}); it != rrs_.end()) {
      a.outcome = DnsOutcome::kOk;
      a.records = it->second;
    } else {
      a.outcome = Exists(n) ? DnsOutcome::kNoData : DnsOutcome::kNxDomain;
    }
    return a;
  }
  // A name exists when it has records or a name below it has (an empty non-terminal).
  bool Exists(const std::string& n) const {
    for (const std::string& x : names_) {
      if (x == n || (x.size() > n.size() && x.ends_with("." + n))) return true;
    }
    return false;
  }

  std::map<std::pair<std::string, RRType>, std::vector<ResourceRecord>> rrs_;
  std::set<std::string> names_;
  std::map<std::string, Fault> faults_;
};

// A per-message memo as the Evaluator has one, in front of `inner`: asks each question once
// and holds every answer, readable in place (Resolver::Held). Counts its Resolve calls.
class Memo final : public Resolver {
 public:
  explicit Memo(Resolver& inner) : inner_(inner) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    ++resolves;
    std::vector<DnsAnswer> out;
    for (const DnsQuestion& q : questions) {
      const Key key{ToLower(q.name), q.type};
      if (!kept_.contains(key)) kept_[key] = inner_.Resolve({&q, 1}, deadline).at(0);
      out.push_back(kept_.at(key));
    }
    return out;
  }
  const DnsAnswer* Held(std::string_view name, RRType type) const override {
    auto it = kept_.find({ToLower(name), type});
    return it == kept_.end() ? nullptr : &it->second;
  }

  size_t resolves = 0;

 private:
  using Key = std::pair<std::string, RRType>;
  Resolver& inner_;
  std::map<Key, DnsAnswer> kept_;
};

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_FAKE_RESOLVER_H_
