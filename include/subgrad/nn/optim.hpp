#pragma once
/// \file
/// Optimizers over a model's parameters (SGD with momentum, Nesterov and weight decay; Adam;
/// AdamW), learning-rate schedules and gradient clipping. A training step reads
///
///     const Var loss = cross_entropy(model(batch.inputs), batch.labels);
///     backward(loss);
///     optimizer.step();   // reads the gradients, updates the parameters, clears the tape
///
/// Gradients are the adjoints of the step's tape, fresh each step: there is nothing to zero.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "subgrad/core/error.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/math/piecewise.hpp"
#include "subgrad/nn/module.hpp"
#include "subgrad/nn/parameter.hpp"

namespace subgrad::nn {

/// One tensor of an optimizer's state per parameter ("momentum", "exp_avg", ...), named for
/// checkpoints.
template <class T>
struct OptimizerState {
  std::string name;
  std::vector<Tensor<T>>* per_parameter;
};

/// What all optimizers share: the parameters, the learning rate and the step count.
template <class T = float>
class BasicOptimizer {
 public:
  virtual ~BasicOptimizer() = default;
  /// Updates every parameter the last backward() reached from its gradient on the active tape
  /// (others, as those whose grad is None in PyTorch, are left as they are, weight decay
  /// included, and their step count with them), then clears the tape. The step count is the
  /// optimizer's, one per call; each parameter also counts the steps that updated it, as
  /// torch.optim keeps a step per parameter (Adam's bias correction, SGD's first momentum).
  void step() {
    ++steps_;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      BasicParameter<T>& p = *parameters_[k].parameter;
      if (p.has_gradient()) {
        count_parameter_step(k);
        update(k, 0, p.value().span(), p.gradient());
      }
    }
    Tape::active().clear();
  }
  /// step() in parts, for a caller that shares a step's update between threads
  /// (nn::DataParallel::step): begin_step(updated) counts the step, once, and a step of each
  /// parameter whose index is in `updated` (those the step updates; begin_step() counts every
  /// parameter); then update_slice() for disjoint slices of those parameters, each from any
  /// thread, with the gradient of those elements; the caller clears its tape afterwards.
  void begin_step() noexcept {
    ++steps_;
    for (std::size_t k = 0; k < parameters_.size(); ++k) count_parameter_step(k);
  }
  void begin_step(std::span<const std::size_t> updated) {
    for (std::size_t i = 0; i < updated.size(); ++i) {
      const std::size_t k = updated[i];
      check_parameter_index(k, "begin_step");
      for (std::size_t j = 0; j < i; ++j) {
        if (updated[j] == k) {
          throw Error(
              fmt::format("subgrad::nn::{}::begin_step: parameter {} ('{}') is listed twice",
                          name(), k, parameters_[k].name));
        }
      }
    }
    ++steps_;
    for (const std::size_t k : updated) count_parameter_step(k);
  }
  /// Updates elements [offset, offset + gradient.size()) of parameter k (in row-major order)
  /// from `gradient`, their gradient; parameter k must be one begin_step() counted for this step.
  void update_slice(std::size_t k, std::size_t offset, std::span<const T> gradient) {
    check_parameter_index(k, "update_slice");
    const std::size_t size = parameters_[k].parameter->value().size();
    if (offset > size || gradient.size() > size - offset) {
      throw Error(fmt::format(
          "subgrad::nn::{}::update_slice: elements [{}, {}) are outside parameter '{}' of {}",
          name(), offset, offset + gradient.size(), parameters_[k].name, size));
    }
    if (counted_in_step_[k] != steps_) {
      throw Error(fmt::format(
          "subgrad::nn::{}::update_slice: parameter '{}' was not counted by begin_step() for "
          "step {}",
          name(), parameters_[k].name, steps_));
    }
    update(k, offset, parameters_[k].parameter->value().span().subspan(offset, gradient.size()),
           gradient);
  }
  double learning_rate() const noexcept { return learning_rate_; }
  void set_learning_rate(double rate) {
    if (!(rate >= 0.0) || !std::isfinite(rate)) {
      throw Error(
          fmt::format("subgrad::nn::{}: learning rate {} must be finite and >= 0", name(), rate));
    }
    learning_rate_ = rate;
  }
  std::uint64_t steps() const noexcept { return steps_; }
  /// Sets the step count, and every parameter's to the same (as if each step had updated every
  /// parameter); set_parameter_steps then sets one parameter's.
  void set_steps(std::uint64_t steps) noexcept {
    steps_ = steps;
    parameter_steps_.assign(parameters_.size(), steps);
    counted_in_step_.assign(parameters_.size(), never);
  }
  /// The steps that updated parameter k (PyTorch's per-parameter state['step']).
  std::uint64_t parameter_steps(std::size_t k) const {
    check_parameter_index(k, "parameter_steps");
    return parameter_steps_[k];
  }
  void set_parameter_steps(std::size_t k, std::uint64_t steps) {
    check_parameter_index(k, "set_parameter_steps");
    if (steps > steps_) {
      throw Error(
          fmt::format("subgrad::nn::{}::set_parameter_steps: parameter '{}' cannot have "
                      "been updated in {} steps of {}",
                      name(), parameters_[k].name, steps, steps_));
    }
    parameter_steps_[k] = steps;
  }
  const std::vector<NamedParameter<T>>& parameters() const noexcept { return parameters_; }
  /// The optimizer's name ("SGD", "Adam", "AdamW"), in messages and checkpoints.
  virtual std::string_view name() const = 0;
  /// Its state tensors, for checkpoints.
  virtual std::vector<OptimizerState<T>> state() = 0;

