#pragma once
/// \file
/// From tensors to scalars and back: sum, mean, sums along an axis, cross_entropy, mse,
/// TensorVar::element, and grad(loss, tensor). A reduction's result is a Var that takes part in
/// ordinary scalar expressions; its node sends the Var's adjoint back into the tensor's.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/tensor/storage.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad {

/// Which axis a reduction runs along: Axis::rows sums each column over the rows (1 x cols),
/// Axis::columns each row over the columns (rows x 1).
enum class Axis { rows, columns };

namespace detail {
/// A tensor operand as a TensorVar (an expression is evaluated and recorded first).
template <class X>
auto as_tensor_var(const X& x) {
  if constexpr (is_tensor_var<std::remove_cvref_t<X>>::value) {
    return x;
  } else {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(!std::is_void_v<T>, "subgrad: a tensor expression needs a tensor in it");
    return TensorVar<T>(x);
  }
}

/// The node of a reduction to a Var: adjoint(tensor) += scale * adjoint(Var) (an element or all).
template <class T>
struct ScalarOfTensorNode {
  TensorSlot<T>* tensor;
  Index output;
  double scale;
  std::size_t element;  // the element it reads, or `all`
  const Tape* tape;
  static constexpr std::size_t all = static_cast<std::size_t>(-1);
  static void backward(const void* context, std::span<double> adjoints) {
    const ScalarOfTensorNode& node = *static_cast<const ScalarOfTensorNode*>(context);
    const double g = adjoints[node.output] * node.scale;
    if (g == 0.0 || !node.tensor->requires_adjoint) return;
    if (node.element != all) {
      node.tensor->touch(node.tape->sweep_count());
      node.tensor->adjoint[node.element] += static_cast<T>(g);
      return;
    }
    // A fresh adjoint is written once with g; one already this sweep's gets g added.
    if (!node.tensor->touch(node.tape->sweep_count(), static_cast<T>(g))) {
      for (T& a : node.tensor->adjoint) a += static_cast<T>(g);
    }
  }
};

template <class T>
Var scalar_of_tensor(const TensorVar<T>& t, double value, double scale, std::size_t element,
                     std::string_view operation) {
  Tape& tape = Tape::active();
  check_tensor_tape(tape, t.tape_id(), operation, t.rows(), t.cols());
  check_finite_result(value, operation);
  const Var out = value;  // a new variable; the node below feeds its adjoint back
  record_tensor_node<ScalarOfTensorNode<T>>(tape, TensorVarAccess::slot(t), out.index(), scale,
                                            element, &tape);
  return out;
}
}  // namespace detail

/// The sum of all elements, as a Var.
template <ActiveTensorOperand X>
Var sum(const X& x) {
  const auto t = detail::as_tensor_var(x);
  double total = 0.0;
  for (const auto v : t.value().span()) total += static_cast<double>(v);
  return detail::scalar_of_tensor(t, total, 1.0,
                                  detail::ScalarOfTensorNode<typename decltype(t)::value_type>::all,
                                  "subgrad::sum");
}
/// The mean of all elements, as a Var.
template <ActiveTensorOperand X>
Var mean(const X& x) {
  const auto t = detail::as_tensor_var(x);
  if (t.size() == 0) throw Error("subgrad::mean: the tensor is empty (0 elements)");
  double total = 0.0;
  for (const auto v : t.value().span()) total += static_cast<double>(v);
  const double n = static_cast<double>(t.size());
  return detail::scalar_of_tensor(t, total / n, 1.0 / n,
                                  detail::ScalarOfTensorNode<typename decltype(t)::value_type>::all,
                                  "subgrad::mean");
}

template <class T>
Var TensorVar<T>::element(std::size_t i, std::size_t j) const {
  if (i >= rows() || j >= cols()) {
    throw Error(fmt::format("subgrad::TensorVar::element: ({}, {}) is outside a {} x {} tensor", i,
                            j, rows(), cols()));
  }
  return detail::scalar_of_tensor(*this, static_cast<double>(value()(i, j)), 1.0, i * cols() + j,
                                  "subgrad::TensorVar::element");
}

namespace detail {
template <class T>
struct AxisSumNode {
  TensorSlot<T>* input;
  TensorSlot<T>* result;
  Axis axis;
  const Tape* tape;
  static void backward(const void* context, std::span<double>) {
    const AxisSumNode& node = *static_cast<const AxisSumNode*>(context);
    T* dx = input_adjoint(*node.result, *node.input, node.tape->sweep_count());
    if (dx == nullptr) return;
    const std::size_t rows = node.input->value.rows(), cols = node.input->value.cols();
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        dx[i * cols + j] += node.result->adjoint[node.axis == Axis::rows ? j : i];
      }
    }
  }
};
}  // namespace detail

