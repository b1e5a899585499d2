// The terminal form: aligned tables, one section per domain.
#include <algorithm>
#include <string>
#include <vector>

#include "credence/reports/format.h"

namespace credence::reports {
namespace {

// Control characters from a report are shown as '?'; a cell is cut at 60 characters.
std::string Cell(std::string s) {
  for (char& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// Display width: UTF-8 continuation bytes take no column.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (char c : s) w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return w;
}

class Table {
 public:
  // Columns whose name starts with '>' are numbers, aligned right.
  explicit Table(std::vector<std::string> columns) {
    for (std::string& c : columns) {
      right_.push_back(!c.empty() && c[0] == '>');
      if (right_.back()) c.erase(0, 1);
    }
    rows_.push_back(std::move(columns));
  }
  void Row(std::vector<std::string> cells) {
    for (std::string& c : cells) c = Cell(std::move(c));
    rows_.push_back(std::move(cells));
  }
  std::string Render(const std::string& indent) const {
    std::vector<size_t> w(rows_[0].size(), 0);
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
    }
    std::string out;
    for (const auto& r : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) {
        const std::string pad(w[i] - Width(r[i]), ' ');
        if (i > 0) line += "  ";
        line += right_[i] ? pad + r[i] : r[i] + (i + 1 < r.size() ? pad : "");
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

std::string N(uint64_t n) { return Grouped(n); }

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  const uint64_t tenths = (part * 1000 + whole / 2) / whole;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

std::string List(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s.empty() ? "-" : s;
}

std::string PolicyText(const PublishedPolicy& p) {
  std::string s = "p=" + (p.p.empty() ? std::string("?") : p.p);
  if (!p.sp.empty()) s += " sp=" + p.sp;
  if (!p.np.empty()) s += " np=" + p.np;
  if (!p.pct.empty()) s += " pct=" + p.pct;
  if (!p.testing.empty()) s += " t=" + p.testing;
  if (!p.adkim.empty()) s += " adkim=" + p.adkim;
  if (!p.aspf.empty()) s += " aspf=" + p.aspf;
  return s;
}

void Domain(const DomainSummary& d, size_t max_detail_bytes, std::string* out) {
  const Counts& c = d.counts;
  *out += Cell(d.domain) + ": " + N(c.messages) + " messages in " + std::to_string(d.reports) +
          (d.reports == 1 ? " report, " : " reports, ") + FormatDay(d.begin) + " to " +
          FormatDay(d.end) + " (published: " + Cell(PolicyText(d.policy)) + ")\n";
  *out += "  DMARC pass " + N(c.dmarc_pass) + " (" + Percent(c.dmarc_pass, c.messages) +
          "), fail " + N(c.dmarc_fail) + "; disposition none " + N(c.none) + ", quarantine " +
          N(c.quarantine) + ", reject " + N(c.reject) + "\n";
  if (std::string note = OtherNote(d, max_detail_bytes); !note.empty()) {
    *out += "  Note: " + note + ".\n";
  }
  *out += "\n";

  *out += "  Who sends as " + Cell(d.domain) +
          " (DKIM/SPF aligned: after alignment, policy_evaluated; any: before, auth_results)\n";
  Table sources({"source IP", "PTR", ">messages", ">DMARC pass", ">fail", ">DKIM aligned",
                 ">DKIM any", ">SPF aligned", ">SPF any", ">none", ">quar.", ">reject"});
  for (const SourceSummary& s : d.sources) {
    const Counts& k = s.counts;
    sources.Row({s.ip, s.ptr.empty() ? "-" : s.ptr, N(k.messages), N(k.dmarc_pass),
                 N(k.dmarc_fail), N(k.dkim_aligned_pass), N(k.dkim_pass), N(k.spf_aligned_pass),
                 N(k.spf_pass), N(k.none), N(k.quarantine), N(k.reject)});
  }
  *out += sources.Render("  ") + "\n";

  *out += "  Lost under a stricter policy today: " + N(c.lost_quarantine) +
          " messages under p=quarantine, " + N(c.lost_reject) +
          " under p=reject (DMARC failed, the receiver let them through)\n";
  Table lost({"source IP", "PTR", ">p=quarantine", ">p=reject", "From", "DKIM d=", "SPF domain",
              "overrides"});
  bool any_lost = false;
  for (const SourceSummary& s : d.sources) {
    if (s.counts.lost_reject == 0) continue;
    any_lost = true;
    lost.Row({s.ip, s.ptr.empty() ? "-" : s.ptr, N(s.counts.lost_quarantine),
              N(s.counts.lost_reject), List(s.header_from), List(s.dkim_domains),
              List(s.spf_domains), List(s.reasons)});
  }
  *out += any_lost ? lost.Render("  ") : "    none\n";
  *out += "\n";

  *out += "  DKIM selectors seen failing (auth_results)\n";
  if (d.failing_selectors.empty()) {
    *out += "    none\n";
  } else {
    Table sel({"d=", "s=", "result", ">messages", "sources"});
    for (const SelectorFailure& f : d.failing_selectors) {
      sel.Row({f.domain, f.selector.empty() ? "-" : f.selector, f.result, N(f.messages),
               List(f.ips)});
    }
    *out += sel.Render("  ");
  }
  *out += "\n  Reporters\n";
  Table rep({"organization", "email", ">reports", ">messages", "from", "to"});
  for (const ReporterSummary& r : d.reporters) {
    rep.Row({r.org_name, r.email.empty() ? "-" : r.email, std::to_string(r.reports),
             N(r.messages), FormatTime(r.begin), FormatTime(r.end)});
  }
  *out += rep.Render("  ");
}

}  // namespace

std::string OtherNote(const DomainSummary& d, size_t max_detail_bytes) {
  if (d.other_records == 0) return "";
  const size_t mib = max_detail_bytes >> 20;
  const std::string budget = mib > 0 && mib << 20 == max_detail_bytes
                                 ? std::to_string(mib) + " MiB"
                                 : std::to_string(max_detail_bytes) + " bytes";
  return Grouped(d.other_records) + (d.other_records == 1 ? " record" : " records") + " (" +
         Grouped(d.other_messages) + " messages) came after the detail tables reached their " +
         budget + " (--max-detail-mib): what they add to the source, row and failing-selector "
         "tables is counted together under " + kOtherEntry + "; every total and day count is "
         "exact";
}

std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatText(const Summary& summary, const ReadResult& read) {
  std::string out;
  for (size_t i = 0; i < summary.domains.size(); ++i) {
    if (i > 0) out += "\n";
    Domain(summary.domains[i], summary.max_detail_bytes, &out);
  }
  if (summary.domains.empty()) out += "No report to show.\n";
  out += "\n" + std::to_string(summary.reports) + (summary.reports == 1 ? " report" : " reports") +
         " counted, " + std::to_string(read.duplicates.size()) + " duplicate" +
         (read.duplicates.size() == 1 ? "" : "s") + " left out, " +
         std::to_string(read.problems.size()) + " problem" +
         (read.problems.size() == 1 ? "" : "s") + " (standard error)\n";
  return out;
}

}  // namespace credence::reports
