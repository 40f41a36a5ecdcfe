// request_stream.cpp: see request_stream.hpp.
#include "beacon/request_stream.hpp"

#include <boost/asio/buffer.hpp>

namespace mtls::beacon {
namespace http = boost::beast::http;

RequestStream::Event RequestStream::next(std::string& in) {
  Event ev;
  if (in.empty()) return ev;
  if (!parser_) {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(body_limit_);
    parser_->eager(true);
  }
  boost::beast::error_code ec;
  const std::size_t used = parser_->put(boost::asio::buffer(in.data(), in.size()), ec);
  in.erase(0, used);
  if (ec == http::error::need_more) return ev;
  if (ec) {
    ev.kind = Event::Kind::kError;
    ev.status = ec == http::error::body_limit ? 413 : 400;
    ev.error = ec.message();
    parser_.reset();
    return ev;
  }
  if (!parser_->is_done()) return ev;
  ev.kind = Event::Kind::kRequest;
  ev.request = parser_->release();
  parser_.reset();
  return ev;
}

}  // namespace mtls::beacon
