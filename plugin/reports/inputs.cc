// ReportReader: recognise each input by its bytes and open it down to XML documents.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include "archive/mailbox.h"
#include "credence/ascii.h"
#include "credence/reports/read.h"
#include "mime.h"
#include "zip_reader.h"

namespace credence::reports {
namespace {

constexpr size_t kReadChunk = 64u << 10;

bool IsGzip(std::string_view b) {
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
         static_cast<unsigned char>(b[1]) == 0x8b;
}

bool IsMbox(std::string_view b) { return b.substr(0, 5) == "From "; }

// A MIME leaf worth opening: gzip or zip bytes, or an XML document with a <feedback> root in
// its first kilobytes (a text/html body also starts with '<').
bool IsReportCandidate(const MimeLeaf& leaf) {
  if (IsGzip(leaf.bytes) || LooksLikeZip(leaf.bytes)) return true;
  if (!LooksLikeXml(leaf.bytes)) return false;
  return std::string_view(leaf.bytes).substr(0, 4096).find("feedback") != std::string_view::npos;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Names in `dir`, sorted, without "." files (maildir and editor leftovers).
Result<std::vector<std::string>> List(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return Status::IoError(dir + ": " + std::strerror(errno));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Reads all of `reader` up to `cap` bytes. kTooLarge past it.
Status ReadAll(ByteReader* reader, size_t cap, std::string* out, const char* what) {
  std::string buf(kReadChunk, '\0');
  for (;;) {
    Status error;
    size_t got = reader->Read(buf.data(), buf.size(), &error);
    if (!error.ok()) return error;
    if (got == 0) return Status::Ok();
    if (out->size() + got > cap) {
      out->clear();
      return Status::TooLarge(std::string(what) + " more than " + std::to_string(cap) +
                              " bytes");
    }
    out->append(buf.data(), got);
  }
}

}  // namespace

ReportReader::ReportReader(const ReadLimits& limits) : limits_(limits) {}

void ReportReader::Problem(const std::string& source, Status error) {
  result_.problems.push_back({source, std::move(error)});
}

size_t ReportReader::DecompressCap() const {
  const uint64_t room =
      limits_.max_total_decompressed > decompressed_
          ? limits_.max_total_decompressed - decompressed_
          : 0;
  return static_cast<size_t>(std::min<uint64_t>(limits_.max_decompressed_bytes, room));
}

void ReportReader::AddPath(const std::string& path) { AddPathAt(path, 0); }

void ReportReader::AddPathAt(const std::string& path, size_t dir_depth) {
  if (path != "-" && IsDir(path)) {
    if (IsDir(path + "/cur") || IsDir(path + "/new")) return AddMailSource(path);
    return AddDirectory(path, dir_depth);
  }
  AddFile(path);
}

void ReportReader::AddDirectory(const std::string& path, size_t dir_depth) {
  if (dir_depth >= limits_.max_dir_depth) {
    return Problem(path, Status::TooLarge("directories nested deeper than " +
                                          std::to_string(limits_.max_dir_depth) +
                                          ": not read"));
  }
  Result<std::vector<std::string>> names = List(path);
  if (!names.ok()) return Problem(path, names.status());
  for (const std::string& n : *names) {
    const std::string child = path + (path.ends_with('/') ? "" : "/") + n;
    struct stat st;
    if (lstat(child.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode) && IsDir(child)) continue;  // no loops through links
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
      AddPathAt(child, dir_depth + 1);
    }
  }
}

// An mbox file or a maildir: one message at a time through plugin/archive.
void ReportReader::AddMailSource(const std::string& path) {
  SourceOptions options;
  options.max_message_bytes = limits_.max_file_bytes;
  Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path, options);
  if (!src.ok()) return Problem(path, src.status());
  SourceItem item;
  while ((*src)->Next(&item)) {
    if (!item.error.ok()) {
      Problem(item.name, item.error);
    } else if (item.notice.empty()) {
      AddMessage(item.name, item.bytes, 0);
    }
    item = SourceItem();
  }
}

void ReportReader::AddFile(const std::string& path) {
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? "standard input" : path;
  FILE* in = is_stdin ? stdin : std::fopen(path.c_str(), "rb");
  if (!in) {
    return Problem(name, errno == ENOENT ? Status::NotFound("no such file")
                                         : Status::IoError(std::strerror(errno)));
  }
  // An mbox file is streamed, one message at a time; anything else is read whole (bounded).
  char head[5] = {};
  const size_t got = std::fread(head, 1, sizeof head, in);
  if (!is_stdin && got == 5 && IsMbox(std::string_view(head, 5))) {
    std::fclose(in);
    return AddMailSource(path);
  }
  std::string bytes(head, got);
  std::string buf(kReadChunk, '\0');
  bool too_large = false;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), in)) {
    if (bytes.size() + n > limits_.max_file_bytes) {
      too_large = true;
      break;
    }
    bytes.append(buf.data(), n);
  }
  const bool failed = std::ferror(in);
  if (!is_stdin) std::fclose(in);
  if (too_large) {
    return Problem(name, Status::TooLarge("larger than " + std::to_string(limits_.max_file_bytes) +
                                          " bytes: not read"));
  }
  if (failed) return Problem(name, Status::IoError("read failed"));
  // Stored bytes: Dispatch inflates gzip itself, counting what it inflates.
  Dispatch(name, bytes, 0);
}

