// libFuzzer target: DNS replies in wire format (RFC 1035 §4.1) into ParseReply
// (verifier/dns/reply_parser.h), the walker behind the c-ares resolver. The input is the whole
// reply: compression pointers (loops, forward, chains), truncated records, counts that promise
// more than the packet holds, CNAME chains, any octet in names.
//
// Beyond "no crash, no hang": the question is read from the packet itself and asked in the
// normalised spelling (dns_name.h), so most inputs get past the question check, and
//  - a well-formed question is never "question does not match" (the walker writes names the
//    way NormalizeName does);
//  - an answer keeps the promises of dns.h (kOk has records, all of the asked type, TTLs at
//    most 2^31-1, names normalised and valid, no more records than the answer count);
//  - the answer survives a recording: RecordedZoneText of it, loaded by a ZoneResolver,
//    answers the same question with the same outcome and records (RFC 1035 §5.1 escapes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>

#include "credence/dns.h"
#include "dns/dns_name.h"
#include "dns/reply_parser.h"

namespace {

using namespace credence;

// The question name at offset 12 when it is plain labels (no pointer) within 255 octets,
// written with a \DDD escape per octet and then normalised; false otherwise.
bool QuestionOf(const uint8_t* data, size_t size, std::string* name, uint16_t* qtype) {
  std::string escaped;
  size_t p = 12, wire = 1;
  for (;;) {
    if (p >= size) return false;
    const uint8_t l = data[p];
    if (l == 0) break;
    if (l > 63 || p + 1 + l > size) return false;
    wire += 1 + l;
    if (wire > 255) return false;
    if (!escaped.empty()) escaped += '.';
    for (size_t i = 0; i < l; ++i) {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", data[p + 1 + i]);
      escaped += esc;
    }
    p += 1 + l;
  }
  if (p + 3 > size) return false;
  *qtype = static_cast<uint16_t>(data[p + 1] << 8 | data[p + 2]);
  *name = dns_internal::NormalizeName(escaped);
  return true;
}

bool IsNameType(RRType t) {
  return t == RRType::kMX || t == RRType::kCNAME || t == RRType::kNS || t == RRType::kPTR;
}

// Gives one fixed answer to whatever it is asked.
class Fixed final : public Resolver {
 public:
  explicit Fixed(DnsAnswer a) : answer_(std::move(a)) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> qs, Deadline) override {
    return std::vector<DnsAnswer>(qs.size(), answer_);
  }

 private:
  DnsAnswer answer_;
};

std::set<std::tuple<uint16_t, uint16_t, std::string>> RecordSet(const DnsAnswer& a) {
  std::set<std::tuple<uint16_t, uint16_t, std::string>> out;
  for (const ResourceRecord& rr : a.records) {
    out.emplace(static_cast<uint16_t>(rr.type), rr.preference, rr.data);
  }
  return out;
}

void CheckRecording(const std::string& name, RRType type, const DnsAnswer& live) {
  if (live.outcome == DnsOutcome::kTempFail || !dns_internal::CheckName(name).empty()) return;
  if (static_cast<uint16_t>(type) == 65280) return;  // the recorder's own nodata marker type
  auto recording = MakeRecordingResolver(std::make_unique<Fixed>(live));
  const Deadline far = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  recording->ResolveOne({name, type}, far);
  Result<std::string> text = RecordedZoneText(*recording);
  if (!text.ok()) __builtin_trap();
  ZoneResolver replay;
  Status s = replay.AddZoneText(*text, "", "recording");
  if (!s.ok()) {
    std::fprintf(stderr, "recording does not load: %s\n%s\n", s.ToString().c_str(),
                 text->c_str());
    __builtin_trap();
  }
  DnsAnswer again = replay.ResolveOne({name, type}, far);
  if (again.outcome != live.outcome || RecordSet(again) != RecordSet(live)) {
    std::fprintf(stderr, "replay differs (%s vs %s):\n%s\n",
                 std::string(DnsOutcomeName(again.outcome)).c_str(),
                 std::string(DnsOutcomeName(live.outcome)).c_str(), text->c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string name = "x.example";
  uint16_t qtype = 16;
  const bool own_question = QuestionOf(data, size, &name, &qtype);
  const RRType type = static_cast<RRType>(qtype);
  DnsAnswer a = dns_internal::ParseReply(data, size, name, type);

  if (own_question && a.detail == "malformed reply: question does not match") __builtin_trap();
  if (a.outcome == DnsOutcome::kTempFail && a.detail.empty()) __builtin_trap();
  if (a.outcome == DnsOutcome::kOk && a.records.empty()) __builtin_trap();
  if (a.outcome != DnsOutcome::kOk && !a.records.empty()) __builtin_trap();
  const size_t ancount = size >= 8 ? (data[6] << 8 | data[7]) : 0;
  if (a.records.size() > ancount) __builtin_trap();
  if (a.ttl > 0x7FFFFFFFu && a.outcome == DnsOutcome::kOk) __builtin_trap();
  for (const ResourceRecord& rr : a.records) {
    if (rr.type != type || rr.ttl > 0x7FFFFFFFu) __builtin_trap();
    if (rr.type == RRType::kTXT && rr.data.size() > size) __builtin_trap();
    // txt_breaks: TXT only, where each string after the first starts, never decreasing.
    if (rr.type != RRType::kTXT && !rr.txt_breaks.empty()) __builtin_trap();
    for (size_t i = 0; i < rr.txt_breaks.size(); ++i) {
      if (rr.txt_breaks[i] > rr.data.size()) __builtin_trap();
      if (i > 0 && rr.txt_breaks[i] < rr.txt_breaks[i - 1]) __builtin_trap();
    }
    if (IsNameType(rr.type)) {
      if (dns_internal::NormalizeName(rr.data) != rr.data) __builtin_trap();
      if (!rr.data.empty() && !dns_internal::CheckName(rr.data).empty()) __builtin_trap();
    }
  }
  if (own_question) CheckRecording(name, type, a);
  return 0;
}
