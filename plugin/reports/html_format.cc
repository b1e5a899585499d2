// One self-contained page: inline CSS, server-drawn inline SVG charts (pass/fail per day and
// per source), tables, and a few lines of inline script that make the tables sortable. A
// Content-Security-Policy forbids every fetch. Every text from a report is escaped.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "credence/reports/format.h"

namespace credence::reports {
namespace {

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 && c != '\t' ? '?' : c;
    }
  }
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

constexpr char kStyle[] = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:2px solid #ccc}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
th{cursor:pointer;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl.totals{display:flex;flex-wrap:wrap;gap:1.5em}dl.totals div{min-width:8em}
dt{color:#666;font-size:.85em}dd{margin:0;font-size:1.4em;font-weight:600}
.pass{fill:#2e7d32}.fail{fill:#c62828}.axis{fill:#555;font-size:11px}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:middle}
.bad{color:#c62828}.none{color:#777}
)";

// Sorts a table by the clicked column (numbers by value, text by text); marks the page
// ready so a headless browser can tell the script ran.
constexpr char kScript[] = R"(
(function(){
  function key(td){var t=td.getAttribute('data-v');if(t!==null)return parseFloat(t);return td.textContent;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('th').forEach(function(th,i){
      th.addEventListener('click',function(){
        var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        var dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir>0?'asc':'desc');
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x>y?1:x<y?-1:0)*dir;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var bars=document.querySelectorAll('svg.chart rect.bar').length;
  document.documentElement.setAttribute('data-ready','yes');
  document.documentElement.setAttribute('data-bars',String(bars));
})();
)";

std::string NumCell(uint64_t n) {
  return "<td class=\"n\" data-v=\"" + std::to_string(n) + "\">" + Grouped(n) + "</td>";
}
std::string TextCell(std::string_view s) { return "<td>" + Esc(s) + "</td>"; }

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string EmptyRow(int columns) {
  return "<tr class=\"empty\"><td class=\"none\" colspan=\"" + std::to_string(columns) +
         "\">none</td></tr>";
}

void Head(const std::vector<std::string>& cols, std::string* out) {
  *out += "<thead><tr>";
  for (const std::string& c : cols) *out += "<th>" + Esc(c) + "</th>";
  *out += "</tr></thead><tbody>";
}

// Stacked bars per day: pass (green) under fail (red).
void DayChart(const DomainSummary& d, std::string* out) {
  std::vector<DaySummary> days = d.days;
  if (days.size() > 366) days.erase(days.begin(), days.end() - 366);
  uint64_t max = 1;
  for (const DaySummary& x : days) max = std::max(max, x.pass + x.fail);
  const double left = 60, top = 10, plot_h = 180, bottom = 40;
  const double step = std::min(40.0, 900.0 / std::max<size_t>(days.size(), 1));
  const double width = left + step * static_cast<double>(days.size()) + 20;
  *out += "<svg class=\"chart chart-days\" role=\"img\" width=\"" + Num(width) +
          "\" height=\"" + Num(top + plot_h + bottom) + "\" viewBox=\"0 0 " + Num(width) + " " +
          Num(top + plot_h + bottom) + "\" xmlns=\"http://www.w3.org/2000/svg\">";
  *out += "<title>Messages per day, DMARC pass and fail</title>";
  *out += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(top + plot_h) + "\" x2=\"" + Num(width) +
          "\" y2=\"" + Num(top + plot_h) + "\" stroke=\"#999\"/>";
  *out += "<text class=\"axis\" x=\"" + Num(left - 6) + "\" y=\"" + Num(top + 10) +
          "\" text-anchor=\"end\">" + Grouped(max) + "</text>";
  *out += "<text class=\"axis\" x=\"" + Num(left - 6) + "\" y=\"" + Num(top + plot_h) +
          "\" text-anchor=\"end\">0</text>";
  const size_t label_every = std::max<size_t>(1, static_cast<size_t>(70 / step));
  for (size_t i = 0; i < days.size(); ++i) {
    const DaySummary& x = days[i];
    const double bx = left + step * static_cast<double>(i) + step * 0.1;
    const double bw = step * 0.8;
    const double hp = plot_h * static_cast<double>(x.pass) / static_cast<double>(max);
    const double hf = plot_h * static_cast<double>(x.fail) / static_cast<double>(max);
    const std::string day = FormatDay(x.day);
    if (x.pass > 0) {
      *out += "<rect class=\"bar pass\" data-day=\"" + day + "\" data-count=\"" +
              std::to_string(x.pass) + "\" x=\"" + Num(bx) + "\" y=\"" +
              Num(top + plot_h - hp) + "\" width=\"" + Num(bw) + "\" height=\"" + Num(hp) +
              "\"><title>" + day + ": " + Grouped(x.pass) + " pass</title></rect>";
    }
    if (x.fail > 0) {
      *out += "<rect class=\"bar fail\" data-day=\"" + day + "\" data-count=\"" +
              std::to_string(x.fail) + "\" x=\"" + Num(bx) + "\" y=\"" +
              Num(top + plot_h - hp - hf) + "\" width=\"" + Num(bw) + "\" height=\"" + Num(hf) +
              "\"><title>" + day + ": " + Grouped(x.fail) + " fail</title></rect>";
    }
    if (i % label_every == 0) {
      *out += "<text class=\"axis\" x=\"" + Num(bx + bw / 2) + "\" y=\"" +
              Num(top + plot_h + 15) + "\" text-anchor=\"middle\">" + (day.size() > 5 ? day.substr(5) : day) + "</text>";
    }
  }
  *out += "</svg>";
}

// Horizontal bars per source (the 25 largest): pass then fail.
void SourceChart(const DomainSummary& d, std::string* out) {
  const size_t n = std::min<size_t>(d.sources.size(), 25);
  uint64_t max = 1;
  for (size_t i = 0; i < n; ++i) max = std::max(max, d.sources[i].counts.messages);
  const double label_w = 300, plot_w = 480, row_h = 22;
  const double height = row_h * static_cast<double>(n) + 10;
  *out += "<svg class=\"chart chart-sources\" role=\"img\" width=\"" + Num(label_w + plot_w + 90) +
          "\" height=\"" + Num(height) + "\" xmlns=\"http://www.w3.org/2000/svg\">";
  *out += "<title>Messages per source, DMARC pass and fail</title>";
  for (size_t i = 0; i < n; ++i) {
    const SourceSummary& s = d.sources[i];
    const double y = row_h * static_cast<double>(i) + 4;
    const double wp = plot_w * static_cast<double>(s.counts.dmarc_pass) / static_cast<double>(max);
    const double wf = plot_w * static_cast<double>(s.counts.dmarc_fail) / static_cast<double>(max);
    std::string label = s.ip + (s.ptr.empty() ? "" : " (" + s.ptr + ")");
    if (label.size() > 48) label = label.substr(0, 45) + "...";
    *out += "<text class=\"axis\" x=\"" + Num(label_w - 6) + "\" y=\"" + Num(y + 14) +
            "\" text-anchor=\"end\">" + Esc(label) + "</text>";
    if (s.counts.dmarc_pass > 0) {
      *out += "<rect class=\"bar pass\" data-source=\"" + Esc(s.ip) + "\" data-count=\"" +
              std::to_string(s.counts.dmarc_pass) + "\" x=\"" + Num(label_w) + "\" y=\"" +
              Num(y) + "\" width=\"" + Num(std::max(wp, 1.0)) + "\" height=\"" + Num(row_h - 6) +
              "\"><title>" + Esc(s.ip) + ": " + Grouped(s.counts.dmarc_pass) +
              " pass</title></rect>";
    }
    if (s.counts.dmarc_fail > 0) {
      *out += "<rect class=\"bar fail\" data-source=\"" + Esc(s.ip) + "\" data-count=\"" +
              std::to_string(s.counts.dmarc_fail) + "\" x=\"" + Num(label_w + wp) + "\" y=\"" +
              Num(y) + "\" width=\"" + Num(std::max(wf, 1.0)) + "\" height=\"" + Num(row_h - 6) +
              "\"><title>" + Esc(s.ip) + ": " + Grouped(s.counts.dmarc_fail) +
              " fail</title></rect>";
    }
    *out += "<text class=\"axis\" x=\"" + Num(label_w + wp + wf + 6) + "\" y=\"" + Num(y + 14) +
            "\">" + Grouped(s.counts.messages) + "</text>";
  }
  *out += "</svg>";
}

void Totals(const DomainSummary& d, std::string* out) {
  const Counts& c = d.counts;
  const std::pair<const char*, uint64_t> items[] = {
      {"messages", c.messages},          {"dmarc-pass", c.dmarc_pass},
      {"dmarc-fail", c.dmarc_fail},      {"lost-quarantine", c.lost_quarantine},
      {"lost-reject", c.lost_reject},    {"sources", d.sources.size()},
      {"reports", d.reports}};
  const char* labels[] = {"messages", "DMARC pass", "DMARC fail", "lost under p=quarantine",
                          "lost under p=reject", "sources", "reports"};
  *out += "<dl class=\"totals\">";
  for (size_t i = 0; i < std::size(items); ++i) {
    *out += std::string("<div><dt>") + labels[i] + "</dt><dd class=\"total-" + items[i].first +
            "\" data-v=\"" + std::to_string(items[i].second) + "\">" + Grouped(items[i].second) +
            "</dd></div>";
  }
  *out += "</dl>";
}

void Domain(const DomainSummary& d, size_t max_detail_bytes, std::string* out) {
  const PublishedPolicy& p = d.policy;
  *out += "<section class=\"domain\" data-domain=\"" + Esc(d.domain) + "\"><h2>" + Esc(d.domain) +
          "</h2>";
  *out += "<p>" + FormatDay(d.begin) + " to " + FormatDay(d.end) + ". Published: p=" +
          Esc(p.p.empty() ? "?" : p.p) + (p.sp.empty() ? "" : " sp=" + Esc(p.sp)) +
          (p.np.empty() ? "" : " np=" + Esc(p.np)) +
          (p.pct.empty() ? "" : " pct=" + Esc(p.pct)) +
          (p.testing.empty() ? "" : " t=" + Esc(p.testing)) +
          (p.adkim.empty() ? "" : " adkim=" + Esc(p.adkim)) +
          (p.aspf.empty() ? "" : " aspf=" + Esc(p.aspf)) + "</p>";
  if (std::string note = OtherNote(d, max_detail_bytes); !note.empty()) {
    *out += "<p class=\"note\">" + Esc(note) + ".</p>";
  }
  Totals(d, out);
  *out += "<h3>Messages per day</h3><p class=\"legend\"><span style=\"background:#2e7d32\">"
          "</span>DMARC pass<span style=\"background:#c62828\"></span>DMARC fail</p>";
  DayChart(d, out);
  *out += "<h3>Messages per source</h3>";
  SourceChart(d, out);

  *out += "<h3>Who sends as " + Esc(d.domain) +
          "</h3><table class=\"sources sortable\">";
  Head({"source IP", "PTR", "messages", "DMARC pass", "fail", "DKIM aligned", "DKIM any",
        "SPF aligned", "SPF any", "none", "quarantine", "reject", "From", "reporters"},
       out);
  for (const SourceSummary& s : d.sources) {
    const Counts& k = s.counts;
    *out += "<tr>" + TextCell(s.ip) + TextCell(s.ptr) + NumCell(k.messages) +
            NumCell(k.dmarc_pass) + NumCell(k.dmarc_fail) + NumCell(k.dkim_aligned_pass) +
            NumCell(k.dkim_pass) + NumCell(k.spf_aligned_pass) + NumCell(k.spf_pass) +
            NumCell(k.none) + NumCell(k.quarantine) + NumCell(k.reject) +
            TextCell(Joined(s.header_from)) + TextCell(Joined(s.reporters)) + "</tr>";
  }
  *out += "</tbody></table>";

  *out += "<h3>Lost under a stricter policy today</h3><p>DMARC failed and the receiver let "
          "the messages through: under p=quarantine they would go to spam, under p=reject be "
          "refused.</p>";
  *out += "<table class=\"lost sortable\">";
  Head({"source IP", "PTR", "p=quarantine", "p=reject", "From", "DKIM d=", "SPF domain",
        "overrides"},
       out);
  if (d.counts.lost_reject == 0) *out += EmptyRow(8);
  for (const SourceSummary& s : d.sources) {
    if (s.counts.lost_reject == 0) continue;
    *out += "<tr>" + TextCell(s.ip) + TextCell(s.ptr) + NumCell(s.counts.lost_quarantine) +
            NumCell(s.counts.lost_reject) + TextCell(Joined(s.header_from)) +
            TextCell(Joined(s.dkim_domains)) + TextCell(Joined(s.spf_domains)) +
            TextCell(Joined(s.reasons)) + "</tr>";
  }
  *out += "</tbody></table>";

  *out += "<h3>DKIM selectors seen failing</h3><table class=\"selectors sortable\">";
  Head({"d=", "s=", "result", "messages", "sources"}, out);
  if (d.failing_selectors.empty()) *out += EmptyRow(5);
  for (const SelectorFailure& f : d.failing_selectors) {
    *out += "<tr>" + TextCell(f.domain) + TextCell(f.selector) + TextCell(f.result) +
            NumCell(f.messages) + TextCell(Joined(f.ips)) + "</tr>";
  }
  *out += "</tbody></table>";

  *out += "<h3>Reporters</h3><table class=\"reporters sortable\">";
  Head({"organization", "email", "reports", "messages", "from", "to"}, out);
  for (const ReporterSummary& r : d.reporters) {
    *out += "<tr>" + TextCell(r.org_name) + TextCell(r.email) + NumCell(r.reports) +
            NumCell(r.messages) + TextCell(FormatTime(r.begin)) + TextCell(FormatTime(r.end)) +
            "</tr>";
  }
  *out += "</tbody></table></section>";
}

}  // namespace

std::string FormatHtml(const Summary& summary, const ReadResult& read, const std::string& title) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
      Esc(title) + "</title><style>" + kStyle + "</style></head><body>\n<h1>" + Esc(title) +
      "</h1>\n";
  out += "<p class=\"overview\"><span class=\"report-count\">" + std::to_string(summary.reports) +
         "</span> reports counted, <span class=\"duplicate-count\">" +
         std::to_string(read.duplicates.size()) +
         "</span> duplicates left out, <span class=\"problem-count\">" +
         std::to_string(read.problems.size()) + "</span> problems.</p>\n";
  for (const DomainSummary& d : summary.domains) Domain(d, summary.max_detail_bytes, &out);
  if (!read.problems.empty() || !read.duplicates.empty()) {
    out += "<section class=\"problems\"><h2>Inputs not counted</h2><ul>";
    for (const InputProblem& p : read.problems) {
      out += "<li class=\"bad\">" + Esc(p.source) + ": " + Esc(p.error.message()) + "</li>";
    }
    for (const Duplicate& d : read.duplicates) {
      out += "<li class=\"none\">" + Esc(d.source) + ": a copy of " + Esc(d.first_source) +
             " (same organization, report id and date range)</li>";
    }
    out += "</ul></section>";
  }
  out += "\n<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return out;
}

}  // namespace credence::reports
