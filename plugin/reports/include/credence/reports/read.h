// Reading DMARC aggregate reports from what a domain owner receives: report files (.xml,
// .xml.gz, .zip), whole report messages (.eml, whatever the attachment's MIME type says), mbox
// files and maildir folders of them (plugin/archive's mailbox reader), and directories of any
// of these, in any mix. Every input is recognised by its bytes, not its name. Each report is
// kept once: a second copy (same org_name, report_id and date range) is counted as a
// duplicate. Malformed inputs become problems naming the input and why; nothing aborts.
#ifndef CREDENCE_PLUGIN_REPORTS_READ_H_
#define CREDENCE_PLUGIN_REPORTS_READ_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "credence/reports/report.h"
#include "credence/status.h"

namespace credence::reports {

// Bounds on what a run reads (docs/reports.md "Limits"). Reaching one makes that input a
// problem (exit status 1); nothing is counted from a document that was cut.
struct ReadLimits {
  size_t max_file_bytes = 64u << 20;          // one file as stored (mbox files are streamed:
                                              // this bounds each message in them instead)
  size_t max_decompressed_bytes = 64u << 20;  // one gzip stream or zip entry, decompressed
  uint64_t max_total_decompressed = 1ull << 30;  // every decompressed byte of the run
  size_t max_nesting = 3;                     // containers inside one another (a zip in a gzip
                                              // in a message is 3)
  size_t max_dir_depth = 16;                  // directories below a directory given
  size_t max_zip_entries = 64;                // files in one zip archive
  XmlLimits xml;
};

// A report and where it came from: "path", "path:3" (the 3rd message of an mbox),
// "path[report.xml]" (an entry of a zip, an attachment of a message).
struct SourcedReport {
  std::string source;
  AggregateReport report;  // records empty when the reader was told not to keep them
  uint64_t messages = 0;   // the report's MessageCount, whether its records are kept or not
  size_t records = 0;      // its record count, likewise
};

struct InputProblem {
  std::string source;
  Status error;
};

struct Duplicate {
  std::string source;        // the copy left out
  std::string first_source;  // the copy counted
};

struct ReadResult {
  std::vector<SourcedReport> reports;  // each report once, in the order read
  std::vector<InputProblem> problems;  // inputs not read, and records left out of reports
  std::vector<Duplicate> duplicates;
  size_t documents = 0;  // XML documents parsed (duplicates included)
};

class ReportReader {
 public:
  explicit ReportReader(const ReadLimits& limits = {});
  // A file or directory (recursively; a directory with cur/ or new/ is a maildir), or "-"
  // for standard input.
  void AddPath(const std::string& path);
  // Bytes already read (a test, the fuzz target): XML, gzip, zip, an mbox or a message.
  void AddBytes(const std::string& source, std::string_view bytes);
  // Calls `sink` with each report as it is kept (duplicates are not passed on); unless
  // `keep_records`, the report's records are then dropped, so a run's memory holds one
  // report's records at a time (the command summarises through this).
  void OnReport(std::function<void(const SourcedReport&)> sink, bool keep_records);
  const ReadResult& result() const { return result_; }
  ReadResult Take() { return std::move(result_); }

 private:
  void AddPathAt(const std::string& path, size_t dir_depth);
  void AddDirectory(const std::string& path, size_t dir_depth);
  void AddMailSource(const std::string& path);
  void AddFile(const std::string& path);
  void Dispatch(const std::string& source, std::string_view bytes, size_t nesting);
  void AddGzip(const std::string& source, std::string_view bytes, size_t nesting);
  void AddZip(const std::string& source, std::string_view bytes, size_t nesting);
  void AddMbox(const std::string& source, std::string bytes, size_t nesting);
  void AddMessage(const std::string& source, std::string_view bytes, size_t nesting);
  void AddXml(const std::string& source, std::string_view bytes);
  void Problem(const std::string& source, Status error);
  size_t DecompressCap() const;

  ReadLimits limits_;
  ReadResult result_;
  std::function<void(const SourcedReport&)> sink_;
  bool keep_records_ = true;
  uint64_t decompressed_ = 0;
  // org_name, report_id, begin, end of each report kept -> its index in result_.reports.
  // A report's identity: the policy domain, org_name, report_id, begin, end.
  std::map<std::tuple<std::string, std::string, std::string, int64_t, int64_t>, size_t> seen_;
};

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_READ_H_
