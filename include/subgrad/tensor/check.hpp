#pragma once
/// \file
/// check_gradient for functions of a tensor: each element is a coordinate of the kink-aware
/// checker; for large tensors set CheckOptions::coordinates = false and directions = k to check k
/// random directions instead.

#include <concepts>
#include <span>

#include "subgrad/check/gradient_check.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/tensor/reduction.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad {

/// Checks the reverse-mode gradient of f at x, f taking a `const TensorVar<double>&` (the shape of
/// x) and returning a Var or a scalar expression, against kink-aware finite differences.
/// x's type is tested first: constraints are checked before conversions, and asking whether a
/// generic lambda meant for the span overload (`[](auto x) { return relu(x[0]); }`) takes a
/// TensorVar instantiates its body, a hard error; the second test then never runs for such calls.
template <class F, class X>
requires std::same_as<X, Tensor<double>> && std::invocable < F&, const TensorVar<double>
& > GradientReport check_gradient(F&& f, const X& x, const CheckOptions& options = {}) {
  const std::size_t rows = x.rows(), cols = x.cols();
  return check_gradient(
      [&f, rows, cols](std::span<const Var> elements) {
        return Var(f(tensor_of<double>(elements, rows, cols)));
      },
      x.span(), options);
}

}  // namespace subgrad
