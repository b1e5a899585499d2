#include "report.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace credence::cli {
namespace {

std::string Counts(const std::map<std::string, uint64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ", ";
    out += k + " " + std::to_string(v);
  }
  return out.empty() ? "-" : out;
}

std::string Top(const std::map<std::string, uint64_t>& m, size_t n) {
  std::vector<std::pair<std::string, uint64_t>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::string out;
  for (size_t i = 0; i < v.size() && i < n; ++i) {
    if (!out.empty()) out += ", ";
    out += (v[i].first.empty() ? "(none)" : v[i].first) + " " + std::to_string(v[i].second);
  }
  return out.empty() ? "-" : out;
}

// "1 message", "2 messages": the words a person reads.
std::string Count(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Message-controlled domain names must not drive a terminal.
std::string Clean(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

}  // namespace

void Summary::Add(const ItemResult& r) {
  ++messages_;
  bytes_ += r.bytes;
  if (!r.error.ok()) {
    ++errors_;
    return;
  }
  const Evaluation& ev = r.evaluation;
  if (r.comparison) {
    if (!r.comparison->found) {
      ++recorded_none_;
    } else if (r.comparison->differences.empty()) {
      ++recorded_same_;
    } else {
      ++recorded_differ_;
    }
  }
  if (ev.dkim.empty()) ++unsigned_;
  for (const DkimResult& s : ev.dkim) {
    ++signatures_;
    ++dkim_[std::string(DkimVerdictName(s.result))];
    if (s.result == DkimVerdict::kFail || s.result == DkimVerdict::kPermError)
      ++dkim_fail_domains_[Clean(s.domain)];
    if (s.result == DkimVerdict::kFail || s.result == DkimVerdict::kPermError ||
        s.result == DkimVerdict::kTempError) {
      std::string_view reason = DkimReasonName(s.reason);
      ++dkim_fail_reasons_[reason.empty() ? std::string(DkimVerdictName(s.result))
                                          : std::string(reason)];
      if (!s.selector.empty() && !s.domain.empty()) {
        ++dkim_fail_selectors_[Clean(s.selector + "._domainkey." + s.domain)];
      }
    }
    if (s.result == DkimVerdict::kPass && s.unsigned_body_bytes > 0) {
      ++partial_;
      partial_bytes_ += s.unsigned_body_bytes;
      ++partial_domains_[Clean(s.domain)];
    }
    if (s.testing) {
      ++testing_;
      ++testing_domains_[Clean(s.domain)];
    }
  }
  for (const ItemResult::DkimCause& c : r.dkim_causes) {
    static const std::string kBody = "body hash: ", kHeader = "header hash: ";
    if (c.kind.rfind(kBody, 0) == 0) ++body_causes_[c.kind.substr(kBody.size())];
    if (c.kind.rfind(kHeader, 0) == 0) ++header_causes_[c.kind.substr(kHeader.size())];
  }
  if (ev.spf_evaluated) ++spf_[std::string(SpfVerdictName(ev.spf_mailfrom.result))];
  ++dmarc_[std::string(DmarcVerdictName(ev.dmarc.verdict))];
  if (ev.dmarc.verdict == DmarcVerdict::kFail) {
    ++dmarc_fail_domains_[Clean(ev.dmarc.from_domain)];
    ++disposition_[std::string(DmarcDispositionName(ev.dmarc.disposition))];
  }
}

// The counters by name, for Save and Load (one list: the two cannot disagree).
template <typename S, typename Counter, typename Map>
void Summary::ForEachCounter(S& s, Counter counter, Map map) {
  counter("messages", s.messages_);
  counter("errors", s.errors_);
  counter("signatures", s.signatures_);
  counter("unsigned", s.unsigned_);
  counter("bytes", s.bytes_);
  counter("partial", s.partial_);
  counter("partial_bytes", s.partial_bytes_);
  counter("testing", s.testing_);
  counter("recorded_same", s.recorded_same_);
  counter("recorded_differ", s.recorded_differ_);
  counter("recorded_none", s.recorded_none_);
  map("dkim", s.dkim_);
  map("spf", s.spf_);
  map("dmarc", s.dmarc_);
  map("disposition", s.disposition_);
  map("dkim_fail_domains", s.dkim_fail_domains_);
  map("dmarc_fail_domains", s.dmarc_fail_domains_);
  map("testing_domains", s.testing_domains_);
  map("dkim_fail_reasons", s.dkim_fail_reasons_);
  map("dkim_fail_selectors", s.dkim_fail_selectors_);
  map("partial_domains", s.partial_domains_);
  map("body_causes", s.body_causes_);
  map("header_causes", s.header_causes_);
}

std::string Summary::Save() const {
  std::string out;
  ForEachCounter(
      *this, [&](const char* name, uint64_t v) { out += std::string(name) + " " + std::to_string(v) + "\n"; },
      [&](const char* name, const std::map<std::string, uint64_t>& m) {
        for (const auto& [k, v] : m) out += std::string(name) + "\t" + k + "\t" + std::to_string(v) + "\n";
      });
  return out;
}

bool Summary::Load(const std::string& text) {
  Summary loaded;
  std::map<std::string, uint64_t*> counters;
  std::map<std::string, std::map<std::string, uint64_t>*> maps;
  ForEachCounter(
      loaded, [&](const char* name, uint64_t& v) { counters[name] = &v; },
      [&](const char* name, std::map<std::string, uint64_t>& m) { maps[name] = &m; });
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    const size_t last = line.rfind(tab == std::string::npos ? ' ' : '\t');
    if (last == std::string::npos || last + 1 >= line.size()) return false;
    const std::string digits = line.substr(last + 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 19) {
      return false;
    }
    const uint64_t value = std::stoull(digits);
    if (tab == std::string::npos) {
      auto it = counters.find(line.substr(0, last));
      if (it == counters.end()) return false;
      *it->second = value;
    } else {
      auto it = maps.find(line.substr(0, tab));
      if (it == maps.end() || last <= tab) return false;
      (*it->second)[line.substr(tab + 1, last - tab - 1)] = value;
    }
  }
  *this = std::move(loaded);
  return true;
}

