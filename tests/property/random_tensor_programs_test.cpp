// Random tensor programs against the scalar path: each program draws shapes and a sequence of
// steps (arithmetic with broadcasting against a row, a column, a number or a scalar Var; a
// registered ReLU-family primitive by name; max/min; matmul with a transposed operand; sums along
// an axis; softmax) under a random kink rule, on inputs that include exact kinks and ties. Every
// step is computed twice, with tensors and with scalar Vars written here element by element, and
// the loss and every input's gradient must agree to 1e-12 relative. A failure prints the seed;
// SUBGRAD_PROPERTY_SEED=N reruns one program, SUBGRAD_PROPERTY_COUNT=N changes the count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/math/registry.hpp"
#include "subgrad/tensor.hpp"

using subgrad::KinkRule;
using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using subgrad::Var;

namespace {

// The scalar path: a matrix of Vars with the same broadcasting, written element by element.
struct Matrix {
  std::size_t rows, cols;
  std::vector<Var> v;
  const Var& at(std::size_t i, std::size_t j) const {
    return v[(rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j)];
  }
};
template <class F>
Matrix zip(const Matrix& a, const Matrix& b, F f) {
  Matrix out{std::max(a.rows, b.rows), std::max(a.cols, b.cols), {}};
  for (std::size_t i = 0; i < out.rows; ++i) {
    for (std::size_t j = 0; j < out.cols; ++j) out.v.push_back(f(a.at(i, j), b.at(i, j)));
  }
  return out;
}

struct Program {
  std::mt19937_64 g;
  explicit Program(std::uint64_t seed) : g(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(g); }
  double number() {
    const double special[] = {0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5};
    return pick(2) == 0 ? special[pick(7)] : std::uniform_real_distribution<double>(-2, 2)(g);
  }
  Tensor<double> tensor(std::size_t rows, std::size_t cols) {
    Tensor<double> t(rows, cols);
    for (double& x : t.span()) x = number();
    if (t.size() > 1 && pick(3) == 0) t.data()[1] = t.data()[0];  // a tie
    return t;
  }
};

const std::vector<std::string_view>& relu_family() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    subgrad::for_each_unary_primitive([&](const auto& entry) {
      if (entry.family == subgrad::Family::relu) out.push_back(entry.name);
    });
    return out;
  }();
  return names;
}

bool close(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b ||
         std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
}

