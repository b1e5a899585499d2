// exim_credence.so: the Exim ${dlfunc} shim. Only ever loaded by Exim (exim4-daemon-heavy): it
// references Exim's exported symbols (header_list, expand_string, log_write, message_id), which
// resolve against the exim binary when Exim dlopen()s the file. The verifier itself is the C
// ABI (plugin/capi), linked in.
//
// Entry points (docs/exim.md has the ACL snippet):
//   ${dlfunc{SO}{credence_check}{OPTIONS}}           -> score in tenths ("-7", "0", "35")
//   ${dlfunc{SO}{credence_get}{FIELD}{OPTIONS}}      -> one field of the evaluation
//   ${dlfunc{SO}{credence_remove_forged}{OPTIONS}}   -> drops A-R fields with our authserv-id;
//                                                       yields how many
// Each verifies the current message once (cached by Exim message id) and returns OK with its
// result, whatever the verdicts (temperror included): FAIL/DEFER/ERROR make Exim answer 451
// inside an ACL. ERROR is returned only for mistakes an administrator fixes in the
// configuration (bad options, unknown field, a call outside acl_smtp_data).
//
// Facts this relies on (docs/exim.md; checked against Debian 12's exim4-daemon-heavy 4.96): Exim copies *yield on OK and
// keeps it as the error message otherwise (so the error buffer is static); one process per
// SMTP connection, single-threaded; the message is header_list (minus deleted '*' entries)
// plus the spool -D file after its first line, LF line ends.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "credence/credence.h"
#include "credence/limits.h"
#include "exim_options.h"

extern "C" {
#define DLFUNC_IMPL
#include <local_scan.h>
}

#define CREDENCE_DLFUNC extern "C" __attribute__((visibility("default"))) int

namespace {

constexpr int kDeletedHeader = '*';  // Exim's htype_old: a header removed from the message
// Bytes of the spool data file read: credence's message limit (Limits::max_message_bytes)
// and the id line. A longer message is read up to here and judged as cut (fail closed).
constexpr size_t kMaxSpoolBytes = credence::kDefaultMaxMessageBytes + 4096;

// Per-process state. Built lazily by the first call in each Exim process; kept across the
// messages of one SMTP connection: the verifier (and its DNS cache) and the current message's
// result. Nothing else of a message outlives the next message.
struct State {
  std::string options_text;  // the OPTIONS the verifier was built from
  credence::exim::ShimOptions options;
  credence_t* handle = nullptr;

