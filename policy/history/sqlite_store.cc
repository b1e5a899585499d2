// The SQLite history store: the only file that includes <sqlite3.h>.
//
// One database file in WAL mode, so that readers never block the many Exim processes that
// append at once (one per SMTP connection), and each append is one short transaction.
// A writer that finds the database locked waits at most HistoryOptions::busy_timeout_ms
// (sqlite3_busy_timeout) and then gives up: the row is dropped by the HistoryWriter, the mail
// goes on. "BEGIN IMMEDIATE" takes the write lock at the start, so a transaction never has
// to be retried half-way (no SQLITE_BUSY after the first statement).
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "history/codec.h"
#include "history/stores.h"

namespace credence::history {
namespace {

class SqliteStore final : public HistoryStore {
 public:
  SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    for (sqlite3_stmt* s : {insert_, claim_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  Status Init(int busy_timeout_ms) {
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    // Exim opens the store once per SMTP connection. By default the last connection to close
    // checkpoints and deletes the WAL file, and the next one re-creates it with an fsync
    // before its first append (12-22 ms each on a busy disk here). Keeping the WAL file and
    // leaving checkpoints to SQLite's automatic ones (every 1000 pages, ~10,000 rows) makes a
    // connection's first append as cheap as the others; durability is WAL + synchronous=NORMAL
    // either way (a power loss may lose the last rows, never the file).
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    int persist = 1;
    sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    // WAL: appends by many processes, reads (report runs) without blocking them. The journal
    // mode is stored in the file, and the tables stay: a process (Exim: one per SMTP
    // connection) that finds both set up only reads, instead of taking the write lock to
    // change nothing.
    if (Status s = Exec("PRAGMA synchronous=NORMAL;"); !s.ok()) return s;
    // Several processes may find a new file at once (the first messages after installation:
    // one Exim process per connection). Switching to WAL needs the file to itself, which
    // SQLite answers SQLITE_BUSY at once rather than through the busy handler; so the set-up
    // is tried again while it finds the file busy, within the same busy timeout.
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    Status set_up;
    while (!(set_up = SetUp()).ok() && set_up.code() == StatusCode::kTempFail &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!set_up.ok()) return set_up;
    std::string sql = std::string("INSERT INTO credence_history (") + kColumns + ") VALUES (";
    for (int i = 1; i <= kColumnCount; ++i) sql += (i > 1 ? ",?" : "?") + std::string();
    sql += ")";
    if (Status s = Prepare(sql, &insert_); !s.ok()) return s;
    return Prepare(
        "INSERT OR IGNORE INTO credence_report_state (policy_domain, period_begin, period_end,"
        " report_id, state) VALUES (?, ?, ?, ?, ?)",
        &claim_);
  }

  Status Append(const HistoryRecord& record) override {
    std::vector<std::string> cols = ToColumns(record);
    sqlite3_reset(insert_);
    for (int i = 0; i < kColumnCount; ++i) {
      sqlite3_bind_text(insert_, i + 1, cols[i].data(), static_cast<int>(cols[i].size()),
                        SQLITE_TRANSIENT);
    }
    // One statement in autocommit mode is one transaction; the busy handler waits for the
    // write lock up to the busy timeout.
    int rc = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    if (rc != SQLITE_DONE) return Error("append", rc);
    return Status::Ok();
  }

  Result<std::vector<HistoryRecord>> Read(int64_t begin, int64_t end, size_t max_records) override {
    sqlite3_stmt* st = nullptr;
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM credence_history WHERE time >= ? AND time <= ? ORDER BY id";
    if (Status s = Prepare(sql, &st); !s.ok()) return s;
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
    sqlite3_bind_int64(st, 1, begin);
    sqlite3_bind_int64(st, 2, end);
    std::vector<HistoryRecord> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (out.size() >= max_records) {
        return Status::TooLarge("more than " + std::to_string(max_records) +
                                " records in the period");
      }
      std::vector<std::string> cols(kColumnCount);
      for (int i = 0; i < kColumnCount; ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        cols[i] = t == nullptr
                      ? ""
                      : std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st, i));
      }
      HistoryRecord r;
      if (FromColumns(cols, &r)) out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return Error("read", rc);
    return out;
  }

  Result<std::optional<int64_t>> EarliestTime() override {
    sqlite3_stmt* st = nullptr;
    if (Status s = Prepare("SELECT MIN(time) FROM credence_history", &st); !s.ok()) return s;
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return Error("read", rc);
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) return std::optional<int64_t>();
    return std::optional<int64_t>(sqlite3_column_int64(st, 0));
  }

