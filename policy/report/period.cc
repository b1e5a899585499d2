// Reporting periods: whole UTC days (RFC 9990 §2.1: reports SHOULD cover whole UTC days,
// from 00:00:00 to 23:59:59).
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "credence/policy/report.h"

namespace credence {
namespace {
constexpr int64_t kDay = 86400;
int64_t FloorDay(int64_t t) { return (t >= 0 ? t / kDay : (t - kDay + 1) / kDay) * kDay; }
}  // namespace

ReportPeriod DayOf(int64_t t) {
  int64_t b = FloorDay(t);
  return {b, b + kDay - 1};
}

ReportPeriod LastCompleteDay(int64_t now) { return DayOf(FloorDay(now) - kDay); }

Result<ReportPeriod> ParseReportDay(std::string_view day) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  std::string s(day);
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
      m > 12 || d < 1 || d > 31 || y < 1970) {
    return Status::Invalid("'" + s + "' is not a date (YYYY-MM-DD)");
  }
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = m - 1;
  t.tm_mday = d;
  time_t when = timegm(&t);
  struct tm back = {};
  if (gmtime_r(&when, &back) == nullptr || back.tm_mday != d || back.tm_mon != m - 1) {
    return Status::Invalid("'" + s + "': no such date");
  }
  return DayOf(static_cast<int64_t>(when));
}

std::string FormatDay(int64_t t) {
  time_t when = static_cast<time_t>(t);
  struct tm tmv = {};
  gmtime_r(&when, &tmv);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday);
  return buf;
}

std::vector<ReportPeriod> CatchUpDays(int64_t now, int64_t earliest, int max_days) {
  std::vector<ReportPeriod> out;
  ReportPeriod last = LastCompleteDay(now);
  int64_t first = last.begin - static_cast<int64_t>(max_days > 0 ? max_days - 1 : 0) * kDay;
  first = std::max(first, FloorDay(earliest));
  if (max_days <= 0) return out;
  for (int64_t b = first; b <= last.begin; b += kDay) out.push_back({b, b + kDay - 1});
  return out;
}

}  // namespace credence