 protected:
  BasicOptimizer(std::vector<NamedParameter<T>> parameters, double learning_rate)
      : parameters_(std::move(parameters)),
        parameter_steps_(parameters_.size(), 0),
        counted_in_step_(parameters_.size(), never) {
    learning_rate_ = learning_rate;
  }
  /// Checks the learning rate (called by each constructor, which knows its name).
  void validate() { set_learning_rate(learning_rate_); }
  /// A state tensor per parameter, zeros of the parameter's shape.
  std::vector<Tensor<T>> zeros_like_parameters() const {
    std::vector<Tensor<T>> out;
    for (const auto& p : parameters_) out.emplace_back(p.parameter->rows(), p.parameter->cols());
    return out;
  }
  /// Updates elements [offset, offset + value.size()) of parameter k: `value` and `gradient` hold
  /// those elements. Element by element, so that a step may be split into slices, and a slice
  /// updated on any thread while others update theirs (only the slice's own state is touched).
  /// parameter_steps(k) already counts this step.
  virtual void update(std::size_t k, std::size_t offset, std::span<T> value,
                      std::span<const T> gradient) = 0;

 private:
  static constexpr std::uint64_t never = static_cast<std::uint64_t>(-1);
  void count_parameter_step(std::size_t k) noexcept {
    ++parameter_steps_[k];
    counted_in_step_[k] = steps_;
  }
  void check_parameter_index(std::size_t k, std::string_view operation) const {
    if (k >= parameters_.size()) {
      throw Error(fmt::format("subgrad::nn::{}::{}: no parameter {} (it has {})", name(), operation,
                              k, parameters_.size()));
    }
  }
  std::vector<NamedParameter<T>> parameters_;
  double learning_rate_ = 0.0;
  std::uint64_t steps_ = 0;
  std::vector<std::uint64_t> parameter_steps_;  // per parameter, the steps that updated it
  std::vector<std::uint64_t> counted_in_step_;  // per parameter, the last step that counted it
};

/// Options of SGD, as PyTorch's torch.optim.SGD.
struct SgdOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

namespace detail {
/// While one lives, this thread's SSE arithmetic flushes subnormal results and inputs to zero
/// (MXCSR's FTZ and DAZ bits); then the caller's mode is back, with any exception flag raised
/// meanwhile kept. The optimizers' loops run under it: the momentum of a parameter whose
/// gradient stays 0 (a dead ReLU unit's weights) decays through the subnormal range, and so does
/// Adam's second moment of a tiny gradient, and on Intel CPUs each subnormal operand or result
/// costs a microcode assist of about a hundred cycles (a 2-64-64-1 network's Adam step took 57
/// us instead of 38 on an Emerald Rapids Xeon, docs/performance.md). What changes: state and
/// parameter values below 1.2e-38 in magnitude (float) become 0, far below any update's size.
class FlushSubnormals {
 public:
#if defined(__x86_64__)
  FlushSubnormals() noexcept : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | flush_bits); }
  ~FlushSubnormals() { _mm_setcsr(saved_ | (_mm_getcsr() & exception_flags)); }
