// console.cpp: see console.hpp.
#include "core/console.hpp"

#include <unistd.h>

#include <cstdlib>

#include "core/files.hpp"

namespace mtls {

bool color_wanted(const std::string& mode, int fd) {
  if (mode == "never") return false;
  if (mode == "always") return true;
  if (mode != "auto") throw InputError("--color " + mode + ": expected never, auto or always");
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return ::isatty(fd) == 1 && (no_color == nullptr || *no_color == '\0') &&
         !(term != nullptr && std::string_view(term) == "dumb");
}

std::string paint(std::string_view text, bool color) {
  if (!color) return std::string(text);
  const char* code = nullptr;
  if (text == "PASS" || text == "ACCEPTED") code = "32";
  if (text == "FAIL" || text == "EXPOSURE" || text == "LOCKOUT" || text == "SELFTEST")
    code = "1;31";
  if (text == "INCONCLUSIVE" || text == "WARN" || text == "INCOMPLETE") code = "33";
  if (text == "SKIPPED") code = "2";
  if (!code) return std::string(text);
  return std::string("\033[") + code + "m" + std::string(text) + "\033[0m";
}

ProgressBar::ProgressBar(std::ostream* out, bool terminal, std::size_t total, std::string unit)
    : out_(out), terminal_(terminal), total_(total), unit_(std::move(unit)) {}

void ProgressBar::update(std::size_t done, const std::string& detail) {
  if (!out_ || !terminal_) return;
  constexpr std::size_t kWidth = 30;
  const std::size_t filled = total_ ? std::min(kWidth, kWidth * done / total_) : kWidth;
  *out_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '-') << "] " << done
        << "/" << total_ << " " << unit_ << (detail.empty() ? "" : "  " + detail) << "\033[K"
        << std::flush;
  open_ = true;
  if (done >= total_) finish();
}

void ProgressBar::finish() {
  if (open_ && out_) *out_ << "\n" << std::flush;
  open_ = false;
}

ProgressBar::~ProgressBar() {
  finish();
}

}  // namespace mtls
