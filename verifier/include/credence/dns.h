// The DNS layer: a batched Resolver that returns parsed answers. Every DNS question credence
// asks goes through this interface, so c-ares, the cache, zone files, recording and fault
// injection are interchangeable (and wrappers around one another).
#ifndef CREDENCE_DNS_H_
#define CREDENCE_DNS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/clock.h"
#include "credence/status.h"

namespace credence {

enum class RRType : uint16_t {
  kA = 1, kNS = 2, kCNAME = 5, kSOA = 6, kPTR = 12, kMX = 15, kTXT = 16, kAAAA = 28,
};
// "A", "TXT", ...; "TYPE<n>" for others.
std::string RRTypeName(RRType type);
// The inverse, case-insensitive: "a", "TXT", "TYPE99" (RFC 3597). False when unknown.
bool ParseRRType(std::string_view name, RRType* type);

struct DnsQuestion {
  std::string name;  // presentation form, no trailing dot, any case ("sel._domainkey.example.com")
  RRType type;
  bool operator==(const DnsQuestion&) const = default;
};

struct ResourceRecord {
  RRType type;
  uint32_t ttl = 0;
  // TXT: the record's character-strings joined with nothing between (RFC 6376 §3.6.2.2,
  //      RFC 7208 §3.3); A / AAAA: presentation address ("192.0.2.1", "2001:db8::1");
  // MX: exchange name; PTR / CNAME / NS: target name. Names without trailing dot.
  std::string data;
  uint16_t preference = 0;  // MX only
  // TXT with more than one character-string (RFC 1035 §3.3.14) only: the offset in `data`
  // where each string after the first starts, so a check can show where strings were joined
  // (`credence check`). Empty for one string and for other types.
  std::vector<uint16_t> txt_breaks;
};

enum class DnsOutcome {
  kOk,        // at least one record of the asked type
  kNxDomain,  // the name does not exist (RCODE 3)
  kNoData,    // the name exists but has no record of this type
  kTempFail,  // DNS trouble (SERVFAIL, REFUSED, timeout, deadline, malformed reply; see
              // DnsFailure): try again later
  kNotAsked,  // not asked: a per-message query budget was spent. Not DNS trouble (asking
              // again would be refused again), so it never becomes a temporary error: the
              // check it served is "not evaluated"
};
// "ok", "nxdomain", "nodata", "tempfail", "not_asked"
std::string_view DnsOutcomeName(DnsOutcome outcome);

// What kind of trouble a kTempFail answer is.
enum class DnsFailure {
  kServer,    // the server answered badly or not at all (SERVFAIL, REFUSED, malformed,
              // connection refused, ...)
  kTimeout,   // no answer within the per-try timeout x tries
  kDeadline,  // the caller's deadline passed first: says nothing about the name
};
std::string_view DnsFailureName(DnsFailure failure);  // "server", "timeout", "deadline"

struct DnsAnswer {
  DnsOutcome outcome = DnsOutcome::kTempFail;
  std::vector<ResourceRecord> records;  // only records of the asked type (CNAMEs followed)
  // For kTempFail and kNotAsked: what went wrong ("timeout", "SERVFAIL", "budget of 16 ...").
  std::string detail;
  uint32_t ttl = 0;                          // for caching: min record TTL, or negative TTL
  DnsFailure failure = DnsFailure::kServer;  // kTempFail only

  // A kTempFail answer for a deadline that passed ("deadline").
  static DnsAnswer DeadlinePassed();
  // A kNotAsked answer with `why`.
  static DnsAnswer NotAsked(std::string why);
};

using Deadline = std::chrono::steady_clock::time_point;

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Answers every question; answers[i] belongs to questions[i]. Questions are asked in
  // parallel where the implementation can. A question not answered by `deadline` gets
  // kTempFail with detail "deadline". Never throws.
  virtual std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                         Deadline deadline) = 0;
  // The answer to (name, type) that this resolver holds already, read in place, or null (the
  // default). A per-message memo (the Evaluator's) holds every answer it has given, so that
  // its callers need no copy of one they ask again; only such a resolver overrides this.
  // Asks nothing; valid until the next Resolve() call.
  virtual const DnsAnswer* Held(std::string_view name, RRType type) const {
    (void)name;
    (void)type;
    return nullptr;
  }
  // The answer to (name, type) that this resolver holds at one address for as long as it
  // lives, read in place, or null (the default). A resolver that keeps every answer it gives
  // for its lifetime (the archive runner's per-batch resolver) overrides this, so a
  // per-message memo in front of it keeps a pointer where it would keep a copy. Asks nothing.
  virtual const DnsAnswer* Pinned(std::string_view name, RRType type) const {
    (void)name;
    (void)type;
    return nullptr;
  }
  // Convenience: one question.
  DnsAnswer ResolveOne(const DnsQuestion& q, Deadline deadline);
};

