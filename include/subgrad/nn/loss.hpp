#pragma once
/// \file
/// Losses for training: those of the tensor layer, and the Huber loss.

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/tensor/reduction.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad::nn {

using subgrad::binary_cross_entropy_with_logits;
using subgrad::cross_entropy;
using subgrad::mse;

/// The mean over elements of the Huber loss of d = prediction - target: d^2 / 2 where |d| <=
/// delta, delta (|d| - delta / 2) beyond (torch.nn.HuberLoss). Written as q (|d| - q / 2) with
/// q = min(|d|, delta), whose derivative is the same on both sides of every kink.
template <class P, class Q>
requires TensorOperands<P, Q> Var huber(const P& prediction, const Q& target, double delta = 1.0) {
  if (!(delta > 0.0)) {
    throw Error(fmt::format("subgrad::nn::huber: delta = {} must be > 0", delta));
  }
  const auto difference = subgrad::detail::as_tensor_var(prediction - target);
  using T = typename decltype(difference)::value_type;
  const TensorVar<T> size = abs(difference);
  const TensorVar<T> clipped = min(size, delta);
  return mean(clipped * (size - clipped * 0.5));
}

}  // namespace subgrad::nn
