// Zip archives (PKWARE APPNOTE) read from memory through libzip, the only libzip door.
#ifndef CREDENCE_PLUGIN_REPORTS_ZIP_READER_H_
#define CREDENCE_PLUGIN_REPORTS_ZIP_READER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "credence/status.h"

namespace credence::reports {

struct ZipLimits {
  size_t max_entries = 64;             // files in one archive (a report zip holds one)
  size_t max_entry_bytes = 64u << 20;  // one file, decompressed
  size_t max_total_bytes = 256u << 20; // every file of the archive together, decompressed
};

struct ZipEntry {
  std::string name;
  std::string bytes;  // decompressed; empty when `error` is set
  Status error;       // this entry could not be read (encrypted, over a cap, damaged, CRC)
};

// Reads every file of the zip archive `data` (directories skipped). The sizes the archive
// claims are not trusted: each entry is read in chunks and stops at the cap. kInvalidInput
// when `data` is not a zip archive (with libzip's reason); kTooLarge when the archive holds
// more than max_entries files. A damaged entry is an entry with an error; the rest are read.
Result<std::vector<ZipEntry>> ReadZip(std::string_view data, const ZipLimits& limits = {});

// True when `bytes` start as a zip archive does: a local file header ("PK\3\4") or the end
// of central directory record of an empty archive ("PK\5\6").
bool LooksLikeZip(std::string_view bytes);

}  // namespace credence::reports

#endif  // CREDENCE_PLUGIN_REPORTS_ZIP_READER_H_
