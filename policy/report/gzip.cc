// gzip for report files: the second zlib door (plugin/archive/mailbox.cc reads gzip; this
// writes it, so the policy layer need not reach into a host folder).
#include <zlib.h>

#include "credence/policy/report.h"

namespace credence {

Result<std::string> Gzip(std::string_view data) {
  z_stream z = {};
  // windowBits 15 + 16: a gzip header and trailer (RFC 1952) instead of zlib's.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::Internal("zlib: deflate failed");
  out.resize(n);
  return out;
}

}  // namespace credence