void ReportReader::AddBytes(const std::string& source, std::string_view bytes) {
  Dispatch(source, bytes, 0);
}

void ReportReader::Dispatch(const std::string& source, std::string_view bytes, size_t nesting) {
  if (bytes.empty()) return Problem(source, Status::Invalid("empty: no report"));
  if (IsGzip(bytes)) return AddGzip(source, bytes, nesting);
  if (LooksLikeZip(bytes)) return AddZip(source, bytes, nesting);
  if (LooksLikeXml(bytes) || bytes.substr(0, 2) == "\xFF\xFE" ||
      bytes.substr(0, 2) == "\xFE\xFF") {
    return AddXml(source, bytes);
  }
  if (IsMbox(bytes)) return AddMbox(source, std::string(bytes), nesting);
  AddMessage(source, bytes, nesting);
}

// RFC 1952 gzip, through plugin/archive's reader (the zlib door); what it inflates is capped
// per stream and for the run.
void ReportReader::AddGzip(const std::string& source, std::string_view bytes, size_t nesting) {
  if (nesting >= limits_.max_nesting) {
    return Problem(source, Status::TooLarge("compressed containers nested deeper than " +
                                            std::to_string(limits_.max_nesting) + ": not read"));
  }
  const size_t cap = DecompressCap();
  std::unique_ptr<ByteReader> reader = OpenMemoryByteReader(std::string(bytes), source);
  std::string out;
  Status s = ReadAll(reader.get(), cap, &out, "the gzip data decompresses to");
  if (!s.ok()) {
    if (s.code() == StatusCode::kTooLarge && cap < limits_.max_decompressed_bytes) {
      s = Status::TooLarge("the run's decompressed total would pass " +
                           std::to_string(limits_.max_total_decompressed) + " bytes");
    }
    return Problem(source, s);
  }
  decompressed_ += out.size();
  Dispatch(source, out, nesting + 1);
}

// A zip archive (libzip): each file in it, entries named "source[entry]".
void ReportReader::AddZip(const std::string& source, std::string_view bytes, size_t nesting) {
  if (nesting >= limits_.max_nesting) {
    return Problem(source, Status::TooLarge("compressed containers nested deeper than " +
                                            std::to_string(limits_.max_nesting) + ": not read"));
  }
  ZipLimits zl;
  zl.max_entries = limits_.max_zip_entries;
  zl.max_entry_bytes = limits_.max_decompressed_bytes;
  zl.max_total_bytes = DecompressCap();
  Result<std::vector<ZipEntry>> entries = ReadZip(bytes, zl);
  if (!entries.ok()) return Problem(source, entries.status());
  if (entries->empty()) return Problem(source, Status::Invalid("an empty zip archive: no report"));
  for (ZipEntry& e : *entries) {
    const std::string name = source + "[" + e.name + "]";
    if (!e.error.ok()) {
      Problem(name, e.error);
      continue;
    }
    decompressed_ += e.bytes.size();
    Dispatch(name, e.bytes, nesting + 1);
  }
}