#else
  FlushSubnormals() noexcept = default;  // elsewhere the floating-point mode is left alone
#endif
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
#if defined(__x86_64__)
  static constexpr unsigned flush_bits = 0x8040;  // flush to zero (bit 15), denormals are zero (6)
  static constexpr unsigned exception_flags = 0x3F;  // sticky: invalid ... precision (bits 0-5)
  unsigned saved_;
#endif
};

enum class SgdMomentum { none, first_step, classic, nesterov_first_step, nesterov };

// One case of SGD's update, without a branch, so that the loop vectorizes.
template <SgdMomentum Kind, class T>
void sgd_loop(T* __restrict p, const T* __restrict g_in, T* __restrict b, std::size_t n, T rate,
              T decay, T momentum, T dampening) {
  for (std::size_t i = 0; i < n; ++i) {
    T g = g_in[i] + decay * p[i];
    if constexpr (Kind == SgdMomentum::first_step || Kind == SgdMomentum::nesterov_first_step) {
      b[i] = g;
    } else if constexpr (Kind != SgdMomentum::none) {
      b[i] = momentum * b[i] + dampening * g;
    }
    if constexpr (Kind == SgdMomentum::first_step || Kind == SgdMomentum::classic) {
      g = b[i];
    } else if constexpr (Kind != SgdMomentum::none) {
      g += momentum * b[i];
    }
    p[i] -= rate * g;
  }
}

/// SGD's update of elements of one parameter (`momentum_buffer` holds theirs), as BasicSGD
/// describes it; `first`: the parameter's first update (PyTorch then sets b = g).
template <class T>
void sgd_update(std::span<T> value, std::span<const T> gradient, T* momentum_buffer,
                const SgdOptions& o, bool first, double rate) {
  T* p = value.data();
  const T* g = gradient.data();
  const std::size_t n = value.size();
  const T r = static_cast<T>(rate), decay = static_cast<T>(o.weight_decay);
  const T mu = static_cast<T>(o.momentum), dampening = static_cast<T>(1.0 - o.dampening);
  const FlushSubnormals flush;
  using enum SgdMomentum;
  if (o.momentum == 0.0) {
    sgd_loop<none>(p, g, momentum_buffer, n, r, decay, mu, dampening);
  } else if (o.nesterov) {
    if (first)
      sgd_loop<nesterov_first_step>(p, g, momentum_buffer, n, r, decay, mu, dampening);
    else
      sgd_loop<nesterov>(p, g, momentum_buffer, n, r, decay, mu, dampening);
  } else if (first) {
    sgd_loop<first_step>(p, g, momentum_buffer, n, r, decay, mu, dampening);
  } else {
    sgd_loop<classic>(p, g, momentum_buffer, n, r, decay, mu, dampening);
  }
}
}  // namespace detail

/// Stochastic gradient descent: g += weight_decay * p; with momentum, b = momentum * b +
/// (1 - dampening) * g (b = g at the parameter's first step) and g = b, or g += momentum * b with
/// Nesterov; p -= lr * g (PyTorch's formulation).
template <class T = float>
class BasicSGD final : public BasicOptimizer<T> {
 public:
  BasicSGD(std::vector<NamedParameter<T>> parameters, double learning_rate, SgdOptions options = {})
      : BasicOptimizer<T>(std::move(parameters), learning_rate), options_(options) {
    this->validate();
    // Finite, not only >= 0: an infinite momentum or decay turns every parameter into NaN at
    // the first step.
    check(options_.momentum >= 0.0 && std::isfinite(options_.momentum), "momentum",
          options_.momentum);
    check(options_.weight_decay >= 0.0 && std::isfinite(options_.weight_decay), "weight_decay",
          options_.weight_decay);
    check(std::isfinite(options_.dampening), "dampening", options_.dampening);
    check(!options_.nesterov || (options_.momentum > 0.0 && options_.dampening == 0.0),
          "Nesterov momentum needs momentum > 0 and dampening 0; momentum", options_.momentum);
    momentum_ = this->zeros_like_parameters();
  }
  std::string_view name() const override { return "SGD"; }
  std::vector<OptimizerState<T>> state() override { return {{"momentum", &momentum_}}; }
  const SgdOptions& options() const noexcept { return options_; }

