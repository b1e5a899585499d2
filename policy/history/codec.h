// How the list-valued fields of a HistoryRecord are kept in one text column each (the same in
// SQLite and PostgreSQL): rua URIs one per line; DKIM results one per line as
// "domain selector result". Both hold only well-formed identifiers (URIs have no white space,
// d= and s= are checked by the verifier), so the separators cannot occur inside a value.
#ifndef CREDENCE_POLICY_HISTORY_CODEC_H_
#define CREDENCE_POLICY_HISTORY_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "credence/policy/history.h"

namespace credence::history {

std::string EncodeLines(const std::vector<std::string>& values);
std::vector<std::string> DecodeLines(std::string_view text);
std::string EncodeDkim(const std::vector<HistoryDkim>& dkim);
// Lines that do not have three fields are skipped.
std::vector<HistoryDkim> DecodeDkim(std::string_view text);

// The table layout both stores create (SQL common to SQLite and PostgreSQL apart from the key
// column's type, given as `id_type`).
std::string SchemaSql(std::string_view id_type);
// The record columns in the order Append binds them and Read returns them.
inline constexpr const char* kColumns =
    "time, source_ip, envelope_from, envelope_to, header_from, org_domain, policy_domain, "
    "p, sp, np, adkim, aspf, testing, fo, discovery, rua, dkim, spf_domain, spf_scope, "
    "spf_result, dmarc, dkim_aligned, spf_aligned, disposition, override_type, "
    "override_comment, is_report";
inline constexpr int kColumnCount = 27;

// The record's columns as text, in kColumns order (integers and booleans in decimal).
std::vector<std::string> ToColumns(const HistoryRecord& r);
// The inverse; false when a number column does not parse.
bool FromColumns(const std::vector<std::string>& columns, HistoryRecord* r);

}  // namespace credence::history

#endif  // CREDENCE_POLICY_HISTORY_CODEC_H_