// Runs one program; returns an empty string or what differed.
std::string run(std::uint64_t seed) {
  Program p(seed);
  const std::size_t rows = 1 + p.pick(4), cols = 1 + p.pick(5);
  const KinkRule rule = subgrad::kink::all[p.pick(5)];
  const Tensor<double> x0 = p.tensor(rows, cols), row0 = p.tensor(1, cols),
                       column0 = p.tensor(rows, 1), constant = p.tensor(rows, cols);
  const double number = p.number();
  const double s0 = p.number();
  const int steps = 1 + p.pick(6);
  std::vector<int> ops;
  std::vector<std::string_view> names;
  for (int k = 0; k < steps; ++k) {
    ops.push_back(p.pick(9));
    names.push_back(relu_family()[p.pick(static_cast<int>(relu_family().size()))]);
  }
  const Tensor<double> w0 = p.tensor(cols, cols);  // matmul(t, transpose(w)) keeps the shape

  // The tensor path.
  Tape tape;
  subgrad::KinkScope scope{rule};
  TensorVar<double> x(x0), row(row0), column(column0), w(w0);
  Var s = s0;
  TensorVar<double> t = x;
  for (int k = 0; k < steps; ++k) {
    const auto primitive =
        subgrad::Primitive<subgrad::DynamicUnaryRule>{*subgrad::find_unary_primitive(names[k])};
    switch (ops[k]) {
      case 0:
        t = primitive(t + row) * column;
        break;
      case 1:
        t = primitive(t - constant) + s;
        break;
      case 2:
        t = subgrad::max(t, column) - subgrad::min(t * number, row);
        break;
      case 3:
        t = primitive(t) / (2.0 + t * t);
        break;
      case 4:
        t = subgrad::matmul(t, subgrad::transpose(w));
        break;
      case 5:
        t = subgrad::sum(t, subgrad::Axis::rows) + row * 0.0 + t * s;
        break;
      case 6:
        t = subgrad::softmax(t) * constant;
        break;
      case 7:
        t = -primitive(t * s + number);
        break;
      default:
        t = subgrad::sum(t, subgrad::Axis::columns) * 0.25 + t;
        break;
    }
  }
  const Var loss = subgrad::sum(t * t) + subgrad::mean(t);
  subgrad::backward(loss);
  const Tensor<double> dx = x.adjoint(), drow = row.adjoint(), dcolumn = column.adjoint(),
                       dw = w.adjoint();
  const double ds = s.adjoint();

  // The scalar path.
  Tape scalar_tape;
  auto vars = [](const Tensor<double>& values) {
    return Matrix{values.rows(), values.cols(), subgrad::variables(values.span())};
  };
  const Matrix X = vars(x0), R = vars(row0), C = vars(column0), W = vars(w0);
  Var S = s0;
  Matrix T = X;
  for (int k = 0; k < steps; ++k) {
    const auto f =
        subgrad::Primitive<subgrad::DynamicUnaryRule>{*subgrad::find_unary_primitive(names[k])};
    const auto constant_at = [&](std::size_t i, std::size_t j) { return constant(i, j); };
    switch (ops[k]) {
      case 0:
        T = zip(zip(T, R, [&](Var a, Var b) { return Var(f(a + b)); }), C,
                [](Var a, Var b) { return Var(a * b); });
        break;
      case 1: {
        Matrix out{T.rows, T.cols, {}};
        for (std::size_t i = 0; i < T.rows; ++i)
          for (std::size_t j = 0; j < T.cols; ++j)
            out.v.push_back(f(T.at(i, j) - constant_at(i, j)) + S);
        T = out;
        break;
      }
      case 2: {
        const Matrix left = zip(T, C, [](Var a, Var b) { return Var(subgrad::max(a, b)); });
        const Matrix right =
            zip(T, R, [&](Var a, Var b) { return Var(subgrad::min(a * number, b)); });
        T = zip(left, right, [](Var a, Var b) { return Var(a - b); });
        break;
      }
      case 3: {
        Matrix out{T.rows, T.cols, {}};
        for (const Var& a : T.v) out.v.push_back(f(a) / (2.0 + a * a));
        T = out;
        break;
      }
      case 4: {
        Matrix out{T.rows, cols, {}};
        for (std::size_t i = 0; i < T.rows; ++i) {
          for (std::size_t j = 0; j < cols; ++j) {
            Var total = 0.0;
            for (std::size_t k2 = 0; k2 < T.cols; ++k2) total += T.at(i, k2) * W.at(j, k2);
            out.v.push_back(total);
          }
        }
        T = out;
        break;
      }
      case 5: {
        Matrix sums{1, T.cols, {}};
        for (std::size_t j = 0; j < T.cols; ++j) {
          Var total = 0.0;
          for (std::size_t i = 0; i < T.rows; ++i) total += T.at(i, j);
          sums.v.push_back(total);
        }
        const Matrix with_row = zip(sums, R, [](Var a, Var b) { return Var(a + b * 0.0); });
        T = zip(with_row, T, [&](Var a, Var b) { return Var(a + b * S); });
        break;
      }
      case 6: {
        Matrix out{T.rows, T.cols, {}};
        for (std::size_t i = 0; i < T.rows; ++i) {
          double largest = -INFINITY;
          for (std::size_t j = 0; j < T.cols; ++j) largest = std::max(largest, T.at(i, j).value());
          Var total = 0.0;
          for (std::size_t j = 0; j < T.cols; ++j) total += exp(T.at(i, j) - largest);
          for (std::size_t j = 0; j < T.cols; ++j)
            out.v.push_back(exp(T.at(i, j) - largest) / total * constant_at(i, j));
        }
        T = out;
        break;
      }
      case 7: {
        Matrix out{T.rows, T.cols, {}};
        for (const Var& a : T.v) out.v.push_back(-f(a * S + number));
        T = out;
        break;
      }
      default: {
        Matrix sums{T.rows, 1, {}};
        for (std::size_t i = 0; i < T.rows; ++i) {
          Var total = 0.0;
          for (std::size_t j = 0; j < T.cols; ++j) total += T.at(i, j);
          sums.v.push_back(total);
        }
        T = zip(sums, T, [](Var a, Var b) { return Var(a * 0.25 + b); });
        break;
      }
    }
  }
  Var expected = 0.0, total = 0.0;
  for (const Var& a : T.v) {
    expected += a * a;
    total += a;
  }
  expected += total / static_cast<double>(T.v.size());
  subgrad::backward(expected);

  std::string differences;
  std::string steps_text;
  for (int k = 0; k < steps; ++k) steps_text += fmt::format(" {}({})", ops[k], names[k]);
  // The tensor path sums in other orders than the scalar sweep: a broadcast operand's adjoint
  // (a row, a column, s) over the elements in loop order, a matmul in OpenBLAS's blocked order
  // with FMA, a softmax's backward as y (dy - sum(dy y)) where the scalar path differentiates
  // exp / sum term by term. So gradients agree up to rounding amplified by cancellation: they are
  // compared against the largest gradient of their input, 1e-10 of it (values to 1e-12).
  const bool reordered = true;
  auto compare_all = [&](std::string_view what, std::span<const double> got,
                         const std::vector<Var>& want) {
    double scale = 1.0;
    for (const Var& v : want) scale = std::max(scale, std::abs(v.adjoint()));
    for (std::size_t k = 0; k < got.size(); ++k) {
      const double w = want[k].adjoint();
      const bool ok =
          reordered ? (std::isnan(got[k]) && std::isnan(w)) || std::abs(got[k] - w) <= 1e-10 * scale
                    : close(got[k], w);
      if (!ok) differences += fmt::format(" {}[{}]: {} vs {};", what, k, got[k], w);
    }
  };
  if (!(reordered ? std::abs(loss.value() - expected.value()) <=
                        1e-12 * std::max(1.0, std::abs(expected.value()))
                  : close(loss.value(), expected.value()))) {
    differences += fmt::format(" loss: {} vs {};", loss.value(), expected.value());
  }
  compare_all("dx", dx.span(), X.v);
  compare_all("drow", drow.span(), R.v);
  compare_all("dcolumn", dcolumn.span(), C.v);
  compare_all("dw", dw.span(), W.v);
  compare_all("ds", std::span<const double>(&ds, 1), std::vector<Var>{S});
  return differences.empty() ? differences
                             : fmt::format("{} x {}, rule {}, steps{}:{}", rows, cols, rule.name(),
                                           steps_text, differences);
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_tensor_programs_equal_the_scalar_path) {
  const char* only = std::getenv("SUBGRAD_PROPERTY_SEED");
  const char* count_text = std::getenv("SUBGRAD_PROPERTY_COUNT");
  const std::uint64_t first = only ? std::strtoull(only, nullptr, 10) : 1;
  const std::uint64_t count =
      only ? 1 : (count_text ? std::strtoull(count_text, nullptr, 10) : 20000);
  int failures = 0;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const std::string differences = run(seed);
    if (!differences.empty() && ++failures <= 5) {
      BOOST_ERROR("program with seed " << seed << " differs:" << differences);
    }
  }
  BOOST_TEST(failures == 0);
  BOOST_TEST_MESSAGE(count << " random tensor programs compared with the scalar path");
}
