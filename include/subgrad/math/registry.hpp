#pragma once
/// \file
/// The registry: every built-in primitive once, one line each, with its rule and parameters, its
/// public function, a formula, a range to test and plot over, and its PyTorch counterpart. Tests,
/// the documentation tables, the gallery and the PyTorch reference script iterate over it; adding
/// a primitive is one rule and one line here (docs/contributing.md).

#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "subgrad/math/elementary.hpp"
#include "subgrad/math/find_primitive.hpp"
#include "subgrad/math/relu.hpp"
#include "subgrad/math/smooth_activations.hpp"

namespace subgrad {

/// What a family a primitive belongs to, for the documentation.
enum class Family { relu, elementary };

/// The PyTorch expression (in x, or x and y) that computes the same function, for
/// tests/math/make_torch_reference.py; or why there is none. A *composite* expression is built
/// from other operations, so its derivative at a kink is no framework's convention: the tests
/// compare it away from the declared kinks only.
struct TorchCounterpart {
  std::string_view expression;
  bool composite = false;
  std::string_view why_none = {};
};
/// A PyTorch function that is this primitive.
constexpr TorchCounterpart torch(std::string_view expression) { return {expression, false}; }
/// A PyTorch composition that computes the same function.
constexpr TorchCounterpart torch_composite(std::string_view expression) {
  return {expression, true};
}
/// No PyTorch counterpart, and why.
constexpr TorchCounterpart no_torch(std::string_view why) { return {{}, false, why}; }

/// Calls a public function by name: the registry's link from an entry to what users call.
#define SUBGRAD_CALL(function)                                       \
  [](const auto&... arguments) -> decltype(function(arguments...)) { \
    return function(arguments...);                                   \
  }

/// A unary primitive: its name in reports, its rule (built from `parameters`), the public
/// function (called as function(x, parameters..., [KinkRule])), a formula, the defaults in
/// words, the interval it is tested and plotted on, and its PyTorch counterpart.
template <class Rule, class Function, class... Parameters>
struct UnaryPrimitive {
  std::string_view name;
  Rule rule;
  Function function;
  std::tuple<Parameters...> parameters;
  std::string_view formula;
  std::string_view defaults;
  double low;
  double high;
  Family family;
  TorchCounterpart torch;

