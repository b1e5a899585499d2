// The leaves of a MIME message (RFC 2045, RFC 2046): a DMARC report message carries the
// report as an attachment whose Content-Type varies by reporter (application/gzip,
// application/zip, application/octet-stream, text/xml, ...), so the caller looks at each
// leaf's bytes, not at its label.
#ifndef CREDENCE_PLUGIN_REPORTS_MIME_H_
#define CREDENCE_PLUGIN_REPORTS_MIME_H_

#include <string>
#include <string_view>
#include <vector>

namespace credence::reports {

struct MimeLeaf {
  std::string content_type;  // lower case, "text/plain" when absent (RFC 2045 §5.2)
  std::string filename;      // Content-Disposition filename= or Content-Type name=, or ""
  std::string bytes;         // after the Content-Transfer-Encoding is undone
};

struct MimeLimits {
  size_t max_depth = 8;    // multipart and message/rfc822 nesting
  size_t max_parts = 256;  // leaves and containers together
};

// Every leaf of `message`, in order. Multipart bodies are split on their boundary (RFC 2046
// §5.1.1; a missing close delimiter ends the part at the end of the body); message/rfc822
// parts are opened. base64 (RFC 2045 §6.8; characters outside the alphabet skipped) and
// quoted-printable (§6.7) are decoded; anything else is taken as it is. Past a limit, the
// rest is not read (`*truncated` set).
std::vector<MimeLeaf> MimeLeaves(std::string_view message, const MimeLimits& limits,
                                 bool* truncated);

// RFC 2045 §6.8 base64, lenient: characters outside the alphabet (line breaks) are skipped
// and decoding stops at '='. Exposed for tests.
std::string DecodeBase64(std::string_view text);

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_MIME_H_