// The default time one DNS try may take (c-ares, every host's --dns-timeout / dns_timeout_ms).
inline constexpr std::chrono::milliseconds kDefaultDnsTimeout{2000};

// c-ares: a real DNS client. Runs its event loop in the calling thread (no threads started).
struct AresOptions {
  // IPv4 or IPv6 address, never a name. "" (the default): the system's resolvers, the
  // nameserver lines of resolv_conf as c-ares reads them (what Exim, OpenDKIM and rspamd ask).
  std::string server;
  uint16_t port = 53;  // with `server`
  std::string resolv_conf;  // "" = /etc/resolv.conf; only when `server` is ""
  std::chrono::milliseconds timeout = kDefaultDnsTimeout;  // per try
  int tries = 2;
  // UDP first, with EDNS(0) advertising 1232 octets (RFC 6891; DNS flag day 2020): answers
  // up to that size come over UDP; a truncated (TC) or larger reply is asked again over TCP.
};
Result<std::unique_ptr<Resolver>> MakeAresResolver(const AresOptions& options);
// The servers a resolver made with `options` asks, "ADDR:PORT[,ADDR:PORT...]" ("[V6]:PORT"
// for IPv6), without asking them anything: for `credence config check` and tests. Errors as
// MakeAresResolver's.
Result<std::string> DnsServersOf(const AresOptions& options);
// Parses "HOST", "HOST:PORT", "[V6]:PORT" into options.server / options.port.
Status ParseDnsServer(std::string_view spec, AresOptions* options);

// A TTL cache in front of `inner` (which it owns). Positive and negative answers are cached for
// their TTL (capped at max_ttl), temporary failures only for options.tempfail_ttl. Bounded by
// max_entries and by max_bytes (least recently used entries evicted first); an answer whose
// records hold more than max_answer_bytes is passed on and never cached. Thread-safe.
struct CacheOptions {
  size_t max_entries = 10000;
  // Bytes the cache may hold, as accounted per entry: the key, the records (their data and
  // the objects holding it) and a fixed overhead for the containers (CacheStats::bytes).
  // Default 16 MiB. One cache per process: `credence serve` has one for all its workers, an
  // Exim connection process one of its own.
  size_t max_bytes = 16u << 20;
  // An answer whose records' data add up to more than this many bytes is not cached at all
  // (a hostile zone's 60 KB TXT record would otherwise push out hundreds of real answers).
  // Default 4 KiB: DKIM keys (~800 bytes at 4096 bits), SPF and DMARC records are far smaller.
  size_t max_answer_bytes = 4096;
  uint32_t max_ttl = 3600;
  uint32_t negative_ttl = 300;  // when a negative answer carries none
  // Seconds a temporary failure (SERVFAIL, REFUSED, timeout; never "deadline") is cached, so
  // a broken zone is not asked again for every message (RFC 2308 §7.1 allows up to 5
  // minutes). Default 0: not cached. `credence verify` uses 60 for archive runs.
  uint32_t tempfail_ttl = 0;
};
std::unique_ptr<Resolver> MakeCachingResolver(std::unique_ptr<Resolver> inner, const Clock& clock,
                                              const CacheOptions& options = CacheOptions());

// What a caching resolver holds now and has done so far.
struct CacheStats {
  size_t entries = 0;
  size_t bytes = 0;               // accounted as CacheOptions::max_bytes counts them
  uint64_t hits = 0;              // questions answered from the cache
  uint64_t misses = 0;            // questions passed to the inner resolver
  uint64_t evictions = 0;         // live entries dropped for max_entries or max_bytes
  uint64_t too_large = 0;         // answers not cached for max_answer_bytes
};
// The counters of a resolver made by MakeCachingResolver; kInvalidInput for any other.
Result<CacheStats> CachingResolverStats(const Resolver& cache);