 private:
  static void check(bool ok, std::string_view what, double value) {
    if (!ok) throw Error(fmt::format("subgrad::nn::SGD: {} = {} is not allowed", what, value));
  }
  void update(std::size_t k, std::size_t offset, std::span<T> value,
              std::span<const T> gradient) override {
    detail::sgd_update<T>(value, gradient, momentum_[k].data() + offset, options_,
                          this->parameter_steps(k) == 1, this->learning_rate());
  }
  SgdOptions options_;
  std::vector<Tensor<T>> momentum_;
};

/// Options of Adam and AdamW, as PyTorch's.
struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW: decoupled, its default there is 0.01
};

namespace detail {
/// Adam's update of one parameter (Kingma and Ba 2015), with bias correction, in PyTorch's order
/// of operations; `Decoupled` applies the weight decay to the parameter (AdamW, Loshchilov and
/// Hutter 2019) instead of the gradient. A template parameter, so that each loop has no branch and
/// vectorizes.
template <bool Decoupled, class T>
void adam_update(std::span<T> value, std::span<const T> gradient, T* first_moment, T* second_moment,
                 const AdamOptions& o, double rate, std::uint64_t step);
// Compiled in autodiff/nn/optim.cpp for float and double, with -fno-math-errno: a square root
// that may set errno keeps the loop scalar.
extern template void adam_update<false, float>(std::span<float>, std::span<const float>, float*,
                                               float*, const AdamOptions&, double, std::uint64_t);
extern template void adam_update<true, float>(std::span<float>, std::span<const float>, float*,
                                              float*, const AdamOptions&, double, std::uint64_t);
extern template void adam_update<false, double>(std::span<double>, std::span<const double>, double*,
                                                double*, const AdamOptions&, double, std::uint64_t);
extern template void adam_update<true, double>(std::span<double>, std::span<const double>, double*,
                                               double*, const AdamOptions&, double, std::uint64_t);
}  // namespace detail

/// Adam; weight_decay is added to the gradient (L2), as torch.optim.Adam.
template <class T = float>
class BasicAdam : public BasicOptimizer<T> {
 public:
  BasicAdam(std::vector<NamedParameter<T>> parameters, double learning_rate = 1e-3,
            AdamOptions options = {})
      : BasicOptimizer<T>(std::move(parameters), learning_rate), options_(options) {
    this->validate();
    if (!(options_.beta1 >= 0 && options_.beta1 < 1 && options_.beta2 >= 0 && options_.beta2 < 1 &&
          options_.eps >= 0 && std::isfinite(options_.eps) && options_.weight_decay >= 0 &&
          std::isfinite(options_.weight_decay))) {
      throw Error(
          fmt::format("subgrad::nn::{}: betas ({}, {}) must be in [0, 1), eps {} and "
                      "weight_decay {} finite and >= 0",
                      name(), options_.beta1, options_.beta2, options_.eps, options_.weight_decay));
    }
    first_moment_ = this->zeros_like_parameters();
    second_moment_ = this->zeros_like_parameters();
  }
  std::string_view name() const override { return "Adam"; }
  std::vector<OptimizerState<T>> state() override {
    return {{"exp_avg", &first_moment_}, {"exp_avg_sq", &second_moment_}};
  }

 protected:
  virtual bool decoupled() const { return false; }

 private:
  void update(std::size_t k, std::size_t offset, std::span<T> value,
              std::span<const T> gradient) override {
    T* first_moment = first_moment_[k].data() + offset;
    T* second_moment = second_moment_[k].data() + offset;
    if (decoupled()) {
      detail::adam_update<true, T>(value, gradient, first_moment, second_moment, options_,
                                   this->learning_rate(), this->parameter_steps(k));
    } else {
      detail::adam_update<false, T>(value, gradient, first_moment, second_moment, options_,
                                    this->learning_rate(), this->parameter_steps(k));
    }
  }
  AdamOptions options_;
  std::vector<Tensor<T>> first_moment_, second_moment_;
};

/// AdamW: Adam with decoupled weight decay (default 0.01), as torch.optim.AdamW.
template <class T = float>
class BasicAdamW final : public BasicAdam<T> {
 public:
  BasicAdamW(std::vector<NamedParameter<T>> parameters, double learning_rate = 1e-3,
             AdamOptions options = {0.9, 0.999, 1e-8, 0.01})
      : BasicAdam<T>(std::move(parameters), learning_rate, options) {}
  std::string_view name() const override { return "AdamW"; }

