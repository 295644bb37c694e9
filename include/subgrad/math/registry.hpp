#pragma once
/// \file
/// The registry: every built-in primitive once, with the rule (default parameters), its formula
/// and a range to test and plot over. Tests, the documentation tables and the gallery iterate
/// over it; adding a primitive is one rule and one entry here.

#include <functional>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "subgrad/math/elementary.hpp"
#include "subgrad/math/relu.hpp"
#include "subgrad/math/smooth_activations.hpp"

namespace subgrad {

/// What a family a primitive belongs to, for the documentation.
enum class Family { relu, elementary };

/// A unary primitive: its call name, its rule (parameters set), a formula, the defaults in words,
/// and the interval it is tested and plotted on.
template <class Rule>
struct UnaryPrimitive {
  std::string_view name;
  Rule rule;
  std::string_view formula;
  std::string_view defaults;
  double low;
  double high;
  Family family;
};

/// A binary primitive: its call name, rule and formula.
template <class Rule>
struct BinaryPrimitive {
  std::string_view name;
  Rule rule;
  std::string_view formula;
};

// clang-format off
/// Every unary primitive. Parameterised ones appear with their defaults, and again where a
/// parameter changes the kink structure (elu with alpha = 2, hardtanh on [-2, 3], ...).
inline const auto unary_primitives = std::make_tuple(
    UnaryPrimitive<rules::Relu>{"relu", {}, "max(x, 0)", "", -3, 3, Family::relu},
    UnaryPrimitive<rules::LeakyRelu>{"leaky_relu", {0.01}, "x (x >= 0), s x (x < 0)", "negative_slope s = 0.01", -3, 3, Family::relu},
    UnaryPrimitive<rules::LeakyRelu>{"leaky_relu(0.2)", {0.2}, "x (x >= 0), 0.2 x (x < 0)", "negative_slope = 0.2", -3, 3, Family::relu},
    UnaryPrimitive<rules::LeakyRelu>{"rrelu", {(1.0 / 8.0 + 1.0 / 3.0) / 2.0}, "leaky_relu with slope (lower + upper)/2 (evaluation form)", "lower = 1/8, upper = 1/3", -3, 3, Family::relu},
    UnaryPrimitive<rules::Elu>{"elu", {1.0}, "x (x > 0), alpha (e^x - 1) (x <= 0)", "alpha = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::Elu>{"elu(2)", {2.0}, "x (x > 0), 2 (e^x - 1) (x <= 0)", "alpha = 2", -3, 3, Family::relu},
    UnaryPrimitive<rules::Elu>{"elu(0.5)", {0.5}, "x (x > 0), 0.5 (e^x - 1) (x <= 0)", "alpha = 0.5", -3, 3, Family::relu},
    UnaryPrimitive<rules::Selu>{"selu", {}, "lambda elu(x, alpha), lambda = 1.0507..., alpha = 1.6733...", "", -3, 3, Family::relu},
    UnaryPrimitive<rules::Celu>{"celu", {1.0}, "max(0, x) + min(0, alpha (e^(x/alpha) - 1))", "alpha = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::Gelu>{"gelu", {}, "x Phi(x)", "", -4, 4, Family::relu},
    UnaryPrimitive<rules::GeluTanh>{"gelu_tanh", {}, "x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))", "", -4, 4, Family::relu},
    UnaryPrimitive<rules::Swish>{"silu", {1.0}, "x sigmoid(x)", "", -5, 5, Family::relu},
    UnaryPrimitive<rules::Swish>{"swish(2)", {2.0}, "x sigmoid(2 x)", "beta = 2", -5, 5, Family::relu},
    UnaryPrimitive<rules::Mish>{"mish", {}, "x tanh(softplus(x))", "", -5, 5, Family::relu},
    UnaryPrimitive<rules::Softplus>{"softplus", {1.0, 20.0}, "log(1 + e^(beta x))/beta; x where beta x > threshold", "beta = 1, threshold = 20", -5, 5, Family::relu},
    UnaryPrimitive<rules::Softplus>{"softplus(2, 4)", {2.0, 4.0}, "log(1 + e^(2x))/2; x where 2x > 4", "beta = 2, threshold = 4", -3, 3, Family::relu},
    UnaryPrimitive<rules::Relu6>{"relu6", {}, "min(max(x, 0), 6)", "", -2, 8, Family::relu},
    UnaryPrimitive<rules::Hardtanh>{"hardtanh", {-1.0, 1.0}, "clip(x, min, max)", "min = -1, max = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::Hardtanh>{"hardtanh(-2, 3)", {-2.0, 3.0}, "clip(x, -2, 3)", "min = -2, max = 3", -4, 5, Family::relu},
    UnaryPrimitive<rules::Hardsigmoid>{"hardsigmoid", {}, "relu6(x + 3)/6", "", -5, 5, Family::relu},
    UnaryPrimitive<rules::Hardswish>{"hardswish", {}, "x relu6(x + 3)/6", "", -5, 5, Family::relu},
    UnaryPrimitive<rules::Threshold>{"threshold(1, -0.5)", {1.0, -0.5}, "x (x > th), value (x <= th)", "th = 1, value = -0.5 (no default)", -3, 3, Family::relu},
    UnaryPrimitive<rules::Threshold>{"threshold(0.5, 0.5)", {0.5, 0.5}, "x (x > 0.5), 0.5 (x <= 0.5): continuous", "th = value = 0.5", -3, 3, Family::relu},
    UnaryPrimitive<rules::Threshold>{"thresholded_relu", {1.0, 0.0}, "x (x > theta), 0 (x <= theta)", "theta = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::GeneralizedRelu>{"relu(ReluOptions{0.1, 6, 0})", {{0.1, 6.0, 0.0}}, "Keras relu: 0.1 x (x < 0), min(x, 6) (x >= 0)", "negative_slope = 0.1, max_value = 6, threshold = 0", -3, 8, Family::relu},
    UnaryPrimitive<rules::GeneralizedRelu>{"relu(ReluOptions{0.2, none, 1})", {{0.2, std::nullopt, 1.0}}, "Keras relu: 0.2 (x - 1) (x < 1), 0 at 1, x (x > 1)", "negative_slope = 0.2, threshold = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::GeneralizedRelu>{"relu(ReluOptions{0, 4, -1})", {{0.0, 4.0, -1.0}}, "Keras relu: 0 (x < -1), clip(x, 0, 4) (x > -1)", "max_value = 4, threshold = -1", -3, 6, Family::relu},
    UnaryPrimitive<rules::Squareplus>{"squareplus", {4.0}, "(x + sqrt(x^2 + b))/2", "b = 4", -5, 5, Family::relu},
    UnaryPrimitive<rules::Squareplus>{"squareplus(0)", {0.0}, "(x + |x|)/2 = relu", "b = 0", -3, 3, Family::relu},
    UnaryPrimitive<rules::Smelu>{"smelu", {1.0}, "0 (x <= -beta), (x + beta)^2/(4 beta), x (x >= beta)", "beta = 1", -3, 3, Family::relu},
    UnaryPrimitive<rules::ReluPoly>{"relu_poly(10)", {10.0}, "c2 x^2 + x/2, c2 = 0.0263 (bound 10)", "bound = 10 (no default)", -10, 10, Family::relu},
    UnaryPrimitive<rules::Abs>{"abs", {}, "|x|", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Clamp>{"clamp(x, -1, 2)", {-1.0, 2.0}, "min(max(x, lo), hi)", "lo = -1, hi = 2", -3, 4, Family::elementary},
    UnaryPrimitive<rules::Floor>{"floor", {}, "floor(x)", "", -2.5, 2.5, Family::elementary},
    UnaryPrimitive<rules::Ceil>{"ceil", {}, "ceil(x)", "", -2.5, 2.5, Family::elementary},
    UnaryPrimitive<rules::Round>{"round", {}, "round(x), halves away from 0", "", -2.5, 2.5, Family::elementary},
    UnaryPrimitive<rules::Exp>{"exp", {}, "e^x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Exp2>{"exp2", {}, "2^x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Expm1>{"expm1", {}, "e^x - 1", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Log>{"log", {}, "ln x", "", 0.1, 5, Family::elementary},
    UnaryPrimitive<rules::Log2>{"log2", {}, "log2 x", "", 0.1, 5, Family::elementary},
    UnaryPrimitive<rules::Log10>{"log10", {}, "log10 x", "", 0.1, 5, Family::elementary},
    UnaryPrimitive<rules::Log1p>{"log1p", {}, "ln(1 + x)", "", -0.9, 5, Family::elementary},
    UnaryPrimitive<rules::Sqrt>{"sqrt", {}, "sqrt(x)", "", 0.1, 5, Family::elementary},
    UnaryPrimitive<rules::Cbrt>{"cbrt", {}, "x^(1/3)", "", 0.1, 5, Family::elementary},
    UnaryPrimitive<rules::Square>{"square", {}, "x^2", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Power>{"pow(x, 2.5)", {2.5}, "x^2.5", "exponent 2.5", 0.1, 3, Family::elementary},
    UnaryPrimitive<rules::Exponential>{"pow(1.5, x)", {1.5}, "1.5^x", "base 1.5", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Sin>{"sin", {}, "sin x", "", -4, 4, Family::elementary},
    UnaryPrimitive<rules::Cos>{"cos", {}, "cos x", "", -4, 4, Family::elementary},
    UnaryPrimitive<rules::Tan>{"tan", {}, "tan x", "", -1.4, 1.4, Family::elementary},
    UnaryPrimitive<rules::Asin>{"asin", {}, "asin x", "", -0.95, 0.95, Family::elementary},
    UnaryPrimitive<rules::Acos>{"acos", {}, "acos x", "", -0.95, 0.95, Family::elementary},
    UnaryPrimitive<rules::Atan>{"atan", {}, "atan x", "", -4, 4, Family::elementary},
    UnaryPrimitive<rules::Sinh>{"sinh", {}, "sinh x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Cosh>{"cosh", {}, "cosh x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Tanh>{"tanh", {}, "tanh x", "", -4, 4, Family::elementary},
    UnaryPrimitive<rules::Asinh>{"asinh", {}, "asinh x", "", -4, 4, Family::elementary},
    UnaryPrimitive<rules::Acosh>{"acosh", {}, "acosh x", "", 1.1, 5, Family::elementary},
    UnaryPrimitive<rules::Atanh>{"atanh", {}, "atanh x", "", -0.95, 0.95, Family::elementary},
    UnaryPrimitive<rules::Erf>{"erf", {}, "erf x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Erfc>{"erfc", {}, "erfc x", "", -3, 3, Family::elementary},
    UnaryPrimitive<rules::Sigmoid>{"sigmoid", {}, "1/(1 + e^-x)", "", -6, 6, Family::elementary});

/// Every binary primitive (maxout of two pieces is max).
inline const auto binary_primitives = std::make_tuple(
    BinaryPrimitive<rules::Max>{"max", {}, "max(x, y)"},
    BinaryPrimitive<rules::Min>{"min", {}, "min(x, y)"},
    BinaryPrimitive<rules::Fmax>{"fmax", {}, "fmax(x, y), NaN ignored"},
    BinaryPrimitive<rules::Fmin>{"fmin", {}, "fmin(x, y), NaN ignored"},
    BinaryPrimitive<rules::Prelu>{"prelu", {}, "x (x > 0), a x (x <= 0); second argument a"},
    BinaryPrimitive<rules::Pow>{"pow", {}, "x^y"},
    BinaryPrimitive<rules::Atan2>{"atan2", {}, "atan2(y, x)"},
    BinaryPrimitive<rules::Hypot>{"hypot", {}, "sqrt(x^2 + y^2)"});
// clang-format on

/// A registered unary primitive chosen at run time (by name): the same rule, behind a function.
/// Usable as a rule itself: Primitive<DynamicUnaryRule>{*find_unary_primitive("gelu")}(x).
struct DynamicUnaryRule {
  std::string_view name;
  std::function<Evaluation<double>(double)> evaluation;
  std::function<std::vector<KinkPoint>(double, double)> kink_points;
  Evaluation<double> evaluate(double x) const { return evaluation(x); }
  std::vector<KinkPoint> kinks(double low, double high) const { return kink_points(low, high); }
};

/// Calls f(entry) for every unary primitive of the registry.
template <class F>
void for_each_unary_primitive(F&& f) {
  std::apply([&f](const auto&... entries) { (f(entries), ...); }, unary_primitives);
}
/// Calls f(entry) for every binary primitive of the registry.
template <class F>
void for_each_binary_primitive(F&& f) {
  std::apply([&f](const auto&... entries) { (f(entries), ...); }, binary_primitives);
}

/// The registered unary primitive called `name`, or nothing.
inline std::optional<DynamicUnaryRule> find_unary_primitive(std::string_view name) {
  std::optional<DynamicUnaryRule> found;
  for_each_unary_primitive([&](const auto& entry) {
    if (entry.name != name || found) return;
    const auto rule = entry.rule;
    found =
        DynamicUnaryRule{entry.name, [rule](double x) { return subgrad::evaluate(rule, x); },
                         [rule](double low, double high) { return rule_kinks(rule, low, high); }};
  });
  return found;
}

/// The names of all registered unary primitives, in registry order.
inline std::vector<std::string_view> unary_primitive_names() {
  std::vector<std::string_view> names;
  for_each_unary_primitive([&](const auto& entry) { names.push_back(entry.name); });
  return names;
}

}  // namespace subgrad
