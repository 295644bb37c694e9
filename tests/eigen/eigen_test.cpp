// Eigen with subgrad::Var: NumTraits makes Eigen treat Var as a signed real, so norms, abs,
// reductions, products, LU/LLT solves and .array() expressions with the ReLU family give the
// values and gradients of the same computation on doubles (checked against finite differences).
#include "subgrad/eigen.hpp"

#include <Eigen/Dense>

#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/subgrad.hpp"

using subgrad::Tape;
using subgrad::Var;
using VectorV = Eigen::Matrix<Var, Eigen::Dynamic, 1>;
using MatrixV = Eigen::Matrix<Var, Eigen::Dynamic, Eigen::Dynamic>;

BOOST_AUTO_TEST_CASE(norms_abs_and_reductions_see_a_signed_real) {
  Tape tape;
  VectorV v(3);
  v << Var(1.0), Var(-2.0), Var(0.5);
  BOOST_TEST(v.lpNorm<1>().value() == 3.5);  // was -0.5 when Eigen took Var for unsigned
  BOOST_TEST(v.cwiseAbs().maxCoeff().value() == 2.0);
  BOOST_TEST(v.lpNorm<Eigen::Infinity>().value() == 2.0);
  BOOST_TEST(v.norm().value() == std::sqrt(5.25), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(Eigen::NumTraits<Var>::epsilon().value() == std::numeric_limits<double>::epsilon());
  BOOST_TEST(v.cwiseMax(Var(0.0)).sum().value() == 1.5);
  // d |v|_1 / dv = sign(v).
  const Var norm1 = v.lpNorm<1>();
  subgrad::backward(norm1);
  BOOST_TEST(v(0).adjoint() == 1.0);
  BOOST_TEST(v(1).adjoint() == -1.0);
  BOOST_TEST(v(2).adjoint() == 1.0);
}

namespace {
// f(x) = sum(relu(A x - b)) + 0.5 |L^-1 x|^2 with A, b, L fixed: products, an .array() relu and a
// triangular solve, written once for Var.
Var through_eigen(std::span<const Var> x) {
  const int n = static_cast<int>(x.size());
  MatrixV a(n, n), l = MatrixV::Zero(n, n);
  VectorV xv(n), b(n);
  for (int i = 0; i < n; ++i) {
    xv(i) = x[static_cast<std::size_t>(i)];
    b(i) = Var(0.1 * i);
    for (int j = 0; j < n; ++j) {
      a(i, j) = Var(std::sin(1.0 + i + 2.0 * j));
      if (j <= i) l(i, j) = Var(i == j ? 2.0 + i : 0.3 * (i - j));
    }
  }
  const VectorV hidden =
      ((a * xv - b).array().unaryExpr([](const Var& z) { return Var(subgrad::relu(z)); })).matrix();
  const VectorV solved = l.triangularView<Eigen::Lower>().solve(xv);
  return hidden.sum() + 0.5 * solved.squaredNorm();
}
}  // namespace

BOOST_AUTO_TEST_CASE(products_solves_and_array_relu_pass_the_checker) {
  const std::vector<double> x{0.3, -0.8, 1.2, 0.05};
  const subgrad::GradientReport report = subgrad::check_gradient(through_eigen, x);
  BOOST_TEST(report.coordinates.size() == x.size());
  BOOST_TEST(report.ok());
}

BOOST_AUTO_TEST_CASE(lu_and_llt_solves_differentiate_like_the_analytic_adjoint) {
  // y = c . A^-1 x: dy/dx = A^-T c, through PartialPivLU and LLT of a symmetric positive A.
  Tape tape;
  const int n = 3;
  Eigen::MatrixXd a_d(n, n);
  a_d << 4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2;
  const Eigen::VectorXd c(Eigen::Vector3d(1.0, -2.0, 0.5));
  const Eigen::VectorXd expected = a_d.transpose().lu().solve(c);
  MatrixV a = a_d.cast<Var>();
  VectorV x(n);
  x << Var(0.3), Var(-1.0), Var(2.0);
  for (int method = 0; method < 2; ++method) {
    const VectorV solved =
        method == 0 ? VectorV(a.partialPivLu().solve(x)) : VectorV(a.llt().solve(x));
    Var y = 0.0;
    for (int i = 0; i < n; ++i) y = y + c(i) * solved(i);
    subgrad::backward(y);
    for (int i = 0; i < n; ++i) {
      BOOST_TEST(x(i).adjoint() == expected(i), boost::test_tools::tolerance(1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(numeric_limits_of_var_and_dual_are_those_of_double_and_record_nothing) {
  Tape tape;
  const std::size_t before = tape.statement_count();
  using Limits = std::numeric_limits<Var>;
  BOOST_TEST(Limits::is_specialized);  // the primary template said false and gave 0 for all
  BOOST_TEST(Limits::digits == 53);
  BOOST_TEST(Limits::radix == 2);
  BOOST_TEST(Limits::max().value() == std::numeric_limits<double>::max());
  BOOST_TEST(Limits::min().value() == std::numeric_limits<double>::min());
  BOOST_TEST(Limits::lowest().value() == std::numeric_limits<double>::lowest());
  BOOST_TEST(Limits::epsilon().value() == std::numeric_limits<double>::epsilon());
  BOOST_TEST(std::isinf(Limits::infinity().value()));
  BOOST_TEST(std::isnan(Limits::quiet_NaN().value()));
  BOOST_TEST(Limits::max().tape_id() == 0u);  // a constant: on no tape
  BOOST_TEST(std::numeric_limits<const Var>::max().value() == std::numeric_limits<double>::max());
  using DualLimits = std::numeric_limits<subgrad::Dual<Var>>;
  BOOST_TEST(DualLimits::is_specialized);
  BOOST_TEST(DualLimits::epsilon().value().value() == std::numeric_limits<double>::epsilon());
  BOOST_TEST(DualLimits::epsilon().tangent().value() == 0.0);
  BOOST_TEST(std::numeric_limits<subgrad::Dual<subgrad::Dual<double>>>::max().value().value() ==
             std::numeric_limits<double>::max());
  // Eigen's traits read them too; none of it goes on the tape (each used to record a new Var).
  BOOST_TEST(Eigen::NumTraits<Var>::epsilon().value() == std::numeric_limits<double>::epsilon());
  BOOST_TEST(Eigen::NumTraits<Var>::dummy_precision().value() == 1e-12);
  BOOST_TEST(Eigen::NumTraits<Var>::highest().value() == std::numeric_limits<double>::max());
  BOOST_TEST(tape.statement_count() == before);
  // A constant in a statement adds nothing to the gradient.
  Var x = 3.0;
  Var y = x * Limits::epsilon() + x;
  BOOST_TEST(subgrad::grad(y, x) == 1.0 + std::numeric_limits<double>::epsilon());
}

BOOST_AUTO_TEST_CASE(every_norm_of_eigen_and_its_classification_functions) {
  Tape tape;
  VectorV v(3);
  v << Var(3.0), Var(0.0), Var(-4.0);
  const std::vector<Var> leaves{v(0), v(1), v(2)};
  const std::vector<double> unit{0.6, 0.0, -0.8};  // d|v|/dv = v / |v|
  // blueNorm scales by numeric_limits<Var> (it gave inf) and squares expressions with
  // numext::abs2 (it did not compile); hypotNorm calls isinf and isnan (it did not compile).
  for (const Var& norm : {v.norm(), v.stableNorm(), v.blueNorm(), v.hypotNorm()}) {
    BOOST_TEST(norm.value() == 5.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(subgrad::grad(norm, leaves) == unit, boost::test_tools::tolerance(1e-15)
                                                        << boost::test_tools::per_element());
  }
  // At the zero vector: norm() is sqrt(squaredNorm()), 0 * inf = NaN; the scaled norms give 0.
  VectorV zero(3);
  zero << Var(0.0), Var(0.0), Var(0.0);
  const std::vector<Var> zero_leaves{zero(0), zero(1), zero(2)};
  BOOST_TEST(std::isnan(subgrad::grad(zero.norm(), zero_leaves)[0]));
  for (const Var& norm : {zero.stableNorm(), zero.hypotNorm()}) {
    BOOST_TEST(norm.value() == 0.0);
    BOOST_TEST(subgrad::grad(norm, zero_leaves) == std::vector<double>(3, 0.0),
               boost::test_tools::per_element());
  }
  BOOST_TEST(v.allFinite());
  BOOST_TEST(!v.hasNaN());
  v(1) = Var(std::numeric_limits<double>::quiet_NaN());
  BOOST_TEST(v.hasNaN());
  BOOST_TEST(!v.allFinite());
  BOOST_TEST(isnan(v(1)));
  BOOST_TEST(isnan(v(1) * 2.0));  // an expression
  BOOST_TEST(!isinf(v(0)));
  BOOST_TEST(isfinite(v(0) + v(2)));
  const subgrad::Dual<double> infinite{std::numeric_limits<double>::infinity(), 1.0};
  BOOST_TEST(isinf(infinite));
  BOOST_TEST(!isfinite(infinite));
}
