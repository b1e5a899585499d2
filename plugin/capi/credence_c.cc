// The C ABI (include/credence/credence.h) over the host-neutral Evaluator. Every extern "C"
// function catches everything: nothing inside a host process may throw across the boundary.
#include "credence/credence.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credence/clock.h"
#include "credence/dns.h"
#include "credence/limits.h"
#include "credence/message.h"
#include "credence/policy/authres.h"
#include "credence/policy/config.h"
#include "credence/policy/evaluate.h"
#include "credence/policy/history.h"
#include "common/evaluation_json.h"

#ifndef CREDENCE_VERSION
#define CREDENCE_VERSION "0.0.0"
#endif

namespace {

using credence::AresOptions;
using credence::Evaluation;
using credence::EvaluatorOptions;
using credence::Status;

constexpr unsigned kMaxMilliseconds = credence::kMaxSettingMilliseconds;
constexpr size_t kHandleCacheBytes = 4u << 20;  // DNS cache of one handle (docs/limits.md)

// Opening and closing verifiers touch process-wide library state (c-ares 1.18's
// ares_library_init/cleanup are not thread-safe), so they are serialised; credence_verify
// on different handles is not.
std::mutex g_open_close_mutex;

// Stores `message` in *errptr (convention 3). Never throws: when even the copy cannot be
// allocated, *errptr stays as it was.
void SetError(char** errptr, std::string_view message) {
  if (errptr == nullptr) return;
  char* copy = static_cast<char*>(std::malloc(message.size() + 1));
  if (copy == nullptr) return;
  std::memcpy(copy, message.data(), message.size());
  copy[message.size()] = '\0';
  std::free(*errptr);
  *errptr = copy;
}

// Runs `body`, turning any exception into an error (and `failure` as the return value).
template <typename T, typename F>
T Guard(char** errptr, T failure, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    SetError(errptr, "out of memory");
  } catch (const std::exception& e) {
    try {
      SetError(errptr, std::string("internal error: ") + e.what());
    } catch (...) {
      SetError(errptr, "internal error");
    }
  } catch (...) {
    SetError(errptr, "internal error");
  }
  return failure;
}

std::string_view OrEmpty(const char* s) { return s == nullptr ? std::string_view() : s; }

}  // namespace

struct credence_options_t {
  AresOptions ares;
  std::vector<std::string> zone_files;
  std::string authserv_id = "localhost";
  bool authserv_id_set = false;  // set explicitly: wins over the configuration file
  unsigned deadline_ms = 10000;
  bool deadline_set = false;
  std::optional<int64_t> fixed_time;
  std::string config_file;
};

struct credence_t {
  std::unique_ptr<credence::Clock> clock;
  std::unique_ptr<credence::Resolver> resolver;
  std::unique_ptr<credence::Evaluator> evaluator;
  // [history] enabled in the configuration file: credence_result_record_history writes here.
  std::unique_ptr<credence::HistoryWriter> history;
  std::string history_log;  // what the writer last wanted logged (handed to the host once)
};

struct credence_result_t {
  Evaluation ev;
  std::string authres;         // one line, no leading space
  std::string authres_folded;  // as AuthResHeader::folded
  std::vector<std::string> dkim_result, dkim_reason;
  std::string spf, spf_helo;
  std::string dmarc, dmarc_policy, dmarc_disposition;
  std::string arc, arc_reason, arc_sealers;
  std::string json;
  // The history record of this evaluation, made when the handle keeps a history and DMARC
  // had a policy (the message is gone by the time the host asks to record it).
  std::optional<credence::HistoryRecord> history;
};

extern "C" {

int credence_abi_version(void) { return CREDENCE_ABI_VERSION; }

const char* credence_version(void) { return CREDENCE_VERSION; }

void credence_free(void* ptr) { std::free(ptr); }

credence_options_t* credence_options_create(void) {
  return Guard<credence_options_t*>(nullptr, nullptr, [] { return new credence_options_t(); });
}

void credence_options_destroy(credence_options_t* options) { delete options; }

int credence_options_set_dns_server(credence_options_t* options, const char* spec,
                                    char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (spec == nullptr || *spec == '\0') return SetError(errptr, "DNS server is empty"), -1;
    AresOptions parsed = options->ares;
    Status st = credence::ParseDnsServer(spec, &parsed);
    // The message names the server already ("DNS server 'localhost' is not an IP address").
    if (!st.ok()) return SetError(errptr, st.message()), -1;
    options->ares = parsed;
    return 0;
  });
}

int credence_options_set_dns_timeout_ms(credence_options_t* options, unsigned ms,
                                        char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (ms == 0 || ms > credence::kMaxDnsTimeoutMilliseconds)
      return SetError(errptr, "DNS timeout must be 1.." +
                                  std::to_string(credence::kMaxDnsTimeoutMilliseconds) + " ms"),
             -1;
    options->ares.timeout = std::chrono::milliseconds(ms);
    return 0;
  });
}

