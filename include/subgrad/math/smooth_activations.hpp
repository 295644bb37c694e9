#pragma once
/// \file
/// The exponential and smooth members of the ReLU family, each one rule: elu, selu, celu, gelu,
/// gelu_tanh, silu, swish, mish, softplus, squareplus, smelu and CryptoDL's relu_poly.
/// Defaults are PyTorch's (squareplus: JAX's b = 4; smelu: beta = 1). Every function takes a
/// trailing KinkRule; a rule's constructor validates its parameters.

#include <cmath>
#include <concepts>
#include <numbers>
#include <string_view>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/piecewise.hpp"

namespace subgrad {

namespace rules {

/// x for x > 0, alpha (e^x - 1) below; d/dx = 1 or alpha e^x. A kink at 0 unless alpha == 1.
struct Elu {
  static constexpr std::string_view name = "elu";
  double alpha;
  constexpr Elu(double alpha_ = 1.0) : alpha(alpha_) {
    detail::require(detail::is_finite(alpha) && alpha >= 0.0, name, "alpha", alpha,
                    "must be finite and >= 0");
  }
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::expm1;
    if (x > 0.0) return detail::line(x, 1.0);
    if (x < 0.0) return {alpha * expm1(x), {alpha * exp(x), alpha * exp(x)}};
    // at 0: left alpha, right 1; min_norm alpha for 0 <= alpha <= 1, else 1 (PyTorch: alpha)
    // (The left slope as a function of x: nested forward mode sees that side's f'', alpha.)
    if (x == 0.0) return {detail::passive<T>(0.0), {T(alpha * exp(x)), detail::passive<T>(1.0)}};
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return alpha == 1.0 ? std::vector<KinkPoint>{} : detail::points_in(low, high, {0.0});
  }
};

/// lambda * elu(x, alpha) with the SELU constants (Klambauer et al. 2017).
struct Selu {
  static constexpr std::string_view name = "selu";
  static constexpr double lambda = 1.0507009873554804934193349852946;
  static constexpr double alpha = 1.6732632423543772848170429916717;
  static constexpr double lambda_alpha = 1.7580993408473768599402175208123;
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::expm1;
    if (x > 0.0) return detail::line(T(lambda * x), lambda);
    if (x < 0.0) return {lambda_alpha * expm1(x), {lambda_alpha * exp(x), lambda_alpha * exp(x)}};
    // at 0: left 1.7581 (lambda alpha), right 1.0507 (lambda); min_norm 1.0507 (= TF; PyTorch and
    // JAX 1.7581)
    if (x == 0.0) return {detail::passive<T>(0.0), {T(lambda_alpha * exp(x)), T(lambda)}};
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {0.0});
  }
};

/// max(0, x) + min(0, alpha (e^(x/alpha) - 1)); d/dx = 1 or e^(x/alpha); C1 (slope 1 at 0).
struct Celu {
  static constexpr std::string_view name = "celu";
  double alpha;
  constexpr Celu(double alpha_ = 1.0) : alpha(alpha_) {
    detail::require(detail::is_finite(alpha) && alpha != 0.0, name, "alpha", alpha,
                    "must be finite and non-zero");
  }
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::expm1;
    if (x > 0.0) return detail::line(x, 1.0);
    if (x <= 0.0) {
      const T scaled = x / alpha;
      return {alpha * expm1(scaled), {exp(scaled), exp(scaled)}};
    }
    return detail::not_a_number(x);
  }
};

/// x Phi(x) with Phi the standard normal CDF; d/dx = Phi(x) + x phi(x).
struct Gelu {
  static constexpr std::string_view name = "gelu";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::erfc;
    using std::exp;
    const T cdf = 0.5 * erfc(-x * std::numbers::sqrt2 / 2.0);
    const T pdf = exp(-0.5 * x * x) * (std::numbers::inv_sqrtpi / std::numbers::sqrt2);
    const T slope = cdf + x * pdf;
    return {x * cdf, {slope, slope}};
  }
};

/// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh approximation of gelu.
struct GeluTanh {
  static constexpr std::string_view name = "gelu_tanh";
  static constexpr double k = 0.7978845608028654;  // sqrt(2/pi)
  static constexpr double c = 0.044715;
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::tanh;
    const T t = tanh(k * (x + c * x * x * x));
    const T sech_squared = (1.0 - t) * (1.0 + t);
    // Where tanh has saturated, the second term is exactly 0; written out it would be
    // 0 * inf (NaN) once 3 c x^2 overflows, past |x| = 3.7e154.
    const T slope = primal_value(sech_squared) == 0.0
                        ? T(0.5 * (1.0 + t))
                        : T(0.5 * (1.0 + t) + 0.5 * x * sech_squared * k * (1.0 + 3.0 * c * x * x));
    return {0.5 * x * (1.0 + t), {slope, slope}};
  }
};

/// x sigmoid(beta x); d/dx = s + beta x s (1 - s). beta = 1 is silu.
struct Swish {
  static constexpr std::string_view name = "swish";
  double beta;
  constexpr Swish(double beta_ = 1.0) : beta(beta_) {
    detail::require(detail::is_finite(beta), name, "beta", beta, "is not finite");
  }
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    const Evaluation<T> s = Sigmoid{}.evaluate(T(beta * x));
    // Where the sigmoid has saturated its slope is 0, and so is the second term, also where
    // beta * x overflows (0 * inf would be NaN).
    const T slope =
        primal_value(s.slopes.left) == 0.0 ? s.value : T(s.value + beta * x * s.slopes.left);
    return {x * s.value, {slope, slope}};
  }
};

/// x sigmoid(x): swish with beta = 1.
struct Silu : Swish {
  static constexpr std::string_view name = "silu";
  constexpr Silu() : Swish(1.0) {}
};

/// x tanh(softplus(x)); d/dx = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2).
struct Mish {
  static constexpr std::string_view name = "mish";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::log1p;
    using std::tanh;
    const T softplus = (x > 0.0 ? x : detail::passive<T>(0.0)) + log1p(exp(x > 0.0 ? T(-x) : x));
    const T t = tanh(softplus);
    const T slope = t + x * Sigmoid{}.evaluate(x).value * ((1.0 - t) * (1.0 + t));
    return {x * t, {slope, slope}};
  }
};

/// (1/beta) log(1 + e^(beta x)), but x itself where beta x > threshold (PyTorch's switch);
/// d/dx = sigmoid(beta x), exactly 1 past the switch. The switch is a jump of about 2e-9.
struct Softplus {
  static constexpr std::string_view name = "softplus";
  double beta;
  double threshold;
  constexpr Softplus(double beta_ = 1.0, double threshold_ = 20.0)
      : beta(beta_), threshold(threshold_) {
    detail::require(detail::is_finite(beta) && beta > 0.0, name, "beta", beta,
                    "must be positive and finite");
    detail::require(threshold == threshold, name, "threshold", threshold, "is NaN");
  }
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::log1p;
    const T z = beta * x;
    if (z > threshold) return detail::line(x, 1.0);
    const T value =
        ((z > 0.0 ? z : detail::passive<T>(0.0)) + log1p(exp(z > 0.0 ? T(-z) : z))) / beta;
    const T slope = Sigmoid{}.evaluate(z).value;
    // at the switch: left sigmoid(threshold), right 1; min_norm sigmoid(threshold) (= PyTorch)
    if (z == threshold) return {value, {slope, detail::passive<T>(1.0)}};
    return {value, {slope, slope}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {threshold / beta}, Smoothness::discontinuous);
  }
};

/// (x + sqrt(x^2 + b)) / 2; d/dx = (1 + x / sqrt(x^2 + b)) / 2. b = 0 is relu (kink at 0).
struct Squareplus {
  static constexpr std::string_view name = "squareplus";
  double b;
  constexpr Squareplus(double b_ = 4.0) : b(b_) {
    detail::require(detail::is_finite(b) && b >= 0.0, name, "b", b, "must be finite and >= 0");
  }
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::sqrt;
    const T root = sqrt(x * x + b);
    if (b == 0.0 && x == 0.0)
      return detail::corner(detail::passive<T>(0.0), 0.0, 1.0);  // b = 0 at 0: as relu
    const T slope = 0.5 * (1.0 + x / root);
    return {0.5 * (x + root), {slope, slope}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return b == 0.0 ? detail::points_in(low, high, {0.0}) : std::vector<KinkPoint>{};
  }
};

