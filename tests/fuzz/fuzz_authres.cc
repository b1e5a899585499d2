// Fuzz target for the Authentication-Results writer (hostile values) and finder.
// First byte even: the rest is split at NUL into DKIM/SPF/DMARC values for the writer, and the
// output must keep its invariants (printable ASCII, folds only CRLF+TAB, unfolded == folded
// minus folds, lines < 998). Odd: the rest is a message for the finder and ParseAuthServId.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "credence/message.h"
#include "credence/policy/authres.h"
#include "credence/policy/dmarc.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckHeader(const credence::AuthResHeader& h) {
  std::string unfolded;
  size_t line = 0;
  for (size_t i = 0; i < h.folded.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(h.folded[i]);
    if (c == '\r') {
      Check(h.folded.compare(i, 3, "\r\n\t") == 0);
      unfolded += ' ';
      line = 0;
      i += 2;
      continue;
    }
    Check(c >= 0x20 && c < 0x7f);
    unfolded += static_cast<char>(c);
    Check(++line < 970);
  }
  Check(unfolded == h.value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    std::vector<std::string> f;
    size_t start = 0;
    while (f.size() < 12) {
      size_t nul = in.find('\0', start);
      f.emplace_back(in.substr(start, nul == std::string_view::npos ? in.npos : nul - start));
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
    f.resize(12);
    std::vector<credence::DkimResult> dkim(1 + data[0] % 3);
    for (size_t i = 0; i < dkim.size(); ++i) {
      dkim[i].result = static_cast<credence::DkimVerdict>((data[0] >> 2) % 6);
      dkim[i].domain = f[0];
      dkim[i].selector = f[1];
      dkim[i].algorithm = f[2];
      dkim[i].signature_b = f[3] + std::to_string(i);
      dkim[i].detail = f[4];
      dkim[i].identity = f[5];
      dkim[i].testing = data[0] & 0x80;
    }
    credence::SpfResult spf;
    spf.result = static_cast<credence::SpfVerdict>((data[0] >> 4) % 7);
    spf.sender = f[6];
    spf.domain = f[7];
    spf.detail = f[8];
    credence::DmarcResult dmarc;
    dmarc.verdict = credence::DmarcVerdict::kFail;
    dmarc.has_record = true;
    dmarc.from_domain = f[9];
    dmarc.record_domain = f[10];
    dmarc.reason = f[11];
    credence::AuthResInput input;
    input.dkim = dkim;
    input.spf_mailfrom = &spf;
    input.spf_helo = &spf;
    input.dmarc = &dmarc;
    credence::AuthResOptions options;
    options.fold_width = 20 + data[0] % 80;
    credence::Result<credence::AuthResHeader> h = credence::WriteAuthResults(input, options);
    Check(h.ok());
    CheckHeader(*h);
    options.authserv_id = f[0];
    credence::Result<credence::AuthResHeader> h2 = credence::WriteAuthResults(input, options);
    if (h2.ok()) CheckHeader(*h2);
  } else {
    (void)credence::ParseAuthServId(in);
    credence::Result<credence::Message> m = credence::Message::Parse(in);
    if (m.ok()) {
      for (size_t i : credence::FindAuthResults(*m, "mx.example.net")) {
        Check(i < m->headers().size());
      }
    }
  }
  return 0;
}
