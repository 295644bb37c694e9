#pragma once
/// \file
/// The layers: Linear, Activation (any primitive, by function, rule or registry name), PReLU,
/// RReLU, Maxout, Dropout, BatchNorm1d and LayerNorm.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/math/piecewise.hpp"
#include "subgrad/nn/init.hpp"
#include "subgrad/nn/module.hpp"
#include "subgrad/nn/parameter.hpp"
#include "subgrad/tensor/linear_algebra.hpp"
#include "subgrad/tensor/reduction.hpp"
#include "subgrad/tensor/relu_family.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad::nn {

/// y = x W^T + b, W of shape out x in. PyTorch's initialisation: W kaiming-uniform with
/// a = sqrt(5) (uniform in +-1/sqrt(in)), b uniform in +-1/sqrt(in).
template <class T = float>
class BasicLinear final : public BasicModule<T> {
 public:
  template <class Generator = std::mt19937_64>
  BasicLinear(std::size_t in, std::size_t out, bool bias = true,
              Generator& generator = default_generator())
      : in_(in), out_(out), has_bias_(bias), weight_(Tensor<T>(out, in)) {
    if (in == 0 || out == 0) {
      throw Error(
          fmt::format("subgrad::nn::Linear: in = {}, out = {}: both must be at least 1", in, out));
    }
    kaiming_uniform(weight_.value(), generator, std::sqrt(5.0));
    if (has_bias_) {
      bias_ = BasicParameter<T>(Tensor<T>(1, out));
      detail::fill_uniform(bias_.value(), 1.0 / std::sqrt(static_cast<double>(in)), generator,
                           "nn::Linear");
    }
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (x.cols() != in_) {
      throw Error(
          fmt::format("subgrad::nn::Linear({}, {}): the input is {} x {}, its columns must "
                      "be {}",
                      in_, out_, x.rows(), x.cols(), in_));
    }
    if (!has_bias_) return matmul(x, transpose(weight_.var()));
    return matmul(x, transpose(weight_.var()), bias_.var());
  }
  std::string describe() const override {
    return fmt::format("Linear({}, {}{})", in_, out_, has_bias_ ? "" : ", bias = false");
  }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicLinear>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    if (visitor.parameter) {
      visitor.parameter(this->join(prefix, "weight"), weight_);
      if (has_bias_) visitor.parameter(this->join(prefix, "bias"), bias_);
    }
  }
  BasicParameter<T>& weight() noexcept { return weight_; }
  BasicParameter<T>& bias() noexcept { return bias_; }
  std::size_t in() const noexcept { return in_; }
  std::size_t out() const noexcept { return out_; }

 private:
  std::size_t in_, out_;
  bool has_bias_;
  BasicParameter<T> weight_;
  BasicParameter<T> bias_;
};

namespace detail {
/// A unary primitive's rule bound for tensors of T: applying it, and measuring a batch for
/// ActivationCounts (the derivative under the kink rule in force, and the kinks).
template <class T>
struct BoundActivation {
  std::string name;
  std::function<TensorVar<T>(const TensorVar<T>&)> apply;
  std::function<void(const Tensor<T>& pre, const Tensor<T>& out, ActivationCounts&)> measure;
};

template <class T, class Rule, class Choice>
BoundActivation<T> bind_activation(const Rule& rule, Choice choice) {
  BoundActivation<T> bound;
  bound.name = std::string(rule_name<Rule>());
  bound.apply = [rule, choice](const TensorVar<T>& x) {
    return TensorVar<T>(apply_primitive(rule, x, choice));
  };
  bound.measure = [rule, choice](const Tensor<T>& pre, const Tensor<T>& out,
                                 ActivationCounts& counts) {
    const std::size_t cols = pre.cols();
    if (counts.active.size() != cols) counts.active.assign(cols, 0);
    for (std::size_t i = 0; i < pre.rows(); ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        const auto slopes = rule_slopes(rule, subgrad::detail::element_to_double(pre(i, j)));
        const bool kink = slopes.left != slopes.right && slopes.left == slopes.left &&
                          slopes.right == slopes.right;
        const double derivative = kink ? resolve(slopes, choice.get()) : slopes.left;
        counts.at_kink += kink;
        counts.active[j] |= static_cast<std::uint8_t>(derivative != 0.0);  // no branch
        counts.zeros += out(i, j) == T(0);
      }
    }
    counts.elements += pre.size();
  };
  return bound;
}