/// Sums along an axis: Axis::rows gives 1 x cols (the sum of each column), Axis::columns gives
/// rows x 1.
template <ActiveTensorOperand X>
auto sum(const X& x, Axis axis) {
  const auto t = detail::as_tensor_var(x);
  using T = typename decltype(t)::value_type;
  Tape& tape = Tape::active();
  detail::check_tensor_tape(tape, t.tape_id(), "subgrad::sum(t, axis)", t.rows(), t.cols());
  const std::size_t rows = t.rows(), cols = t.cols();
  detail::TensorSlot<T>& result = tape.attachment<detail::TensorStorage<T>>().next(
      axis == Axis::rows ? 1 : rows, axis == Axis::rows ? cols : 1, true);
  std::fill(result.value.span().begin(), result.value.span().end(), T(0));
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      result.value.data()[axis == Axis::rows ? j : i] += t.value()(i, j);
    }
  }
  detail::check_finite_result(result.value, "subgrad::sum(t, axis)");
  detail::record_tensor_node<detail::AxisSumNode<T>>(tape, detail::TensorVarAccess::slot(t),
                                                     &result, axis, &tape);
  return detail::TensorVarAccess::make(&result, tape.id());
}

namespace detail {
template <class T>
struct CrossEntropyNode {
  TensorSlot<T>* logits;
  const int* labels;
  Index output;
  const Tape* tape;
  static void backward(const void* context, std::span<double> adjoints) {
    const CrossEntropyNode& node = *static_cast<const CrossEntropyNode*>(context);
    const double g = adjoints[node.output];
    if (g == 0.0 || !node.logits->requires_adjoint) return;
    node.logits->touch(node.tape->sweep_count());
    const std::size_t rows = node.logits->value.rows(), cols = node.logits->value.cols();
    const double scale = g / static_cast<double>(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const T* row = node.logits->value.data() + i * cols;
      double largest = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < cols; ++j) largest = std::max(largest, double(row[j]));
      double total = 0.0;
      for (std::size_t j = 0; j < cols; ++j) total += std::exp(double(row[j]) - largest);
      T* adjoint = node.logits->adjoint.data() + i * cols;
      for (std::size_t j = 0; j < cols; ++j) {
        const double softmax = std::exp(double(row[j]) - largest) / total;
        const double onehot = static_cast<int>(j) == node.labels[i] ? 1.0 : 0.0;
        adjoint[j] += static_cast<T>(scale * (softmax - onehot));
      }
    }
  }
};
}  // namespace detail

/// The mean over rows of -log softmax(logits)[label]: softmax cross-entropy, computed stably
/// (log-sum-exp); labels[i] is the class of row i, in [0, cols).
template <ActiveTensorOperand X>
Var cross_entropy(const X& logits_operand, std::span<const int> labels) {
  const auto logits = detail::as_tensor_var(logits_operand);
  using T = typename decltype(logits)::value_type;
  const std::size_t rows = logits.rows(), cols = logits.cols();
  if (labels.size() != rows) {
    throw Error(fmt::format("subgrad::cross_entropy: {} labels for {} rows of logits ({} x {})",
                            labels.size(), rows, rows, cols));
  }
  if (rows == 0) throw Error("subgrad::cross_entropy: no rows");
  Tape& tape = Tape::active();
  detail::check_tensor_tape(tape, logits.tape_id(), "subgrad::cross_entropy", rows, cols);
  int* kept = static_cast<int*>(
      tape.attachment<detail::NodeArena>().allocate(rows * sizeof(int), alignof(int)));
  double loss = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= cols) {
      throw Error(fmt::format("subgrad::cross_entropy: label {} of row {} is not in [0, {})",
                              labels[i], i, cols));
    }
    kept[i] = labels[i];
    const T* row = logits.value().data() + i * cols;
    double largest = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < cols; ++j) largest = std::max(largest, double(row[j]));
    double total = 0.0;
    for (std::size_t j = 0; j < cols; ++j) total += std::exp(double(row[j]) - largest);
    loss += largest + std::log(total) - double(row[labels[i]]);
  }
  detail::check_finite_result(loss / static_cast<double>(rows), "subgrad::cross_entropy");
  const Var out = loss / static_cast<double>(rows);
  detail::record_tensor_node<detail::CrossEntropyNode<T>>(
      tape, detail::TensorVarAccess::slot(logits), kept, out.index(), &tape);
  return out;
}

