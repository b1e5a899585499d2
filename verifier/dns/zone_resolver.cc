// ZoneResolver: answers from zone text loaded in memory (offline verification and tests).

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "credence/ascii.h"
#include "credence/dns.h"
#include "credence/file.h"
#include "dns/dns_name.h"
#include "dns/zone_parser.h"

namespace credence {

using dns_internal::CheckName;
using dns_internal::IsAtOrBelow;
using dns_internal::kMaxCnameLinks;
using dns_internal::NormalizeName;
using dns_internal::ParentName;

// The answers ZoneResolver::Pinned reads in place: for each name of the zones that answers
// without following anything (no CNAME, no --record failure marker, no injected failure, a
// valid name), its records of each type as Answer() gives them, and the kNoData answer for
// every other type; empty non-terminals have only the latter. Found case-insensitively with no
// copy of the question's name, in an open-addressed table keyed by name and type: a probe
// costs no division, reads one slot and compares the name against an arena of all the names
// (what a lookup touches is two short runs of memory, where a map's nodes and their strings
// each missed the cache).
class ReadyAnswers {
 public:
  // Every type that has no answer of its own at a name (RRType 0 is no type).
  static constexpr uint16_t kOtherTypes = 0;

  // `type` kOtherTypes: the kNoData answer. Each name's answers are added one after another.
  void Add(std::string_view name, uint16_t type, DnsAnswer answer) {
    if (names_.size() < name.size() || names_.substr(names_.size() - name.size()) != name) {
      names_.append(name);
    }
    answers_.push_back(std::move(answer));
    entries_.push_back(
        {type, static_cast<uint32_t>(names_.size() - name.size()), static_cast<uint32_t>(name.size())});
  }

  // After the last Add().
  void Index() {
    size_t capacity = 16;
    while (capacity < entries_.size() * 2) capacity *= 2;
    slots_.assign(capacity, Slot{});
    for (size_t e = 0; e < entries_.size(); ++e) {
      const Entry& entry = entries_[e];
      const uint64_t h =
          AsciiCaseHash(std::string_view(names_).substr(entry.name_at, entry.name_size), entry.type);
      size_t i = h & (capacity - 1);
      while (slots_[i].answer != nullptr) i = (i + 1) & (capacity - 1);
      slots_[i] = Slot{h, entry.name_at, entry.name_size, entry.type, &answers_[e]};
    }
  }

  const DnsAnswer* Find(std::string_view name, uint16_t type) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = AsciiCaseHash(name, type);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask; slots_[i].answer != nullptr; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.hash == h && slot.type == type && slot.name_size == name.size() &&
          EqualsIgnoreCase(std::string_view(names_.data() + slot.name_at, slot.name_size), name)) {
        return slot.answer;
      }
    }
    return nullptr;
  }

 private:
  struct Entry {
    uint16_t type;
    uint32_t name_at;  // in names_
    uint32_t name_size;
  };
  struct Slot {
    uint64_t hash = 0;
    uint32_t name_at = 0;
    uint32_t name_size = 0;
    uint16_t type = 0;
    const DnsAnswer* answer = nullptr;  // into answers_, which no longer grows once indexed
  };
  std::string names_;  // the names, each once, in lower case
  std::vector<DnsAnswer> answers_;
  std::vector<Entry> entries_;
  std::vector<Slot> slots_;  // a power of two, at most half full
};

struct ZoneResolver::Impl {
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, std::vector<ResourceRecord>> names;
  // Empty non-terminals (RFC 8020 §2): names with no records of their own but with records
  // below them, inside a loaded zone. They exist, so they answer kNoData.
  std::unordered_set<std::string> interior;
  std::unordered_set<std::string> zones;  // loaded origins
  std::unordered_set<std::string> failures;
  size_t count = 0;
  // Built on the first Pinned() after the last change (under `mu`, exclusive), then read with
  // no lock. A change drops it from `ready`, but every one built stays in `ready_kept` for the
  // resolver's life: a pointer Pinned() gave must stay readable (Resolver::Pinned).
  mutable std::atomic<const ReadyAnswers*> ready{nullptr};
  mutable std::vector<std::unique_ptr<const ReadyAnswers>> ready_kept;

  // Under `mu`, exclusive, after any change of the records or failures.
  void Changed() { ready.store(nullptr, std::memory_order_release); }

