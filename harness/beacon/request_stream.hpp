// request_stream.hpp: the HTTP/1.1 requests in a connection's decrypted bytes, parsed
// incrementally with the beacon's limits (16 KiB of headers, the upload size limit). Used by each
// beacon connection and by the request fuzzer (fuzz/), so the fuzzer runs the beacon's own code.
#pragma once

#include <boost/beast/http.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace mtls::beacon {

inline constexpr std::size_t kHeaderLimit = 16 * 1024;

class RequestStream {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  struct Event {
    enum class Kind { kNeedMore, kRequest, kError } kind = Kind::kNeedMore;
    Request request;      // kRequest
    unsigned status = 0;  // kError: 400 malformed, 413 too large
    std::string error;    // kError: the parser's reason
  };

  explicit RequestStream(std::uint64_t body_limit) : body_limit_(body_limit) {}
  // Consumes what it can of `in`: one complete request, an error (the connection must answer
  // `status` and close), or "need more bytes".
  Event next(std::string& in);

 private:
  std::uint64_t body_limit_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
};

}  // namespace mtls::beacon