namespace detail {
/// Row-wise softmax or log-softmax: the result's node applies the Jacobian-vector product.
template <class T>
struct SoftmaxNode {
  TensorSlot<T>* input;
  TensorSlot<T>* result;
  bool logarithm;
  const Tape* tape;
  static void backward(const void* context, std::span<double>) {
    const SoftmaxNode& node = *static_cast<const SoftmaxNode*>(context);
    T* const input_adjoints = input_adjoint(*node.result, *node.input, node.tape->sweep_count());
    if (input_adjoints == nullptr) return;
    const std::size_t rows = node.result->value.rows(), cols = node.result->value.cols();
    for (std::size_t i = 0; i < rows; ++i) {
      const T* y = node.result->value.data() + i * cols;
      const T* dy = node.result->adjoint.data() + i * cols;
      T* dx = input_adjoints + i * cols;
      double total = 0.0;
      if (node.logarithm) {
        // y = x - lse(x): dx = dy - softmax * sum(dy)
        for (std::size_t j = 0; j < cols; ++j) total += double(dy[j]);
        for (std::size_t j = 0; j < cols; ++j)
          dx[j] += T(double(dy[j]) - std::exp(double(y[j])) * total);
      } else {
        // dx = y * (dy - sum(dy * y))
        for (std::size_t j = 0; j < cols; ++j) total += double(dy[j]) * double(y[j]);
        for (std::size_t j = 0; j < cols; ++j) dx[j] += T(double(y[j]) * (double(dy[j]) - total));
      }
    }
  }
};

template <class X>
auto softmax_of(const X& x, bool logarithm, std::string_view operation) {
  const auto t = as_tensor_var(x);
  using T = typename decltype(t)::value_type;
  const Tensor<T>& in = t.value();
  Tape& tape = Tape::active();
  check_tensor_tape(tape, t.tape_id(), operation, t.rows(), t.cols());
  const std::size_t rows = t.rows(), cols = t.cols();
  TensorSlot<T>& result = tape.attachment<TensorStorage<T>>().next(rows, cols, true);
  for (std::size_t i = 0; i < rows; ++i) {
    const T* row = in.data() + i * cols;
    T* out = result.value.data() + i * cols;
    double largest = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < cols; ++j) largest = std::max(largest, double(row[j]));
    double total = 0.0;
    for (std::size_t j = 0; j < cols; ++j) total += std::exp(double(row[j]) - largest);
    const double log_total = std::log(total);
    for (std::size_t j = 0; j < cols; ++j) {
      const double shifted = double(row[j]) - largest;
      out[j] = T(logarithm ? shifted - log_total : std::exp(shifted) / total);
    }
  }
  check_finite_result(result.value, logarithm ? "subgrad::log_softmax" : "subgrad::softmax");
  record_tensor_node<SoftmaxNode<T>>(tape, TensorVarAccess::slot(t), &result, logarithm, &tape);
  return TensorVarAccess::make(&result, tape.id());
}

template <class T>
struct LogitsLossNode {
  TensorSlot<T>* logits;
  TensorSlot<T>* targets;
  Index output;
  const Tape* tape;
  static void backward(const void* context, std::span<double> adjoints) {
    const LogitsLossNode& node = *static_cast<const LogitsLossNode*>(context);
    const double g = adjoints[node.output];
    if (g == 0.0 || !node.logits->requires_adjoint) return;
    node.logits->touch(node.tape->sweep_count());
    const std::size_t n = node.logits->value.size();
    const double scale = g / static_cast<double>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const double z = double(node.logits->value.data()[k]);
      const double sigmoid =
          z >= 0.0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
      node.logits->adjoint[k] += T(scale * (sigmoid - double(node.targets->value.data()[k])));
    }
  }
};
}  // namespace detail

/// Row-wise softmax, computed stably (the row's maximum subtracted first).
template <ActiveTensorOperand X>
auto softmax(const X& x) {
  return detail::softmax_of(x, false, "subgrad::softmax");
}
/// Row-wise log-softmax: x - log(sum(exp(x))) per row, computed stably.
template <ActiveTensorOperand X>
auto log_softmax(const X& x) {
  return detail::softmax_of(x, true, "subgrad::log_softmax");
}

