// event_log.hpp: the beacon's evidence log, JSON Lines, one record per connection and per request.
// Thread-safe; each record is one write() on an O_APPEND file, so lines never interleave.
#pragma once

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

namespace mtls::beacon {

class EventLog {
 public:
  // No path: records are dropped. Throws InputError when the file cannot be opened.
  explicit EventLog(const std::optional<std::filesystem::path>& path);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  ~EventLog();

  void write(nlohmann::json record);

 private:
  int fd_ = -1;
  std::mutex mu_;
};

// Current UTC time as ISO 8601 with milliseconds.
std::string now_iso8601_ms();

}  // namespace mtls::beacon
