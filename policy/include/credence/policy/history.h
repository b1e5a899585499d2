// The evaluation history: one compact record per message that had a DMARC policy, kept so
// that `credence report aggregate` can send RFC 9990 aggregate reports to the Domain Owners
// who ask for them (rua=). docs/reports.md explains the whole loop.
//
// Two stores behind one interface: SQLite (one file, WAL; the default for one MTA) and
// PostgreSQL (a fleet of MTAs writing to one database); the same schema in both. Writing must
// never slow or fail a verdict: hosts append through a HistoryWriter, which bounds the time
// spent (busy / connect timeouts), counts and logs what it could not write, and after a
// failure stops trying for a while so that a database that is down costs rows, not time.
#ifndef CREDENCE_POLICY_HISTORY_H_
#define CREDENCE_POLICY_HISTORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/message.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/evaluate.h"
#include "credence/status.h"

namespace credence {

// One DKIM signature as the report shows it (RFC 9990 DKIMAuthResultType).
struct HistoryDkim {
  std::string domain;    // d=
  std::string selector;  // s=
  std::string result;    // RFC 8601 §2.7.1 word: "pass", "fail", ...
  bool operator==(const HistoryDkim&) const = default;
  auto operator<=>(const HistoryDkim&) const = default;
};

// One evaluation. Domains are lower-case A-labels; words are the RFC spellings. Empty strings
// mean "not known" (no client IP, a null MAIL FROM, an SMTP host that gave no recipient).
struct HistoryRecord {
  int64_t time = 0;           // when it was evaluated, seconds since the epoch (UTC)
  std::string source_ip;      // the SMTP client
  std::string envelope_from;  // RFC5321.MailFrom domain ("" for the null reverse-path)
  std::string envelope_to;    // RFC5321.RcptTo domain (the first recipient's)
  std::string header_from;    // RFC5322.From domain
  std::string org_domain;     // the From domain's organizational domain
  // The DMARC Policy Record that applied, as published (RFC 9989 §4.7 tags).
  std::string policy_domain;      // where it was found (without "_dmarc.")
  std::string p;                  // p= ("none", "quarantine", "reject")
  std::string sp;                 // sp= as published ("" when absent)
  std::string np;                 // np= as published ("" when absent)
  std::string adkim = "r";        // "r" or "s"
  std::string aspf = "r";         // "r" or "s"
  bool testing = false;           // t=y
  std::string fo = "0";           // fo=
  std::string discovery;          // "treewalk" or "psl" (RFC 9990 discovery_method)
  std::vector<std::string> rua;   // rua= URIs as published, in order
  std::vector<HistoryDkim> dkim;  // every DKIM-Signature evaluated, in header order
  std::string spf_domain;         // the domain SPF checked ("" when none was)
  std::string spf_scope;          // "mfrom" or "helo" (a null sender is checked as the HELO)
  std::string spf_result;         // RFC 8601 §2.7.2 word
  std::string dmarc;              // "pass", "fail", "temperror", "permerror"
  bool dkim_aligned = false;      // an aligned DKIM pass
  bool spf_aligned = false;       // an aligned SPF pass
  std::string disposition;        // applied: "none", "quarantine", "reject"
  // Why the applied disposition is not the one the policy asked for (RFC 9990 §2.1.5 types:
  // "local_policy", "policy_test_mode", "other"), with a free-text comment; "" when none.
  std::string override_type;
  std::string override_comment;
  // The message is itself a DMARC report (to us): kept, never reported back (no loops).
  bool is_report = false;

