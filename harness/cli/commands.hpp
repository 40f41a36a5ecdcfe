// commands.hpp: what the command files (cli/cmd_*.cpp) share: each registers its subcommands on
// the app, with the values its options are bound to kept in a Store that lives as long as the app,
// and returns what to run when its subcommand was given; the secrets helpers and exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mtls::cli {

constexpr int kExitOk = 0;        // done; every verdict as expected
constexpr int kExitFindings = 1;  // done; something to report (a finding, a regression, a FAIL)
constexpr int kExitInput = 2;     // usage or input error
constexpr int kExitHarness = 3;   // harness error, or a check that could not be carried out

// Keeps the values the commands' options are bound to alive as long as the app.
class Store {
 public:
  template <typename T, typename... Args>
  T& make(Args&&... args) {
    auto p = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *p;
    items_.push_back(std::move(p));
    return ref;
  }

 private:
  std::vector<std::shared_ptr<void>> items_;
};

// A subcommand and what running it does (its exit code).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// Registration, one per command file; nested subcommands come before their parent.
void add_pki(CLI::App& app, Store& store, std::vector<Command>& commands);
void add_beacon(CLI::App& app, Store& store, std::vector<Command>& commands);
void add_agent(CLI::App& app, Store& store, std::vector<Command>& commands);
void add_run(CLI::App& app, Store& store, std::vector<Command>& commands);  // run, probe
void add_bench(CLI::App& app, Store& store, std::vector<Command>& commands);
void add_report(CLI::App& app, Store& store, std::vector<Command>& commands);
void add_audit(CLI::App& app, Store& store, std::vector<Command>& commands);

// A secret from an environment variable or a file (first line), never from argv.
std::optional<std::string> read_secret(const std::string& env_flag, const std::string& env_name,
                                       const std::string& file_flag,
                                       const std::filesystem::path& file);
// The PKCS#12 password from --p12-password-env or --p12-password-file (one of them).
std::string p12_password(const std::string& env, const std::filesystem::path& file);

}  // namespace mtls::cli
