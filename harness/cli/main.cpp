// main.cpp: the `mtls-harness` command. It only registers the commands (cli/cmd_*.cpp), parses
// and dispatches; every error becomes one line on stderr and an exit code (0 pass, 1 a check
// failed, 2 usage or input error, 3 harness error or a check that could not be carried out).
#include <csignal>
#include <iostream>

#include "cli/commands.hpp"
#include "core/files.hpp"
#include "core/home.hpp"

using mtls::cli::kExitHarness;
using mtls::cli::kExitInput;

int main(int argc, char** argv) {
  // A peer that closes while we write (a beacon refusing a client) is an outcome, not a reason to
  // die: OpenSSL's socket writes would raise SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "mtls-harness: proves that inventory beacons enforce mutual TLS: nothing gets in without a\n"
      "valid client certificate, every legitimate device still gets in.\n"
      "Exit codes: 0 all checks pass, 1 a check FAILED, 2 usage or input error,\n"
      "3 harness error or a check that could not be carried out (INCONCLUSIVE)."};
  app.set_version_flag("-V,--version", "mtls-harness " + mtls::harness_version());
  app.require_subcommand(1);
  mtls::cli::Store store;
  std::vector<mtls::cli::Command> commands;
  mtls::cli::add_pki(app, store, commands);
  mtls::cli::add_beacon(app, store, commands);
  mtls::cli::add_agent(app, store, commands);
  mtls::cli::add_run(app, store, commands);
  mtls::cli::add_bench(app, store, commands);
  mtls::cli::add_report(app, store, commands);
  mtls::cli::add_audit(app, store, commands);

  auto known_command = [&](const std::string& name) {
    for (const auto* sub : app.get_subcommands({}))
      if (sub->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known_command(argv[1])) {
    std::string names;
    for (const auto* sub : app.get_subcommands({}))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    std::cerr << "mtls-harness: error: unknown command '" << argv[1] << "' (commands: " << names
              << "; see --help)\n";
    return kExitInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mtls-harness: error: " << e.what() << " (see --help)\n";
    return kExitInput;
  }

  try {
    for (const auto& c : commands)
      if (*c.app) return c.run();
  } catch (const mtls::InputError& e) {
    std::cerr << "mtls-harness: error: " << e.what() << "\n";
    return kExitInput;
  } catch (const mtls::HarnessError& e) {
    std::cerr << "mtls-harness: harness error: " << e.what() << "\n";
    return kExitHarness;
  } catch (const std::exception& e) {
    std::cerr << "mtls-harness: internal error: " << e.what() << "\n";
    return kExitHarness;
  }
  return kExitInput;
}
