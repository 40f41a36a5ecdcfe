// interrupt.hpp: Ctrl-C (SIGINT) and SIGTERM for long runs. While an InterruptWatch lives, the
// signals are blocked in every thread and taken by a watcher thread, which raises a stop flag the
// run polls: checks in flight finish, nothing new starts, a partial report marked incomplete is
// written. A second signal ends the process at once (exit 130); children die with it
// (PR_SET_PDEATHSIG). Create it in main() before any other thread starts.
#pragma once

#include <atomic>
#include <thread>

namespace mtls {

class InterruptWatch {
 public:
  explicit InterruptWatch(const char* what);
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  const std::atomic<bool>& stop() const { return stop_; }
  int signal() const { return signal_.load(); }  // 0: none yet

 private:
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int> signal_{0};
  std::thread watcher_;
};

}  // namespace mtls