/// Counts where the rule is not at hand: a unit is active when its output is nonzero for some
/// sample, and `at_kink(i, j)` says whether output (i, j) came from a kink or tie.
template <class T, class AtKink>
void measure_by_output(const Tensor<T>& out, ActivationCounts& counts, AtKink at_kink) {
  if (counts.active.size() != out.cols()) counts.active.assign(out.cols(), 0);
  for (std::size_t i = 0; i < out.rows(); ++i) {
    for (std::size_t j = 0; j < out.cols(); ++j) {
      const bool zero = out(i, j) == T(0);
      counts.zeros += zero;
      counts.active[j] |= static_cast<std::uint8_t>(!zero);
      counts.at_kink += at_kink(i, j);
    }
  }
  counts.elements += out.size();
}

/// The argument an Activation passes to a primitive's function once, to learn its rule.
template <class T>
struct ActivationProbe {};
/// Found by ADL when a primitive's function is called on an ActivationProbe: the rule it built
/// from the call's parameters, bound, with the call's kink rule.
template <class Rule, class T, class Choice>
requires UnaryRule<Rule> BoundActivation<T> apply_primitive(const Rule& rule,
                                                            const ActivationProbe<T>&,
                                                            Choice choice) {
  return bind_activation<T>(rule, choice);
}
}  // namespace detail

/// What the activation layers share: counting into ActivationCounts (nn::ActivationStats) in
/// training mode. A copy counts nowhere: statistics belong to the model they were attached to.
template <class T>
class ActivationLayer : public BasicModule<T> {
 public:
  bool count_activations(std::shared_ptr<ActivationCounts> counts) override {
    counts_ = std::move(counts);
    return true;
  }

 protected:
  ActivationLayer() = default;
  ActivationLayer(const ActivationLayer& other) : BasicModule<T>(other) {}
  ActivationLayer& operator=(const ActivationLayer& other) {
    BasicModule<T>::operator=(other);
    counts_.reset();
    return *this;
  }
  /// Where to count this batch, or nullptr (evaluation mode, or nothing attached).
  ActivationCounts* counts() const {
    return counts_ && this->is_training() ? counts_.get() : nullptr;
  }
  /// Counts a batch of an activation whose only kink is at 0 (prelu, rrelu) by its output.
  void count_by_output_with_kink_at_zero(const TensorVar<T>& x, const TensorVar<T>& y) const {
    if (ActivationCounts* c = counts()) {
      const Tensor<T>& pre = x.value();
      detail::measure_by_output(y.value(), *c,
                                [&pre](std::size_t i, std::size_t j) { return pre(i, j) == T(0); });
    }
  }

 private:
  std::shared_ptr<ActivationCounts> counts_;
};

/// An element-wise activation: any unary primitive through its one rule, with its parameters and
/// optionally a kink rule (else the thread's KinkScope when the step is recorded):
///
///     Activation(relu)   Activation(leaky_relu, 0.1)   Activation(relu, kink::right)
///     Activation(my_primitive)   Activation::from_name("elu")
template <class T = float>
class BasicActivation final : public ActivationLayer<T> {
 public:
  /// A primitive's function (relu, leaky_relu, elu, ...) and the parameters it takes after x.
  template <class... Parameters>
  explicit BasicActivation(detail::BoundActivation<T> (*function)(const detail::ActivationProbe<T>&,
                                                                  const Parameters&...),
                           const Parameters&... parameters)
      : bound_(function(detail::ActivationProbe<T>{}, parameters...)) {
    bound_.name = describe_call(bound_.name, parameters...);
  }
  /// A Primitive<Rule> object (a user's own primitive).
  template <class Rule>
  explicit BasicActivation(const Primitive<Rule>& primitive)
      : bound_(detail::bind_activation<T>(primitive.rule, ThreadKinkRule{})) {}
  template <class Rule>
  BasicActivation(const Primitive<Rule>& primitive, KinkRule rule)
      : bound_(detail::bind_activation<T>(primitive.rule, CallKinkRule{rule})) {
    bound_.name += fmt::format(", kink::{}", rule.name());
  }
  /// A registered primitive by name, with the registry's parameters.
  static BasicActivation from_name(std::string_view name) { return by_name(name, std::nullopt); }
  static BasicActivation from_name(std::string_view name, KinkRule rule) {
    return by_name(name, rule);
  }

