// The summary as text tables (the terminal), CSV (RFC 4180, one row per distinct result) and
// one self-contained HTML page (inline CSS, inline SVG charts, a few lines of inline script;
// nothing fetched). docs/reports.md documents each. The JSON form is built in the command
// (plugin/cli/report_read_command.cc), through the JSON door.
#ifndef CREDENCE_PLUGIN_REPORTS_FORMAT_H_
#define CREDENCE_PLUGIN_REPORTS_FORMAT_H_

#include <string>
#include <string_view>

#include "credence/reports/read.h"
#include "credence/reports/summary.h"

namespace credence::reports {

// Per domain: the totals, the sources table, the sources that would be lost under
// p=quarantine / p=reject, the DKIM selectors seen failing, the reporters.
std::string FormatText(const Summary& summary, const ReadResult& read);

// The CSV columns, in order (docs/reports.md).
inline constexpr std::string_view kCsvHeader =
    "domain,source_ip,ptr,messages,dmarc,disposition,dkim_aligned,spf_aligned,header_from,"
    "envelope_from,dkim,spf,reasons";
// A header row, then one row per ResultRow of each domain (CRLF line ends).
std::string FormatCsv(const Summary& summary);

// One HTML page; `title` goes in <title> and the heading.
std::string FormatHtml(const Summary& summary, const ReadResult& read, const std::string& title);

// "1,234,567".
std::string Grouped(uint64_t n);
// "" when the detail budget left nothing out of `d`; else one sentence saying how many
// records (and messages) the source, row and selector tables count under "(other)".
std::string OtherNote(const DomainSummary& d, size_t max_detail_bytes);

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_FORMAT_H_
