#pragma once
/// \file
/// Parameter<T>: a learnable tensor that outlives the tape. Each training step puts it on the
/// active tape once, as a TensorVar, when a module first uses it; its gradient is that TensorVar's
/// adjoint after backward().

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "subgrad/core/tape.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad::nn {

template <class T>
class BasicDataParallel;

/// A learnable tensor: its value persists across steps (optimizers update it in place); on each
/// tape it becomes one independent TensorVar, made on first use.
template <class T = float>
class BasicParameter {
 public:
  using value_type = T;
  BasicParameter() = default;
  explicit BasicParameter(Tensor<T> value) : value_(std::move(value)) {}
  // A copy is a new parameter with the same value, not yet on any tape.
  BasicParameter(const BasicParameter& other) : value_(other.value()) {}
  BasicParameter& operator=(const BasicParameter& other) {
    if (this != &other) {
      value_ = other.value();
      shared_ = nullptr;
      var_.reset();
      tape_ = 0;
    }
    return *this;
  }

  const Tensor<T>& value() const noexcept { return shared_ != nullptr ? shared_->value_ : value_; }
  /// For optimizers and initialisers, between steps: a change reaches the tape at the next step.
  Tensor<T>& value() noexcept { return shared_ != nullptr ? shared_->value_ : value_; }
  std::size_t rows() const noexcept { return value().rows(); }
  std::size_t cols() const noexcept { return value().cols(); }
  std::size_t size() const noexcept { return value().size(); }

  /// This parameter on the active tape (made from its value on first use since the tape was made
  /// or cleared).
  TensorVar<T> var() const {
    const Tape& tape = Tape::active();
    if (!var_ || tape_ != tape.id()) {
      var_.emplace(value());
      tape_ = tape.id();
    }
    return *var_;
  }
  operator TensorVar<T>() const { return var(); }  // NOLINT: a parameter is used as a TensorVar

  /// Whether the last backward() on the active tape reached this parameter (PyTorch: its grad is
  /// not None).
  bool has_gradient() const {
    const Tape& tape = Tape::active();
    return var_ && tape_ == tape.id() && tape.sweep_count() > 0 &&
           subgrad::detail::TensorVarAccess::slot(*var_)->adjoint_sweep == tape.sweep_count();
  }
  /// d(output)/d(this) after the last backward() on the active tape, in row-major order; zeros
  /// when this step did not use the parameter or no sweep has run. Writable: clip_grad_norm scales
  /// it, optimizers read it.
  std::span<T> gradient() {
    if (!has_gradient()) {
      zeros_.assign(value().size(), T(0));
      return zeros_;
    }
    return subgrad::detail::TensorVarAccess::slot(*var_)->adjoint;
  }

 private:
  // A DataParallel's replica reads the model's values instead of keeping a copy of its own,
  // which would have to be brought up to date at every step: each thread puts them on its own
  // tape (var()).
  friend class BasicDataParallel<T>;
  void share_value_of(BasicParameter& source) {
    shared_ = &source;
    value_ = Tensor<T>();
    var_.reset();
    tape_ = 0;
  }

  Tensor<T> value_;
  BasicParameter* shared_ = nullptr;  // whose value this one reads, if not its own
  mutable std::optional<TensorVar<T>> var_;
  mutable std::uint32_t tape_ = 0;
  std::vector<T> zeros_;
};

namespace detail {
/// The sum of squares of `values` in double, in four independent sums (one running sum would
/// make every addition wait for the previous one).
template <class T>
double sum_of_squares(std::span<const T> values) {
  double sums[4] = {0.0, 0.0, 0.0, 0.0};
  const std::size_t n = values.size(), body = n - n % 4;
  for (std::size_t k = 0; k < body; k += 4) {
    for (std::size_t lane = 0; lane < 4; ++lane) {
      const double v = static_cast<double>(values[k + lane]);
      sums[lane] += v * v;
    }
  }
  for (std::size_t k = body; k < n; ++k) {
    const double v = static_cast<double>(values[k]);
    sums[0] += v * v;
  }
  return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}
}  // namespace detail

/// A parameter with its name in the model ("0.weight").
template <class T>
struct NamedParameter {
  std::string name;
  BasicParameter<T>* parameter;
};

/// A tensor a module keeps besides its parameters (BatchNorm's running statistics), named.
template <class T>
struct NamedBuffer {
  std::string name;
  Tensor<T>* buffer;
};

/// float, the default element type of models (as in PyTorch); BasicParameter<double> for double.
using Parameter = BasicParameter<float>;

}  // namespace subgrad::nn
