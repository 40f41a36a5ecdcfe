// timefmt.cpp: see timefmt.hpp.
#include "core/timefmt.hpp"

#include <cstdio>
#include <ctime>

#include "core/files.hpp"

namespace mtls {
using Clock = std::chrono::system_clock;

std::string format_utc(Clock::time_point tp) {
  std::time_t t = Clock::to_time_t(tp);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_utc_ms(Clock::time_point tp) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::string s = format_utc(Clock::time_point(std::chrono::seconds(ms / 1000)));
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  s.pop_back();  // the 'Z'
  return s + frac;
}

Clock::time_point parse_utc(const std::string& text, const std::string& flag) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0')
    throw InputError(flag + " " + text + ": expected a UTC time like 2026-01-31T12:00:00Z");
  return Clock::from_time_t(::timegm(&tm));
}

}  // namespace mtls
