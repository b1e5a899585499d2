// Fuzzes Message::Parse and the DKIM header/body canonicalizers over whatever it returns. The
// relaxed body canonicalization must equal RFC 6376 §3.4.4 read literally (the fast path
// skips what it judges canonical already, and cuts the trailing empty lines first), at every
// level of the scans this CPU runs (credence/simd.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "../unit/relaxed_body_reference.h"
#include "credence/message.h"
#include "credence/simd.h"
#include "dkim/canonicalize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace credence;
  Limits limits;
  limits.max_message_bytes = 1 << 20;
  Result<Message> m =
      Message::Parse(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!m.ok()) return 0;
  std::string out;
  for (const HeaderField& f : m->headers()) {
    out.clear();
    dkim::CanonicalizeHeader(dkim::Canon::kRelaxed, f.raw, true, &out);
    dkim::CanonicalizeHeader(dkim::Canon::kSimple, f.raw, true, &out);
  }
  dkim::HeaderIndex index(m->headers());
  out.clear();
  index.AppendSignedHeaders({"from", "subject", "from", "x"}, dkim::Canon::kRelaxed, &out);
  dkim::BodyHasher simple, relaxed(size / 2);
  dkim::CanonicalizeBody(dkim::Canon::kSimple, m->body(), &simple);
  dkim::CanonicalizeBody(dkim::Canon::kRelaxed, m->body(), &relaxed);
  if (simple.total() == 0) __builtin_trap();  // simple always yields at least CRLF
  const std::string want = testing::RelaxedBodyReference(m->body());
  for (int level = 0; level <= static_cast<int>(simd::Best()); ++level) {
    simd::ScopedCap cap(static_cast<simd::Level>(level));
    std::string text;
    dkim::StringSink text_sink(&text);
    dkim::CanonicalizeBody(dkim::Canon::kRelaxed, m->body(), &text_sink);
    if (text != want) __builtin_trap();
  }
  return 0;
}