  bool operator==(const HistoryRecord&) const = default;
};

// Whether `ev` has a DMARC result worth recording: a DMARC Policy Record applied.
bool HasReportableDmarc(const Evaluation& ev);

// The record for one evaluation (HasReportableDmarc must hold). `envelope_to` is a recipient
// address or domain (only its domain is kept); `method` is how the organizational domain was
// found.
HistoryRecord MakeHistoryRecord(const Evaluation& ev, const Envelope& envelope,
                                std::string_view envelope_to, int64_t time, OrgDomainMethod method,
                                bool is_report);

// Whether `message` is itself a DMARC aggregate report: a Subject that starts with
// "Report Domain:" and names a "Report-ID:" (RFC 9990 §5.2.1, RFC 7489 §7.2.1.1), or an
// attachment whose file name has the report form "receiver!policy-domain!begin!end[...]".
// Case-insensitive; reads only header fields and MIME part headers (bounded).
bool LooksLikeDmarcReport(const Message& message);

// A period already handled for one policy domain (the report state).
struct ReportClaim {
  std::string policy_domain;
  int64_t begin = 0;  // inclusive, seconds since the epoch
  int64_t end = 0;    // inclusive (RFC 9990 date_range end)
  std::string report_id;
  std::string state;  // "claimed" (a run is sending it), "sent", "written", "skipped"
};

// A place to keep records. Implementations are not thread-safe: use one per thread, or the
// HistoryWriter's lock. Every method reports failures as a Status; none throws.
class HistoryStore {
 public:
  virtual ~HistoryStore() = default;
  // Appends one record (one transaction).
  virtual Status Append(const HistoryRecord& record) = 0;
  // Every record with begin <= time <= end, not in any particular order, at most
  // `max_records` (kTooLarge past it: a period too large to report in one run).
  virtual Result<std::vector<HistoryRecord>> Read(int64_t begin, int64_t end,
                                                  size_t max_records) = 0;
  // The earliest record time, or nullopt when the store is empty.
  virtual Result<std::optional<int64_t>> EarliestTime() = 0;
  // Claims (policy_domain, begin): false when it is already claimed or done (another run, or
  // an earlier one); true when this call made the claim. Atomic across processes.
  virtual Result<bool> Claim(const ReportClaim& claim) = 0;
  // Sets the state of a claim ("sent", "written", "skipped").
  virtual Status Finish(const std::string& policy_domain, int64_t begin,
                        const std::string& state) = 0;
  // Drops a claim that could not be completed, so that a later run tries again.
  virtual Status Release(const std::string& policy_domain, int64_t begin) = 0;
  // Every claim, oldest period first.
  virtual Result<std::vector<ReportClaim>> Claims() = 0;
  // Deletes records older than `before` (retention). Returns how many were deleted.
  virtual Result<uint64_t> Prune(int64_t before) = 0;
};

// [history] in the configuration file (docs/configuration.md, docs/reports.md).
struct HistoryOptions {
  bool enabled = false;  // default off: nothing is written
  // "sqlite:PATH" (PATH relative to the working directory, or absolute) or a libpq URI
  // ("postgresql://..." / "postgres://..."). Required when enabled.
  std::string store;
  // SQLite: how long an append waits for another writer's lock before giving up (the row
  // is dropped and counted). Default 250 ms.
  int busy_timeout_ms = 250;
  // PostgreSQL: how long connecting and each statement may take. Default 500 ms.
  int connect_timeout_ms = 500;
  // After a failed append, appends are dropped (and counted) without trying for this long,
  // so that a full disk or a database that is down does not cost every message a timeout.
  // Default 30 s.
  int retry_after_s = 30;
  // The Reporting Organization (RFC 9990 report_metadata).
  std::string org_name;            // org_name; required to report
  std::string email;               // email: contact address; required to report
  std::string extra_contact_info;  // optional
  // The From address of report messages (default: `email`).
  std::string report_from;
  // The receiver's domain in report file names and Subject ("Submitter"); default: the
  // domain of `email`.
  std::string receiver_domain;
  // Path of the local MTA's sendmail interface. Default Exim's /usr/sbin/sendmail.
  std::string sendmail = "/usr/sbin/sendmail";
  // A run reports at most this many past days it has not reported yet (catch-up after
  // downtime). Default 7.
  int max_catchup_days = 7;
  // Records kept for this many days after their day is reported; 0 keeps everything.
  // Default 0.
  int retention_days = 0;
};

// Opens the store named by `uri` ("sqlite:PATH", "postgresql://...", "postgres://...", or
// "memory:" for tests), creating the schema when missing. kInvalidInput for an unknown scheme;
// kIoError / kTempFail when the database cannot be opened or reached.
Result<std::unique_ptr<HistoryStore>> OpenHistoryStore(const std::string& uri,
                                                       const HistoryOptions& options);

// Checks the form of a store URI (config validation); does not open it.
Status ValidateHistoryStoreUri(const std::string& uri);

// What hosts append through. Thread-safe (one lock). Never throws, never blocks longer than
// the store's timeouts: the store is opened on first use; a failure drops the record, counts
// it, calls `log` (rate-limited: the first failure, then once per retry_after_s), and no write
// is tried again for retry_after_s.
class HistoryWriter {
 public:
  using LogFunction = std::function<void(const std::string&)>;
  HistoryWriter(HistoryOptions options, LogFunction log);
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // Appends, or drops and counts. Returns whether the record was written.
  bool Append(const HistoryRecord& record) noexcept;
  uint64_t written() const;
  uint64_t dropped() const;

 private:
  mutable std::mutex mu_;
  HistoryOptions options_;
  LogFunction log_;
  std::unique_ptr<HistoryStore> store_;
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
  int64_t paused_until_ = 0;  // steady seconds: no tries before
  int64_t last_log_ = -1;
};

}  // namespace credence

#endif  // CREDENCE_POLICY_HISTORY_H_
