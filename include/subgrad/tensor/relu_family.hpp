#pragma once
/// \file
/// The members of the ReLU family that are more than one element-wise rule on tensors: maxout
/// over groups of adjacent columns, and rrelu's training form with noise drawn per element.
/// Everything else (relu, elu, prelu with a slope per column, ...) works element-wise through
/// its rule with no tensor-specific code.

#include <cstddef>
#include <random>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/math/relu.hpp"
#include "subgrad/tensor/reduction.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad {

namespace detail {
template <class T>
struct MaxoutNode {
  TensorSlot<T>* input;
  TensorSlot<T>* result;
  std::size_t pieces;
  KinkRule rule;
  const Tape* tape;
  static void backward(const void* context, std::span<double>) {
    const MaxoutNode& node = *static_cast<const MaxoutNode*>(context);
    T* const input_adjoints = input_adjoint(*node.result, *node.input, node.tape->sweep_count());
    if (input_adjoints == nullptr) return;
    thread_local std::vector<double> values, weights;
    values.resize(node.pieces);
    weights.resize(node.pieces);
    const std::size_t rows = node.result->value.rows(), groups = node.result->value.cols();
    const std::size_t cols = groups * node.pieces;
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t g = 0; g < groups; ++g) {
        const double dy = double(node.result->adjoint[i * groups + g]);
        if (dy == 0.0) continue;
        const T* in = node.input->value.data() + i * cols + g * node.pieces;
        for (std::size_t p = 0; p < node.pieces; ++p) values[p] = double(in[p]);
        maxout_weights(values, node.rule, weights);  // the scalar maxout's tie split
        T* dx = input_adjoints + i * cols + g * node.pieces;
        for (std::size_t p = 0; p < node.pieces; ++p) {
          if (weights[p] != 0.0) dx[p] += T(dy * weights[p]);
        }
      }
    }
  }
};
}  // namespace detail

/// The largest of each group of `pieces` adjacent columns: rows x (cols / pieces). Ties are split
/// by the kink rule exactly as the scalar maxout splits them.
template <ActiveTensorOperand X>
auto maxout(const X& x, std::size_t pieces, KinkRule rule = current_kink_rule()) {
  const auto t = detail::as_tensor_var(x);
  using T = typename decltype(t)::value_type;
  const Tensor<T>& in = t.value();
  if (pieces == 0 || t.cols() % pieces != 0) {
    throw Error(fmt::format("subgrad::maxout: {} columns do not split into groups of {} pieces",
                            t.cols(), pieces));
  }
  Tape& tape = Tape::active();
  detail::check_tensor_tape(tape, t.tape_id(), "subgrad::maxout", t.rows(), t.cols());
  const std::size_t rows = t.rows(), groups = t.cols() / pieces;
  detail::TensorSlot<T>& result =
      tape.attachment<detail::TensorStorage<T>>().next(rows, groups, true);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t g = 0; g < groups; ++g) {
      const std::span<const T> group(in.data() + i * t.cols() + g * pieces, pieces);
      T largest = group[0];
      for (const T v : group) {
        if (v != v) {
          largest = v;
          break;
        }
        if (v > largest) largest = v;
      }
      result.value(i, g) = largest;
    }
  }
  detail::check_finite_result(result.value, "subgrad::maxout");
  detail::record_tensor_node<detail::MaxoutNode<T>>(tape, detail::TensorVarAccess::slot(t), &result,
                                                    pieces, rule, &tape);
  return detail::TensorVarAccess::make(&result, tape.id());
}

/// Randomized leaky relu, training form, on a tensor: for each element x <= 0 a slope drawn
/// uniformly from [lower, upper] (PyTorch's defaults 1/8, 1/3), kept for the backward. It is
/// prelu with that slope tensor, so the derivative at 0 is the same rule's under the kink rule.
template <class T, std::uniform_random_bit_generator Generator, class... Args>
requires PrimitiveCall<rules::Rrelu, TensorVar<T>, Args...>
auto rrelu(const TensorVar<T>& x, Generator& generator, const Args&... args) {
  const rules::Rrelu rule = detail::rule_of_call<rules::Rrelu>(args...);
  Tensor<T> noise(x.rows(), x.cols(), T(1));
  std::uniform_real_distribution<double> draw(rule.lower, rule.upper);
  const Tensor<T>& values = x.value();
  for (std::size_t k = 0; k < noise.size(); ++k) {
    if (!(values.data()[k] > T(0))) noise.data()[k] = static_cast<T>(draw(generator));
  }
  return prelu(x, noise, detail::kink_rule_of_call(args...));
}

}  // namespace subgrad
