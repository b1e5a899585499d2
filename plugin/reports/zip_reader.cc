#include "zip_reader.h"

#include <zip.h>

#include <algorithm>
#include <memory>

namespace credence::reports {
namespace {

constexpr size_t kReadChunk = 64u << 10;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// Reads entry `index` up to `cap` bytes; more than that is kTooLarge. On any error `out` is
// left empty (a part of a report is not a report).
Status ReadEntry(zip_t* zip, zip_uint64_t index, size_t cap, std::string* out) {
  std::unique_ptr<zip_file_t, FileCloser> f(zip_fopen_index(zip, index, 0));
  if (!f) {
    return Status::Invalid(std::string("cannot open: ") + zip_strerror(zip));
  }
  std::string buf(kReadChunk, '\0');
  for (;;) {
    zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
    if (got < 0) {
      out->clear();  // a part of a damaged entry is not a report
      return Status::Invalid(std::string("damaged: ") + zip_file_strerror(f.get()));
    }
    if (got == 0) break;
    if (out->size() + static_cast<size_t>(got) > cap) {
      out->clear();
      return Status::TooLarge("decompresses to more than " + std::to_string(cap) +
                              " bytes (a zip bomb, or a report over the cap)");
    }
    out->append(buf.data(), static_cast<size_t>(got));
  }
  return Status::Ok();
}

}  // namespace

bool LooksLikeZip(std::string_view bytes) {
  return bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
         bytes.substr(0, 4) == std::string_view("PK\x05\x06", 4);
}

Result<std::vector<ZipEntry>> ReadZip(std::string_view data, const ZipLimits& limits) {
  zip_error_t error;
  zip_error_init(&error);
  // The buffer is not copied nor freed by libzip (freep 0): `data` outlives the archive.
  zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &error);
  if (!src) {
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Status::Internal("cannot read the zip archive: " + why);
  }
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open_from_source(src, ZIP_RDONLY, &error));
  if (!zip) {
    std::string why = zip_error_strerror(&error);
    zip_source_free(src);
    zip_error_fini(&error);
    return Status::Invalid("not a readable zip archive: " + why);
  }
  zip_error_fini(&error);
  zip_int64_t n = zip_get_num_entries(zip.get(), 0);
  if (n < 0) return Status::Invalid("not a readable zip archive: no central directory");
  std::vector<ZipEntry> entries;
  size_t total = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    const zip_uint64_t index = static_cast<zip_uint64_t>(i);
    const char* name = zip_get_name(zip.get(), index, ZIP_FL_ENC_GUESS);
    std::string entry_name = name ? name : "entry " + std::to_string(i + 1);
    if (!entry_name.empty() && entry_name.back() == '/') continue;  // a directory
    if (entries.size() >= limits.max_entries) {
      return Status::TooLarge("the zip archive holds more than " +
                              std::to_string(limits.max_entries) + " files");
    }
    ZipEntry e;
    e.name = std::move(entry_name);
    const size_t room = limits.max_total_bytes - total;
    const size_t cap = std::min(limits.max_entry_bytes, room);
    e.error = ReadEntry(zip.get(), index, cap, &e.bytes);
    if (!e.error.ok() && e.error.code() == StatusCode::kTooLarge && cap < limits.max_entry_bytes) {
      e.error = Status::TooLarge("the archive's files together decompress to more than " +
                                 std::to_string(limits.max_total_bytes) + " bytes");
    }
    total += e.bytes.size();
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace credence::reports