  Result<bool> Claim(const ReportClaim& c) override {
    sqlite3_reset(claim_);
    sqlite3_bind_text(claim_, 1, c.policy_domain.data(), static_cast<int>(c.policy_domain.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(claim_, 2, c.begin);
    sqlite3_bind_int64(claim_, 3, c.end);
    sqlite3_bind_text(claim_, 4, c.report_id.data(), static_cast<int>(c.report_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(claim_, 5, "claimed", -1, SQLITE_STATIC);
    int rc = sqlite3_step(claim_);
    sqlite3_reset(claim_);
    if (rc != SQLITE_DONE) return Error("claim", rc);
    return sqlite3_changes(db_) == 1;
  }

  Status Finish(const std::string& domain, int64_t begin, const std::string& state) override {
    return Run(
        "UPDATE credence_report_state SET state = ? WHERE policy_domain = ? AND "
        "period_begin = ?",
        {state, domain}, begin);
  }

  Status Release(const std::string& domain, int64_t begin) override {
    return Run("DELETE FROM credence_report_state WHERE policy_domain = ? AND period_begin = ?",
               {domain}, begin);
  }

  Result<std::vector<ReportClaim>> Claims() override {
    sqlite3_stmt* st = nullptr;
    if (Status s = Prepare("SELECT policy_domain, period_begin, period_end, report_id, state "
                           "FROM credence_report_state ORDER BY period_begin, policy_domain",
                           &st);
        !s.ok()) {
      return s;
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
    std::vector<ReportClaim> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      auto text = [&](int i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
      };
      out.push_back(
          {text(0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), text(3), text(4)});
    }
    if (rc != SQLITE_DONE) return Error("read", rc);
    return out;
  }

  Result<uint64_t> Prune(int64_t before) override {
    if (Status s = Run("DELETE FROM credence_history WHERE time < ?", {}, before); !s.ok()) {
      return s;
    }
    return static_cast<uint64_t>(sqlite3_changes(db_));
  }

 private:
  // WAL mode and the tables, each set up only when missing.
  Status SetUp() {
    Result<std::string> mode = One("PRAGMA journal_mode");
    if (!mode.ok()) return mode.status();
    if (*mode != "wal") {
      if (Status s = Exec("PRAGMA journal_mode=WAL;"); !s.ok()) return s;
    }
    Result<std::string> tables =
        One("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
            "('credence_history', 'credence_report_state')");
    if (!tables.ok()) return tables.status();
    if (*tables != "2") return Exec(SchemaSql("INTEGER PRIMARY KEY"));
    return Status::Ok();
  }
    Status Error(const char* what, int rc) {
    std::string m = std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::TempFail(m + " (busy timeout)");
    return Status::IoError(m);
  }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string m = std::string("sqlite: ") + (err != nullptr ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc == SQLITE_BUSY ? Status::TempFail(m) : Status::IoError(m);
  }
  // The first column of the first row of `sql`, as text.
  Result<std::string> One(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (Status s = Prepare(sql, &st); !s.ok()) return s;
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return Error("read", rc);
    const unsigned char* t = sqlite3_column_text(st, 0);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  }
  Status Prepare(const std::string& sql, sqlite3_stmt** st) {
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, st, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : Error("prepare", rc);
  }
  // Runs `sql` with the text parameters first, then one integer.
  Status Run(const char* sql, std::vector<std::string> texts, int64_t number) {
    sqlite3_stmt* st = nullptr;
    if (Status s = Prepare(sql, &st); !s.ok()) return s;
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
    int i = 1;
    for (const std::string& t : texts) {
      sqlite3_bind_text(st, i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, i, number);
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? Status::Ok() : Error("write", rc);
  }

  sqlite3* db_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* claim_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<HistoryStore>> OpenSqliteStore(const std::string& path,
                                                      const HistoryOptions& options) {
  sqlite3* db = nullptr;
  // NOMUTEX: a store is used by one thread at a time (the HistoryWriter's lock).
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = "sqlite: cannot open '" + path +
                    "': " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return Status::IoError(m);
  }
  auto store = std::make_unique<SqliteStore>(db);
  if (Status s = store->Init(options.busy_timeout_ms); !s.ok()) {
    return Status(s.code(), "'" + path + "': " + s.message());
  }
  return std::unique_ptr<HistoryStore>(std::move(store));
}

}  // namespace credence::history