/// The mean over all elements of the binary cross-entropy of sigmoid(logits) against targets in
/// [0, 1]: max(z, 0) - z t + log(1 + exp(-|z|)), stable for any z.
template <ActiveTensorOperand X, class T>
Var binary_cross_entropy_with_logits(const X& logits_operand, const Tensor<T>& targets) {
  const auto logits = detail::as_tensor_var(logits_operand);
  static_assert(std::is_same_v<typename decltype(logits)::value_type, T>,
                "subgrad::binary_cross_entropy_with_logits: logits and targets differ in type");
  if (targets.rows() != logits.rows() || targets.cols() != logits.cols()) {
    throw Error(fmt::format(
        "subgrad::binary_cross_entropy_with_logits: logits are {} x {}, targets {} x {}",
        logits.rows(), logits.cols(), targets.rows(), targets.cols()));
  }
  if (logits.size() == 0) throw Error("subgrad::binary_cross_entropy_with_logits: no elements");
  const Tensor<T>& z = logits.value();
  double loss = 0.0;
  for (std::size_t k = 0; k < z.size(); ++k) {
    const double zk = double(z.data()[k]), tk = double(targets.data()[k]);
    loss += std::max(zk, 0.0) - zk * tk + std::log1p(std::exp(-std::abs(zk)));
  }
  Tape& tape = Tape::active();
  detail::check_finite_result(loss / static_cast<double>(z.size()),
                              "subgrad::binary_cross_entropy_with_logits");
  const Var out = loss / static_cast<double>(z.size());
  detail::record_tensor_node<detail::LogitsLossNode<T>>(tape, detail::TensorVarAccess::slot(logits),
                                                        detail::constant_slot(targets), out.index(),
                                                        &tape);
  return out;
}

namespace detail {
template <class T>
struct TensorOfVarsNode {
  TensorSlot<T>* result;
  const Index* indices;
  const Tape* tape;
  static void backward(const void* context, std::span<double> adjoints) {
    const TensorOfVarsNode& node = *static_cast<const TensorOfVarsNode*>(context);
    if (node.result->adjoint_sweep != node.tape->sweep_count()) return;
    for (std::size_t k = 0; k < node.result->adjoint.size(); ++k) {
      adjoints[node.indices[k]] += double(node.result->adjoint[k]);
    }
  }
};
}  // namespace detail

/// A rows x cols tensor whose elements are these scalar Vars (row-major): its adjoint flows back
/// into theirs.
template <class T = double>
TensorVar<T> tensor_of(std::span<const Var> elements, std::size_t rows, std::size_t cols) {
  if (elements.size() != detail::element_count<T>(rows, cols, "tensor_of")) {
    throw Error(fmt::format("subgrad::tensor_of: {} Vars for a {} x {} tensor", elements.size(),
                            rows, cols));
  }
  Tape& tape = Tape::active();
  auto& arena = tape.attachment<detail::NodeArena>();
  Index* indices =
      static_cast<Index*>(arena.allocate(elements.size() * sizeof(Index), alignof(Index)));
  detail::TensorSlot<T>& result =
      tape.attachment<detail::TensorStorage<T>>().next(rows, cols, true);
  for (std::size_t k = 0; k < elements.size(); ++k) {
    detail::check_operand_tape(tape, elements[k], "subgrad::tensor_of", [&] {
      return fmt::format("element {} (value {})", k, elements[k].value());
    });
    indices[k] = elements[k].index();  // a Var on no tape has index 0: the sink
    result.value.data()[k] = static_cast<T>(elements[k].value());
  }
  detail::record_tensor_node<detail::TensorOfVarsNode<T>>(tape, &result, indices, &tape);
  return detail::TensorVarAccess::make(&result, tape.id());
}

/// The mean squared error mean((prediction - target)^2). Two tensors must have the same shape:
/// broadcasting would silently compare an n x 1 prediction with every element of a 1 x n target
/// (an n x n difference, a loss that trains the wrong thing). A number or a scalar Var as either
/// side is compared with every element.
template <class P, class Q>
requires TensorOperands<P, Q> Var mse(const P& prediction, const Q& target) {
  const auto p = as_tensor_expression(prediction);
  const auto t = as_tensor_expression(target);
  constexpr bool scalar_side = Passive<P> || Expression<P> || Passive<Q> || Expression<Q>;
  if (!scalar_side && (p.rows() != t.rows() || p.cols() != t.cols())) {
    throw Error(
        fmt::format("subgrad::mse: the prediction is {} x {}, the target {} x {}: the "
                    "shapes must be equal (write mean(square(p - t)) to broadcast)",
                    p.rows(), p.cols(), t.rows(), t.cols()));
  }
  const auto difference = detail::make_binary_tensor(detail::SubtractOp{}, p, t, "mse");
  if (difference.rows() == 0 || difference.cols() == 0) {
    throw Error(
        fmt::format("subgrad::mse: no elements (the prediction is {} x {})", p.rows(), p.cols()));
  }
  return mean(difference * difference);
}

/// d loss / d x as a tensor (one sweep from loss).
template <Expression E, class T>
Tensor<T> grad(const E& loss, const TensorVar<T>& x) {
  backward(loss);
  return x.adjoint();
}

}  // namespace subgrad