std::string Summary::Format(double seconds) const {
  char rate[80];
  std::snprintf(rate, sizeof rate, " in %.2f s, %.0f messages/s\n", seconds,
                seconds > 0 ? messages_ / seconds : 0.0);
  std::string out = "summary: " + Count(messages_, "message", "messages") + " (" +
                    std::to_string(errors_) + " unreadable)" + rate;
  if (messages_ == 0) return out;  // nothing to count: the inputs held no message
  out += "  dkim:  " + Count(signatures_, "signature", "signatures") + ": " + Counts(dkim_) +
         "; " + Count(unsigned_, "message", "messages") + " unsigned\n";
  out += "  spf:   " + Counts(spf_) + "\n";
  out += "  dmarc: " + Counts(dmarc_) + "\n";
  if (!disposition_.empty()) out += "  dmarc failures by disposition: " + Counts(disposition_) + "\n";
  out += "  dkim failing most (fail/permerror by d=): " + Top(dkim_fail_domains_, 10) + "\n";
  if (!dkim_fail_reasons_.empty()) {
    out += "  dkim failures by reason: " + Top(dkim_fail_reasons_, 20) + "\n";
    out += "  dkim failing most by selector: " + Top(dkim_fail_selectors_, 10) + "\n";
  }
  if (!body_causes_.empty()) {
    out += "  dkim body hash failures by cause: " + Top(body_causes_, 10) + "\n";
  }
  if (!header_causes_.empty()) {
    out += "  dkim header hash failures by cause: " + Top(header_causes_, 10) + "\n";
  }
  if (partial_ > 0) {
    out += "  l= signatures passing with unsigned body bytes: " + std::to_string(partial_) +
           " (" + std::to_string(partial_bytes_) + " bytes unsigned), by d=: " +
           Top(partial_domains_, 10) + "\n";
  }
  out += "  dmarc failing most (by From domain): " + Top(dmarc_fail_domains_, 10) + "\n";
  out += "  testing-mode (t=y) signatures: " + std::to_string(testing_);
  if (testing_) out += ", by d=: " + Top(testing_domains_, 10);
  out += "\n";
  if (recorded_same_ + recorded_differ_ + recorded_none_ > 0) {
    out += "  recorded verdicts (--compare-authres): " + std::to_string(recorded_same_) +
           " same, " + std::to_string(recorded_differ_) + " differ, " +
           std::to_string(recorded_none_) + " without a record\n";
  }
  return out;
}

Progress::Progress(bool enabled, uint64_t total_bytes)
    : enabled_(enabled), total_bytes_(total_bytes),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::Add(const ItemResult& r) {
  ++messages_;
  bytes_ += r.bytes;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  Draw();
}

void Progress::Draw() {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? messages_ / secs : 0;
  char line[160];
  int n = std::snprintf(line, sizeof line, "\r%llu messages  %.0f/s",
                        static_cast<unsigned long long>(messages_), rate);
  if (total_bytes_ > 0 && bytes_ > 0 && bytes_ < total_bytes_ && secs > 0) {
    double eta = (total_bytes_ - bytes_) / (bytes_ / secs);
    int e = static_cast<int>(eta);
    std::snprintf(line + n, sizeof line - n, "  %3.0f%%  ETA %d:%02d   ",
                  100.0 * bytes_ / total_bytes_, e / 60, e % 60);
  } else {
    std::snprintf(line + n, sizeof line - n, "   ");
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Hide() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

void Progress::Finish() {
  if (!enabled_ || messages_ == 0) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace credence::cli
