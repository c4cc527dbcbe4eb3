// Names of the engine's enums, parsed and printed from one table per enum (kept beside the enum).
#pragma once

#include <cstddef>
#include <string>

#include "errors.h"

namespace stcn {

template <typename E>
struct EnumName {
  const char* name;
  E value;
};

// The value named `name`; ERR_STCN_ARGUMENT `<what> must be "a", "b" or "c", got "x"` otherwise.
template <typename E, size_t N>
E parseEnum(const std::string& name, const EnumName<E> (&table)[N], const char* what) {
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
  }
  std::string choices;
  for (size_t i = 0; i < N; ++i) {
    choices += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string("\"") + table[i].name + "\"";
  }
  throw Error(ErrorCode::Argument, std::string(what) + " must be " + choices + ", got \"" + name + "\"");
}

// The name of `value` (the first entry of the table when it is missing).
template <typename E, size_t N>
const char* enumName(E value, const EnumName<E> (&table)[N]) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return table[0].name;
}

}  // namespace stcn
