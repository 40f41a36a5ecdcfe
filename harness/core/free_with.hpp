// free_with.hpp: the deleter for std::unique_ptr over a C library's object, named by the library's
// own free function (std::unique_ptr<X509, FreeWith<X509_free>>): one template instead of a struct
// per type.
#pragma once

namespace mtls {

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

}  // namespace mtls
