// Authentication-Results (RFC 8601): the writer that turns verdicts into one header field a
// downstream reader can trust to parse, and the finder that locates existing fields carrying
// our authserv-id (forgeries to remove, RFC 8601 §5).
//
// Methods, ptypes and properties written (IANA "Email Authentication Methods" registry):
//   dkim   header.d header.i header.s header.a header.b   (RFC 8601 §2.7.1, RFC 6008)
//   spf    smtp.mailfrom | smtp.helo                     (RFC 8601 §2.7.2)
//   arc    smtp.remote-ip header.oldest-pass             (RFC 8617 §7)
//   dmarc  header.from policy.dmarc [polrec.p polrec.domain] (RFC 7489 §11, RFC 9989)
// docs/authentication-results.md shows examples of every form.
#ifndef CREDENCE_POLICY_AUTHRES_H_
#define CREDENCE_POLICY_AUTHRES_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "credence/arc.h"
#include "credence/dkim.h"
#include "credence/message.h"
#include "credence/spf.h"
#include "credence/status.h"

namespace credence {

struct DmarcResult;  // credence/policy/dmarc.h

struct AuthResOptions {
  // The authserv-id (RFC 8601 §2.5): who did the checks, usually the MTA host name. Must pass
  // ValidateAuthServId. Default "localhost".
  std::string authserv_id = "localhost";
  // Folded form: lines are broken (CRLF + TAB) between elements once a line would exceed this
  // many bytes. Default 78 (RFC 5322 §2.1.1 SHOULD).
  size_t fold_width = 78;
  // Minimum header.b prefix length (RFC 6008 §4: at least 8). Longer where needed to tell the
  // message's signatures apart. Default 8.
  size_t header_b_min = 8;
  // Comments such as "(2048-bit rsa key)", "(test mode key)". Default on.
  bool comments = true;
  // reason="..." on results other than pass. Default on.
  bool reasons = true;
  // RFC 9989 polrec.p / polrec.domain on the dmarc result. Default on.
  bool dmarc_polrec = true;
};

// What the writer reports, for one message.
struct AuthResInput {
  std::span<const DkimResult> dkim;       // every signature, in header order; empty = dkim=none
  const SpfResult* spf_mailfrom = nullptr;  // optional
  const SpfResult* spf_helo = nullptr;      // optional
  const DmarcResult* dmarc = nullptr;       // optional
  const ArcResult* arc = nullptr;           // optional: no arc= entry when absent or none
  std::string client_ip;                    // for arc's smtp.remote-ip; "" = not written
};

// One property as a reader will see it after parsing (value unquoted, unescaped).
struct AuthResProperty {
  std::string ptype;     // "header", "smtp", "policy", "polrec"
  std::string property;  // "d", "mailfrom", ...
  std::string value;     // after sanitising (what the header carries)
};
struct AuthResEntry {
  std::string method;  // "dkim", "spf", "dmarc"
  std::string result;  // RFC 8601 §2.7 result ("pass", "fail", ...)
  std::string reason;  // after sanitising; empty when there is none
  std::string comment; // after sanitising; empty when there is none
  std::vector<AuthResProperty> properties;
};

struct AuthResHeader {
  // The field value (after "Authentication-Results:"), on one line, starting with a space.
  std::string value;
  // The same value folded: CRLF + TAB only between elements, no line longer than fold_width
  // unless a single element is (values are capped at kMaxAuthResValue bytes, so every line
  // stays under RFC 5322's 998).
  std::string folded;
  // What was written, element by element (for tests, logs and JSON output).
  std::vector<AuthResEntry> entries;

  // "Authentication-Results:" + folded (no final CRLF).
  std::string Field() const;
};

// Bytes kept of any one value taken from the message (reason, domain, address, header.b).
inline constexpr size_t kMaxAuthResValue = 256;

// OK when `id` can serve as an authserv-id: 1..255 bytes, a dot-atom of letters, digits and
// "-_" (a host name or similar), no leading/trailing/double dot. kInvalidInput naming the
// offending byte otherwise.
Status ValidateAuthServId(std::string_view id);

// Writes the header for `input`. kInvalidInput only when options.authserv_id is invalid.
// Nothing in `input` can make the result syntactically invalid: every value taken from the
// message is quoted when it is not an RFC 2045 token (or a plain local-part@domain), quotes and
// backslashes are escaped, CR, LF, other controls and non-ASCII are dropped or replaced by
// "?", and values are capped at kMaxAuthResValue bytes. Never throws.
Result<AuthResHeader> WriteAuthResults(const AuthResInput& input, const AuthResOptions& options);

// Formats `text` as an RFC 8601 `value`: as-is when it is a non-empty RFC 2045 token, else a
// quoted-string with the sanitising above. Exposed for tests.
std::string AuthResValue(std::string_view text);
// The sanitised text AuthResValue would carry (what a parser gives back). Exposed for tests.
std::string SanitizeAuthResText(std::string_view text);

// Indexes (into message.headers()) of the Authentication-Results fields whose authserv-id
// equals `authserv_id`, ASCII case-insensitively, in message order. Leading CFWS and comments
// (nested, bounded depth), a quoted-string authserv-id and a following version "1" are
// handled; fields that cannot be parsed up to their authserv-id are not reported. Linear in the
// header size, no recursion.
std::vector<size_t> FindAuthResults(const Message& message, std::string_view authserv_id);
// The same as positions among all the message's header fields (Message::FieldPosition), those
// the header limits skipped included: a forged field cannot hide past the limits behind
// thousands of others. Reads the header section again only when verdict fields were skipped.
std::vector<size_t> FindAuthResultsPositions(const Message& message, std::string_view authserv_id);

// The authserv-id of one Authentication-Results field value (the bytes after the colon), or
// empty when it cannot be parsed. Exposed for the finder's tests and the fuzz target.
std::string ParseAuthServId(std::string_view field_value);

// Whether a field's authserv-id (ParseAuthServId) names us: ASCII case-insensitively equal to
// `ours` (RFC 8601 §2.5), also when it ends in one dot that ours lacks (`mx.example.` is the
// same host in DNS's absolute form; a reader that drops the dot would take it for ours, so it
// is removed as ours). An empty id or `ours` matches nothing.
bool AuthServIdIsOurs(std::string_view id, std::string_view ours);

}  // namespace credence

#endif  // CREDENCE_POLICY_AUTHRES_H_
