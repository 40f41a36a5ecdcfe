// interrupt.cpp: see interrupt.hpp.
#include "core/interrupt.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace mtls {
namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

InterruptWatch::InterruptWatch(const char* what) {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  watcher_ = std::thread([this, what, set] {
    const timespec tick{0, 200'000'000};
    while (!done_.load()) {
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0) continue;
      if (stop_.exchange(true)) _exit(130);  // the second one: quit now
      signal_ = sig;
      const std::string msg = std::string("\n") + what + ": " +
                              (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                              ": finishing the checks in flight, then writing a partial report "
                              "marked incomplete (again to quit at once)\n";
      [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg.data(), msg.size());
    }
  });
}

InterruptWatch::~InterruptWatch() {
  done_ = true;
  watcher_.join();
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace mtls