  TensorVar<T> forward(const TensorVar<T>& x) override {
    TensorVar<T> y = bound_.apply(x);
    if (ActivationCounts* c = this->counts()) bound_.measure(x.value(), y.value(), *c);
    return y;
  }
  std::string describe() const override { return fmt::format("Activation({})", bound_.name); }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicActivation>(*this);
  }
  const std::string& primitive_name() const noexcept { return bound_.name; }

 private:
  explicit BasicActivation(detail::BoundActivation<T> bound) : bound_(std::move(bound)) {}
  // Compiled in libsubgrad for each element type (autodiff/nn/layers.cpp): it iterates over the
  // whole registry, which costs seconds to compile in every file that includes this header.
  static BasicActivation by_name(std::string_view name, std::optional<KinkRule> rule);
  template <class... Parameters>
  static std::string describe_call(const std::string& name, const Parameters&... parameters) {
    std::string text = name;
    auto add = [&text](const auto& p) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(p)>, KinkRule>) {
        text += fmt::format(", kink::{}", p.name());
      } else if constexpr (requires { fmt::format("{}", p); }) {
        text += fmt::format(", {}", p);
      }
    };
    (add(parameters), ...);
    return text;
  }
  detail::BoundActivation<T> bound_;
};

/// prelu with a learnable slope: one for all units (channels = 1) or one per unit (per column).
template <class T = float>
class BasicPReLU final : public ActivationLayer<T> {
 public:
  explicit BasicPReLU(std::size_t channels = 1, double init = 0.25)
      : slope_(Tensor<T>(1, channels, static_cast<T>(init))) {
    if (channels == 0) throw Error("subgrad::nn::PReLU: channels must be at least 1");
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (slope_.cols() != 1 && slope_.cols() != x.cols()) {
      throw Error(
          fmt::format("subgrad::nn::PReLU({}): the input has {} columns", slope_.cols(), x.cols()));
    }
    TensorVar<T> y = prelu(x, slope_.var());
    this->count_by_output_with_kink_at_zero(x, y);
    return y;
  }
  std::string describe() const override { return fmt::format("PReLU({})", slope_.cols()); }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicPReLU>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    if (visitor.parameter) visitor.parameter(this->join(prefix, "weight"), slope_);
  }

 private:
  BasicParameter<T> slope_;
};

/// Randomized leaky relu: in training a slope drawn per element from [lower, upper], in
/// evaluation the mean slope (lower + upper) / 2.
template <class T = float>
class BasicRReLU final : public ActivationLayer<T> {
 public:
  explicit BasicRReLU(double lower = 1.0 / 8.0, double upper = 1.0 / 3.0)
      : rule_(lower, upper), generator_(default_generator()()) {}
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (!this->is_training()) return rrelu(x, rule_.lower, rule_.upper);
    TensorVar<T> y = rrelu(x, generator_, rule_.lower, rule_.upper);
    this->count_by_output_with_kink_at_zero(x, y);
    return y;
  }
  std::string describe() const override {
    return fmt::format("RReLU({}, {})", rule_.lower, rule_.upper);
  }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicRReLU>(*this);
  }

 protected:
  void reseed_own(std::uint64_t seed) override { generator_.seed(seed); }

 private:
  rules::Rrelu rule_;  // validates lower <= upper
  std::mt19937_64 generator_;
};

