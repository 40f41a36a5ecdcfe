// fleet.cpp: see fleet.hpp.
#include "agent/fleet.hpp"

#include <unordered_map>

#include "core/files.hpp"

namespace mtls::agent {

void drive(std::vector<std::unique_ptr<Device>>& devices, std::size_t max_in_flight,
           const std::function<void(std::size_t)>& on_finished) {
  struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
  };
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!multi) throw HarnessError("curl_multi_init failed");
  struct InFlight {
    std::size_t device;
    std::unique_ptr<Transfer> transfer;
  };
  std::unordered_map<CURL*, InFlight> in_flight;
  std::size_t cursor = 0;  // round-robin start, so that early devices do not starve later ones
  auto remaining = [&] {
    for (const auto& d : devices)
      if (!d->finished()) return true;
    return false;
  };
  while (remaining() || !in_flight.empty()) {
    // Start what the devices are ready to do, up to the cap.
    for (std::size_t k = 0; k < devices.size() && in_flight.size() < max_in_flight; ++k) {
      const std::size_t i = (cursor + k) % devices.size();
      while (in_flight.size() < max_in_flight) {
        auto t = devices[i]->next();
        if (!t) break;
        CURL* h = t->handle();
        if (curl_multi_add_handle(multi.get(), h) != CURLM_OK)
          throw HarnessError("curl_multi_add_handle failed");
        in_flight.emplace(h, InFlight{i, std::move(t)});
      }
    }
    cursor = devices.empty() ? 0 : (cursor + 1) % devices.size();
    if (in_flight.empty()) {
      if (remaining()) throw HarnessError("simulated devices stalled with nothing in flight");
      break;
    }
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int left = 0;
    bool any_done = false;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = in_flight.find(msg->easy_handle);
      if (it == in_flight.end()) continue;
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi.get(), msg->easy_handle);
      const std::size_t index = it->second.device;
      devices[index]->done(*it->second.transfer, code);
      in_flight.erase(it);
      if (on_finished && devices[index]->finished()) on_finished(index);
      any_done = true;
    }
    if (!any_done) curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
  }
}

}  // namespace mtls::agent
