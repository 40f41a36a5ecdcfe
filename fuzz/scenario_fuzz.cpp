// scenario_fuzz.cpp: scenario files (YAML): load and validate. Bad input must be an InputError
// (one line naming the file); anything else escaping is a crash.
#include <cstdint>

#include "core/files.hpp"
#include "engine/scenario.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = mtls::fuzz::scratch().write("scenario.yaml", data, size);
  try {
    mtls::engine::load_scenario(file, {"download-policy", "upload-inventory", "select-beacon"});
  } catch (const mtls::InputError&) {
  }
  return 0;
}