int credence_options_add_zone_file(credence_options_t* options, const char* path,
                                   char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (path == nullptr || *path == '\0') return SetError(errptr, "zone file path is empty"), -1;
    options->zone_files.emplace_back(path);
    return 0;
  });
}

int credence_options_set_authserv_id(credence_options_t* options, const char* authserv_id,
                                     char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (authserv_id == nullptr) return SetError(errptr, "authserv-id is NULL"), -1;
    Status st = credence::ValidateAuthServId(authserv_id);
    if (!st.ok()) return SetError(errptr, "authserv-id: " + st.message()), -1;
    options->authserv_id = authserv_id;
    options->authserv_id_set = true;
    return 0;
  });
}

int credence_options_set_deadline_ms(credence_options_t* options, unsigned ms, char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (ms == 0 || ms > kMaxMilliseconds)
      return SetError(errptr, "deadline must be 1.." + std::to_string(kMaxMilliseconds) + " ms"), -1;
    options->deadline_ms = ms;
    options->deadline_set = true;
    return 0;
  });
}

void credence_options_set_fixed_time(credence_options_t* options, int64_t unix_seconds) {
  if (options != nullptr) options->fixed_time = unix_seconds;
}

int credence_options_set_config_file(credence_options_t* options, const char* path,
                                     char** errptr) {
  return Guard(errptr, -1, [&] {
    if (options == nullptr) return SetError(errptr, "options is NULL"), -1;
    if (path == nullptr || *path == '\0')
      return SetError(errptr, "configuration file path is empty"), -1;
    options->config_file = path;  // read (and checked) by credence_open
    return 0;
  });
}

credence_t* credence_open(const credence_options_t* options, char** errptr) {
  return Guard<credence_t*>(errptr, nullptr, [&]() -> credence_t* {
    if (options == nullptr) return SetError(errptr, "options is NULL"), nullptr;
    std::lock_guard<std::mutex> lock(g_open_close_mutex);
    auto handle = std::make_unique<credence_t>();
    if (options->fixed_time) {
      handle->clock = std::make_unique<credence::FixedClock>(*options->fixed_time);
    } else {
      handle->clock = std::make_unique<credence::SystemClock>();
    }

    if (!options->zone_files.empty()) {
      auto zones = std::make_unique<credence::ZoneResolver>();
      for (const std::string& path : options->zone_files) {
        Status st = zones->AddZoneFile(path);
        if (!st.ok()) return SetError(errptr, "zone file " + path + ": " + st.message()), nullptr;
      }
      handle->resolver = std::move(zones);
    } else {
      credence::Result<std::unique_ptr<credence::Resolver>> ares =
          credence::MakeAresResolver(options->ares);
      if (!ares.ok()) return SetError(errptr, "DNS client: " + ares.status().message()), nullptr;
      // A handle serves one host process (Exim: one per SMTP connection, each with its own
      // cache), so its cache is smaller than the shared one of `credence serve`.
      credence::CacheOptions cache;
      cache.max_bytes = kHandleCacheBytes;
      handle->resolver =
          credence::MakeCachingResolver(std::move(ares).value(), *handle->clock, cache);
    }

    EvaluatorOptions eo;
    if (!options->config_file.empty()) {
      credence::Result<credence::Config> config = credence::LoadConfigFile(options->config_file);
      if (!config.ok())
        return SetError(errptr, "configuration: " + config.status().message()), nullptr;
      eo.limits = config->limits;
      eo.dmarc = config->dmarc;
      eo.authres = config->authres;
      eo.score = config->score;
    }
    // Explicit settings win over the file; without a file they win over the defaults.
    if (options->deadline_set || options->config_file.empty())
      eo.limits.deadline = std::chrono::milliseconds(options->deadline_ms);
    if (options->authserv_id_set || options->config_file.empty())
      eo.authres.authserv_id = options->authserv_id;
    credence::Result<std::unique_ptr<credence::Evaluator>> evaluator =
        credence::Evaluator::Create(eo, *handle->clock);
    if (!evaluator.ok()) return SetError(errptr, evaluator.status().message()), nullptr;
    handle->evaluator = std::move(evaluator).value();
    if (!options->config_file.empty()) {
      credence::Result<credence::Config> config = credence::LoadConfigFile(options->config_file);
      if (config.ok() && config->history.enabled) {
        credence_t* h = handle.get();
        handle->history = std::make_unique<credence::HistoryWriter>(
            config->history, [h](const std::string& m) { h->history_log = m; });
      }
    }
    return handle.release();
  });
}

