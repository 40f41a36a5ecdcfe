// report_fuzz.cpp: the JSON `report verify` and `report diff` read (a report.json, or a
// results.jsonl). Bad input must be an InputError; anything else escaping is a crash.
#include <cstdint>
#include <string>

#include "core/files.hpp"
#include "fuzz_util.hpp"
#include "report/report.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& s = mtls::fuzz::scratch();
  for (const char* name : {"report.json", "results.jsonl"}) {
    const auto file = s.write(name, data, size);
    try {
      std::string detail;
      (void)mtls::report::verify(file, &detail);
      const auto doc = mtls::report::load_document(file);
      (void)mtls::report::regressions(doc, doc);
    } catch (const mtls::InputError&) {
    }
  }
  return 0;
}