/// A linear map to out * pieces units, then the maximum over each group of `pieces` adjacent
/// units (Goodfellow et al. 2013); ties split by the kink rule as the scalar maxout does.
template <class T = float>
class BasicMaxout final : public ActivationLayer<T> {
 public:
  BasicMaxout(std::size_t in, std::size_t out, std::size_t pieces)
      : linear_(in, out * std::max<std::size_t>(pieces, 1)), pieces_(pieces) {
    if (pieces < 1) throw Error("subgrad::nn::Maxout: pieces must be at least 1");
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    const TensorVar<T> pre = linear_.forward(x);
    TensorVar<T> y = maxout(pre, pieces_);
    if (ActivationCounts* c = this->counts()) {
      // At a kink: the largest value is reached by more than one piece of the group.
      const Tensor<T>& values = pre.value();
      const Tensor<T>& out = y.value();
      detail::measure_by_output(out, *c, [&](std::size_t i, std::size_t j) {
        int reaching = 0;
        for (std::size_t p = 0; p < pieces_; ++p)
          reaching += values(i, j * pieces_ + p) == out(i, j);
        return reaching > 1;
      });
    }
    return y;
  }
  std::string describe() const override {
    return fmt::format("Maxout({}, {}, {})", linear_.in(), linear_.out() / pieces_, pieces_);
  }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicMaxout>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    linear_.visit(this->join(prefix, "linear"), visitor);
  }

 private:
  BasicLinear<T> linear_;
  std::size_t pieces_;
};

/// In training, zeroes each element with probability p and scales the others by 1 / (1 - p); in
/// evaluation, the identity.
template <class T = float>
class BasicDropout final : public BasicModule<T> {
 public:
  explicit BasicDropout(double p = 0.5) : p_(p), generator_(default_generator()()) {
    if (!(p >= 0.0 && p < 1.0)) {
      throw Error(fmt::format("subgrad::nn::Dropout: p = {} must be in [0, 1)", p));
    }
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (!this->is_training() || p_ == 0.0) return x;
    mask_.resize(x.rows(), x.cols());
    std::bernoulli_distribution keep(1.0 - p_);
    const T scale = static_cast<T>(1.0 / (1.0 - p_));
    for (T& m : mask_.span()) m = keep(generator_) ? scale : T(0);
    return x * mask_;
  }
  std::string describe() const override { return fmt::format("Dropout({})", p_); }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicDropout>(*this);
  }

 protected:
  void reseed_own(std::uint64_t seed) override { generator_.seed(seed); }

 private:
  double p_;
  std::mt19937_64 generator_;
  Tensor<T> mask_;
};

namespace detail {
/// (x - mean) / sqrt(variance + eps) * weight + bias, with the mean and biased variance along
/// `axis` of the batch: the normalisation BatchNorm1d (over rows) and LayerNorm (over columns)
/// share. Returns the normalised output; mean and variance are written out for running
/// statistics.
template <class T>
TensorVar<T> normalize(const TensorVar<T>& x, Axis axis, double eps,
                       const BasicParameter<T>& weight, const BasicParameter<T>& bias,
                       TensorVar<T>* mean_out, TensorVar<T>* variance_out) {
  const double count = static_cast<double>(axis == Axis::rows ? x.rows() : x.cols());
  const TensorVar<T> mean = sum(x, axis) * (1.0 / count);
  const TensorVar<T> centered = x - mean;
  const TensorVar<T> variance = sum(centered * centered, axis) * (1.0 / count);
  if (mean_out) *mean_out = mean;
  if (variance_out) *variance_out = variance;
  return centered / sqrt(variance + eps) * weight.var() + bias.var();
}
}  // namespace detail

