// libFuzzer target for the file reader of plugin/archive/mailbox.h (OpenByteReader: plain
// files and gzip through inflate, issue 17 item 1). The input chooses how the file is made:
//
// [mode][cut hi][cut lo][flip][data...]
//   mode % 4 == 0: the data as it is (plain, or whatever gzip it happens to be);
//   mode % 4 == 1: the data gzip-compressed (one member), cut to (cut % (size + 1)) bytes;
//   mode % 4 == 2: two members (the data split in half), one byte XORed with `flip` at `cut`;
//   mode % 4 == 3: one member followed by the data again (bytes that are not gzip).
//
// Invariants: the reader ends; what it returns is at most 64 MiB; for a whole compressed
// file (mode 1 uncut, mode 2 with flip 0) it returns the data exactly and no error; for a cut
// one, a prefix of the data and an error naming the file; for mode 3 the data exactly, then
// an error whose bytes are whole (BytesWhole); a plain file that does not start with the gzip
// magic comes back as it is.
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "archive/mailbox.h"

namespace {

std::string Gzip(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  if (size < 4) return 0;
  const int mode = input[0] % 4;
  const size_t cut_in = (static_cast<size_t>(input[1]) << 8) | input[2];
  const uint8_t flip = input[3];
  const std::string data(reinterpret_cast<const char*>(input + 4), size - 4);

  std::string file;
  bool whole = true;        // the file holds all of `data`, intact
  bool trailing = false;    // bytes that are not gzip follow the data
  bool compressed = true;
  switch (mode) {
    case 0: file = data; compressed = false; break;
    case 1: {
      file = Gzip(data);
      const size_t cut = cut_in % (file.size() + 1);
      whole = cut == file.size();
      file.resize(cut);
      if (cut < 2) compressed = false;  // too short for the magic: read as a plain file
      break;
    }
    case 2: {
      file = Gzip(data.substr(0, data.size() / 2)) + Gzip(data.substr(data.size() / 2));
      if (flip != 0) {
        file[cut_in % file.size()] ^= static_cast<char>(flip);
        whole = false;
      }
      break;
    }
    default: file = Gzip(data) + (data.empty() ? std::string("x") : data); trailing = true;
  }

  char path[] = "/tmp/fuzz_gzip_reader.XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 0;
  (void)!write(fd, file.data(), file.size());
  close(fd);
  auto reader = credence::OpenByteReader(path);
  unlink(path);
  Check(reader.ok(), "opens");
  std::string got;
  credence::Status error;
  char buf[4096];
  for (;;) {
    const size_t n = (*reader)->Read(buf, 1 + (got.size() * 7 + flip) % sizeof buf, &error);
    if (n == 0) break;
    got.append(buf, n);
    Check(got.size() <= (64u << 20), "bounded");
  }
  if (!compressed) {
    const bool magic = file.size() >= 2 && static_cast<uint8_t>(file[0]) == 0x1f &&
                       static_cast<uint8_t>(file[1]) == 0x8b;
    if (!magic) Check(error.ok() && got == file, "a plain file comes back as it is");
    return 0;
  }
  if (trailing) {
    // Trailing data that starts with the gzip magic is read as another member: no claim.
    if (data.size() >= 2 && static_cast<uint8_t>(data[0]) == 0x1f &&
        static_cast<uint8_t>(data[1]) == 0x8b) {
      return 0;
    }
    Check(got == data, "the data before bytes that are not gzip");
    Check(!error.ok() && (*reader)->BytesWhole(), "trailing bytes: an error, the data whole");
    return 0;
  }
  if (whole) {
    Check(error.ok() && got == data, "a whole gzip file gives the data exactly");
    return 0;
  }
  if (mode == 1) {
    Check(data.compare(0, got.size(), got) == 0, "a cut file gives a prefix of the data");
    Check(!error.ok() && error.message().find(path) == 0, "a cut file is an error naming it");
  }
  // mode 2 with a flipped byte: anything may come out (inflate may not notice until the
  // CRC), but the reader ends, bounded, and never claims a clean end with wrong data unless
  // the flip hit a header byte gzip does not check (FLG, MTIME, XFL, OS).
  if (error.ok() && got != data) {
    // A flip in the first magic bytes makes a file that is not gzip: read as it is.
    const size_t at = cut_in % file.size();
    if (at < 2) {
      Check(got == file, "a file without the gzip magic comes back as it is");
      return 0;
    }
    // RFC 1952 §2.3: no check covers the header's FLG (3), MTIME (4..7), XFL (8) and OS (9)
    // bytes without FHCRC; a flipped FLG can even turn a member into another valid stream
    // (FEXTRA swallowing the first member whole).
    const size_t second = Gzip(data.substr(0, data.size() / 2)).size();
    const size_t in_member = at >= second ? at - second : at;
    Check(in_member >= 3 && in_member <= 9, "corrupt data is never read as clean");
  }
  return 0;
}
