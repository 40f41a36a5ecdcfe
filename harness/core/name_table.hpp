// name_table.hpp: enum <-> stable name tables (the closed sets whose names are a contract:
// outcomes, verdicts, reject modes...). A table is a constexpr array of {value, name} pairs.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace mtls {

template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

template <typename E, std::size_t N>
constexpr std::string_view name_of(const NameTable<E, N>& table, E value,
                                   std::string_view fallback = "UNKNOWN") {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return fallback;
}

template <typename E, std::size_t N>
constexpr std::optional<E> value_of(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace mtls