/// Batch normalisation over the batch (rows) per feature (Ioffe and Szegedy 2015): in training
/// the batch's mean and biased variance, and running statistics updated with `momentum` (the
/// variance unbiased, as PyTorch); in evaluation the running statistics.
template <class T = float>
class BasicBatchNorm1d final : public BasicModule<T> {
 public:
  explicit BasicBatchNorm1d(std::size_t features, double eps = 1e-5, double momentum = 0.1)
      : features_(features),
        eps_(eps),
        momentum_(momentum),
        weight_(Tensor<T>(1, features, T(1))),
        bias_(Tensor<T>(1, features)),
        running_mean_(1, features),
        running_variance_(1, features, T(1)) {
    if (features == 0) throw Error("subgrad::nn::BatchNorm1d: features must be at least 1");
    // A zero or negative eps makes a constant feature's scale infinite or NaN, and a momentum
    // outside [0, 1] running statistics that diverge; neither would show until evaluation.
    subgrad::detail::require(eps > 0.0 && subgrad::detail::is_finite(eps), "nn::BatchNorm1d", "eps",
                             eps, "must be finite and > 0");
    subgrad::detail::require(momentum >= 0.0 && momentum <= 1.0, "nn::BatchNorm1d", "momentum",
                             momentum, "must be in [0, 1]");
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (x.cols() != features_) {
      throw Error(fmt::format("subgrad::nn::BatchNorm1d({}): the input is {} x {}", features_,
                              x.rows(), x.cols()));
    }
    if (!this->is_training()) {
      const Tensor<T>& mean = running_mean_;
      Tensor<T> scale(1, features_);
      for (std::size_t j = 0; j < features_; ++j) {
        scale(0, j) =
            static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_variance_(0, j)) + eps_));
      }
      return (x - mean) * scale * weight_.var() + bias_.var();
    }
    if (x.rows() < 2) {
      throw Error(
          fmt::format("subgrad::nn::BatchNorm1d({}): training needs more than one sample "
                      "per batch, the input is {} x {}",
                      features_, x.rows(), x.cols()));
    }
    TensorVar<T> mean = x, variance = x;
    TensorVar<T> y = detail::normalize(x, Axis::rows, eps_, weight_, bias_, &mean, &variance);
    const double n = static_cast<double>(x.rows());
    for (std::size_t j = 0; j < features_; ++j) {
      running_mean_(0, j) =
          static_cast<T>((1 - momentum_) * running_mean_(0, j) + momentum_ * mean.value()(0, j));
      running_variance_(0, j) = static_cast<T>((1 - momentum_) * running_variance_(0, j) +
                                               momentum_ * variance.value()(0, j) * n / (n - 1));
    }
    return y;
  }
  std::string describe() const override { return fmt::format("BatchNorm1d({})", features_); }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicBatchNorm1d>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    if (visitor.parameter) {
      visitor.parameter(this->join(prefix, "weight"), weight_);
      visitor.parameter(this->join(prefix, "bias"), bias_);
    }
    if (visitor.buffer) {
      visitor.buffer(this->join(prefix, "running_mean"), running_mean_);
      visitor.buffer(this->join(prefix, "running_var"), running_variance_);
    }
  }

 private:
  std::size_t features_;
  double eps_, momentum_;
  BasicParameter<T> weight_, bias_;
  Tensor<T> running_mean_, running_variance_;
};

/// Layer normalisation over each sample's features (Ba et al. 2016), the same in training and
/// evaluation.
template <class T = float>
class BasicLayerNorm final : public BasicModule<T> {
 public:
  explicit BasicLayerNorm(std::size_t features, double eps = 1e-5)
      : features_(features),
        eps_(eps),
        weight_(Tensor<T>(1, features, T(1))),
        bias_(Tensor<T>(1, features)) {
    if (features == 0) throw Error("subgrad::nn::LayerNorm: features must be at least 1");
  }
  TensorVar<T> forward(const TensorVar<T>& x) override {
    if (x.cols() != features_) {
      throw Error(fmt::format("subgrad::nn::LayerNorm({}): the input is {} x {}", features_,
                              x.rows(), x.cols()));
    }
    return detail::normalize<T>(x, Axis::columns, eps_, weight_, bias_, nullptr, nullptr);
  }
  std::string describe() const override { return fmt::format("LayerNorm({})", features_); }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicLayerNorm>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    if (visitor.parameter) {
      visitor.parameter(this->join(prefix, "weight"), weight_);
      visitor.parameter(this->join(prefix, "bias"), bias_);
    }
  }

 private:
  std::size_t features_;
  double eps_;
  BasicParameter<T> weight_, bias_;
};

/// The layers over float (as PyTorch's default); BasicLinear<double> etc. for double.
using Linear = BasicLinear<float>;
using Activation = BasicActivation<float>;
using PReLU = BasicPReLU<float>;
using RReLU = BasicRReLU<float>;
using Maxout = BasicMaxout<float>;
using Dropout = BasicDropout<float>;
using BatchNorm1d = BasicBatchNorm1d<float>;
using LayerNorm = BasicLayerNorm<float>;

}  // namespace subgrad::nn
