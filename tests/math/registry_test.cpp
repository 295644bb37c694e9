// Every registered primitive, every kink, every rule: the exact documented derivative, inside
// the Clarke interval; away from kinks: central differences; values and derivatives against
// PyTorch 1.13 (tests/math/torch_reference.csv, made by make_torch_reference.py).
#include "subgrad/math/registry.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"
#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/var.hpp"

using subgrad::KinkRule;
using subgrad::Smoothness;
using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {

// The documented one-sided slopes at every kink and jump (docs/conventions.md), written from
// ../shared/relu_reference.md, independently of the rules.
struct DocumentedKink {
  double at;
  double left;
  double right;
  double min_norm;
  Smoothness kind;
};
const double sigmoid20 = 1.0 / (1.0 + std::exp(-20.0));
const double sigmoid4 = 1.0 / (1.0 + std::exp(-4.0));
const double selu_lambda = 1.0507009873554804934193349852946;
const double selu_lambda_alpha = 1.7580993408473768599402175208123;
constexpr Smoothness K = Smoothness::kink;
constexpr Smoothness J = Smoothness::discontinuous;

const std::map<std::string, std::vector<DocumentedKink>> documented = {
    {"relu", {{0, 0, 1, 0, K}}},
    {"leaky_relu", {{0, 0.01, 1, 0.01, K}}},
    {"leaky_relu(0.2)", {{0, 0.2, 1, 0.2, K}}},
    {"rrelu", {{0, 11.0 / 48.0, 1, 11.0 / 48.0, K}}},
    {"elu(2)", {{0, 2, 1, 1, K}}},
    {"elu(0.5)", {{0, 0.5, 1, 0.5, K}}},
    {"selu", {{0, selu_lambda_alpha, selu_lambda, selu_lambda, K}}},
    {"softplus", {{20, sigmoid20, 1, sigmoid20, J}}},
    {"softplus(2, 4)", {{2, sigmoid4, 1, sigmoid4, J}}},
    {"relu6", {{0, 0, 1, 0, K}, {6, 1, 0, 0, K}}},
    {"hardtanh", {{-1, 0, 1, 0, K}, {1, 1, 0, 0, K}}},
    {"hardtanh(-2, 3)", {{-2, 0, 1, 0, K}, {3, 1, 0, 0, K}}},
    {"hardsigmoid", {{-3, 0, 1.0 / 6.0, 0, K}, {3, 1.0 / 6.0, 0, 0, K}}},
    {"hardswish", {{-3, 0, -0.5, 0, K}, {3, 1.5, 1, 1, K}}},
    {"threshold(1, -0.5)", {{1, 0, 1, 0, J}}},
    {"threshold(0.5, 0.5)", {{0.5, 0, 1, 0, K}}},
    {"thresholded_relu", {{1, 0, 1, 0, J}}},
    {"relu(ReluOptions{0.1, 6, 0})", {{0, 0.1, 1, 0.1, K}, {6, 1, 0, 0, K}}},
    {"relu(ReluOptions{0.2, none, 1})", {{1, 0.2, 1, 0.2, J}}},
    {"relu(ReluOptions{0, 4, -1})",
     {{0, 0, 1, 0, K}, {4, 1, 0, 0, K}}},  // continuous at -1: 0 on both sides
    {"squareplus(0)", {{0, 0, 1, 0, K}}},
    {"abs", {{0, -1, 1, 0, K}}},
    {"clamp(x, -1, 2)", {{-1, 0, 1, 0, K}, {2, 1, 0, 0, K}}},
    {"floor",
     {{-2, 0, 0, 0, J}, {-1, 0, 0, 0, J}, {0, 0, 0, 0, J}, {1, 0, 0, 0, J}, {2, 0, 0, 0, J}}},
    {"ceil",
     {{-2, 0, 0, 0, J}, {-1, 0, 0, 0, J}, {0, 0, 0, 0, J}, {1, 0, 0, 0, J}, {2, 0, 0, 0, J}}},
    {"round",
     {{-2.5, 0, 0, 0, J},
      {-1.5, 0, 0, 0, J},
      {-0.5, 0, 0, 0, J},
      {0.5, 0, 0, 0, J},
      {1.5, 0, 0, 0, J},
      {2.5, 0, 0, 0, J}}},
};

// What each rule must give, written from its definition.
struct RuleCase {
  KinkRule rule;
  double (*expected)(const DocumentedKink&);
};
const std::vector<RuleCase> rule_cases = {
    {kink::min_norm, [](const DocumentedKink& k) { return k.min_norm; }},
    {kink::left, [](const DocumentedKink& k) { return k.left; }},
    {kink::right, [](const DocumentedKink& k) { return k.right; }},
    {kink::midpoint, [](const DocumentedKink& k) { return (k.left + k.right) / 2; }},
    {kink::convex(0.25), [](const DocumentedKink& k) { return 0.75 * k.left + 0.25 * k.right; }},
};

template <class Entry>
double derivative(const Entry& entry, double at, KinkRule rule) {
  Tape tape;
  Var x = at;
  Var y = subgrad::Primitive<decltype(entry.rule)>{entry.rule}(x, rule);
  return subgrad::grad(y, x);
}

}  // namespace

