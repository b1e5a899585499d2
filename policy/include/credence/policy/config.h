// The configuration file (TOML, toml++ 3.3). docs/configuration.md documents every key with
// an example; tests/data/config/credence.toml is a complete example.
#ifndef CREDENCE_POLICY_CONFIG_H_
#define CREDENCE_POLICY_CONFIG_H_

#include <string>
#include <string_view>

#include "credence/limits.h"
#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"
#include "credence/policy/history.h"
#include "credence/policy/score.h"
#include "credence/status.h"

namespace credence {

struct Config {
  std::string source;       // the file loaded ("<config>" for text)
  AuthResOptions authres;   // [authres]; authserv_id is validated
  Limits limits;            // [limits]
  DmarcOptions dmarc;       // [dmarc]; dmarc.limits is a copy of `limits`
  ScoreConfig score;        // [score], [score.weights], [[trusted_forwarder]],
                            // [[mailing_list]], [allowlist], [[domain]]
  ScorePolicy score_policy; // `score` compiled
  HistoryOptions history;   // [history]: the evaluation history and the reporting identity
};

// Parses configuration text. Every error is kInvalidInput with "SOURCE:LINE:COL: message",
// naming the key: TOML syntax errors (toml++'s text), unknown keys (with "did you mean ...?"
// when a known key is close), wrong value types, out-of-range numbers, an invalid
// authserv-id, a bad CIDR, a bad regular expression (RE2's error), an unknown score symbol.
// Keys not given keep the defaults of the structs above.
Result<Config> ParseConfig(std::string_view text, std::string_view source = "<config>");
// A configuration file may have at most this many bytes (a long allowlist is a few hundred KB).
inline constexpr size_t kMaxConfigBytes = size_t{16} << 20;
// Reads and parses `path`. kIoError when it cannot be read, is not a regular file (a directory,
// a FIFO: refused at once, never read as an empty configuration or waited on) or has more
// than kMaxConfigBytes.
Result<Config> LoadConfigFile(const std::string& path);

}  // namespace credence

#endif  // CREDENCE_POLICY_CONFIG_H_
