// Choosing a store by URI, the in-memory store (tests), and the HistoryWriter that hosts
// append through.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "credence/policy/history.h"
#include "history/stores.h"

namespace credence {
namespace history {
namespace {

class MemoryStore final : public HistoryStore {
 public:
  Status Append(const HistoryRecord& record) override {
    records_.push_back(record);
    return Status::Ok();
  }
  Result<std::vector<HistoryRecord>> Read(int64_t begin, int64_t end, size_t max_records) override {
    std::vector<HistoryRecord> out;
    for (const HistoryRecord& r : records_) {
      if (r.time < begin || r.time > end) continue;
      if (out.size() >= max_records) return Status::TooLarge("too many records in the period");
      out.push_back(r);
    }
    return out;
  }
  Result<std::optional<int64_t>> EarliestTime() override {
    std::optional<int64_t> t;
    for (const HistoryRecord& r : records_) t = t ? std::min(*t, r.time) : r.time;
    return t;
  }
  Result<bool> Claim(const ReportClaim& c) override {
    auto key = std::make_pair(c.policy_domain, c.begin);
    if (claims_.count(key) != 0) return false;
    claims_[key] = c;
    claims_[key].state = "claimed";
    return true;
  }
  Status Finish(const std::string& domain, int64_t begin, const std::string& state) override {
    auto it = claims_.find({domain, begin});
    if (it != claims_.end()) it->second.state = state;
    return Status::Ok();
  }
  Status Release(const std::string& domain, int64_t begin) override {
    claims_.erase({domain, begin});
    return Status::Ok();
  }
  Result<std::vector<ReportClaim>> Claims() override {
    std::vector<ReportClaim> out;
    for (const auto& [k, c] : claims_) out.push_back(c);
    std::stable_sort(out.begin(), out.end(),
                     [](const ReportClaim& a, const ReportClaim& b) { return a.begin < b.begin; });
    return out;
  }
  Result<uint64_t> Prune(int64_t before) override {
    size_t n = records_.size();
    std::erase_if(records_, [&](const HistoryRecord& r) { return r.time < before; });
    return static_cast<uint64_t>(n - records_.size());
  }

 private:
  std::vector<HistoryRecord> records_;
  std::map<std::pair<std::string, int64_t>, ReportClaim> claims_;
};

bool IsPostgresUri(const std::string& uri) {
  return uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
}

}  // namespace

std::unique_ptr<HistoryStore> MakeMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace history

Status ValidateHistoryStoreUri(const std::string& uri) {
  if (uri.rfind("sqlite:", 0) == 0) {
    if (uri.size() == 7) return Status::Invalid("'sqlite:' needs a file path (sqlite:PATH)");
    return Status::Ok();
  }
  if (history::IsPostgresUri(uri) || uri == "memory:") return Status::Ok();
  return Status::Invalid("'" + uri +
                         "' is not \"sqlite:PATH\" or a \"postgresql://\" connection URI");
}

Result<std::unique_ptr<HistoryStore>> OpenHistoryStore(const std::string& uri,
                                                       const HistoryOptions& options) {
  if (Status s = ValidateHistoryStoreUri(uri); !s.ok()) return s;
  if (uri == "memory:") return history::MakeMemoryStore();
  if (history::IsPostgresUri(uri)) return history::OpenPostgresStore(uri, options);
  return history::OpenSqliteStore(uri.substr(7), options);
}

namespace {
int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

HistoryWriter::HistoryWriter(HistoryOptions options, LogFunction log)
    : options_(std::move(options)), log_(std::move(log)) {}

HistoryWriter::~HistoryWriter() = default;

bool HistoryWriter::Append(const HistoryRecord& record) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t now = SteadySeconds();
    if (now < paused_until_) {
      ++dropped_;
      return false;
    }
    Status s;
    if (store_ == nullptr) {
      Result<std::unique_ptr<HistoryStore>> opened = OpenHistoryStore(options_.store, options_);
      if (opened.ok()) {
        store_ = std::move(opened).value();
      } else {
        s = opened.status();
      }
    }
    if (store_ != nullptr) s = store_->Append(record);
    if (s.ok()) {
      ++written_;
      return true;
    }
    ++dropped_;
    // SQLite's busy timeout is contention that passes (the next message tries again); any
    // other failure (a full disk, a database that is down) drops the connection and pauses
    // writing for retry_after_s, so that it costs rows, not a timeout per message.
    bool contention = s.code() == StatusCode::kTempFail && options_.store.rfind("sqlite:", 0) == 0;
    if (!contention) {
      store_.reset();
      paused_until_ = now + options_.retry_after_s;
    }
    if (log_ && (last_log_ < 0 || now - last_log_ >= options_.retry_after_s)) {
      last_log_ = now;
      log_("history: record not written (" + std::to_string(dropped_) +
           " dropped so far; next try in " + std::to_string(options_.retry_after_s) +
           " s): " + s.message());
    }
    return false;
  } catch (...) {
    return false;
  }
}

uint64_t HistoryWriter::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

uint64_t HistoryWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace credence