BOOST_AUTO_TEST_CASE(declared_kinks_are_exactly_the_documented_ones) {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    BOOST_TEST_CONTEXT(entry.name) {
      const std::vector<subgrad::KinkPoint> declared =
          subgrad::rule_kinks(entry.rule, entry.low, entry.high);
      const auto found = documented.find(std::string(entry.name));
      std::size_t expected_count = 0;
      if (found != documented.end()) {
        for (const DocumentedKink& k : found->second)
          expected_count += (k.at >= entry.low && k.at <= entry.high);
      }
      BOOST_TEST(declared.size() == expected_count);
      for (const subgrad::KinkPoint& point : declared) {
        bool matched = false;
        if (found != documented.end()) {
          for (const DocumentedKink& k : found->second)
            matched |= (k.at == point.at && k.kind == point.kind);
        }
        BOOST_TEST(matched, "undocumented kink at " << point.at);
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(every_kink_under_every_rule_gives_the_documented_value) {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    const auto found = documented.find(std::string(entry.name));
    if (found == documented.end()) return;
    for (const DocumentedKink& k : found->second) {
      // The rule's own slopes are the documented ones ...
      const subgrad::Slopes slopes = subgrad::rule_slopes(entry.rule, k.at);
      BOOST_TEST_CONTEXT(entry.name << " at " << k.at) {
        BOOST_TEST(slopes.left == k.left, boost::test_tools::tolerance(1e-15));
        BOOST_TEST(slopes.right == k.right, boost::test_tools::tolerance(1e-15));
        for (const RuleCase& rule_case : rule_cases) {
          BOOST_TEST_CONTEXT("rule " << rule_case.rule.name()) {
            const double ad = derivative(entry, k.at, rule_case.rule);
            // ... and reverse mode gives exactly what the rule promises, inside [min, max].
            BOOST_TEST(ad == rule_case.expected(k), boost::test_tools::tolerance(1e-15));
            BOOST_TEST(ad >= std::min(k.left, k.right) - 1e-15);
            BOOST_TEST(ad <= std::max(k.left, k.right) + 1e-15);
          }
        }
        // The thread's rule applies when the call names none.
        subgrad::KinkScope scope{kink::left};
        Tape tape;
        Var x = k.at;
        Var y = subgrad::Primitive<decltype(entry.rule)>{entry.rule}(x);
        BOOST_TEST(subgrad::grad(y, x) == k.left, boost::test_tools::tolerance(1e-15));
      }
    }
  });
}

// Points where a C1 primitive's second derivative jumps: there a central difference has an error
// of order h, so both one-sided second-order differences are used instead.
const std::map<std::string, std::vector<double>> second_derivative_jumps = {
    {"elu", {0.0}}, {"celu", {0.0}}, {"smelu", {-1.0, 1.0}}};

BOOST_AUTO_TEST_CASE(away_from_kinks_derivatives_match_central_differences) {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    const auto kinks = subgrad::rule_kinks(entry.rule, entry.low - 1, entry.high + 1);
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    BOOST_TEST_CONTEXT(entry.name) {
      for (int k = 0; k <= 96; ++k) {
        const double x0 = entry.low + (entry.high - entry.low) * k / 96.0;
        const double h = 1e-6 * std::max(1.0, std::abs(x0));
        bool near_kink = false;
        for (const auto& point : kinks) near_kink |= std::abs(point.at - x0) <= 2 * h;
        if (near_kink) continue;
        Tape tape;
        Var x = x0;
        Var y = f(x);
        BOOST_TEST(y.value() == f(x0));  // the same rule on double and on Var
        const double ad = subgrad::grad(y, x);
        // Central difference: truncation h^2 |f'''|/6 < 1e-11, rounding eps |f| / h < 1e-9.
        std::vector<double> numeric{(f(x0 + h) - f(x0 - h)) / (2 * h)};
        const auto breaks = second_derivative_jumps.find(std::string(entry.name));
        if (breaks != second_derivative_jumps.end() &&
            std::find(breaks->second.begin(), breaks->second.end(), x0) != breaks->second.end()) {
          numeric = {(-3 * f(x0) + 4 * f(x0 + h) - f(x0 + 2 * h)) / (2 * h),
                     (3 * f(x0) - 4 * f(x0 - h) + f(x0 - 2 * h)) / (2 * h)};
        }
        BOOST_TEST_CONTEXT("x = " << x0) {
          for (double estimate : numeric)
            BOOST_TEST(std::abs(ad - estimate) <= 1e-7 * std::max(1.0, std::abs(ad)));
        }
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(values_and_derivatives_against_pytorch) {
  std::ifstream file(SUBGRAD_TORCH_REFERENCE);
  BOOST_REQUIRE_MESSAGE(file, "cannot open " SUBGRAD_TORCH_REFERENCE);
  struct Row {
    double x, value, derivative;
  };
  std::map<std::string, std::vector<Row>> rows;
  std::string line;
  std::getline(file, line);  // header
  while (std::getline(file, line)) {
    // The name may contain commas; the last three fields are numbers.
    std::vector<std::string> fields;
    std::size_t end = line.size();
    for (int k = 0; k < 3; ++k) {
      const std::size_t comma = line.rfind(',', end - 1);
      fields.insert(fields.begin(), line.substr(comma + 1, end - comma - 1));
      end = comma;
    }
    std::string name = line.substr(0, end);
    if (name.size() >= 2 && name.front() == '"') name = name.substr(1, name.size() - 2);
    rows[name].push_back({std::stod(fields[0]), std::stod(fields[1]), std::stod(fields[2])});
  }
  BOOST_REQUIRE(rows.size() >= 25u);

  // Where subgrad's min_norm departs from PyTorch by design (docs/conventions.md).
  const std::map<std::pair<std::string, double>, double> departures = {
      {{"selu", 0.0}, selu_lambda},      // PyTorch: the left slope 1.7581
      {{"elu(2)", 0.0}, 1.0},            // PyTorch: alpha = 2
      {{"hardswish", -3.0}, 0.0},        // PyTorch 1.13: -0.5 (fixed in 2.7)
      {{"hardswish", 3.0}, 1.0},         // PyTorch 1.13: 1.5 (fixed in 2.7)
      {{"clamp(x, -1, 2)", -1.0}, 0.0},  // PyTorch: 1 at the bounds
      {{"clamp(x, -1, 2)", 2.0}, 0.0},
  };
  std::size_t compared = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    const auto found = rows.find(std::string(entry.name));
    if (found == rows.end()) return;
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    for (const Row& row : found->second) {
      BOOST_TEST_CONTEXT(entry.name << " at " << row.x) {
        Tape tape;
        Var x = row.x;
        Var y = f(x);
        // PyTorch computes e^x - 1 and 1 + erf(x) directly (elu, selu, celu, gelu), so its error is
        // absolute, about eps, where subgrad's expm1 and erfc are relatively exact: compare on the
        // scale max(1, |reference|).
        BOOST_TEST(std::abs(y.value() - row.value) <= 1e-14 * std::max(1.0, std::abs(row.value)));
        const double ad = subgrad::grad(y, x);
        const auto departure = departures.find({std::string(entry.name), row.x});
        if (departure != departures.end()) {
          BOOST_TEST(ad == departure->second, boost::test_tools::tolerance(1e-15));
          BOOST_TEST(ad != row.derivative);
        } else if (entry.name == std::string_view("hardsigmoid") && std::abs(row.x) < 3.0) {
          // PyTorch 1.13's hardsigmoid backward multiplies by 1/6 rounded to float
          // (0.1666666716...) even in double; subgrad's slope is 1/6 in double.
          BOOST_TEST(ad == 1.0 / 6.0);
          BOOST_TEST(std::abs(ad - row.derivative) <= 1e-8);
        } else if (std::abs(row.value) < 1e-300 && std::abs(row.derivative) < 1e-300) {
          BOOST_TEST(std::abs(ad) < 1e-300);
        } else {
          BOOST_TEST(std::abs(ad - row.derivative) <=
                     1e-13 * std::max(1.0, std::abs(row.derivative)));
        }
        ++compared;
      }
    }
  });
  BOOST_TEST(compared >= 1500u);
}