  const ReadyAnswers& Ready() const {
    if (const ReadyAnswers* r = ready.load(std::memory_order_acquire)) return *r;
    std::unique_lock<std::shared_mutex> lock(mu);
    if (const ReadyAnswers* r = ready.load(std::memory_order_acquire)) return *r;
    auto built = std::make_unique<ReadyAnswers>();
    auto no_data = [&](const std::string& name) {
      DnsAnswer a;
      a.outcome = DnsOutcome::kNoData;
      a.ttl = NegativeTtl(name);
      return a;
    };
    auto answers_in_place = [&](const std::string& name) {
      return !failures.count(name) && CheckName(name).empty();
    };
    for (const auto& [name, rrs] : names) {
      if (!answers_in_place(name)) continue;
      std::vector<std::pair<RRType, DnsAnswer>> found;
      bool follows = false;
      for (const ResourceRecord& rr : rrs) {
        if (rr.type == RRType::kCNAME ||
            static_cast<uint16_t>(rr.type) == dns_internal::kTempFailMarkerType) {
          follows = true;
          break;
        }
        auto it = std::find_if(found.begin(), found.end(),
                               [&](const auto& f) { return f.first == rr.type; });
        if (it == found.end()) {
          DnsAnswer a;
          a.outcome = DnsOutcome::kOk;
          a.ttl = UINT32_MAX;
          it = found.insert(found.end(), {rr.type, std::move(a)});
        }
        it->second.records.push_back(rr);
        it->second.ttl = std::min(it->second.ttl, rr.ttl);
      }
      if (follows) continue;
      for (auto& [type, answer] : found) {
        built->Add(name, static_cast<uint16_t>(type), std::move(answer));
      }
      built->Add(name, ReadyAnswers::kOtherTypes, no_data(name));
    }
    for (const std::string& name : interior) {
      if (answers_in_place(name)) built->Add(name, ReadyAnswers::kOtherTypes, no_data(name));
    }
    built->Index();
    ready_kept.push_back(std::move(built));
    ready.store(ready_kept.back().get(), std::memory_order_release);
    return *ready_kept.back();
  }

  // Adds one record; identical records (type, data, preference) are kept once.
  void Add(const std::string& owner, const ResourceRecord& rr) {
    std::vector<ResourceRecord>& v = names[owner];
    for (const ResourceRecord& x : v) {
      if (x.type == rr.type && x.data == rr.data && x.preference == rr.preference) return;
    }
    v.push_back(rr);
    ++count;
    interior.erase(owner);
    MarkAncestors(owner);
  }

  void MarkAncestors(const std::string& owner) {
    const std::string* zone = ClosestZone(owner);
    if (zone == nullptr) return;
    std::string_view p = ParentName(owner);
    while (!p.empty() && IsAtOrBelow(p, *zone) && p.size() > zone->size()) {
      std::string s(p);
      if (!names.count(s)) interior.insert(s);
      p = ParentName(p);
    }
  }

  const std::string* ClosestZone(std::string_view name) const {
    const std::string* best = nullptr;
    for (std::string_view p = name;; p = ParentName(p)) {
      auto it = zones.find(std::string(p));
      if (it != zones.end()) {
        best = &*it;
        break;
      }
      if (p.empty()) break;
    }
    return best;
  }

  bool Exists(const std::string& name) const { return names.count(name) || interior.count(name); }

  // RFC 4592 §3.3.1: when `name` does not exist, the records of "*.<closest encloser>".
  const std::vector<ResourceRecord>* Wildcard(const std::string& name) const {
    for (std::string_view p = ParentName(name); !p.empty(); p = ParentName(p)) {
      std::string encloser(p);
      if (!Exists(encloser)) continue;
      auto it = names.find("*." + encloser);
      return it == names.end() ? nullptr : &it->second;
    }
    return nullptr;
  }

  // RFC 2308 §5: min(SOA TTL, SOA MINIMUM) of the zone holding `name`; 0 without an SOA.
  uint32_t NegativeTtl(const std::string& name) const {
    const std::string* zone = ClosestZone(name);
    if (zone == nullptr) return 0;
    auto it = names.find(*zone);
    if (it == names.end()) return 0;
    for (const ResourceRecord& rr : it->second) {
      if (rr.type != RRType::kSOA) continue;
      size_t sp = rr.data.rfind(' ');
      uint32_t minimum = static_cast<uint32_t>(std::strtoul(rr.data.c_str() + sp + 1, nullptr, 10));
      return std::min(rr.ttl, minimum);
    }
    return 0;
  }

  // A --record marker: a temporary failure was seen for `type` at this name.
  static bool IsRecordedTempFail(const ResourceRecord& rr, RRType type) {
    if (static_cast<uint16_t>(rr.type) != dns_internal::kTempFailMarkerType) return false;
    const auto t = static_cast<uint16_t>(type);
    return rr.data.size() == 2 && static_cast<unsigned char>(rr.data[0]) == (t >> 8) &&
           static_cast<unsigned char>(rr.data[1]) == (t & 0xff);
  }

