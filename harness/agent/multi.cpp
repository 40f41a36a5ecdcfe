// multi.cpp: see multi.hpp.
#include "agent/multi.hpp"

#include "core/files.hpp"

namespace mtls::agent {

MultiHandle::MultiHandle() : multi_(curl_multi_init()) {
  if (multi_ == nullptr) throw HarnessError("curl_multi_init failed");
}

MultiHandle::~MultiHandle() {
  for (auto& [easy, _] : in_flight_) curl_multi_remove_handle(multi_, easy);
  curl_multi_cleanup(multi_);
}

void MultiHandle::add(std::unique_ptr<Transfer> t, std::size_t tag) {
  CURL* easy = t->handle();
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK)
    throw HarnessError("curl_multi_add_handle failed");
  in_flight_.emplace(easy, Entry{std::move(t), tag});
}

std::vector<MultiHandle::Finished> MultiHandle::step(std::chrono::milliseconds wait) {
  int running = 0;
  curl_multi_perform(multi_, &running);
  std::vector<Finished> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto it = in_flight_.find(msg->easy_handle);
    if (it == in_flight_.end()) continue;
    const CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi_, msg->easy_handle);
    done.push_back({std::move(it->second.transfer), it->second.tag, code});
    in_flight_.erase(it);
  }
  if (done.empty()) curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  return done;
}

}  // namespace mtls::agent
