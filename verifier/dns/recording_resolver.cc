// MakeRecordingResolver / RecordedZoneText: capture live answers, replay them offline through
// ZoneResolver.
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <unordered_set>

#include "credence/dns.h"
#include "dns/dns_name.h"

namespace credence {

namespace {

// Private type (RFC 6895 §3.1: 65280-65534 are for private use) marking a name that exists
// with no record of the asked type.
constexpr uint16_t kNoDataMarker = 65280;
constexpr uint16_t kTempFailMarker = dns_internal::kTempFailMarkerType;

class RecordingResolver final : public Resolver {
 public:
  explicit RecordingResolver(std::unique_ptr<Resolver> inner) : inner_(std::move(inner)) {}

  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    std::vector<DnsAnswer> answers = inner_->Resolve(questions, deadline);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < questions.size() && i < answers.size(); ++i) {
      DnsQuestion q{dns_internal::NormalizeName(questions[i].name), questions[i].type};
      std::string key = std::to_string(static_cast<uint16_t>(q.type)) + " " + q.name;
      if (!seen_.insert(key).second) continue;
      log_.emplace_back(std::move(q), answers[i]);
    }
    return answers;
  }

  std::vector<std::string> TempFailures() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [q, a] : log_) {
      if (a.outcome != DnsOutcome::kTempFail) continue;
      out.push_back(Comment(dns_internal::ZoneFileName(q.name)) + " " + RRTypeName(q.type) +
                    " (" + Comment(a.detail) + ")");
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The questions in a fixed order (name, then type), whatever order the workers asked them
  // in, so two runs that asked the same questions write the same file.
  std::string ZoneText() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const std::pair<DnsQuestion, DnsAnswer>*> sorted;
    sorted.reserve(log_.size());
    for (const auto& e : log_) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](const auto* x, const auto* y) {
      if (x->first.name != y->first.name) return x->first.name < y->first.name;
      return static_cast<uint16_t>(x->first.type) < static_cast<uint16_t>(y->first.type);
    });
    std::ostringstream out;
    out << "; credence DNS recording: " << log_.size() << " question(s)\n";
    std::unordered_set<std::string> marked;
    for (const auto* entry : sorted) {
      const auto& [q, a] = *entry;
      // RFC 1035 §5.1: owner names with the characters a zone file gives a meaning to are
      // written escaped (dns_name.h ZoneFileName); comments only ever hold printable text.
      const std::string owner = dns_internal::ZoneFileName(q.name);
      const std::string qdesc = Comment(owner) + " " + RRTypeName(q.type);
      if (!dns_internal::CheckName(q.name).empty()) {
        out << "; not representable: " << qdesc << " (" << dns_internal::CheckName(q.name)
            << ")\n";
        continue;
      }
      switch (a.outcome) {
        case DnsOutcome::kOk:
          for (const ResourceRecord& rr : a.records) {
            const std::string rdata = Record(rr);
            if (rdata.empty()) {
              out << "; not representable: a malformed " << RRTypeName(rr.type) << " for " << qdesc
                  << "\n";
            } else {
              out << owner << ". " << rdata << "\n";
            }
          }
          break;
        case DnsOutcome::kNoData:
          out << "; nodata " << qdesc << " (negative TTL " << a.ttl << ")\n";
          if (marked.insert(q.name).second) {
            out << owner << ". 0 IN TYPE" << kNoDataMarker << " \\# 0\n";
          }
          break;
        case DnsOutcome::kNxDomain:
          out << "; nxdomain " << qdesc << " (negative TTL " << a.ttl << ")\n";
          break;
        case DnsOutcome::kTempFail: {
          // Replayed as a temporary failure again (ZoneResolver), never as NXDOMAIN: a
          // verdict that was temperror live stays temperror.
          const auto t = static_cast<uint16_t>(q.type);
          char rdata[16];
          std::snprintf(rdata, sizeof rdata, "\\# 2 %02x%02x", t >> 8, t & 0xff);
          out << "; tempfail " << qdesc << " (" << Comment(a.detail)
              << "): the answer was not seen; replayed as a temporary failure\n";
          out << owner << ". 0 IN TYPE" << kTempFailMarker << " " << rdata << "\n";
          break;
        }
        case DnsOutcome::kNotAsked:  // budgets live above the recorder: never seen here
          break;
      }
    }
    return out.str();
  }

 private:
  // Text for a comment line: control bytes become spaces.
  static std::string Comment(const std::string& s) {
    std::string out;
    for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
    return out;
  }

  // A name in RDATA, absolute: "." for the root (RFC 7505 null MX).
  static std::string Target(const std::string& name) {
    const std::string normalised = dns_internal::NormalizeName(name);
    return normalised.empty() ? "." : dns_internal::ZoneFileName(normalised) + ".";
  }

  // RFC 1035 §5.1 character-strings: at most 255 octets each, quoted, with \" \\ and \DDD.
  static std::string QuotedStrings(const std::string& data) {
    std::string out;
    size_t pos = 0;
    do {
      std::string_view piece = std::string_view(data).substr(pos, 255);
      pos += piece.size();
      if (!out.empty()) out += ' ';
      out += '"';
      for (unsigned char c : piece) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c > 0x7e) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\%03u", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
      }
      out += '"';
    } while (pos < data.size());
    return out;
  }

  // TTL, class, type and RDATA of `rr` in zone file syntax; "" when its data is malformed.
  static std::string Record(const ResourceRecord& rr) {
    std::string head = std::to_string(rr.ttl) + " IN " + RRTypeName(rr.type) + " ";
    switch (rr.type) {
      case RRType::kA:
      case RRType::kAAAA: return head + rr.data;
      case RRType::kMX: return head + std::to_string(rr.preference) + " " + Target(rr.data);
      case RRType::kNS:
      case RRType::kCNAME:
      case RRType::kPTR: return head + Target(rr.data);
      case RRType::kTXT: return head + QuotedStrings(rr.data);
      case RRType::kSOA: {
        // "mname rname serial refresh retry expire minimum" (names normalised, so without
        // spaces; the root is empty): the names are written absolute.
        const size_t first = rr.data.find(' ');
        const size_t second = first == std::string::npos ? first : rr.data.find(' ', first + 1);
        if (second == std::string::npos) return "";
        return head + Target(rr.data.substr(0, first)) + " " +
               Target(rr.data.substr(first + 1, second - first - 1)) + rr.data.substr(second);
      }
    }
    std::string hex;
    for (unsigned char c : rr.data) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", c);
      hex += b;
    }
    return head + "\\# " + std::to_string(rr.data.size()) + (hex.empty() ? "" : " " + hex);
  }

  std::unique_ptr<Resolver> inner_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> seen_;
  std::vector<std::pair<DnsQuestion, DnsAnswer>> log_;
};

}  // namespace

std::unique_ptr<Resolver> MakeRecordingResolver(std::unique_ptr<Resolver> inner) {
  return std::make_unique<RecordingResolver>(std::move(inner));
}

Result<std::vector<std::string>> RecordedTempFailures(const Resolver& recording) {
  const auto* r = dynamic_cast<const RecordingResolver*>(&recording);
  if (r == nullptr) return Status::Invalid("not a recording resolver");
  return r->TempFailures();
}

Result<std::string> RecordedZoneText(const Resolver& recording) {
  const auto* r = dynamic_cast<const RecordingResolver*>(&recording);
  if (r == nullptr) return Status::Invalid("not a recording resolver");
  return r->ZoneText();
}

}  // namespace credence
