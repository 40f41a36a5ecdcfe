// process.hpp: a child process owned by RAII (used by the engine to run simulated beacons).
// Its stdout is a pipe the parent reads line by line (ready signals); stderr goes to a log file.
// The destructor stops it: SIGTERM, then SIGKILL after a grace period; no zombie is left.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mtls {

class ChildProcess {
 public:
  // `extra_env` ("NAME=value") is added to this process's environment for the child.
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& stderr_path,
               const std::vector<std::string>& extra_env = {});
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Next line of the child's stdout, without the newline. nullopt when the child closed stdout
  // (usually: it exited) or `timeout` passed; `timed_out` tells which.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout, bool* timed_out);

  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status text ("exit 0", "signal 9").
  std::string stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  pid_t pid() const { return pid_; }
  const std::string& command_line() const { return command_line_; }

 private:
  bool wait_for_exit(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdout_fd_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string buffer_;
  std::string command_line_;
};

// Path of the running executable (/proc/self/exe), so the CLI can start copies of itself.
std::filesystem::path self_executable();

}  // namespace mtls
