// event_log.cpp: see event_log.hpp.
#include "beacon/event_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "core/files.hpp"
#include "core/timefmt.hpp"

namespace mtls::beacon {

EventLog::EventLog(const std::optional<std::filesystem::path>& path) {
  if (!path) return;
  fd_ = ::open(path->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw InputError("--log " + path->string() + ": cannot open (" + std::strerror(errno) + ")");
}

EventLog::~EventLog() {
  if (fd_ >= 0) ::close(fd_);
}

void EventLog::write(nlohmann::json record) {
  if (fd_ < 0) return;
  if (!record.contains("ts")) record["ts"] = now_iso8601_ms();
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not take the beacon down; the log is best effort
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string now_iso8601_ms() {
  return format_utc_ms(std::chrono::system_clock::now());
}

}  // namespace mtls::beacon
