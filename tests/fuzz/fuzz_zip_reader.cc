// libFuzzer target for the zip door (plugin/reports/zip_reader.cc, libzip) and the whole
// input path of `credence report read` on bytes (ReportReader::AddBytes: gzip, zip, MIME
// messages, mbox, XML).
//
// Invariants: ReadZip returns; it never gives more entries than max_entries, an entry never
// holds more than max_entry_bytes, all entries together never more than max_total_bytes, and
// an entry with an error holds no bytes. ReportReader returns, and every input it was given is
// accounted for: at least one report, duplicate or problem.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "credence/reports/read.h"
#include "reports/zip_reader.h"

using namespace credence::reports;

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ZipLimits zl;
  zl.max_entries = 8;
  zl.max_entry_bytes = 1u << 20;
  zl.max_total_bytes = 2u << 20;
  credence::Result<std::vector<ZipEntry>> entries = ReadZip(bytes, zl);
  if (entries.ok()) {
    Require(entries->size() <= zl.max_entries, "entries bounded");
    size_t total = 0;
    for (const ZipEntry& e : *entries) {
      Require(e.bytes.size() <= zl.max_entry_bytes, "an entry is bounded");
      Require(e.error.ok() || e.bytes.empty(), "a failed entry holds no bytes");
      total += e.bytes.size();
    }
    Require(total <= zl.max_total_bytes, "the archive is bounded");
  }
  ReadLimits limits;
  limits.max_decompressed_bytes = 1u << 20;
  limits.max_total_decompressed = 4u << 20;
  limits.max_zip_entries = 8;
  limits.xml.max_records = 2000;
  ReportReader reader(limits);
  reader.AddBytes("fuzz", bytes);
  const ReadResult& r = reader.result();
  Require(!r.reports.empty() || !r.duplicates.empty() || !r.problems.empty(),
          "every input is a report, a duplicate or a problem");
  return 0;
}