  /// The public function at x with this entry's parameters, then `extra` (a KinkRule).
  template <class T, class... Extra>
  auto call(const T& x, const Extra&... extra) const {
    return std::apply([&](const auto&... p) { return function(x, p..., extra...); }, parameters);
  }
};

/// A binary primitive: its name, rule, public function, formula and PyTorch counterpart.
template <class Rule, class Function>
struct BinaryPrimitive {
  std::string_view name;
  Rule rule;
  Function function;
  std::string_view formula;
  TorchCounterpart torch;
};

/// The parameters of a registry entry, in the order the public function takes them.
template <class... Parameters>
constexpr std::tuple<Parameters...> with(const Parameters&... parameters) {
  return {parameters...};
}
/// A registry line for a unary primitive.
template <class Rule, class Function, class... Parameters>
UnaryPrimitive<Rule, Function, Parameters...> unary(std::string_view name, Function function,
                                                    std::tuple<Parameters...> parameters,
                                                    std::string_view formula,
                                                    std::string_view defaults, double low,
                                                    double high, Family family,
                                                    TorchCounterpart torch_counterpart) {
  return {name,     std::make_from_tuple<Rule>(parameters),
          function, parameters,
          formula,  defaults,
          low,      high,
          family,   torch_counterpart};
}
/// A registry line for a binary primitive.
template <class Rule, class Function>
BinaryPrimitive<Rule, Function> binary(std::string_view name, Function function,
                                       std::string_view formula,
                                       TorchCounterpart torch_counterpart) {
  return {name, Rule{}, function, formula, torch_counterpart};
}

// clang-format off
/// Every unary primitive, one line each. Parameterised ones appear with their defaults, and
/// again where a parameter changes the kink structure (elu with alpha = 2, hardtanh on [-2, 3]).
inline const auto unary_primitives = std::make_tuple(
    unary<rules::Relu>("relu", SUBGRAD_CALL(relu), with(), "max(x, 0)", "", -3, 3, Family::relu, torch("F.relu(x)")),
    unary<rules::LeakyRelu>("leaky_relu", SUBGRAD_CALL(leaky_relu), with(0.01), "x (x >= 0), s x (x < 0)", "negative_slope s = 0.01", -3, 3, Family::relu, torch("F.leaky_relu(x, 0.01)")),
    unary<rules::LeakyRelu>("leaky_relu(0.2)", SUBGRAD_CALL(leaky_relu), with(0.2), "x (x >= 0), 0.2 x (x < 0)", "negative_slope = 0.2", -3, 3, Family::relu, torch("F.leaky_relu(x, 0.2)")),
    unary<rules::Rrelu>("rrelu", SUBGRAD_CALL(rrelu), with(), "leaky_relu with slope (lower + upper)/2 (evaluation form)", "lower = 1/8, upper = 1/3", -3, 3, Family::relu, torch("F.rrelu(x, 1.0 / 8.0, 1.0 / 3.0, training=False)")),
    unary<rules::Elu>("elu", SUBGRAD_CALL(elu), with(1.0), "x (x > 0), alpha (e^x - 1) (x <= 0)", "alpha = 1", -3, 3, Family::relu, torch("F.elu(x, 1.0)")),
    unary<rules::Elu>("elu(2)", SUBGRAD_CALL(elu), with(2.0), "x (x > 0), 2 (e^x - 1) (x <= 0)", "alpha = 2", -3, 3, Family::relu, torch("F.elu(x, 2.0)")),
    unary<rules::Elu>("elu(0.5)", SUBGRAD_CALL(elu), with(0.5), "x (x > 0), 0.5 (e^x - 1) (x <= 0)", "alpha = 0.5", -3, 3, Family::relu, torch("F.elu(x, 0.5)")),
    unary<rules::Selu>("selu", SUBGRAD_CALL(selu), with(), "lambda elu(x, alpha), lambda = 1.0507..., alpha = 1.6733...", "", -3, 3, Family::relu, torch("F.selu(x)")),
    unary<rules::Celu>("celu", SUBGRAD_CALL(celu), with(1.0), "max(0, x) + min(0, alpha (e^(x/alpha) - 1))", "alpha = 1", -3, 3, Family::relu, torch("F.celu(x, 1.0)")),
    unary<rules::Gelu>("gelu", SUBGRAD_CALL(gelu), with(), "x Phi(x)", "", -4, 4, Family::relu, torch("F.gelu(x)")),
    unary<rules::GeluTanh>("gelu_tanh", SUBGRAD_CALL(gelu_tanh), with(), "x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))", "", -4, 4, Family::relu, torch("F.gelu(x, approximate='tanh')")),
    unary<rules::Silu>("silu", SUBGRAD_CALL(silu), with(), "x sigmoid(x)", "", -5, 5, Family::relu, torch("F.silu(x)")),
    unary<rules::Swish>("swish(2)", SUBGRAD_CALL(swish), with(2.0), "x sigmoid(2 x)", "beta = 2", -5, 5, Family::relu, torch_composite("x * torch.sigmoid(2.0 * x)")),
    unary<rules::Mish>("mish", SUBGRAD_CALL(mish), with(), "x tanh(softplus(x))", "", -5, 5, Family::relu, torch("F.mish(x)")),
    unary<rules::Softplus>("softplus", SUBGRAD_CALL(softplus), with(1.0, 20.0), "log(1 + e^(beta x))/beta; x where beta x > threshold", "beta = 1, threshold = 20", -5, 5, Family::relu, torch("F.softplus(x, 1.0, 20.0)")),
    unary<rules::Softplus>("softplus(2, 4)", SUBGRAD_CALL(softplus), with(2.0, 4.0), "log(1 + e^(2x))/2; x where 2x > 4", "beta = 2, threshold = 4", -3, 3, Family::relu, torch("F.softplus(x, 2.0, 4.0)")),
    unary<rules::Relu6>("relu6", SUBGRAD_CALL(relu6), with(), "min(max(x, 0), 6)", "", -2, 8, Family::relu, torch("F.relu6(x)")),
    unary<rules::Hardtanh>("hardtanh", SUBGRAD_CALL(hardtanh), with(-1.0, 1.0), "clip(x, min, max)", "min = -1, max = 1", -3, 3, Family::relu, torch("F.hardtanh(x, -1.0, 1.0)")),
    unary<rules::Hardtanh>("hardtanh(-2, 3)", SUBGRAD_CALL(hardtanh), with(-2.0, 3.0), "clip(x, -2, 3)", "min = -2, max = 3", -4, 5, Family::relu, torch("F.hardtanh(x, -2.0, 3.0)")),
    unary<rules::Hardsigmoid>("hardsigmoid", SUBGRAD_CALL(hardsigmoid), with(), "relu6(x + 3)/6", "", -5, 5, Family::relu, torch("F.hardsigmoid(x)")),
    unary<rules::Hardswish>("hardswish", SUBGRAD_CALL(hardswish), with(), "x relu6(x + 3)/6", "", -5, 5, Family::relu, torch("F.hardswish(x)")),
    unary<rules::Threshold>("threshold(1, -0.5)", SUBGRAD_CALL(threshold), with(1.0, -0.5), "x (x > th), value (x <= th)", "th = 1, value = -0.5 (no default)", -3, 3, Family::relu, torch("F.threshold(x, 1.0, -0.5)")),
    unary<rules::Threshold>("threshold(0.5, 0.5)", SUBGRAD_CALL(threshold), with(0.5, 0.5), "x (x > 0.5), 0.5 (x <= 0.5): continuous", "th = value = 0.5", -3, 3, Family::relu, torch("F.threshold(x, 0.5, 0.5)")),
    unary<rules::ThresholdedRelu>("thresholded_relu", SUBGRAD_CALL(thresholded_relu), with(1.0), "x (x > theta), 0 (x <= theta)", "theta = 1", -3, 3, Family::relu, torch("F.threshold(x, 1.0, 0.0)")),
    unary<rules::HardShrink>("hard_shrink", SUBGRAD_CALL(hard_shrink), with(0.5), "x (|x| > lambda), 0 (|x| <= lambda)", "lambda = 0.5", -2, 2, Family::relu, torch("F.hardshrink(x, 0.5)")),
    unary<rules::SoftShrink>("soft_shrink", SUBGRAD_CALL(soft_shrink), with(0.5), "x - lambda (x > lambda), x + lambda (x < -lambda), 0 between", "lambda = 0.5", -2, 2, Family::relu, torch("F.softshrink(x, 0.5)")),
    unary<rules::GeneralizedRelu>("relu(ReluOptions{0.1, 6, 0})", SUBGRAD_CALL(relu), with(ReluOptions{0.1, 6.0, 0.0}), "Keras relu: 0.1 x (x < 0), min(x, 6) (x >= 0)", "negative_slope = 0.1, max_value = 6, threshold = 0", -3, 8, Family::relu, torch_composite("torch.where(x < 0, 0.1 * x, torch.clamp(x, max=6.0))")),
    unary<rules::GeneralizedRelu>("relu(ReluOptions{0.2, none, 1})", SUBGRAD_CALL(relu), with(ReluOptions{0.2, std::nullopt, 1.0}), "Keras relu: 0.2 (x - 1) (x < 1), 0 at 1, x (x > 1)", "negative_slope = 0.2, threshold = 1", -3, 3, Family::relu, torch_composite("torch.where(x > 1, x, torch.where(x < 1, 0.2 * (x - 1), 0 * x))")),
    unary<rules::GeneralizedRelu>("relu(ReluOptions{0, 4, -1})", SUBGRAD_CALL(relu), with(ReluOptions{0.0, 4.0, -1.0}), "Keras relu: 0 (x < -1), clip(x, 0, 4) (x > -1)", "max_value = 4, threshold = -1", -3, 6, Family::relu, torch_composite("torch.where(x > -1, torch.clamp(x, 0.0, 4.0), 0 * x)")),
    unary<rules::Squareplus>("squareplus", SUBGRAD_CALL(squareplus), with(4.0), "(x + sqrt(x^2 + b))/2", "b = 4", -5, 5, Family::relu, torch_composite("(x + torch.sqrt(x * x + 4.0)) / 2")),
    unary<rules::Squareplus>("squareplus(0)", SUBGRAD_CALL(squareplus), with(0.0), "(x + |x|)/2 = relu", "b = 0", -3, 3, Family::relu, torch_composite("(x + torch.sqrt(x * x)) / 2")),
    unary<rules::Smelu>("smelu", SUBGRAD_CALL(smelu), with(1.0), "0 (x <= -beta), (x + beta)^2/(4 beta), x (x >= beta)", "beta = 1", -3, 3, Family::relu, torch_composite("torch.where(x <= -1, 0 * x, torch.where(x >= 1, x, (x + 1) ** 2 / 4))")),
    unary<rules::ReluPoly>("relu_poly(10)", SUBGRAD_CALL(relu_poly), with(10.0), "c2 x^2 + x/2, c2 = 0.0263 (bound 10)", "bound = 10 (no default)", -10, 10, Family::relu, torch_composite("0.0263068516521283 * x ** 2 + 0.5 * x")),
    unary<rules::Abs>("abs", SUBGRAD_CALL(abs), with(), "|x|", "", -3, 3, Family::elementary, torch("torch.abs(x)")),
    unary<rules::Clamp>("clamp(x, -1, 2)", SUBGRAD_CALL(clamp), with(-1.0, 2.0), "min(max(x, lo), hi)", "lo = -1, hi = 2", -3, 4, Family::elementary, torch("torch.clamp(x, -1.0, 2.0)")),
    unary<rules::Floor>("floor", SUBGRAD_CALL(floor), with(), "floor(x)", "", -2.5, 2.5, Family::elementary, torch("torch.floor(x)")),
    unary<rules::Ceil>("ceil", SUBGRAD_CALL(ceil), with(), "ceil(x)", "", -2.5, 2.5, Family::elementary, torch("torch.ceil(x)")),
    unary<rules::Round>("round", SUBGRAD_CALL(round), with(), "round(x), halves away from 0", "", -2.5, 2.5, Family::elementary, torch_composite("torch.sign(x) * torch.floor(torch.abs(x) + 0.5)")),
    unary<rules::Exp>("exp", SUBGRAD_CALL(exp), with(), "e^x", "", -3, 3, Family::elementary, torch("torch.exp(x)")),
    unary<rules::Exp2>("exp2", SUBGRAD_CALL(exp2), with(), "2^x", "", -3, 3, Family::elementary, torch("torch.exp2(x)")),
    unary<rules::Expm1>("expm1", SUBGRAD_CALL(expm1), with(), "e^x - 1", "", -3, 3, Family::elementary, torch("torch.expm1(x)")),
    unary<rules::Log>("log", SUBGRAD_CALL(log), with(), "ln x", "", 0.1, 5, Family::elementary, torch("torch.log(x)")),
    unary<rules::Log2>("log2", SUBGRAD_CALL(log2), with(), "log2 x", "", 0.1, 5, Family::elementary, torch("torch.log2(x)")),
    unary<rules::Log10>("log10", SUBGRAD_CALL(log10), with(), "log10 x", "", 0.1, 5, Family::elementary, torch("torch.log10(x)")),
    unary<rules::Log1p>("log1p", SUBGRAD_CALL(log1p), with(), "ln(1 + x)", "", -0.9, 5, Family::elementary, torch("torch.log1p(x)")),
    unary<rules::Sqrt>("sqrt", SUBGRAD_CALL(sqrt), with(), "sqrt(x)", "", 0.1, 5, Family::elementary, torch("torch.sqrt(x)")),
    unary<rules::Cbrt>("cbrt", SUBGRAD_CALL(cbrt), with(), "x^(1/3)", "", 0.1, 5, Family::elementary, torch_composite("x ** (1.0 / 3.0)")),
    unary<rules::Square>("square", SUBGRAD_CALL(square), with(), "x^2", "", -3, 3, Family::elementary, torch("torch.square(x)")),
    unary<rules::Power>("pow(x, 2.5)", SUBGRAD_CALL(pow), with(2.5), "x^2.5", "exponent 2.5", 0.1, 3, Family::elementary, torch("torch.pow(x, 2.5)")),
    unary<rules::Exponential>("pow(1.5, x)", [](const auto& y, double base, const auto&... rule) { return pow(base, y, rule...); }, with(1.5), "1.5^x", "base 1.5", -3, 3, Family::elementary, torch("torch.pow(1.5, x)")),
    unary<rules::Sin>("sin", SUBGRAD_CALL(sin), with(), "sin x", "", -4, 4, Family::elementary, torch("torch.sin(x)")),
    unary<rules::Cos>("cos", SUBGRAD_CALL(cos), with(), "cos x", "", -4, 4, Family::elementary, torch("torch.cos(x)")),
    unary<rules::Tan>("tan", SUBGRAD_CALL(tan), with(), "tan x", "", -1.4, 1.4, Family::elementary, torch("torch.tan(x)")),
    unary<rules::Asin>("asin", SUBGRAD_CALL(asin), with(), "asin x", "", -0.95, 0.95, Family::elementary, torch("torch.asin(x)")),
    unary<rules::Acos>("acos", SUBGRAD_CALL(acos), with(), "acos x", "", -0.95, 0.95, Family::elementary, torch("torch.acos(x)")),
    unary<rules::Atan>("atan", SUBGRAD_CALL(atan), with(), "atan x", "", -4, 4, Family::elementary, torch("torch.atan(x)")),
    unary<rules::Sinh>("sinh", SUBGRAD_CALL(sinh), with(), "sinh x", "", -3, 3, Family::elementary, torch("torch.sinh(x)")),
    unary<rules::Cosh>("cosh", SUBGRAD_CALL(cosh), with(), "cosh x", "", -3, 3, Family::elementary, torch("torch.cosh(x)")),
    unary<rules::Tanh>("tanh", SUBGRAD_CALL(tanh), with(), "tanh x", "", -4, 4, Family::elementary, torch("torch.tanh(x)")),
    unary<rules::Asinh>("asinh", SUBGRAD_CALL(asinh), with(), "asinh x", "", -4, 4, Family::elementary, torch("torch.asinh(x)")),
    unary<rules::Acosh>("acosh", SUBGRAD_CALL(acosh), with(), "acosh x", "", 1.1, 5, Family::elementary, torch("torch.acosh(x)")),
    unary<rules::Atanh>("atanh", SUBGRAD_CALL(atanh), with(), "atanh x", "", -0.95, 0.95, Family::elementary, torch("torch.atanh(x)")),
    unary<rules::Erf>("erf", SUBGRAD_CALL(erf), with(), "erf x", "", -3, 3, Family::elementary, torch("torch.erf(x)")),
    unary<rules::Erfc>("erfc", SUBGRAD_CALL(erfc), with(), "erfc x", "", -3, 3, Family::elementary, torch("torch.erfc(x)")),
    unary<rules::Sigmoid>("sigmoid", SUBGRAD_CALL(sigmoid), with(), "1/(1 + e^-x)", "", -6, 6, Family::elementary, torch("torch.sigmoid(x)")));

/// Every binary primitive. maxout(x1, ..., xk) is not listed: it is max for two pieces and
/// shares max's tie weights (detail::maxout_weights), tested in tests/math/maxout_test.cpp.
inline const auto binary_primitives = std::make_tuple(
    binary<rules::Max>("max", SUBGRAD_CALL(max), "max(x, y)", torch("torch.maximum(x, y)")),
    binary<rules::Min>("min", SUBGRAD_CALL(min), "min(x, y)", torch("torch.minimum(x, y)")),
    binary<rules::Fmax>("fmax", SUBGRAD_CALL(fmax), "fmax(x, y), NaN ignored", torch("torch.fmax(x, y)")),
    binary<rules::Fmin>("fmin", SUBGRAD_CALL(fmin), "fmin(x, y), NaN ignored", torch("torch.fmin(x, y)")),
    binary<rules::Prelu>("prelu", SUBGRAD_CALL(prelu), "x (x > 0), a x (x <= 0); second argument a", torch("F.prelu(x, y.reshape(1))")),
    binary<rules::Pow>("pow", SUBGRAD_CALL(pow), "x^y", torch("torch.pow(x, y)")),
    binary<rules::Atan2>("atan2", SUBGRAD_CALL(atan2), "atan2(y, x)", torch("torch.atan2(x, y)")),
    binary<rules::Hypot>("hypot", SUBGRAD_CALL(hypot), "sqrt(x^2 + y^2)", torch("torch.hypot(x, y)")));
// clang-format on

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

}  // namespace subgrad