void credence_close(credence_t* handle) {
  if (handle == nullptr) return;
  try {
    std::lock_guard<std::mutex> lock(g_open_close_mutex);
    delete handle;
  } catch (...) {
  }
}

credence_result_t* credence_verify(credence_t* handle, const char* msg, size_t msg_len,
                                   const char* client_ip, const char* helo,
                                   const char* mail_from, char** errptr) {
  return credence_verify_prefix(handle, msg, msg_len, msg_len, client_ip, helo, mail_from,
                                errptr);
}

credence_result_t* credence_verify_prefix(credence_t* handle, const char* msg, size_t msg_len,
                                          size_t total_len, const char* client_ip,
                                          const char* helo, const char* mail_from,
                                          char** errptr) {
  return Guard<credence_result_t*>(errptr, nullptr, [&]() -> credence_result_t* {
    if (handle == nullptr) return SetError(errptr, "handle is NULL"), nullptr;
    if (msg == nullptr && msg_len > 0) return SetError(errptr, "message is NULL"), nullptr;
    if (msg_len == 0 && total_len == 0) return SetError(errptr, "not a message: empty"), nullptr;
    const credence::Limits& limits = handle->evaluator->options().limits;
    credence::Result<credence::Message> message = credence::Message::Parse(
        std::string_view(msg, msg_len), limits, total_len > msg_len ? total_len : 0);
    if (!message.ok())
      return SetError(errptr, "not a message: " + message.status().message()), nullptr;

    credence::Envelope envelope;
    envelope.client_ip = OrEmpty(client_ip);
    envelope.helo = OrEmpty(helo);
    envelope.mail_from = OrEmpty(mail_from);

    auto r = std::make_unique<credence_result_t>();
    r->ev = handle->evaluator->Evaluate(*message, envelope, *handle->resolver);
    const Evaluation& ev = r->ev;

    std::string_view value = ev.authres.value;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    r->authres = value;
    r->authres_folded = ev.authres.folded;
    for (const credence::DkimResult& d : ev.dkim) {
      r->dkim_result.emplace_back(credence::DkimVerdictName(d.result));
      r->dkim_reason.emplace_back(credence::DkimReasonName(d.reason));
    }
    r->spf = ev.spf_evaluated ? std::string(credence::SpfVerdictName(ev.spf_mailfrom.result))
                              : "none";
    r->spf_helo =
        ev.spf_evaluated ? std::string(credence::SpfVerdictName(ev.spf_helo.result)) : "none";
    r->dmarc = credence::DmarcVerdictName(ev.dmarc.verdict);
    // A record assumed above a failed name (for the score only) is no policy found.
    r->dmarc_policy = ev.dmarc.has_record && !ev.dmarc.record_assumed
                          ? std::string(credence::DmarcPolicyName(ev.dmarc.requested))
                          : "";
    r->dmarc_disposition = credence::DmarcDispositionName(ev.dmarc.disposition);
    r->arc = credence::ArcVerdictName(ev.arc.result);
    r->arc_reason = credence::ArcReasonName(ev.arc.reason);
    for (const std::string& d : ev.arc.Sealers()) {
      if (!r->arc_sealers.empty()) r->arc_sealers += ",";
      r->arc_sealers += d;
    }
    credence::AppendEvaluationJson(ev, &r->json);
    if (handle->history != nullptr && credence::HasReportableDmarc(ev)) {
      r->history = credence::MakeHistoryRecord(
          ev, envelope, "", handle->clock->Now(),
          handle->evaluator->options().dmarc.org_domain_method,
          credence::LooksLikeDmarcReport(*message));
    }
    return r.release();
  });
}

int credence_result_record_history(credence_t* handle, const credence_result_t* result,
                                   const char* envelope_to, char** errptr) {
  return Guard(errptr, -1, [&] {
    if (handle == nullptr || result == nullptr) {
      return SetError(errptr, "handle or result is NULL"), -1;
    }
    if (handle->history == nullptr || !result->history) return 0;
    credence::HistoryRecord record = *result->history;
    std::string_view to = OrEmpty(envelope_to);
    if (size_t at = to.rfind('@'); at != std::string_view::npos) to.remove_prefix(at + 1);
    record.envelope_to = credence::ToLower(to);
    bool written = handle->history->Append(record);
    if (!handle->history_log.empty()) {
      SetError(errptr, handle->history_log);
      handle->history_log.clear();
    }
    return written ? 1 : 0;
  });
}

void credence_result_destroy(credence_result_t* result) {
  try {
    delete result;
  } catch (...) {
  }
}

// Accessors: plain reads of strings built by credence_verify; they cannot throw.

const char* credence_result_authres(const credence_result_t* r) {
  return r ? r->authres.c_str() : nullptr;
}