 protected:
  bool decoupled() const override { return true; }
};

/// Multiplies the learning rate by `gamma` every `step_size` epochs: call step() once per epoch.
template <class T = float>
class BasicStepLR {
 public:
  BasicStepLR(BasicOptimizer<T>& optimizer, std::uint64_t step_size, double gamma = 0.1)
      : optimizer_(&optimizer),
        base_(optimizer.learning_rate()),
        step_size_(step_size),
        gamma_(gamma) {
    if (step_size == 0) throw Error("subgrad::nn::StepLR: step_size must be at least 1");
    // Refused here, not epochs later when the rate it gives reaches the optimizer.
    subgrad::detail::require(gamma >= 0.0 && subgrad::detail::is_finite(gamma), "nn::StepLR",
                             "gamma", gamma, "must be finite and >= 0");
  }
  void step() { set_epoch(epoch_ + 1); }
  /// Jumps to an epoch (after resuming from a checkpoint).
  void set_epoch(std::uint64_t epoch) {
    epoch_ = epoch;
    optimizer_->set_learning_rate(base_ *
                                  std::pow(gamma_, static_cast<double>(epoch / step_size_)));
  }
  std::uint64_t epoch() const noexcept { return epoch_; }

 private:
  BasicOptimizer<T>* optimizer_;
  double base_;
  std::uint64_t step_size_;
  double gamma_;
  std::uint64_t epoch_ = 0;
};

/// Cosine annealing from the initial rate to `minimum` over `period` epochs (Loshchilov and Hutter
/// 2017, without restarts; the closed form of torch's CosineAnnealingLR): call step() per epoch.
template <class T = float>
class BasicCosineAnnealingLR {
 public:
  BasicCosineAnnealingLR(BasicOptimizer<T>& optimizer, std::uint64_t period, double minimum = 0.0)
      : optimizer_(&optimizer),
        base_(optimizer.learning_rate()),
        period_(period),
        minimum_(minimum) {
    if (period == 0) throw Error("subgrad::nn::CosineAnnealingLR: period must be at least 1");
    subgrad::detail::require(minimum >= 0.0 && subgrad::detail::is_finite(minimum),
                             "nn::CosineAnnealingLR", "minimum", minimum,
                             "must be finite and >= 0");
  }
  void step() { set_epoch(epoch_ + 1); }
  void set_epoch(std::uint64_t epoch) {
    epoch_ = epoch;
    const double phase = std::numbers::pi * static_cast<double>(std::min(epoch, period_)) /
                         static_cast<double>(period_);
    optimizer_->set_learning_rate(minimum_ + (base_ - minimum_) * (1.0 + std::cos(phase)) / 2.0);
  }
  std::uint64_t epoch() const noexcept { return epoch_; }

 private:
  BasicOptimizer<T>* optimizer_;
  double base_;
  std::uint64_t period_;
  double minimum_;
  std::uint64_t epoch_ = 0;
};

/// Scales all gradients so that their joint Euclidean norm is at most `max_norm`; returns the
/// norm before clipping (as torch.nn.utils.clip_grad_norm_). Call between backward() and step().
template <class T>
double clip_grad_norm(const std::vector<NamedParameter<T>>& parameters, double max_norm) {
  if (!(max_norm > 0.0)) {
    throw Error(fmt::format("subgrad::nn::clip_grad_norm: max_norm = {} must be > 0", max_norm));
  }
  double squares = 0.0;
  for (const auto& p : parameters) {
    const std::span<const T> gradient = p.parameter->gradient();
    squares += detail::sum_of_squares(gradient);
  }
  const double norm = std::sqrt(squares);
  if (norm > max_norm) {
    const T scale = static_cast<T>(max_norm / (norm + 1e-6));
    for (const auto& p : parameters) {
      for (T& g : p.parameter->gradient()) g *= scale;
    }
  }
  return norm;
}

/// Optimizers and schedules over float parameters; BasicSGD<double> etc. for double.
using Optimizer = BasicOptimizer<float>;
using SGD = BasicSGD<float>;
using Adam = BasicAdam<float>;
using AdamW = BasicAdamW<float>;
using StepLR = BasicStepLR<float>;
using CosineAnnealingLR = BasicCosineAnnealingLR<float>;

}  // namespace subgrad::nn
