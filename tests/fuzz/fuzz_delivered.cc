// libFuzzer target for what `credence verify --envelope received --compare-authres` reads from
// delivered mail (plugin/archive/delivered.h): the input is a message. Any bytes must give an
// answer without crashing or hanging, and:
//   - an envelope found has a client IP that is an IPv4 or IPv6 address, and its Received field
//     is the topmost one;
//   - ParseReceived and ParseAuthResEntries on every field value never give more than they
//     were given (no value longer than the field; at most 64 resinfos);
//   - the comparison takes out of the forged list only the record it found, and only a field
//     above the trusted Received field.
#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "archive/delivered.h"
#include "credence/message.h"
#include "credence/policy/authres.h"

namespace {

bool IsAddress(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  credence::Result<credence::Message> parsed = credence::Message::Parse(bytes);
  if (!parsed.ok()) return 0;
  const credence::Message& m = *parsed;

  for (const credence::HeaderField& h : m.headers()) {
    credence::ReceivedClauses r = credence::ParseReceived(h.value);
    if (r.by.size() > h.value.size() || r.helo.size() > h.value.size() ||
        r.client_ip.size() > h.value.size()) {
      __builtin_trap();
    }
    if (!r.client_ip.empty() && !IsAddress(r.client_ip)) __builtin_trap();
    if (credence::ParseAuthResEntries(h.value).size() > 64) __builtin_trap();
  }

  for (std::string_view host : {std::string_view(), std::string_view("mx.example.org")}) {
    credence::DeliveredEnvelope d = credence::EnvelopeFromReceived(m, host);
    if (d.found && (!IsAddress(d.envelope.client_ip) || !d.received_index)) __builtin_trap();
    if (d.received_index) {
      size_t top = *d.received_index;
      if (top >= m.headers().size() ||
          !credence::EqualsIgnoreCase(m.headers()[top].name, "Received")) {
        __builtin_trap();
      }
      for (size_t i = 0; i < top; ++i) {
        if (credence::EqualsIgnoreCase(m.headers()[i].name, "Received")) __builtin_trap();
      }
    }
    if (!d.found && d.note.empty()) __builtin_trap();

    credence::Evaluation ev;
    std::vector<size_t> ours = credence::FindAuthResults(m, "mx.example.org");
    for (size_t index : ours) ev.forged_authres.push_back(m.FieldPosition(index));
    credence::AuthResComparison c =
        credence::CompareWithRecorded(m, "mx.example.org", d.received_index, &ev);
    size_t removed = ours.size() - ev.forged_authres.size();
    if (removed != (c.found ? 1u : 0u)) __builtin_trap();
    if (c.found && (ours.empty() || !d.received_index || ours.front() >= *d.received_index)) {
      __builtin_trap();
    }
  }
  return 0;
}
