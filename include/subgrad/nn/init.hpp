#pragma once
/// \file
/// Initialisers, each with an explicit random generator so that a run is reproducible from a seed,
/// and the default generator modules use when none is given (nn::manual_seed).

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/math/piecewise.hpp"
#include "subgrad/tensor/tensor.hpp"

namespace subgrad::nn {

/// The generator of a thread's modules when none is passed (seeded 0 until manual_seed).
inline std::mt19937_64& default_generator() {
  thread_local std::mt19937_64 generator(0);
  return generator;
}
/// Reseeds the default generator: the same seed gives the same initial weights.
inline void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

/// The fan-in and fan-out of a weight of shape out x in (as nn::Linear stores it).
struct Fans {
  double in;
  double out;
};
template <class T>
Fans fans_of(const Tensor<T>& weight) {
  return {static_cast<double>(weight.cols()), static_cast<double>(weight.rows())};
}

namespace detail {
template <class T, class Generator>
void fill_uniform(Tensor<T>& t, double bound, Generator& generator, const char* name) {
  // From the user's gain: a negative, infinite or NaN bound, or one whose interval is wider than
  // the largest double, is undefined behaviour in the standard distribution.
  subgrad::detail::require(bound >= 0.0 && bound <= std::numeric_limits<double>::max() / 2, name,
                           "bound", bound,
                           "must be >= 0 and at most half the largest double (check the gain)");
  std::uniform_real_distribution<double> draw(-bound, bound);
  for (T& v : t.span()) v = static_cast<T>(draw(generator));
}
template <class T, class Generator>
void fill_normal(Tensor<T>& t, double deviation, Generator& generator, const char* name) {
  subgrad::detail::require(deviation >= 0.0 && subgrad::detail::is_finite(deviation), name,
                           "deviation", deviation, "must be finite and >= 0 (check the gain)");
  if (deviation == 0) {  // std::normal_distribution requires a positive deviation; as PyTorch
    for (T& v : t.span()) v = T(0);
    return;
  }
  std::normal_distribution<double> draw(0.0, deviation);
  for (T& v : t.span()) v = static_cast<T>(draw(generator));
}
inline void require_fans(Fans fans, const char* name) {
  if (!(fans.in > 0 && fans.out > 0)) {
    throw Error(fmt::format("subgrad::nn::{}: the tensor has no elements (fan in {}, fan out {})",
                            name, fans.in, fans.out));
  }
}
/// The gain of leaky_relu with slope a, as PyTorch's calculate_gain.
inline double leaky_relu_gain(double a) { return std::sqrt(2.0 / (1.0 + a * a)); }
}  // namespace detail

/// Uniform in [-b, b], b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (He et al. 2015;
/// a = 0 for relu, a = sqrt(5) gives PyTorch's default for Linear weights).
template <class T, class Generator>
void kaiming_uniform(Tensor<T>& t, Generator& generator, double a = 0.0) {
  const Fans fans = fans_of(t);
  detail::require_fans(fans, "kaiming_uniform");
  detail::fill_uniform(t, detail::leaky_relu_gain(a) * std::sqrt(3.0 / fans.in), generator,
                       "nn::kaiming_uniform");
}
/// Normal with deviation gain / sqrt(fan_in), gain as for kaiming_uniform.
template <class T, class Generator>
void kaiming_normal(Tensor<T>& t, Generator& generator, double a = 0.0) {
  const Fans fans = fans_of(t);
  detail::require_fans(fans, "kaiming_normal");
  detail::fill_normal(t, detail::leaky_relu_gain(a) / std::sqrt(fans.in), generator,
                      "nn::kaiming_normal");
}
/// Uniform in [-b, b], b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010).
template <class T, class Generator>
void xavier_uniform(Tensor<T>& t, Generator& generator, double gain = 1.0) {
  const Fans fans = fans_of(t);
  detail::require_fans(fans, "xavier_uniform");
  detail::fill_uniform(t, gain * std::sqrt(6.0 / (fans.in + fans.out)), generator,
                       "nn::xavier_uniform");
}
/// Normal with deviation gain * sqrt(2 / (fan_in + fan_out)).
template <class T, class Generator>
void xavier_normal(Tensor<T>& t, Generator& generator, double gain = 1.0) {
  const Fans fans = fans_of(t);
  detail::require_fans(fans, "xavier_normal");
  detail::fill_normal(t, gain * std::sqrt(2.0 / (fans.in + fans.out)), generator,
                      "nn::xavier_normal");
}
/// Normal with deviation 1 / sqrt(fan_in): what SELU's self-normalisation assumes (Klambauer et
/// al. 2017).
template <class T, class Generator>
void lecun_normal(Tensor<T>& t, Generator& generator) {
  const Fans fans = fans_of(t);
  detail::require_fans(fans, "lecun_normal");
  detail::fill_normal(t, 1.0 / std::sqrt(fans.in), generator, "nn::lecun_normal");
}
template <class T>
void constant(Tensor<T>& t, double value) {
  for (T& v : t.span()) v = static_cast<T>(value);
}
template <class T>
void zeros(Tensor<T>& t) {
  constant(t, 0.0);
}

}  // namespace subgrad::nn