/// SmeLU (Shamir et al. 2020): 0 below -beta, (x + beta)^2 / (4 beta) on [-beta, beta], x above.
/// C1; the second derivative jumps at +-beta.
struct Smelu {
  static constexpr std::string_view name = "smelu";
  double beta;
  constexpr Smelu(double beta_ = 1.0) : beta(beta_) {
    detail::require(detail::is_finite(beta) && beta > 0.0, name, "beta", beta,
                    "must be positive and finite");
  }
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x <= -beta) return detail::line(detail::passive<T>(0.0), 0.0);
    if (x >= beta) return detail::line(x, 1.0);
    if (x > -beta && x < beta) {
      const T slope = (x + beta) / (2.0 * beta);
      return {(x + beta) * (x + beta) / (4.0 * beta), {slope, slope}};
    }
    return detail::not_a_number(x);
  }
};

/// CryptoDL's polynomial relu (Hesamifard et al. 2017): c2 x^2 + x/2, the integral of a
/// degree-1 Chebyshev fit of the step on [-bound, bound].
struct ReluPoly {
  static constexpr std::string_view name = "relu_poly";
  double bound;
  // No default: the fit interval is the user's choice (CryptoDL lists 10, 20, 50 and 100).
  constexpr explicit ReluPoly(double bound_) : bound(bound_) {
    detail::require(detail::is_finite(bound) && bound > 0.0, name, "bound", bound,
                    "must be positive and finite");
  }
  /// The x^2 coefficient: the values listed in the authors' repository (inspire-lab/CryptoDL,
  /// python/kalypso/public_functions.py) for bounds 10, 20, 50 and 100; for other bounds the
  /// bound-100 value scaled by 100 / bound (c2 is close to 0.2631 / bound for all four).
  constexpr double coefficient() const {
    if (bound == 10.0) return 0.0263068516521283;
    if (bound == 20.0) return 0.0131555717886246;
    if (bound == 50.0) return 0.005262228802542;
    if (bound == 100.0) return 0.002631114401271;
    return 0.2631114401271 / bound;
  }
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    const double c2 = coefficient();
    const T slope = 2.0 * c2 * x + 0.5;
    return {c2 * x * x + 0.5 * x, {slope, slope}};
  }
};

}  // namespace rules

/// x for x > 0, alpha (e^x - 1) below (alpha >= 0, default 1).
SUBGRAD_PRIMITIVE_FUNCTION(elu, rules::Elu)
/// lambda * elu(x, alpha) with the SELU constants.
SUBGRAD_PRIMITIVE_FUNCTION(selu, rules::Selu)
/// max(0, x) + min(0, alpha (e^(x/alpha) - 1)); alpha != 0 (default 1).
SUBGRAD_PRIMITIVE_FUNCTION(celu, rules::Celu)
/// x Phi(x) (the exact, erf form).
SUBGRAD_PRIMITIVE_FUNCTION(gelu, rules::Gelu)
/// The tanh approximation of gelu.
SUBGRAD_PRIMITIVE_FUNCTION(gelu_tanh, rules::GeluTanh)
/// x sigmoid(x).
SUBGRAD_PRIMITIVE_FUNCTION(silu, rules::Silu)
/// x sigmoid(beta x) (beta defaults to 1).
SUBGRAD_PRIMITIVE_FUNCTION(swish, rules::Swish)
/// x tanh(softplus(x)).
SUBGRAD_PRIMITIVE_FUNCTION(mish, rules::Mish)
/// (1/beta) log(1 + e^(beta x)), switching to x where beta x > threshold (PyTorch's defaults 1,
/// 20).
SUBGRAD_PRIMITIVE_FUNCTION(softplus, rules::Softplus)
/// (x + sqrt(x^2 + b)) / 2, b >= 0 (default 4).
SUBGRAD_PRIMITIVE_FUNCTION(squareplus, rules::Squareplus)
/// SmeLU with half-width beta > 0 (default 1).
SUBGRAD_PRIMITIVE_FUNCTION(smelu, rules::Smelu)
/// CryptoDL's degree-2 polynomial relu fitted on [-bound, bound], bound > 0.
SUBGRAD_PRIMITIVE_FUNCTION(relu_poly, rules::ReluPoly)

}  // namespace subgrad
