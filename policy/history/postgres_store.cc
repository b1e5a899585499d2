// The PostgreSQL history store: the only file that includes <libpq-fe.h>.
//
// For a fleet of MTAs writing to one database: the same tables as the SQLite store. Time is
// bounded twice: connecting is non-blocking (PQconnectStart + PQconnectPoll under poll())
// and gives up after HistoryOptions::connect_timeout_ms (libpq's own connect_timeout counts
// whole seconds, at least 2); every statement runs under statement_timeout of the same
// length. The connection URI comes from the configuration file ([history] store).
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "history/codec.h"
#include "history/stores.h"

namespace credence::history {
namespace {

using ResultPtr = std::unique_ptr<PGresult, void (*)(PGresult*)>;

class PostgresStore final : public HistoryStore {
 public:
  explicit PostgresStore(PGconn* conn) : conn_(conn) {}
  ~PostgresStore() override { PQfinish(conn_); }

  Status Init(int timeout_ms) {
    if (Status s = Command("SET statement_timeout = " + std::to_string(timeout_ms), {});
        !s.ok()) {
      return s;
    }
    // Many MTAs may start at once: CREATE TABLE IF NOT EXISTS is not safe against a
    // concurrent creator in PostgreSQL, so creation is serialised by an advisory lock.
    if (Status s = Command("BEGIN", {}); !s.ok()) return s;
    Status s = Command("SELECT pg_advisory_xact_lock(726216)", {});
    if (s.ok()) s = Command(SchemaSql("BIGSERIAL PRIMARY KEY"), {});
    Status end = Command(s.ok() ? "COMMIT" : "ROLLBACK", {});
    return s.ok() ? end : s;
  }

  Status Append(const HistoryRecord& record) override {
    std::string sql = std::string("INSERT INTO credence_history (") + kColumns + ") VALUES (";
    for (int i = 1; i <= kColumnCount; ++i) sql += (i > 1 ? ",$" : "$") + std::to_string(i);
    sql += ")";
    return Command(sql, ToColumns(record));
  }

  Result<std::vector<HistoryRecord>> Read(int64_t begin, int64_t end,
                                          size_t max_records) override {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM credence_history WHERE time >= $1 AND time <= $2 ORDER BY id"
                      " LIMIT " + std::to_string(max_records + 1);
    Result<ResultPtr> res = Query(sql, {std::to_string(begin), std::to_string(end)});
    if (!res.ok()) return res.status();
    PGresult* r = res->get();
    int rows = PQntuples(r);
    if (static_cast<size_t>(rows) > max_records) {
      return Status::TooLarge("more than " + std::to_string(max_records) +
                              " records in the period");
    }
    std::vector<HistoryRecord> out;
    for (int row = 0; row < rows; ++row) {
      std::vector<std::string> cols(kColumnCount);
      for (int i = 0; i < kColumnCount; ++i) {
        cols[i].assign(PQgetvalue(r, row, i), PQgetlength(r, row, i));
      }
      HistoryRecord rec;
      if (FromColumns(cols, &rec)) out.push_back(std::move(rec));
    }
    return out;
  }

  Result<std::optional<int64_t>> EarliestTime() override {
    Result<ResultPtr> res = Query("SELECT MIN(time) FROM credence_history", {});
    if (!res.ok()) return res.status();
    if (PQntuples(res->get()) != 1 || PQgetisnull(res->get(), 0, 0)) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(std::stoll(PQgetvalue(res->get(), 0, 0)));
  }

  Result<bool> Claim(const ReportClaim& c) override {
    Result<ResultPtr> res = Query(
        "INSERT INTO credence_report_state (policy_domain, period_begin, period_end, report_id,"
        " state) VALUES ($1, $2, $3, $4, 'claimed') ON CONFLICT DO NOTHING",
        {c.policy_domain, std::to_string(c.begin), std::to_string(c.end), c.report_id});
    if (!res.ok()) return res.status();
    return std::string(PQcmdTuples(res->get())) == "1";
  }

  Status Finish(const std::string& domain, int64_t begin, const std::string& state) override {
    return Command("UPDATE credence_report_state SET state = $1 WHERE policy_domain = $2 AND "
                   "period_begin = $3",
                   {state, domain, std::to_string(begin)});
  }

  Status Release(const std::string& domain, int64_t begin) override {
    return Command(
        "DELETE FROM credence_report_state WHERE policy_domain = $1 AND period_begin = $2",
        {domain, std::to_string(begin)});
  }

  Result<std::vector<ReportClaim>> Claims() override {
    Result<ResultPtr> res =
        Query("SELECT policy_domain, period_begin, period_end, report_id, state FROM "
              "credence_report_state ORDER BY period_begin, policy_domain",
              {});
    if (!res.ok()) return res.status();
    std::vector<ReportClaim> out;
    for (int row = 0; row < PQntuples(res->get()); ++row) {
      auto v = [&](int i) { return std::string(PQgetvalue(res->get(), row, i)); };
      out.push_back({v(0), std::stoll(v(1)), std::stoll(v(2)), v(3), v(4)});
    }
    return out;
  }

  Result<uint64_t> Prune(int64_t before) override {
    Result<ResultPtr> res =
        Query("DELETE FROM credence_history WHERE time < $1", {std::to_string(before)});
    if (!res.ok()) return res.status();
    return static_cast<uint64_t>(std::stoull("0" + std::string(PQcmdTuples(res->get()))));
  }

 private:
  Result<ResultPtr> Query(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    // PQexec for statements without parameters: it takes several commands at once (the
    // schema); PQexecParams takes one.
    ResultPtr res(params.empty()
                      ? PQexec(conn_, sql.c_str())
                      : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                     nullptr, values.data(), nullptr, nullptr, 0),
                  PQclear);
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    std::string m = "postgresql: ";
    m += res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    if (PQstatus(conn_) != CONNECTION_OK) return Status::TempFail(m + " (connection lost)");
    return Status::IoError(m);
  }
  Status Command(const std::string& sql, const std::vector<std::string>& params) {
    Result<ResultPtr> r = Query(sql, params);
    return r.ok() ? Status::Ok() : r.status();
  }

  PGconn* conn_;
};

// Connects without blocking past `timeout_ms` (libpq's connect_timeout has a 2 s floor).
Result<PGconn*> Connect(const std::string& uri, int timeout_ms) {
  PGconn* conn = PQconnectStart(uri.c_str());
  if (conn == nullptr) return Status::Internal("postgresql: out of memory");
  auto fail = [&](const std::string& why) -> Status {
    std::string m = "postgresql: cannot connect: " + why;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    PQfinish(conn);
    return Status::TempFail(m);
  };
  if (PQstatus(conn) == CONNECTION_BAD) return fail(PQerrorMessage(conn));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return fail(PQerrorMessage(conn));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("timed out after " + std::to_string(timeout_ms) + " ms");
    pollfd p{PQsocket(conn), static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT),
             0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return fail("poll failed");
    if (n <= 0) continue;
    state = PQconnectPoll(conn);
  }
  return conn;
}

}  // namespace

Result<std::unique_ptr<HistoryStore>> OpenPostgresStore(const std::string& uri,
                                                        const HistoryOptions& options) {
  Result<PGconn*> conn = Connect(uri, options.connect_timeout_ms);
  if (!conn.ok()) return conn.status();
  auto store = std::make_unique<PostgresStore>(*conn);
  if (Status s = store->Init(options.connect_timeout_ms); !s.ok()) return s;
  return std::unique_ptr<HistoryStore>(std::move(store));
}

}  // namespace credence::history
