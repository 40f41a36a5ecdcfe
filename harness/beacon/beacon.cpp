// beacon.cpp: see beacon.hpp. The listeners' acceptors on one io_context run by `threads` workers;
// each accepted socket becomes a connection on its own strand (connection.hpp), refused when
// max_connections are live; stop() closes the acceptors and drains the live connections.
#include "beacon/beacon.hpp"

#include <boost/asio.hpp>
#include <chrono>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include "beacon/connection.hpp"
#include "beacon/runtime.hpp"
#include "core/files.hpp"
#include "pki/manifest.hpp"

namespace mtls::beacon {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(3);

// A listen address check_beacon_config accepted (config.hpp).
tcp::endpoint endpoint_of(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.starts_with("[")) host = host.substr(1, host.size() - 2);
  return {asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host),
          static_cast<unsigned short>(std::stoul(listen.substr(colon + 1)))};
}

}  // namespace

struct Beacon::Impl {
  std::unique_ptr<Shared> shared;  // declared first: outlives the io_context and its handlers
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // one per listener, same order
  std::vector<std::thread> workers;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  void accept(std::size_t i) {
    acceptors[i]->async_accept(
        asio::make_strand(ioc), [this, i](boost::system::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || !acceptors[i]->is_open()) return;
          if (!ec) {
            bool full;
            {
              std::lock_guard lock(shared->live_mu);
              full = shared->live >= shared->config.max_connections;
            }
            if (full) {
              shared->log.write({{"event", "refused"},
                                 {"beacon", shared->config.name},
                                 {"listener", shared->listeners[i]->config.name},
                                 {"reason", "max_connections"}});
              boost::system::error_code ignored;
              socket.close(ignored);
            } else {
              start_connection(*shared, *shared->listeners[i], std::move(socket));
            }
          }
          accept(i);
        });
  }
};

Beacon::Beacon(const BeaconConfig& config) : impl_(std::make_unique<Impl>()) {
  check_beacon_config(config);
  const pki::Manifest manifest = pki::load_manifest(config.pki_dir);
  impl_->shared = std::make_unique<Shared>(config, manifest);
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& l = config.listeners[i];
    const tcp::endpoint ep = endpoint_of(l.listen);
    auto acceptor = std::make_unique<tcp::acceptor>(impl_->ioc);
    boost::system::error_code ec;
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw InputError("field 'listeners[" + std::to_string(i) + "].listen': " + l.listen +
                       " (listener " + l.name + "): cannot listen (" + ec.message() + ")");
    impl_->acceptors.push_back(std::move(acceptor));
  }
}

Beacon::~Beacon() {
  stop();
}

std::uint16_t Beacon::port() const {
  return impl_->acceptors.front()->local_endpoint().port();
}

std::uint16_t Beacon::port(const std::string& listener) const {
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i)
    if (impl_->shared->listeners[i]->config.name == listener)
      return impl_->acceptors[i]->local_endpoint().port();
  throw InputError("no listener named '" + listener + "'");
}

json Beacon::start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
  const auto& cfg = impl_->shared->config;
  for (unsigned i = 0; i < cfg.threads; ++i)
    impl_->workers.emplace_back([this] { impl_->ioc.run(); });
  json listeners = json::array();
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) {
    const auto& lc = impl_->shared->listeners[i]->config;
    const auto ep = impl_->acceptors[i]->local_endpoint();
    listeners.push_back({{"name", lc.name},
                         {"scheme", lc.tls ? "https" : "http"},
                         {"address", ep.address().to_string()},
                         {"port", ep.port()},
                         {"client_auth", to_string(lc.client_auth)},
                         {"reject", to_string(lc.reject)},
                         {"revocation", lc.crl ? "crl" : "off"}});
  }
  json ready = {{"event", "ready"},
                {"beacon", cfg.name},
                {"pid", static_cast<long>(::getpid())},
                {"listeners", listeners}};
  if (cfg.ready_file) write_file_atomic(*cfg.ready_file, ready.dump() + "\n");
  return ready;
}

void Beacon::wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  ::sigwait(&set, &sig);
  stop();
}

void Beacon::stop() {
  if (!impl_ || impl_->workers.empty()) return;
  asio::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    for (auto& a : impl_->acceptors) a->close(ignored);
  });
  impl_->work.reset();
  {  // drain: let connections in flight finish (and log) for up to kDrainTimeout
    std::unique_lock lock(impl_->shared->live_mu);
    impl_->shared->live_cv.wait_for(lock, kDrainTimeout,
                                    [this] { return impl_->shared->live == 0; });
  }
  impl_->ioc.stop();
  for (auto& t : impl_->workers)
    if (t.joinable()) t.join();
  impl_->workers.clear();
}

}  // namespace mtls::beacon
