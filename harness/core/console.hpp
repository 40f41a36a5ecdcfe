// console.hpp: what the commands print for people: colour (only where wanted), a one-line
// progress bar on a terminal, and timestamped lines elsewhere (CI logs).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

namespace mtls {

// --color never|always|auto. auto: colour when `fd` is a terminal, NO_COLOR is unset or empty
// (no-color.org) and TERM is not "dumb". Throws InputError naming --color for another mode.
bool color_wanted(const std::string& mode, int fd);

// `text` in the colour of a verdict, outcome class or severity word (PASS green; FAIL, EXPOSURE,
// LOCKOUT red; INCONCLUSIVE, WARN yellow; SKIPPED dim); unchanged when `color` is false or the
// word has no colour.
std::string paint(std::string_view text, bool color);

// A bar redrawn in place on a terminal ("\r[#####-----] 12/40 label"), nothing elsewhere; ends
// its line when done reaches total or on finish().
class ProgressBar {
 public:
  ProgressBar(std::ostream* out, bool terminal, std::size_t total, std::string unit);
  void update(std::size_t done, const std::string& detail = "");
  void finish();
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

 private:
  std::ostream* out_;
  bool terminal_;
  std::size_t total_;
  std::string unit_;
  bool open_ = false;
};

}  // namespace mtls
