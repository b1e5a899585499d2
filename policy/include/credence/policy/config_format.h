// The configuration written back as TOML: what `credence config check` prints, and the
// shipped /etc/credence/credence.toml (every key commented out with its built-in default), so
// the file and the defaults of config.h's structs come from one place and cannot drift.
#ifndef CREDENCE_POLICY_CONFIG_FORMAT_H_
#define CREDENCE_POLICY_CONFIG_FORMAT_H_

#include <string>

#include "credence/policy/config.h"

namespace credence {

enum class ConfigStyle {
  // Every key with its value in force, the score weights merged with the defaults (one line
  // per symbol); site rules and domain overrides as given. ParseConfig reads it back to a
  // configuration that formats to the same text.
  kEffective,
  // The commented template: a description above each key and the key itself commented out
  // with no space after '#' ("#fold_width = 78"), so removing that '#' from every such line
  // gives a file whose effective configuration is the built-in defaults. Arrays of tables
  // ([[trusted_forwarder]], ...) appear as indented examples ("#   ..."), never bare.
  kTemplate,
};

// `config` as TOML in `style`. kTemplate ignores `config` and writes the defaults.
std::string FormatConfig(const Config& config, ConfigStyle style);

}  // namespace credence

#endif  // CREDENCE_POLICY_CONFIG_FORMAT_H_
