// RFC 5322 §3.3 date-time, read as receivers meet it: obsolete zones (§4.3), two- and
// three-digit years, comments, a missing day name. Bounded: at most 16 tokens are read.
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

#include "credence/ascii.h"
#include "credence/message.h"

namespace credence {
namespace {

int MonthIndex(std::string_view m) {
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (EqualsIgnoreCase(m, kMonths[i])) return i;
  return -1;
}

// RFC 5322 §4.3 obsolete zones.
std::optional<int> ObsZoneMinutes(std::string_view z) {
  struct Zone {
    const char* name;
    int minutes;
  };
  static const Zone kZones[] = {{"UT", 0},        {"GMT", 0},       {"Z", 0},
                                {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60},
                                {"CDT", -5 * 60}, {"MST", -7 * 60}, {"MDT", -6 * 60},
                                {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const Zone& zone : kZones)
    if (EqualsIgnoreCase(z, zone.name)) return zone.minutes;
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseRfc5322DateTime(std::string_view text) {
  // Tokenise on white space and commas, dropping comments "( ... )" (bounded, no nesting needed
  // for the tokens we read).
  std::vector<std::string_view> tok;
  size_t i = 0;
  int depth = 0;
  while (i < text.size() && tok.size() < 16) {
    char c = text[i];
    if (c == '(') { ++depth; ++i; continue; }
    if (c == ')') { if (depth) --depth; ++i; continue; }
    if (depth || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') { ++i; continue; }
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\r' &&
           text[j] != '\n' && text[j] != ',' && text[j] != '(')
      ++j;
    tok.push_back(text.substr(i, j - i));
    i = j;
  }
  size_t k = 0;
  if (k < tok.size() && tok[k].size() >= 3 && !(tok[k][0] >= '0' && tok[k][0] <= '9')) ++k;  // day
  if (tok.size() < k + 4) return std::nullopt;
  auto number = [](std::string_view s, int* out) {
    if (s.empty() || s.size() > 4) return false;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  int day, year;
  if (!number(tok[k], &day) || day < 1 || day > 31) return std::nullopt;
  int month = MonthIndex(tok[k + 1]);
  if (month < 0 || !number(tok[k + 2], &year)) return std::nullopt;
  if (tok[k + 2].size() == 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 §4.3
  else if (tok[k + 2].size() == 3) year += 1900;
  // hh:mm[:ss]
  std::string_view t = tok[k + 3];
  int hh = 0, mm = 0, ss = 0;
  size_t c1 = t.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  size_t c2 = t.find(':', c1 + 1);
  if (!number(t.substr(0, c1), &hh) ||
      !number(t.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1), &mm) ||
      (c2 != std::string_view::npos && !number(t.substr(c2 + 1), &ss)) || hh > 23 || mm > 59 ||
      ss > 60)
    return std::nullopt;
  int offset = 0;  // minutes east of UTC
  if (tok.size() > k + 4) {
    std::string_view z = tok[k + 4];
    if ((z[0] == '+' || z[0] == '-') && z.size() == 5) {
      int v;
      if (!number(z.substr(1), &v)) return std::nullopt;
      offset = (v / 100) * 60 + v % 100;
      if (z[0] == '-') offset = -offset;
    } else if (auto m = ObsZoneMinutes(z)) {
      offset = *m;
    }  // other obsolete military zones: RFC 5322 says treat as -0000
  }
  struct tm tmv = {};
  tmv.tm_year = year - 1900;
  tmv.tm_mon = month;
  tmv.tm_mday = day;
  tmv.tm_hour = hh;
  tmv.tm_min = mm;
  tmv.tm_sec = ss;
  time_t t0 = timegm(&tmv);
  return static_cast<int64_t>(t0) - static_cast<int64_t>(offset) * 60;
}

std::optional<int64_t> ReceivedFieldTime(const HeaderField& received) {
  const size_t semi = received.value.rfind(';');
  if (semi == std::string_view::npos) return std::nullopt;
  return ParseRfc5322DateTime(received.value.substr(semi + 1));
}

std::optional<int64_t> TopReceivedTime(const Message& message) {
  const HeaderField* received = message.Find("Received");
  return received ? ReceivedFieldTime(*received) : std::nullopt;
}

}  // namespace credence
