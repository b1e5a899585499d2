// The one door to nlohmann/json: the commands whose JSON is a document of their own schema
// (credence check, credence report read) build it as an nlohmann tree. Per-message output does
// not come through here (evaluation_json.h writes it directly, as the companion service's
// responses). Included by .cc files only.
#ifndef CREDENCE_PLUGIN_COMMON_JSON_TREE_H_
#define CREDENCE_PLUGIN_COMMON_JSON_TREE_H_

#include <string>

#include <nlohmann/json.hpp>

namespace credence {

// Serialises without ever throwing: compact, keys in byte order, invalid UTF-8 from a message
// becomes U+FFFD (the same bytes AppendJsonString writes for a string).
inline std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace credence

#endif  // CREDENCE_PLUGIN_COMMON_JSON_TREE_H_