// An mbox that came out of a gzip file.
void ReportReader::AddMbox(const std::string& source, std::string bytes, size_t nesting) {
  SourceOptions options;
  options.max_message_bytes = limits_.max_file_bytes;
  MboxSplitter splitter(OpenMemoryByteReader(std::move(bytes), source), source, options);
  SourceItem item;
  size_t items = 0;
  while (splitter.Next(&item)) {
    ++items;
    if (!item.error.ok()) {
      Problem(item.name, item.error);
    } else {
      AddMessage(item.name, item.bytes, nesting);
    }
    item = SourceItem();
  }
  if (items == 0) Problem(source, Status::Invalid("an mbox with no message in it: no report"));
}

// A report message (RFC 7489 §7.2.1.1; RFC 9990 keeps it): the report is an attachment; its
// MIME type is not trusted (reporters label gzip as application/octet-stream, zip as gzip, ...).
void ReportReader::AddMessage(const std::string& source, std::string_view bytes, size_t nesting) {
  if (nesting >= limits_.max_nesting) {
    return Problem(source, Status::TooLarge("containers nested deeper than " +
                                            std::to_string(limits_.max_nesting) + ": not read"));
  }
  bool truncated = false;
  std::vector<MimeLeaf> leaves = MimeLeaves(bytes, MimeLimits{}, &truncated);
  size_t found = 0;
  std::string types;
  for (MimeLeaf& leaf : leaves) {
    if (!IsReportCandidate(leaf)) {
      if (types.size() < 200) types += (types.empty() ? "" : ", ") + leaf.content_type;
      continue;
    }
    ++found;
    const std::string label = leaf.filename.empty() ? leaf.content_type : leaf.filename;
    Dispatch(source + "[" + label + "]", leaf.bytes, nesting + 1);
  }
  if (found == 0) {
    Problem(source, Status::Invalid(
                        "not a report: neither XML, gzip nor zip, and no part of it as a "
                        "message holds one (parts: " + (types.empty() ? "none" : types) + ")" +
                        (truncated ? "; MIME structure too deep or too many parts" : "")));
  } else if (truncated) {
    // Every limit makes that input a problem (docs/reports.md): what was found is counted,
    // what lies past the limit is not, and the reader is told.
    Problem(source, Status::TooLarge("MIME structure too deep or too many parts: " +
                                     std::to_string(found) + " report part(s) read, the parts "
                                     "past the limit not"));
  }
}

void ReportReader::AddXml(const std::string& source, std::string_view bytes) {
  ++result_.documents;
  Result<AggregateReport> r = ParseAggregateReport(bytes, limits_.xml);
  if (!r.ok()) return Problem(source, r.status());
  // A report about days to come is not one: it would stand as the latest published policy.
  if (r->end > static_cast<int64_t>(std::time(nullptr)) + 2 * 86400) {
    return Problem(source, Status::Invalid("not a usable report: its date range ends in the "
                                           "future (" + std::to_string(r->end) + ")"));
  }
  for (const std::string& p : r->problems) Problem(source, Status::Invalid(p));
  // The same report twice (a reporter's retry, the same file in two mails) counts once. A
  // report about another domain is another report, whatever its id; one with the id of one
  // read already but other numbers is no copy: a problem, not counted (which one is real is
  // for a person to decide).
  auto key = std::make_tuple(ToLower(r->policy.domain), r->org_name, r->report_id, r->begin,
                             r->end);
  auto [it, inserted] = seen_.emplace(key, result_.reports.size());
  if (!inserted) {
    const SourcedReport& first = result_.reports[it->second];
    if (first.messages != r->MessageCount()) {
      return Problem(source, Status::Invalid(
                                 "report " + r->report_id + " of " + r->org_name + " read "
                                 "already from " + first.source + " with other numbers (" +
                                 std::to_string(first.messages) + " messages, here " +
                                 std::to_string(r->MessageCount()) + "): not counted"));
    }
    result_.duplicates.push_back({source, first.source});
    return;
  }
  SourcedReport kept{source, std::move(r).value()};
  kept.messages = kept.report.MessageCount();
  kept.records = kept.report.records.size();
  if (sink_) sink_(kept);
  if (!keep_records_) kept.report.records = {};
  result_.reports.push_back(std::move(kept));
}

void ReportReader::OnReport(std::function<void(const SourcedReport&)> sink, bool keep_records) {
  sink_ = std::move(sink);
  keep_records_ = keep_records;
}

}  // namespace credence::reports
