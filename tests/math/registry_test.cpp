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

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/forward/dual.hpp"

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
    {"hard_shrink", {{-0.5, 1, 0, 0, J}, {0.5, 0, 1, 0, J}}},
    {"soft_shrink", {{-0.5, 1, 0, 0, K}, {0.5, 0, 1, 0, K}}},
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

// What each rule must give, written from its definition; one case for each rule of kink::all.
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
static_assert(kink::all.size() == 5);

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
  BOOST_REQUIRE(rows.size() >= 55u);

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
    // Every entry that names a PyTorch counterpart has rows; the others say why they have none.
    BOOST_TEST_CONTEXT(entry.name) {
      if (entry.torch.expression.empty()) {
        BOOST_TEST(!entry.torch.why_none.empty());
        BOOST_TEST((found == rows.end()));
      } else {
        BOOST_TEST_REQUIRE((found != rows.end()), "no rows: run make_torch_reference.py");
        BOOST_TEST(found->second.size() >= 41u);
      }
    }
    if (found == rows.end()) return;
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    const auto kinks = subgrad::rule_kinks(entry.rule, entry.low, entry.high);
    for (const Row& row : found->second) {
      // A composition's derivative at a kink is no framework's convention: compare its value only.
      bool at_kink = false;
      for (const auto& kink : kinks) at_kink |= kink.at == row.x;
      const bool value_only = entry.torch.composite && at_kink;
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
        if (value_only) {
          // Checked above; the derivative is the kink table's business.
        } else if (departure != departures.end()) {
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
  BOOST_TEST(compared >= 2500u);
}

BOOST_AUTO_TEST_CASE(binary_values_and_partials_against_pytorch) {
  std::ifstream file(SUBGRAD_TORCH_REFERENCE_BINARY);
  BOOST_REQUIRE_MESSAGE(file, "cannot open " SUBGRAD_TORCH_REFERENCE_BINARY);
  struct Row {
    double x, y, value, dx, dy;
  };
  std::map<std::string, std::vector<Row>> rows;
  std::string line;
  std::getline(file, line);  // header
  while (std::getline(file, line)) {
    std::stringstream fields(line);
    std::string name, number;
    std::getline(fields, name, ',');
    double values[5];
    for (double& v : values) {
      std::getline(fields, number, ',');
      v = std::stod(number);
    }
    rows[name].push_back({values[0], values[1], values[2], values[3], values[4]});
  }
  // Where subgrad departs from PyTorch by design, at ties: what subgrad gives instead.
  // torch.fmax/fmin send the whole gradient to the first argument at a tie; subgrad splits it
  // under min_norm, as it does for max and min (docs/conventions.md).
  auto close = [](double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b ||
           std::abs(a - b) <= 1e-14 * std::max(1.0, std::abs(b));
  };
  std::size_t compared = 0;
  subgrad::for_each_binary_primitive([&](const auto& entry) {
    const auto found = rows.find(std::string(entry.name));
    BOOST_TEST_CONTEXT(entry.name) {
      BOOST_TEST_REQUIRE((found != rows.end()), "no rows: run make_torch_reference.py");
    }
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    for (const Row& row : found->second) {
      BOOST_TEST_CONTEXT(entry.name << " at (" << row.x << ", " << row.y << ")") {
        Tape tape;
        Var x = row.x, y = row.y;
        Var z = f(x, y);
        BOOST_TEST(close(z.value(), row.value), z.value() << " vs " << row.value);
        const auto [dx, dy] = subgrad::grad(z, x, y);
        const bool tie = row.x == row.y;
        const std::string name(entry.name);
        if (name == "prelu" && row.x == 0.0 && !(row.y >= 0.0 && row.y <= 1.0)) {
          // d/dx at 0 lies in [a, 1]: PyTorch takes the left slope a, min_norm the element
          // nearest 0 (0 when a < 0, 1 when a > 1), as for elu with alpha > 1.
          BOOST_TEST(dx == (row.y < 0.0 ? 0.0 : 1.0));
          BOOST_TEST(row.dx == row.y);
          BOOST_TEST(close(dy, row.dy));
        } else if (name == "hypot" && row.x == 0.0 && row.y == 0.0) {
          // PyTorch gives NaN at the origin; subgrad the min-norm element of the unit disk.
          BOOST_TEST(dx == 0.0);
          BOOST_TEST(dy == 0.0);
          BOOST_TEST(std::isnan(row.dx));
        } else if (name == "atan2" && row.x == 0.0 && row.y == 0.0) {
          // The same at atan2's jump at the origin.
          BOOST_TEST(dx == 0.0);
          BOOST_TEST(dy == 0.0);
          BOOST_TEST(std::isnan(row.dx));
        } else if (name == "pow" && row.x < 0.0 && std::isfinite(row.value)) {
          // A negative base has x^y at integer y only, so no derivative in y: PyTorch gives
          // log(x) x^y = NaN, subgrad 0 (a finite value never comes with a NaN partial).
          BOOST_TEST(close(dx, row.dx), dx << " vs " << row.dx);
          BOOST_TEST(dy == 0.0);
          BOOST_TEST(std::isnan(row.dy));
        } else if (tie && (name == "fmax" || name == "fmin")) {
          BOOST_TEST(dx == 0.5);
          BOOST_TEST(dy == 0.5);
          BOOST_TEST(row.dx + row.dy == 1.0);  // PyTorch also gives a Clarke element, another one
        } else {
          BOOST_TEST(close(dx, row.dx), dx << " vs " << row.dx);
          BOOST_TEST(close(dy, row.dy), dy << " vs " << row.dy);
        }
        ++compared;
      }
    }
  });
  BOOST_TEST(compared >= 200u);
}

// Every registered primitive's public function takes the entry's parameters and a trailing
// KinkRule, on Var and on Dual, and gives exactly what the rule itself gives (a compile-time check
// for every function and a run-time one at every kink under every rule).
BOOST_AUTO_TEST_CASE(every_public_function_takes_a_trailing_kink_rule_and_is_its_rule) {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    using Rule = std::remove_cvref_t<decltype(entry.rule)>;
    std::vector<double> points = {entry.low, (entry.low + entry.high) / 2, entry.high};
    for (const auto& kink : subgrad::rule_kinks(entry.rule, entry.low, entry.high))
      points.push_back(kink.at);
    for (double at : points) {
      for (const KinkRule rule : kink::all) {
        BOOST_TEST_CONTEXT(entry.name << " at " << at << " under " << rule.name()) {
          Tape tape;
          Var x = at;
          const Var y = entry.call(x, rule);
          const Var expected = subgrad::Primitive<Rule>{entry.rule}(x, rule);
          BOOST_TEST(y.value() == expected.value());
          const double dy = subgrad::grad(y, x);
          BOOST_TEST(dy == subgrad::grad(expected, x));
          const subgrad::Dual<double> d = entry.call(subgrad::Dual<double>{at, 1.0}, rule);
          BOOST_TEST(d.value() == y.value());
          BOOST_TEST(d.tangent() == dy);
        }
      }
    }
  });
  subgrad::for_each_binary_primitive([](const auto& entry) {
    using Rule = std::remove_cvref_t<decltype(entry.rule)>;
    for (const auto& [a, b] : {std::pair{0.5, 0.5}, {0.25, 1.5}, {1.5, 0.25}}) {
      for (const KinkRule rule : kink::all) {
        BOOST_TEST_CONTEXT(entry.name << " at (" << a << ", " << b << ") under " << rule.name()) {
          Tape tape;
          Var x = a, y = b;
          const Var z = entry.function(x, y, rule);
          const Var expected = subgrad::Primitive<Rule>{entry.rule}(x, y, rule);
          BOOST_TEST(z.value() == expected.value());
          const auto [dx, dy] = subgrad::grad(z, x, y);
          const auto [ex, ey] = subgrad::grad(expected, x, y);
          BOOST_TEST(dx == ex);
          BOOST_TEST(dy == ey);
        }
      }
    }
  });
}
