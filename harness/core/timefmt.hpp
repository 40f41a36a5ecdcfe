// timefmt.hpp: UTC timestamps as the project writes and reads them (ISO 8601, "Z").
#pragma once

#include <chrono>
#include <string>

namespace mtls {

// "2026-01-31T12:00:00Z"
std::string format_utc(std::chrono::system_clock::time_point tp);
// "2026-01-31T12:00:00.123Z"
std::string format_utc_ms(std::chrono::system_clock::time_point tp);
// Strict inverse of format_utc; throws InputError naming `flag` on anything else.
std::chrono::system_clock::time_point parse_utc(const std::string& text, const std::string& flag);

}  // namespace mtls
