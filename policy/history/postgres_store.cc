// The PostgreSQL history store: the only file that includes <libpq-fe.h>.
//
// For a fleet of MTAs writing to one database: the same tables as the SQLite store. Time is
// bounded twice: connecting is non-blocking (PQconnectStart + PQconnectPoll under poll())
// and gives up after HistoryOptions::connect_timeout_ms (libpq's own connect_timeout counts
// whole seconds, at least 2); every statement runs under statement_timeout of the same
// length. The connection URI comes from the configuration file ([history] store).
//
// libpq is loaded when a PostgreSQL store is first opened (dlopen of Debian's libpq.so.5),
// not linked: linked, it and its dependencies (GSSAPI, LDAP, ...; 19 more shared objects)
// cost every process that loads credence ~15 ms and ~3.7 MB more at start, and Exim loads
// the shim in every SMTP connection's process, most of which never use PostgreSQL.
#include <dlfcn.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "history/codec.h"
#include "history/stores.h"

namespace credence::history {
namespace {

// The libpq functions this file uses, resolved once from libpq.so.5.
struct Pq {
  decltype(&::PQconnectStart) connectStart;
  decltype(&::PQconnectPoll) connectPoll;
  decltype(&::PQstatus) status;
  decltype(&::PQerrorMessage) errorMessage;
  decltype(&::PQsocket) socket;
  decltype(&::PQfinish) finish;
  decltype(&::PQexec) exec;
  decltype(&::PQexecParams) execParams;
  decltype(&::PQresultStatus) resultStatus;
  decltype(&::PQresultErrorMessage) resultErrorMessage;
  decltype(&::PQclear) clear;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQcmdTuples) cmdTuples;
};

const Pq* g_pq = nullptr;

// Loads libpq once per process; nullptr with *why when it is not installed.
const Pq* LoadPq(std::string* why) {
  static std::once_flag once;
  static Pq pq;
  static std::string error;
  std::call_once(once, [] {
    void* h = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      error = std::string("cannot load libpq.so.5 (Debian package libpq5): ") +
              (e != nullptr ? e : "unknown error");
      return;
    }
    bool ok = true;
    auto sym = [&](auto* fn, const char* name) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(::dlsym(h, name));
      if (*fn == nullptr) {
        ok = false;
        error = std::string("libpq.so.5 has no ") + name;
      }
    };
    sym(&pq.connectStart, "PQconnectStart");
    sym(&pq.connectPoll, "PQconnectPoll");
    sym(&pq.status, "PQstatus");
    sym(&pq.errorMessage, "PQerrorMessage");
    sym(&pq.socket, "PQsocket");
    sym(&pq.finish, "PQfinish");
    sym(&pq.exec, "PQexec");
    sym(&pq.execParams, "PQexecParams");
    sym(&pq.resultStatus, "PQresultStatus");
    sym(&pq.resultErrorMessage, "PQresultErrorMessage");
    sym(&pq.clear, "PQclear");
    sym(&pq.ntuples, "PQntuples");
    sym(&pq.getvalue, "PQgetvalue");
    sym(&pq.getlength, "PQgetlength");
    sym(&pq.getisnull, "PQgetisnull");
    sym(&pq.cmdTuples, "PQcmdTuples");
    if (ok) g_pq = &pq;  // the handle stays open for the life of the process
  });
  if (g_pq == nullptr) *why = error;
  return g_pq;
}

