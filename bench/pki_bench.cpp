// pki_bench.cpp: how long `pki init` takes for one key type (every CA, beacon and client
// credential, CRLs, PKCS#12 and manifest), against a baseline measured in the same run: one key
// generation of that type. BENCHMARKS.md records the ratio.
#include <benchmark/benchmark.h>
#include <botan/ecdsa.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <unistd.h>

#include <filesystem>

#include "pki/pki.hpp"

namespace {

namespace fs = std::filesystem;

void BM_KeyGen(benchmark::State& state, mtls::pki::KeyType type) {
  Botan::System_RNG rng;
  for (auto _ : state) {
    if (type == mtls::pki::KeyType::kRsa2048) {
      Botan::RSA_PrivateKey key(rng, 2048);
      benchmark::DoNotOptimize(key.key_length());
    } else {
      Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
      benchmark::DoNotOptimize(key.key_length());
    }
  }
}

void BM_PkiInit(benchmark::State& state, mtls::pki::KeyType type) {
  std::string tmpl = (fs::temp_directory_path() / "mtls-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const fs::path root = tmpl;
  int n = 0;
  for (auto _ : state) {
    mtls::pki::init({.out = root / std::to_string(n++), .key_type = type});
  }
  fs::remove_all(root);
}

BENCHMARK_CAPTURE(BM_KeyGen, p256, mtls::pki::KeyType::kEcdsaP256)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PkiInit, p256, mtls::pki::KeyType::kEcdsaP256)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_KeyGen, rsa2048, mtls::pki::KeyType::kRsa2048)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PkiInit, rsa2048, mtls::pki::KeyType::kRsa2048)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
