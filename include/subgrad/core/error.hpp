#pragma once
/// \file
/// The one exception type of subgrad.

#include <stdexcept>
#include <string>

namespace subgrad {

/// Thrown on misuse: a Var from another tape, shapes that do not fit, a bad parameter.
/// The message names the operation and the offending values.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace subgrad