struct ClearResult {
  void operator()(PGresult* r) const { g_pq->clear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

class PostgresStore final : public HistoryStore {
 public:
  explicit PostgresStore(PGconn* conn) : conn_(conn) {}
  ~PostgresStore() override { g_pq->finish(conn_); }

  Status Init(int timeout_ms) {
    if (Status s = Command("SET statement_timeout = " + std::to_string(timeout_ms), {}); !s.ok()) {
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

  Result<std::vector<HistoryRecord>> Read(int64_t begin, int64_t end, size_t max_records) override {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM credence_history WHERE time >= $1 AND time <= $2 ORDER BY id"
                      " LIMIT " +
                      std::to_string(max_records + 1);
    Result<ResultPtr> res = Query(sql, {std::to_string(begin), std::to_string(end)});
    if (!res.ok()) return res.status();
    PGresult* r = res->get();
    int rows = g_pq->ntuples(r);
    if (static_cast<size_t>(rows) > max_records) {
      return Status::TooLarge("more than " + std::to_string(max_records) +
                              " records in the period");
    }
    std::vector<HistoryRecord> out;
    for (int row = 0; row < rows; ++row) {
      std::vector<std::string> cols(kColumnCount);
      for (int i = 0; i < kColumnCount; ++i) {
        cols[i].assign(g_pq->getvalue(r, row, i), g_pq->getlength(r, row, i));
      }
      HistoryRecord rec;
      if (FromColumns(cols, &rec)) out.push_back(std::move(rec));
    }
    return out;
  }

  Result<std::optional<int64_t>> EarliestTime() override {
    Result<ResultPtr> res = Query("SELECT MIN(time) FROM credence_history", {});
    if (!res.ok()) return res.status();
    if (g_pq->ntuples(res->get()) != 1 || g_pq->getisnull(res->get(), 0, 0)) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(std::stoll(g_pq->getvalue(res->get(), 0, 0)));
  }

  Result<bool> Claim(const ReportClaim& c) override {
    Result<ResultPtr> res = Query(
        "INSERT INTO credence_report_state (policy_domain, period_begin, period_end, report_id,"
        " state) VALUES ($1, $2, $3, $4, 'claimed') ON CONFLICT DO NOTHING",
        {c.policy_domain, std::to_string(c.begin), std::to_string(c.end), c.report_id});
    if (!res.ok()) return res.status();
    return std::string(g_pq->cmdTuples(res->get())) == "1";
  }

  Status Finish(const std::string& domain, int64_t begin, const std::string& state) override {
    return Command(
        "UPDATE credence_report_state SET state = $1 WHERE policy_domain = $2 AND "
        "period_begin = $3",
        {state, domain, std::to_string(begin)});
  }

  Status Release(const std::string& domain, int64_t begin) override {
    return Command(
        "DELETE FROM credence_report_state WHERE policy_domain = $1 AND period_begin = $2",
        {domain, std::to_string(begin)});
  }

  Result<std::vector<ReportClaim>> Claims() override {
    Result<ResultPtr> res = Query(
        "SELECT policy_domain, period_begin, period_end, report_id, state FROM "
        "credence_report_state ORDER BY period_begin, policy_domain",
        {});
    if (!res.ok()) return res.status();
    std::vector<ReportClaim> out;
    for (int row = 0; row < g_pq->ntuples(res->get()); ++row) {
      auto v = [&](int i) { return std::string(g_pq->getvalue(res->get(), row, i)); };
      out.push_back({v(0), std::stoll(v(1)), std::stoll(v(2)), v(3), v(4)});
    }
    return out;
  }

  Result<uint64_t> Prune(int64_t before) override {
    Result<ResultPtr> res =
        Query("DELETE FROM credence_history WHERE time < $1", {std::to_string(before)});
    if (!res.ok()) return res.status();
    return static_cast<uint64_t>(std::stoull("0" + std::string(g_pq->cmdTuples(res->get()))));
  }

 private:
  Result<ResultPtr> Query(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    // PQexec for statements without parameters: it takes several commands at once (the
    // schema); g_pq->execParams takes one.
    ResultPtr res(params.empty()
                      ? g_pq->exec(conn_, sql.c_str())
                      : g_pq->execParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                         nullptr, values.data(), nullptr, nullptr, 0),
                  ClearResult());
    ExecStatusType st = res ? g_pq->resultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    std::string m = "postgresql: ";
    m += res ? g_pq->resultErrorMessage(res.get()) : g_pq->errorMessage(conn_);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    if (g_pq->status(conn_) != CONNECTION_OK) return Status::TempFail(m + " (connection lost)");
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
  PGconn* conn = g_pq->connectStart(uri.c_str());
  if (conn == nullptr) return Status::Internal("postgresql: out of memory");
  auto fail = [&](const std::string& why) -> Status {
    std::string m = "postgresql: cannot connect: " + why;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    g_pq->finish(conn);
    return Status::TempFail(m);
  };
  if (g_pq->status(conn) == CONNECTION_BAD) return fail(g_pq->errorMessage(conn));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return fail(g_pq->errorMessage(conn));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("timed out after " + std::to_string(timeout_ms) + " ms");
    pollfd p{g_pq->socket(conn),
             static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return fail("poll failed");
    if (n <= 0) continue;
    state = g_pq->connectPoll(conn);
  }
  return conn;
}

}  // namespace

Result<std::unique_ptr<HistoryStore>> OpenPostgresStore(const std::string& uri,
                                                        const HistoryOptions& options) {
  std::string why;
  if (LoadPq(&why) == nullptr) return Status::Unsupported("postgresql: " + why);
  Result<PGconn*> conn = Connect(uri, options.connect_timeout_ms);
  if (!conn.ok()) return conn.status();
  auto store = std::make_unique<PostgresStore>(*conn);
  if (Status s = store->Init(options.connect_timeout_ms); !s.ok()) return s;
  return std::unique_ptr<HistoryStore>(std::move(store));
}

}  // namespace credence::history