  DnsAnswer Answer(const DnsQuestion& q) const {
    DnsAnswer a;
    std::string name = NormalizeName(q.name);
    std::string bad = CheckName(name);
    if (!bad.empty()) {
      a.outcome = DnsOutcome::kNxDomain;
      a.detail = "invalid name: " + bad;
      return a;
    }
    uint32_t ttl = UINT32_MAX;
    for (int link = 0;; ++link) {
      if (failures.count(name)) {
        a.outcome = DnsOutcome::kTempFail;
        a.detail = "injected failure";
        a.records.clear();
        return a;
      }
      const std::vector<ResourceRecord>* rrs = nullptr;
      auto it = names.find(name);
      if (it != names.end()) {
        rrs = &it->second;
      } else if (!interior.count(name)) {
        rrs = Wildcard(name);
      }
      if (rrs == nullptr) {
        a.outcome = interior.count(name) ? DnsOutcome::kNoData : DnsOutcome::kNxDomain;
        a.ttl = NegativeTtl(name);
        return a;
      }
      const ResourceRecord* cname = nullptr;
      for (const ResourceRecord& rr : *rrs) {
        if (IsRecordedTempFail(rr, q.type)) {
          a.outcome = DnsOutcome::kTempFail;
          a.detail = "temporary failure when recorded (--record)";
          a.records.clear();
          return a;
        }
        if (rr.type == q.type) {
          a.records.push_back(rr);
          ttl = std::min(ttl, rr.ttl);
        } else if (rr.type == RRType::kCNAME) {
          cname = &rr;
        }
      }
      if (!a.records.empty()) {
        a.outcome = DnsOutcome::kOk;
        a.ttl = ttl;
        return a;
      }
      if (cname == nullptr) {
        a.outcome = DnsOutcome::kNoData;
        a.ttl = NegativeTtl(name);
        return a;
      }
      // RFC 1034 §3.6.2: follow the alias.
      if (link == kMaxCnameLinks) {
        a.outcome = DnsOutcome::kTempFail;
        a.detail = "CNAME chain longer than 8";
        return a;
      }
      ttl = std::min(ttl, cname->ttl);
      name = cname->data;
    }
  }
};

ZoneResolver::ZoneResolver() : impl_(std::make_unique<Impl>()) {}
ZoneResolver::~ZoneResolver() = default;

Status ZoneResolver::AddZoneText(std::string_view text, std::string_view origin,
                                 std::string_view source_name) {
  dns_internal::ParsedZone zone;
  Status s = dns_internal::ParseZoneText(text, origin, source_name, &zone);
  if (!s.ok()) return s;
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  // RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner has no other data.
  std::unordered_map<std::string, std::pair<bool, bool>> kinds;  // owner -> {cname, other}
  for (const auto& r : zone.records) {
    auto& k = kinds[r.owner];
    (r.rr.type == RRType::kCNAME ? k.first : k.second) = true;
    auto it = impl_->names.find(r.owner);
    if (it != impl_->names.end()) {
      for (const ResourceRecord& x : it->second) {
        (x.type == RRType::kCNAME ? k.first : k.second) = true;
      }
    }
    if (k.first && k.second) {
      return Status::Invalid(std::string(source_name) + ":" + std::to_string(r.line) +
                             ": CNAME and other data at '" + r.owner + "'");
    }
  }
  for (const std::string& o : zone.origins) impl_->zones.insert(o);
  for (const auto& r : zone.records) impl_->Add(r.owner, r.rr);
  impl_->Changed();
  return Status::Ok();
}

Status ZoneResolver::AddZoneFile(const std::string& path, std::string_view origin) {
  std::string text;
  Status s = ReadRegularFile(path, "zone file", dns_internal::kMaxZoneTextBytes, &text);
  if (!s.ok()) return s;
  return AddZoneText(text, origin, path);
}

void ZoneResolver::AddRecord(std::string_view name, ResourceRecord record) {
  // Names in RDATA are kept normalised, as the zone parser and the reply walker give them, so
  // CNAME chains and comparisons see one spelling.
  if (record.type == RRType::kMX || record.type == RRType::kCNAME ||
      record.type == RRType::kNS || record.type == RRType::kPTR) {
    record.data = NormalizeName(record.data);
  }
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  impl_->Add(NormalizeName(name), record);
  impl_->Changed();
}

void ZoneResolver::AddFailure(std::string_view name) {
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  impl_->failures.insert(NormalizeName(name));
  impl_->Changed();
}

size_t ZoneResolver::record_count() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return impl_->count;
}

bool ZoneResolver::Covers(std::string_view name) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return impl_->ClosestZone(NormalizeName(name)) != nullptr;
}

std::vector<DnsAnswer> ZoneResolver::Resolve(std::span<const DnsQuestion> questions,
                                             Deadline deadline) {
  (void)deadline;  // answers come from memory
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  std::vector<DnsAnswer> answers;
  answers.reserve(questions.size());
  for (const DnsQuestion& q : questions) answers.push_back(impl_->Answer(q));
  return answers;
}

const DnsAnswer* ZoneResolver::Pinned(std::string_view name, RRType type) const {
  // Only a name that needs no more than lower-casing (and one trailing dot dropped) is looked
  // up; any other takes Resolve(), which normalises it.
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!dns_internal::PlainName(name)) return nullptr;
  const ReadyAnswers& ready = impl_->Ready();
  if (const DnsAnswer* answer = ready.Find(name, static_cast<uint16_t>(type))) return answer;
  if (static_cast<uint16_t>(type) == ReadyAnswers::kOtherTypes) return nullptr;
  return ready.Find(name, ReadyAnswers::kOtherTypes);
}

}  // namespace credence