// Makes any Resolver safe to share between threads by serializing calls to it. Put it outside
// the cache (serialized(cache(c-ares))) so concurrent misses for one name become one query.
std::unique_ptr<Resolver> MakeSerializedResolver(std::unique_ptr<Resolver> inner);

// Answers from BIND-style zone files: $ORIGIN, $TTL, @, relative and absolute names, omitted
// owner (repeat previous), classes IN, parentheses across lines, comments, TXT with several
// quoted strings (escapes \" \\ \DDD), A, AAAA, MX, PTR, CNAME, NS, SOA. Names not in any
// loaded zone and names under a loaded origin that have no records answer kNxDomain; a name
// with records of other types answers kNoData. CNAME chains are followed (at most 8 links).
class ZoneResolver final : public Resolver {
 public:
  ZoneResolver();
  ~ZoneResolver() override;
  // Loads zone text. `origin` is the initial $ORIGIN (may be empty when the file sets one).
  // kInvalidInput with "FILE:LINE: what" on any syntax error; nothing is added then.
  Status AddZoneText(std::string_view text, std::string_view origin = "",
                     std::string_view source_name = "<zone>");
  Status AddZoneFile(const std::string& path, std::string_view origin = "");
  // Adds one record directly (tests, recording). The owner, and the name an MX, CNAME, NS or
  // PTR record holds, are taken in presentation form ("a\\;b" and "a;b" are one name).
  void AddRecord(std::string_view name, ResourceRecord record);
  // Marks `name` as failing: every question for it answers kTempFail (fault injection).
  void AddFailure(std::string_view name);
  size_t record_count() const;
  // True when `name` is at or below the origin of a loaded zone (its answers come from the
  // zone files, NXDOMAIN included); false for every other name.
  bool Covers(std::string_view name) const;

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override;
  // The answer Resolve() would give, read in place and without a lock, for a name of the zones
  // that answers without following a CNAME (and is not failing); null for every other question.
  // The first call after a change indexes the zones' answers (a copy of their records); each
  // index stays until the resolver goes, so the answers given stay readable after a change.
  const DnsAnswer* Pinned(std::string_view name, RRType type) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Zone files in front of another resolver (`credence check --zone FILE --dns ADDR`): a
// question whose name `zones` covers (ZoneResolver::Covers) is answered from the zones, every
// other question by `rest`. Owns both. With `rest` null, the other questions answer
// kNotAsked with detail "outside the zone files" (no network at all).
std::unique_ptr<Resolver> MakeZoneOverlayResolver(std::unique_ptr<ZoneResolver> zones,
                                                  std::unique_ptr<Resolver> rest);

// Records every answer `inner` gives (it owns `inner`), so a run against live DNS can be
// replayed offline. Thread-safe. The first answer for a question is the one kept.
std::unique_ptr<Resolver> MakeRecordingResolver(std::unique_ptr<Resolver> inner);
// Zone text that a ZoneResolver loads back to the same answers for every recorded question:
// the same outcome (ok / nodata / nxdomain) and the same records with their TTLs. Answers
// behind CNAMEs are written under the asked name. A kNoData name gets a placeholder RFC 3597
// record of private type 65280. A temporary failure is written as a comment and a record of
// private type 65281 holding the asked type (2 octets, network order), which ZoneResolver
// answers as kTempFail for that type: replayed, it stays temporary. Negative TTLs are not
// reproduced (comments). Questions are written sorted by name, then type: the same questions
// give the same text. kInvalidInput when `recording` is not a recording resolver.
Result<std::string> RecordedZoneText(const Resolver& recording);
// The recorded questions that got a temporary failure, sorted, each "NAME TYPE (detail)":
// their answers are not evidence (a replay can only fail them again). kInvalidInput when
// `recording` is not a recording resolver.
Result<std::vector<std::string>> RecordedTempFailures(const Resolver& recording);

}  // namespace credence

#endif  // CREDENCE_DNS_H_