  std::string message_id;                  // the message `result` belongs to
  credence_result_t* result = nullptr;     // null with message_id set: could not verify
  std::string failure;                     // why it could not be verified
  std::vector<header_line*> field_owner;   // header field index -> Exim header_line
};

State* g_state = nullptr;
char g_error[1024];       // Exim keeps the error pointer after the call: static storage
char g_authres_none[300];  // "AUTHSERV; none", for when memory ran out (an id is <= 255)
std::string* g_yield = nullptr;

int Error(const char* format, ...) __attribute__((format(printf, 1, 2)));
int Error(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(g_error, sizeof g_error, format, ap);
  va_end(ap);
  return ERROR;
}

int Yield(uschar** yield, std::string value) {
  if (g_yield == nullptr) g_yield = new std::string;
  *g_yield = std::move(value);
  *yield = reinterpret_cast<uschar*>(g_yield->data());
  return OK;
}

std::string Expand(const char* text) {
  uschar* out = expand_string(reinterpret_cast<uschar*>(const_cast<char*>(text)));
  return out == nullptr ? std::string() : std::string(reinterpret_cast<char*>(out));
}

// Joins every argument into one OPTIONS text (they are all "key=value" lists).
std::string JoinArgs(int argc, uschar* argv[], int first) {
  std::string text;
  for (int i = first; i < argc; ++i) {
    if (argv[i] == nullptr) continue;
    if (!text.empty()) text += ' ';
    text += reinterpret_cast<char*>(argv[i]);
  }
  return text;
}

// Makes sure the verifier matches `options_text`: built on first use, rebuilt if the
// options differ from those it was built with. Returns false with g_error set.
bool EnsureVerifier(const std::string& options_text) {
  if (g_state == nullptr) g_state = new State;
  State& s = *g_state;
  if (s.handle != nullptr && s.options_text == options_text) return true;

  credence::exim::ShimOptions parsed;
  std::string why;
  if (!credence::exim::ParseShimOptions(options_text, &parsed, &why)) {
    Error("credence: options: %s", why.c_str());
    return false;
  }
  if (parsed.authserv_id.empty()) parsed.authserv_id = Expand("$primary_hostname");
  char* err = nullptr;
  credence_options_t* o = credence::exim::BuildOptions(parsed, &err);
  credence_t* handle = o == nullptr ? nullptr : credence_open(o, &err);
  credence_options_destroy(o);
  if (handle == nullptr) {
    Error("credence: %s", err != nullptr ? err : "cannot start the verifier");
    credence_free(err);
    return false;
  }
  std::snprintf(g_authres_none, sizeof g_authres_none, "%s; none", parsed.authserv_id.c_str());
  credence_close(s.handle);
  credence_result_destroy(s.result);
  s = State();
  s.options_text = options_text;
  s.options = parsed;
  s.handle = handle;
  return true;
}

// Reads `path` after its first line (the "<id>-D" line), at most kMaxSpoolBytes of it;
// *skipped gets the bytes left unread (the file is larger).
bool ReadSpoolData(const std::string& path, std::string* out, size_t* skipped,
                   std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  size_t file_size = ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0;
  std::string data;
  data.reserve(std::min(file_size, kMaxSpoolBytes));
  char buf[65536];
  bool ok = true;
  while (data.size() < kMaxSpoolBytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, kMaxSpoolBytes - data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      *why = path + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!ok) return false;
  *skipped = file_size > data.size() ? file_size - data.size() : 0;
  size_t nl = data.find('\n');
  if (nl == std::string::npos) {
    *why = path + ": no id line";
    return false;
  }
  out->append(data, nl + 1, std::string::npos);
  return true;
}

// The message as Exim will store it: header_list (deleted entries skipped) + blank line + the
// spool data file's body. Records which header_line holds each header field.
bool ReadMessage(const std::string& id, std::string* msg, size_t* skipped,
                 std::vector<header_line*>* owners, std::string* why) {
  for (header_line* h = header_list; h != nullptr; h = h->next) {
    if (h->type == kDeletedHeader || h->text == nullptr || h->slen <= 0) continue;
    std::string_view text(reinterpret_cast<char*>(h->text), static_cast<size_t>(h->slen));
    // One entry is one field; still, count every line that starts a field so that indexes
    // stay right if a host added several in one entry.
    for (size_t pos = 0; pos < text.size();) {
      if (text[pos] != ' ' && text[pos] != '\t') owners->push_back(h);
      size_t nl = text.find('\n', pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    msg->append(text);
    if (text.back() != '\n') msg->push_back('\n');
  }
  msg->push_back('\n');

  std::string spool = Expand("$spool_directory");
  if (spool.empty()) spool = "/var/spool/exim4";
  std::string flat = spool + "/input/" + id + "-D";
  std::string why_flat;
  if (ReadSpoolData(flat, msg, skipped, &why_flat)) return true;
  // split_spool_directory: input/<6th character of the id>/<id>-D.
  if (id.size() > 5) {
    std::string split = spool + "/input/" + id[5] + "/" + id + "-D";
    std::string why_split;
    if (ReadSpoolData(split, msg, skipped, &why_split)) return true;
  }
  *why = why_flat;
  return false;
}

void Verify(State& s);

// Verifies the current message once; later calls for the same Exim message id reuse the
// result. Returns false with g_error set only for configuration errors.
bool EnsureResult(const std::string& options_text) {
  if (!EnsureVerifier(options_text)) return false;
  State& s = *g_state;
  const char* id = message_id != nullptr ? reinterpret_cast<const char*>(message_id) : "";
  if (*id == '\0') {
    Error("credence: no message id: call credence from acl_smtp_data");
    return false;
  }
  if (s.message_id == id) return true;

  // A new message: drop everything of the previous one.
  credence_result_destroy(s.result);
  s.result = nullptr;
  s.failure.clear();
  s.field_owner.clear();
  s.message_id = id;
  try {
    Verify(s);
  } catch (const std::bad_alloc&) {
    // The message stays unverified (status=error, score 0) and every later call for it says
    // so; credence_remove_forged still removes forged A-R fields, field by field.
    credence_result_destroy(s.result);
    s.result = nullptr;
    std::vector<header_line*>().swap(s.field_owner);
    log_write(0, LOG_MAIN, "credence: not verified: out of memory");
    try {
      s.failure = "out of memory";
    } catch (...) {
    }
  }
  return true;
}

// [history] enabled in the configuration file: the evaluation goes to the history store
// (docs/reports.md), with the first envelope recipient's domain. A store that is down costs
// the row and a log line, never the message.
void RecordHistory(State& s) {
  std::string rcpt = Expand("$recipients");
  rcpt = rcpt.substr(0, rcpt.find(','));
  char* err = nullptr;
  credence_result_record_history(s.handle, s.result, rcpt.c_str(), &err);
  if (err != nullptr) log_write(0, LOG_MAIN, "credence: %s", err);
  credence_free(err);
}

// Reads and verifies the current message into `s` (result, or failure with the reason).
void Verify(State& s) {
  std::string msg;
  size_t skipped = 0;
  if (!ReadMessage(s.message_id, &msg, &skipped, &s.field_owner, &s.failure)) {
    log_write(0, LOG_MAIN, "credence: cannot read the message: %s", s.failure.c_str());
    return;
  }
  std::string ip = Expand("$sender_host_address");
  std::string helo = Expand("$sender_helo_name");
  std::string from = Expand("$sender_address");
  char* err = nullptr;
  s.result = credence_verify_prefix(s.handle, msg.data(), msg.size(), msg.size() + skipped,
                                    ip.c_str(), helo.c_str(), from.c_str(), &err);
  if (s.result == nullptr) {
    s.failure = err != nullptr ? err : "verification failed";
    credence_free(err);
    log_write(0, LOG_MAIN, "credence: not verified: %s", s.failure.c_str());
    return;
  }
  RecordHistory(s);
  if (s.options.log) {
    const std::string limits = credence::exim::LimitsForLog(s.result);
    log_write(0, LOG_MAIN, "credence: score=%ld dkim=%s spf=%s dmarc=%s forged=%zu%s%s",
              credence_result_score_tenths(s.result),
              credence::exim::DkimSummaryForLog(s.result).c_str(), credence_result_spf(s.result),
              credence_result_dmarc(s.result), credence_result_forged_authres_count(s.result),
              credence::exim::DmarcReasonForLog(s.result).c_str(), limits.c_str());
  }
}

// The folded Authentication-Results value as Exim's add_header takes it: LF + TAB between
// elements (Exim keeps LF line ends inside), no line over 78 bytes where possible and none
// over RFC 5322's 998.
std::string FoldedForExim(const char* folded) {
  std::string out;
  std::string_view v = folded != nullptr ? folded : "";
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n') continue;
    out.push_back(v[i]);
  }
  return out;
}

// A field of the current result; "" for fields of an unverifiable message, except those
// with a stated fallback. False for an unknown field name.
bool Field(const std::string& name, std::string* out) {
  const State& s = *g_state;
  const credence_result_t* r = s.result;
  if (name == "status") {
    *out = r != nullptr ? "ok" : "error";
  } else if (name == "error") {
    *out = s.failure;
  } else if (name == "score") {
    *out = std::to_string(credence_result_score_tenths(r));
  } else if (name == "score_decimal") {
    *out = credence::exim::TenthsToDecimal(credence_result_score_tenths(r));
  } else if (name == "authres") {
    // Unverifiable: RFC 8601 §2.2 "none" (no method could be applied).
    *out = r != nullptr ? FoldedForExim(credence_result_authres_folded(r))
                        : s.options.authserv_id + "; none";
  } else if (name == "symbols") {
    *out = credence::exim::SymbolSummary(r);
  } else if (name == "dkim") {
    *out = r != nullptr ? credence::exim::DkimSummary(r) : "none";
  } else if (name == "dkim_domains") {
    *out = credence::exim::DkimDomains(r);
  } else if (name == "spf") {
    *out = r != nullptr ? credence_result_spf(r) : "none";
  } else if (name == "spf_helo") {
    *out = r != nullptr ? credence_result_spf_helo(r) : "none";
  } else if (name == "dmarc") {
    *out = r != nullptr ? credence_result_dmarc(r) : "none";
  } else if (name == "dmarc_policy") {
    *out = r != nullptr ? credence_result_dmarc_policy(r) : "";
  } else if (name == "dmarc_disposition") {
    *out = r != nullptr ? credence_result_dmarc_disposition(r) : "none";
  } else if (name == "dmarc_action") {
    *out = credence::exim::DmarcAction(r, Expand("$sender_host_address"));
  } else if (name == "arc") {
    // RFC 8617 chain result: "none", "pass" or "fail".
    *out = r != nullptr ? credence_result_arc(r) : "none";
  } else if (name == "arc_sealers") {
    *out = r != nullptr ? credence_result_arc_sealers(r) : "";
  } else if (name == "arc_override") {
    *out = credence_result_arc_override(r) ? "1" : "0";
  } else if (name == "from_domain") {
    *out = r != nullptr ? credence_result_dmarc_from_domain(r) : "";
  } else if (name == "forged") {
    *out = std::to_string(credence_result_forged_authres_count(r));
  } else if (name == "json") {
    const char* j = credence_result_json(r, nullptr);
    *out = j != nullptr ? j : "";
  } else {
    return false;
  }
  return true;
}

// Runs an entry point's body. Anything but OK hands Exim the static error text through
// *yield (Exim takes the error message from there and keeps the pointer). Running out of
// memory is not a configuration mistake: the call still returns OK, with `fallback` (static
// text, nothing to allocate), so the message is accepted as unverified rather than
// answered 451.
template <typename F>
int Guarded(uschar** yield, const char* fallback, F&& body) noexcept {
  int rc;
  try {
    rc = body();
  } catch (const std::bad_alloc&) {
    *yield = reinterpret_cast<uschar*>(const_cast<char*>(fallback));
    return OK;
  } catch (const std::exception& e) {
    rc = Error("credence: internal error: %s", e.what());
  } catch (...) {
    rc = Error("credence: internal error");
  }
  if (rc != OK) *yield = reinterpret_cast<uschar*>(g_error);
  return rc;
}

// What credence_get yields for `field` when memory ran out: the values of an unverified
// message, as static text.
const char* OutOfMemoryValue(const char* field) {
  std::string_view f = field != nullptr ? field : "";
  if (f == "status") return "error";
  if (f == "error") return "out of memory";
  if (f == "score" || f == "forged" || f == "arc_override") return "0";
  if (f == "score_decimal") return "0.0";
  if (f == "dkim" || f == "spf" || f == "spf_helo" || f == "dmarc" || f == "dmarc_disposition" ||
      f == "dmarc_action" || f == "arc") {
    return "none";
  }
  if (f == "authres") return g_authres_none;
  return "";
}

// Marks the A-R fields carrying our authserv-id deleted. With a result, the ones it found;
// without one (the message could not be read or verified), each A-R field is asked about on
// its own, so an unverified message keeps no forgery either. Returns how many.
size_t RemoveForged() {
  // Where the value of an A-R field starts (after the colon), 0 when `h` is no live A-R
  // field. White space may stand before the colon (RFC 5322 §4.5.1, obsolete syntax), as the
  // verifier reads field names: "Authentication-Results :" is one too.
  auto ar_value = [](const header_line* h) -> size_t {
    if (h->type == kDeletedHeader || h->text == nullptr || h->slen <= 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(h->text),
                                static_cast<size_t>(h->slen));
    constexpr std::string_view kName = "Authentication-Results";
    if (text.size() <= kName.size() ||
        strncasecmp(text.data(), kName.data(), kName.size()) != 0) {
      return 0;
    }
    size_t i = kName.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    return i < text.size() && text[i] == ':' ? i + 1 : 0;
  };
  auto is_ar = [&](const header_line* h) { return ar_value(h) != 0; };
  size_t removed = 0;
  if (g_state != nullptr && g_state->result != nullptr) {
    const State& s = *g_state;
    size_t n = credence_result_forged_authres_count(s.result);
    for (size_t i = 0; i < n; ++i) {
      size_t index = credence_result_forged_authres_index(s.result, i);
      if (index >= s.field_owner.size()) continue;
      header_line* h = s.field_owner[index];
      if (!is_ar(h)) continue;  // only ever delete what is, by name, an A-R field
      h->type = kDeletedHeader;
      ++removed;
    }
    return removed;
  }
  if (g_state == nullptr || g_state->handle == nullptr) return 0;
  for (header_line* h = header_list; h != nullptr; h = h->next) {
    const size_t at = ar_value(h);
    if (at == 0) continue;
    const char* value = reinterpret_cast<const char*>(h->text) + at;
    if (credence_authres_is_ours(g_state->handle, value, static_cast<size_t>(h->slen) - at)) {
      h->type = kDeletedHeader;
      ++removed;
    }
  }
  return removed;
}

}  // namespace

// ${dlfunc{SO}{credence_check}{OPTIONS}}: verifies the message (once) and yields the score in
// integer tenths, no leading zeros ("0" when it could not be verified).
CREDENCE_DLFUNC credence_check(uschar** yield, int argc, uschar* argv[]) {
  return Guarded(yield, "0", [&] {
    if (!EnsureResult(JoinArgs(argc, argv, 0))) return ERROR;
    return Yield(yield, std::to_string(credence_result_score_tenths(g_state->result)));
  });
}

// ${dlfunc{SO}{credence_get}{FIELD}{OPTIONS}}: one field (docs/exim.md lists them).
CREDENCE_DLFUNC credence_get(uschar** yield, int argc, uschar* argv[]) {
  const char* field = argc >= 1 && argv[0] != nullptr ? reinterpret_cast<char*>(argv[0]) : "";
  return Guarded(yield, OutOfMemoryValue(field), [&] {
    if (argc < 1 || argv[0] == nullptr) return Error("credence_get: FIELD argument missing");
    std::string name = reinterpret_cast<char*>(argv[0]);
    if (!EnsureResult(JoinArgs(argc, argv, 1))) return ERROR;
    std::string value;
    if (!Field(name, &value)) return Error("credence_get: unknown field '%s'", name.c_str());
    return Yield(yield, std::move(value));
  });
}

// ${dlfunc{SO}{credence_remove_forged}{OPTIONS}}: marks every Authentication-Results field
// that carries our authserv-id as deleted (RFC 8601 §5: such fields from outside are
// forgeries), leaving other A-R fields alone. Yields the number removed. Idempotent.
CREDENCE_DLFUNC credence_remove_forged(uschar** yield, int argc, uschar* argv[]) {
  return Guarded(yield, "0", [&] {
    if (!EnsureResult(JoinArgs(argc, argv, 0))) return ERROR;
    return Yield(yield, std::to_string(RemoveForged()));
  });
}
