// libFuzzer target for the `credence serve` request framing (plugin/serve/protocol.h): the
// header-line parser and the incremental RequestReader fed in input-chosen chunks. Checks the
// reader's invariants: bounded consumption, a complete VERIFY request keeps exactly the first
// min(announced, limit) bytes (a longer message is a prefix) in a buffer no larger than that,
// errors carry a Status, and chunking never changes the outcome.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "serve/protocol.h"

namespace {

constexpr size_t kMaxLength = 4096;

using credence::serve::RequestReader;

RequestReader::State FeedChunked(RequestReader& r, std::string_view data, size_t chunk) {
  RequestReader::State s = r.state();
  for (size_t i = 0; i < data.size(); i += chunk) s = r.Feed(data.substr(i, chunk));
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size; the rest is what a client sends.
  const size_t chunk = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  size_t lf = bytes.find('\n');
  auto parsed = credence::serve::ParseRequestHeader(bytes.substr(0, lf), kMaxLength);
  if (parsed.ok() && parsed->kind == credence::serve::RequestKind::kVerify &&
      parsed->length > kMaxLength) {
    std::abort();
  }
  auto any = credence::serve::ParseRequestHeader(bytes.substr(0, lf), credence::serve::kAnyLength);
  if (parsed.ok() && (!any.ok() || any->length != parsed->length)) std::abort();

  RequestReader whole(kMaxLength), pieces(kMaxLength);
  RequestReader::State a = whole.Feed(bytes);
  RequestReader::State b = FeedChunked(pieces, bytes, chunk);
  if (whole.consumed() > bytes.size() || pieces.consumed() > bytes.size()) std::abort();
  if (a == RequestReader::State::kComplete) {
    if (b != a || whole.body() != pieces.body()) std::abort();
    if (whole.header().kind == credence::serve::RequestKind::kVerify &&
        (whole.body().size() != std::min(whole.header().length, kMaxLength) ||
         whole.received() != whole.header().length || whole.body().capacity() > kMaxLength ||
         pieces.body().capacity() > kMaxLength)) {
      std::abort();
    }
  }
  if (a == RequestReader::State::kError && (whole.error().ok() || b != a)) std::abort();
  return 0;
}
