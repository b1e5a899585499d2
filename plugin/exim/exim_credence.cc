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
// Facts this relies on (docs/exim.md, /work/shared/INTEGRATION.md): Exim copies *yield on OK and
// keeps it as the error message otherwise (so the error buffer is static); one process per
// SMTP connection, single-threaded; the message is header_list (minus deleted '*' entries)
// plus the spool -D file after its first line, LF line ends.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "credence/credence.h"
#include "exim_options.h"

extern "C" {
#define DLFUNC_IMPL
#include <local_scan.h>
}

#define CREDENCE_DLFUNC extern "C" __attribute__((visibility("default"))) int

namespace {

constexpr int kDeletedHeader = '*';  // Exim's htype_old: a header removed from the message
constexpr size_t kMaxSpoolBytes = (64u << 20) + 4096;  // credence's message limit + id line

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
  credence_close(s.handle);
  credence_result_destroy(s.result);
  s = State();
  s.options_text = options_text;
  s.options = parsed;
  s.handle = handle;
  return true;
}

// Reads all of `path` after its first line (the "<id>-D" line), at most kMaxSpoolBytes.
bool ReadSpoolData(const std::string& path, std::string* out, std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = path + ": " + std::strerror(errno);
    return false;
  }
  std::string data;
  char buf[65536];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *why = path + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > kMaxSpoolBytes) {
      *why = path + ": message larger than the limit";
      ok = false;
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!ok) return false;
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
bool ReadMessage(const std::string& id, std::string* msg, std::vector<header_line*>* owners,
                 std::string* why) {
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
  if (ReadSpoolData(flat, msg, &why_flat)) return true;
  // split_spool_directory: input/<6th character of the id>/<id>-D.
  if (id.size() > 5) {
    std::string split = spool + "/input/" + id[5] + "/" + id + "-D";
    std::string why_split;
    if (ReadSpoolData(split, msg, &why_split)) return true;
  }
  *why = why_flat;
  return false;
}

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

  std::string msg;
  if (!ReadMessage(s.message_id, &msg, &s.field_owner, &s.failure)) {
    log_write(0, LOG_MAIN, "credence: cannot read the message: %s", s.failure.c_str());
    return true;
  }
  std::string ip = Expand("$sender_host_address");
  std::string helo = Expand("$sender_helo_name");
  std::string from = Expand("$sender_address");
  char* err = nullptr;
  s.result = credence_verify(s.handle, msg.data(), msg.size(), ip.c_str(), helo.c_str(),
                             from.c_str(), &err);
  if (s.result == nullptr) {
    s.failure = err != nullptr ? err : "verification failed";
    credence_free(err);
    log_write(0, LOG_MAIN, "credence: not verified: %s", s.failure.c_str());
    return true;
  }
  if (s.options.log) {
    log_write(0, LOG_MAIN, "credence: score=%ld dkim=%s spf=%s dmarc=%s",
              credence_result_score_tenths(s.result),
              credence::exim::DkimSummary(s.result).c_str(), credence_result_spf(s.result),
              credence_result_dmarc(s.result));
  }
  return true;
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
    *out = r != nullptr ? credence_result_authres(r) : s.options.authserv_id + "; none";
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
// *yield (Exim takes the error message from there and keeps the pointer).
template <typename F>
int Guarded(uschar** yield, F&& body) noexcept {
  int rc;
  try {
    rc = body();
  } catch (const std::exception& e) {
    rc = Error("credence: internal error: %s", e.what());
  } catch (...) {
    rc = Error("credence: internal error");
  }
  if (rc != OK) *yield = reinterpret_cast<uschar*>(g_error);
  return rc;
}

}  // namespace

// ${dlfunc{SO}{credence_check}{OPTIONS}}: verifies the message (once) and yields the score in
// integer tenths, no leading zeros ("0" when it could not be verified).
CREDENCE_DLFUNC credence_check(uschar** yield, int argc, uschar* argv[]) {
  return Guarded(yield, [&] {
    if (!EnsureResult(JoinArgs(argc, argv, 0))) return ERROR;
    return Yield(yield, std::to_string(credence_result_score_tenths(g_state->result)));
  });
}

// ${dlfunc{SO}{credence_get}{FIELD}{OPTIONS}}: one field (docs/exim.md lists them).
CREDENCE_DLFUNC credence_get(uschar** yield, int argc, uschar* argv[]) {
  return Guarded(yield, [&] {
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
  return Guarded(yield, [&] {
    if (!EnsureResult(JoinArgs(argc, argv, 0))) return ERROR;
    const State& s = *g_state;
    size_t removed = 0;
    size_t n = credence_result_forged_authres_count(s.result);
    static const char kName[] = "Authentication-Results:";
    for (size_t i = 0; i < n; ++i) {
      size_t index = credence_result_forged_authres_index(s.result, i);
      if (index >= s.field_owner.size()) continue;
      header_line* h = s.field_owner[index];
      // Only ever delete what is, by name, an A-R field.
      if (h->slen < static_cast<int>(sizeof kName - 1) ||
          strncasecmp(reinterpret_cast<char*>(h->text), kName, sizeof kName - 1) != 0)
        continue;
      h->type = kDeletedHeader;
      ++removed;
    }
    return Yield(yield, std::to_string(removed));
  });
}