const char* credence_result_authres_folded(const credence_result_t* r) {
  return r ? r->authres_folded.c_str() : nullptr;
}

double credence_result_score(const credence_result_t* r) { return r ? r->ev.score.score : 0; }

long credence_result_score_tenths(const credence_result_t* r) {
  if (r == nullptr) return 0;
  double tenths = r->ev.score.score * 10.0;
  if (!std::isfinite(tenths) || std::fabs(tenths) > 1e15) return 0;
  // Sums of decimal weights carry binary noise (0.1 + 0.2 = 0.30000000000000004): nudge by a
  // far smaller amount than any weight step before rounding half away from zero.
  return std::lround(tenths + std::copysign(1e-7, tenths));
}

size_t credence_result_symbol_count(const credence_result_t* r) {
  return r ? r->ev.score.symbols.size() : 0;
}

const char* credence_result_symbol_name(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.score.symbols.size()) return nullptr;
  return r->ev.score.symbols[i].name.data();  // a literal of the table: NUL-terminated
}

double credence_result_symbol_weight(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.score.symbols.size()) return 0;
  return r->ev.score.symbols[i].weight;
}

const char* credence_result_symbol_description(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.score.symbols.size()) return nullptr;
  return r->ev.score.symbols[i].description.c_str();
}

size_t credence_result_dkim_count(const credence_result_t* r) { return r ? r->ev.dkim.size() : 0; }

const char* credence_result_dkim_result(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->dkim_result.size()) return nullptr;
  return r->dkim_result[i].c_str();
}

const char* credence_result_dkim_reason(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->dkim_reason.size()) return nullptr;
  return r->dkim_reason[i].c_str();
}

const char* credence_result_dkim_domain(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.dkim.size()) return nullptr;
  return r->ev.dkim[i].domain.c_str();
}

const char* credence_result_dkim_selector(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.dkim.size()) return nullptr;
  return r->ev.dkim[i].selector.c_str();
}

const char* credence_result_spf(const credence_result_t* r) { return r ? r->spf.c_str() : nullptr; }

const char* credence_result_spf_helo(const credence_result_t* r) {
  return r ? r->spf_helo.c_str() : nullptr;
}

const char* credence_result_dmarc(const credence_result_t* r) {
  return r ? r->dmarc.c_str() : nullptr;
}

const char* credence_result_arc(const credence_result_t* r) {
  return r ? r->arc.c_str() : nullptr;
}

const char* credence_result_arc_reason(const credence_result_t* r) {
  return r ? r->arc_reason.c_str() : nullptr;
}

const char* credence_result_arc_sealers(const credence_result_t* r) {
  return r ? r->arc_sealers.c_str() : nullptr;
}

int credence_result_arc_override(const credence_result_t* r) {
  return r && r->ev.dmarc.arc_override ? 1 : 0;
}

const char* credence_result_dmarc_policy(const credence_result_t* r) {
  return r ? r->dmarc_policy.c_str() : nullptr;
}

const char* credence_result_dmarc_disposition(const credence_result_t* r) {
  return r ? r->dmarc_disposition.c_str() : nullptr;
}

const char* credence_result_dmarc_from_domain(const credence_result_t* r) {
  return r ? r->ev.dmarc.from_domain.c_str() : nullptr;
}

const char* credence_result_dmarc_reason(const credence_result_t* r) {
  if (r == nullptr) return nullptr;
  // As the A-R writer: a pass carries no reason.
  return r->ev.dmarc.verdict == credence::DmarcVerdict::kPass ? "" : r->ev.dmarc.reason.c_str();
}

size_t credence_result_limit_count(const credence_result_t* r) {
  return r ? r->ev.limits.size() : 0;
}

const char* credence_result_limit(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.limits.size()) return nullptr;
  return r->ev.limits[i].c_str();
}

int credence_authres_is_ours(const credence_t* handle, const char* field_value, size_t len) {
  if (handle == nullptr || field_value == nullptr) return 0;
  try {
    return credence::AuthServIdIsOurs(
        credence::ParseAuthServId(std::string_view(field_value, len)),
        handle->evaluator->options().authres.authserv_id);
  } catch (...) {
    return 0;
  }
}

size_t credence_result_forged_authres_count(const credence_result_t* r) {
  return r ? r->ev.forged_authres.size() : 0;
}

size_t credence_result_forged_authres_index(const credence_result_t* r, size_t i) {
  if (r == nullptr || i >= r->ev.forged_authres.size()) return static_cast<size_t>(-1);
  return r->ev.forged_authres[i];
}

const char* credence_result_json(const credence_result_t* r, size_t* len) {
  if (r == nullptr) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  if (len != nullptr) *len = r->json.size();
  return r->json.c_str();
}

}  // extern "C"
