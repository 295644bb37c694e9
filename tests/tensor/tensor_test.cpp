// The tensor layer against the scalar path: every registered primitive element-wise (at its kinks,
// under every kink rule), broadcasting, scalar Vars in tensor expressions, matmul, reductions and
// cross-entropy give the values and gradients of the same computation written with scalar Vars.
#include "subgrad/tensor.hpp"
#include "subgrad/math/registry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "allocation_counter.hpp"
#include "error_message.hpp"

using subgrad::KinkRule;
using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {

// Relative closeness at a tolerance (NaN equals NaN).
bool close_at(double a, double b, double tolerance) {
  return (std::isnan(a) && std::isnan(b)) || a == b ||
         std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b));
}
bool close(double a, double b) { return close_at(a, b, 1e-12); }

// A 3 x 4 matrix over [low, high] whose elements include every declared kink of the rule.
template <class Entry>
Tensor<double> points_of(const Entry& entry) {
  Tensor<double> x(3, 4);
  std::vector<double> values;
  for (const auto& k : subgrad::rule_kinks(entry.rule, entry.low, entry.high))
    values.push_back(k.at);
  for (int k = 0; values.size() < 12; ++k) {
    values.push_back(entry.low + (entry.high - entry.low) * (k + 0.37) / 11.0);
  }
  for (std::size_t i = 0; i < 12; ++i) x.data()[i] = values[i];
  return x;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tensors_hold_values_row_major) {
  const Tensor<double> t{{1, 2, 3}, {4, 5, 6}};
  BOOST_TEST(t.rows() == 2u);
  BOOST_TEST(t.cols() == 3u);
  BOOST_TEST(t(1, 0) == 4.0);
  BOOST_TEST(t.data()[2] == 3.0);
  BOOST_TEST(fmt::format("{}", t) == "[[1, 2, 3], [4, 5, 6]]");
  std::ostringstream out;
  out << t << ' ' << TensorVar<double>(Tensor<double>{{0.5}, {-2}});
  BOOST_TEST(out.str() == "[[1, 2, 3], [4, 5, 6]] [[0.5], [-2]]");
  BOOST_TEST(Tensor<float>(2, 2, 1.5f)(1, 1) == 1.5f);
  BOOST_CHECK_THROW((Tensor<double>{{1, 2}, {3}}), subgrad::Error);
}

namespace {
// f(x + b) * c element-wise in tensors of T, with b a broadcast row of zeros (so kinks stay
// exact) and c a constant, summed: values and gradients equal the scalar path's in double at the
// same points (rounded to T), to `tolerance` relative.
template <class T>
void check_every_primitive_against_the_scalar_path(double tolerance) {
  std::mt19937 generator(11);
  std::uniform_real_distribution<double> weight(-2.0, 2.0);
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    const Tensor<double> points = points_of(entry);
    Tensor<T> x0(3, 4), c(3, 4);
    for (std::size_t k = 0; k < 12; ++k) {
      x0.data()[k] = static_cast<T>(points.data()[k]);
      c.data()[k] = static_cast<T>(weight(generator));
    }
    for (const KinkRule rule : kink::all) {
      BOOST_TEST_CONTEXT(entry.name << " under " << rule.name()) {
        Tape tape;
        TensorVar<T> x(x0);
        TensorVar<T> b(Tensor<T>(1, 4));
        const TensorVar<T> y = entry.call(x + b, rule) * c;
        const Var loss = subgrad::sum(y);
        subgrad::backward(loss);
        const Tensor<T> dx = x.adjoint(), db = b.adjoint();
        // The scalar path.
        double expected_loss = 0.0;
        std::vector<double> expected_db(4, 0.0);
        for (std::size_t i = 0; i < 3; ++i) {
          for (std::size_t j = 0; j < 4; ++j) {
            Tape scalar_tape;
            Var xs = static_cast<double>(x0(i, j)), bs = 0.0;
            Var ys = entry.call(xs + bs, rule) * static_cast<double>(c(i, j));
            BOOST_TEST(close_at(y.value()(i, j), ys.value(), tolerance),
                       "(" << i << ", " << j << ")");
            expected_loss += ys.value();
            const auto [gx, gb] = subgrad::grad(ys, xs, bs);
            BOOST_TEST(close_at(dx(i, j), gx, tolerance), "d/dx (" << i << ", " << j << ")");
            expected_db[j] += gb;
          }
        }
        BOOST_TEST(close_at(loss.value(), expected_loss, tolerance));
        for (std::size_t j = 0; j < 4; ++j) {
          BOOST_TEST(close_at(db(0, j), expected_db[j], tolerance), "d/db " << j);
        }
      }
    }
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_registered_primitive_element_wise_equals_the_scalar_path) {
  check_every_primitive_against_the_scalar_path<double>(1e-12);
}

// float tensors are computed in double element by element and stored in float: each value and
// adjoint is one float rounding (relative 6e-8) from the double result; sums of four such
// adjoints and of twelve values stay within 1e-6.
BOOST_AUTO_TEST_CASE(every_registered_primitive_on_float_tensors_equals_the_scalar_path) {
  check_every_primitive_against_the_scalar_path<float>(1e-6);
}

BOOST_AUTO_TEST_CASE(binary_primitives_broadcast_and_split_ties_as_the_scalar_path) {
  const Tensor<double> x0{{0.0, 1.0, -1.0}, {2.0, 0.5, 0.0}};
  const Tensor<double> a0{{0.25, 0.5, 1.0}};  // a row: a slope per column for prelu
  for (const KinkRule rule : kink::all) {
    Tape tape;
    TensorVar<double> x(x0), a(a0);
    const Var loss = subgrad::sum(subgrad::prelu(x, a, rule) + subgrad::max(x, a, rule) * 2.0);
    subgrad::backward(loss);
    const Tensor<double> dx = x.adjoint(), da = a.adjoint();
    std::vector<double> expected_da(3, 0.0);
    for (std::size_t i = 0; i < 2; ++i) {
      for (std::size_t j = 0; j < 3; ++j) {
        Tape scalar_tape;
        Var xs = x0(i, j), as = a0(0, j);
        Var ys = subgrad::prelu(xs, as, rule) + subgrad::max(xs, as, rule) * 2.0;
        const auto [gx, ga] = subgrad::grad(ys, xs, as);
        BOOST_TEST(close(dx(i, j), gx), rule.name() << " (" << i << ", " << j << ")");
        expected_da[j] += ga;
      }
    }
    for (std::size_t j = 0; j < 3; ++j) BOOST_TEST(close(da(0, j), expected_da[j]), rule.name());
  }
}

// relu, leaky_relu and rrelu (evaluation form) of a tensor on the tape take a vectorised backward
// (the rule's branch-free derivative, a fresh adjoint written): it must give the general loop's
// adjoints bit for bit, here reached through relu(x * 1). Zeros of either sign, infinities,
// denormals and NaN in x; upstream adjoints with zeros and a NaN; the input used twice, so that
// the second backward adds to an adjoint the first wrote.
template <class T>
void check_activation_backward_matches_the_general_loop() {
  const T inf = std::numeric_limits<T>::infinity();
  const T tiny = std::numeric_limits<T>::denorm_min();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Tensor<T> x(4, 8), w(4, 8), w2(4, 8);
  const std::vector<T> special = {T(0), -T(0), inf, -inf, tiny, -tiny, nan, T(2), T(-3)};
  std::mt19937 generator(3);
  std::normal_distribution<double> normal(0.0, 2.0);
  for (std::size_t k = 0; k < x.size(); ++k) {
    x.data()[k] = k < special.size() ? special[k] : static_cast<T>(normal(generator));
    w.data()[k] = k % 5 == 0 ? T(0) : static_cast<T>(normal(generator));
    w2.data()[k] = k % 7 == 3 ? T(0) : static_cast<T>(normal(generator));
  }
  w.data()[9] = nan;
  w.data()[6] = w2.data()[6] = T(0);  // at x = NaN: an adjoint of 0 adds nothing, not NaN
  // On a tensor (the vectorised loop) or on an expression (the general one).
  auto activation = [](const std::string& name, const auto& v, KinkRule r) {
    if (name == "relu") return TensorVar<T>(subgrad::relu(v, r));
    if (name == "leaky_relu") return TensorVar<T>(subgrad::leaky_relu(v, 0.2, r));
    if (name == "leaky_relu 1") return TensorVar<T>(subgrad::leaky_relu(v, 1.0, r));
    return TensorVar<T>(subgrad::rrelu(v, 0.1, 0.3, r));
  };
  for (const std::string name : {"relu", "leaky_relu", "leaky_relu 1", "rrelu"}) {
    for (const KinkRule rule :
         {kink::min_norm, kink::left, kink::right, kink::midpoint, kink::convex(0.3)}) {
      BOOST_TEST_CONTEXT(name << " under " << rule.name()) {
        auto adjoint_of_x = [&](bool general) {
          Tape tape;
          TensorVar<T> input(x);
          const TensorVar<T> a =
              general ? activation(name, input * 1.0, rule) : activation(name, input, rule);
          const TensorVar<T> b =
              general ? activation(name, input * 1.0, rule) : activation(name, input, rule);
          subgrad::backward(subgrad::sum(a * w) + subgrad::sum(b * w2));
          return input.adjoint();
        };
        const Tensor<T> fast = adjoint_of_x(false), general = adjoint_of_x(true);
        for (std::size_t k = 0; k < x.size(); ++k) {
          const T f = fast.data()[k], g = general.data()[k];
          BOOST_TEST(
              ((std::isnan(f) && std::isnan(g)) || (f == g && std::signbit(f) == std::signbit(g))),
              "x = " << x.data()[k] << ": " << f << " vs " << g);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(activation_backward_without_a_branch_is_the_general_loop) {
  check_activation_backward_matches_the_general_loop<double>();
  check_activation_backward_matches_the_general_loop<float>();
}

BOOST_AUTO_TEST_CASE(the_kink_rule_in_force_when_recorded_decides) {
  Tape tape;
  TensorVar<double> x(Tensor<double>{{0.0, 1.0}});
  TensorVar<double> y = [&] {
    subgrad::KinkScope scope{kink::right};
    return TensorVar<double>(subgrad::relu(x));
  }();
  subgrad::backward(subgrad::sum(y));
  BOOST_TEST(x.adjoint()(0, 0) == 1.0);  // recorded under kink::right
  subgrad::backward(subgrad::sum(subgrad::relu(x)));
  BOOST_TEST(x.adjoint()(0, 0) == 0.0);  // min_norm
  subgrad::backward(subgrad::sum(subgrad::relu(x, kink::convex(0.25))));
  BOOST_TEST(x.adjoint()(0, 0) == 0.25);
}

BOOST_AUTO_TEST_CASE(a_scalar_var_in_a_tensor_expression_receives_the_sum) {
  Tape tape;
  Var s = 1.5;
  TensorVar<double> t(Tensor<double>{{1, 2}, {3, 4}});
  const Var loss = subgrad::sum(t * s - s / 2.0) * s;  // loss = s * (10 s - 2 s) = 8 s^2
  const auto [ds] = std::array{subgrad::grad(loss, s)};
  BOOST_TEST(loss.value() == 8 * 1.5 * 1.5);
  BOOST_TEST(ds == 16 * 1.5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(t.adjoint()(1, 1) == 1.5 * 1.5);
}

BOOST_AUTO_TEST_CASE(matmul_in_every_transpose_layout_equals_the_scalar_path) {
  std::mt19937 generator(5);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  Tensor<double> a0(3, 4), b0(4, 2), bt0(2, 4), at0(4, 3);
  for (auto* t : {&a0, &b0}) {
    for (double& v : t->span()) v = value(generator);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 2; ++j) bt0(j, i) = b0(i, j);
    for (std::size_t j = 0; j < 3; ++j) at0(i, j) = a0(j, i);
  }
  // The scalar reference: L = sum_ij w_ij (A B)_ij with weights w_ij = i + 2j + 1.
  std::vector<Var> as, bs;
  Tape scalar_tape;
  for (double v : a0.span()) as.emplace_back(v);
  for (double v : b0.span()) bs.emplace_back(v);
  Var expected = 0.0;
  Tensor<double> weights(3, 2);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 2; ++j) {
      weights(i, j) = double(i + 2 * j + 1);
      for (std::size_t k = 0; k < 4; ++k) expected += weights(i, j) * as[i * 4 + k] * bs[k * 2 + j];
    }
  }
  subgrad::backward(expected);
  const std::vector<double> da = subgrad::adjoints(as), db = subgrad::adjoints(bs);
  for (int layout = 0; layout < 4; ++layout) {
    BOOST_TEST_CONTEXT("layout " << layout) {
      Tape tape;
      TensorVar<double> a(layout & 1 ? at0 : a0), b(layout & 2 ? bt0 : b0);
      TensorVar<double> c = layout == 0   ? subgrad::matmul(a, b)
                            : layout == 1 ? subgrad::matmul(subgrad::transpose(a), b)
                            : layout == 2
                                ? subgrad::matmul(a, subgrad::transpose(b))
                                : subgrad::matmul(subgrad::transpose(a), subgrad::transpose(b));
      const Var loss = subgrad::sum(c * weights);
      BOOST_TEST(close(loss.value(), expected.value()));
      subgrad::backward(loss);
      const Tensor<double> ga = a.adjoint(), gb = b.adjoint();
      for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t k = 0; k < 4; ++k) {
          BOOST_TEST(close(layout & 1 ? ga(k, i) : ga(i, k), da[i * 4 + k]));
        }
      }
      for (std::size_t k = 0; k < 4; ++k) {
        for (std::size_t j = 0; j < 2; ++j) {
          BOOST_TEST(close(layout & 2 ? gb(j, k) : gb(k, j), db[k * 2 + j]));
        }
      }
    }
  }
  // A constant operand gets no adjoint and costs no product in the backward.
  Tape tape;
  TensorVar<double> b(b0);
  const Var loss = subgrad::sum(subgrad::matmul(a0, b) * weights);
  subgrad::backward(loss);
  for (std::size_t k = 0; k < 4; ++k) {
    for (std::size_t j = 0; j < 2; ++j) BOOST_TEST(close(b.adjoint()(k, j), db[k * 2 + j]));
  }
}

// A constant operand is copied onto the tape only when the product records a node, and then its
// values reach the backward even if the caller's Tensor changes or is gone before the sweep; a
// product of constants records nothing and is still right.
BOOST_AUTO_TEST_CASE(a_constant_operand_is_kept_for_the_backward_and_only_then) {
  Tape tape;
  TensorVar<double> w(Tensor<double>{{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});  // 3 x 2
  auto x = std::make_unique<Tensor<double>>(Tensor<double>{{0.5, -1.0}, {2.0, 0.25}});
  const TensorVar<double> y = subgrad::matmul(*x, subgrad::transpose(w));  // 2 x 3
  const Var loss = subgrad::sum(y);
  // d loss / d w(j, k) = sum over rows i of x(i, k): (2.5, -0.75) in every row of w.
  std::fill(x->span().begin(), x->span().end(), 100.0);
  x.reset();
  subgrad::backward(loss);
  const Tensor<double> dw = w.adjoint();
  for (std::size_t j = 0; j < 3; ++j) {
    BOOST_TEST(dw(j, 0) == 2.5);
    BOOST_TEST(dw(j, 1) == -0.75);
  }
  const std::size_t nodes = tape.node_count();
  const Tensor<double> a{{1.0, 2.0}, {3.0, 4.0}}, b{{0.5, 0.0}, {-1.0, 2.0}};
  const TensorVar<double> ab = subgrad::matmul(a, b);
  BOOST_TEST(tape.node_count() == nodes);  // nothing to differentiate: no node
  BOOST_TEST(ab.value()(0, 0) == -1.5);    // 1 * 0.5 + 2 * -1
  BOOST_TEST(ab.value()(0, 1) == 4.0);
  BOOST_TEST(ab.value()(1, 0) == -2.5);
  BOOST_TEST(ab.value()(1, 1) == 8.0);
}

// matmul(a, b, bias) is a b + bias in one node; a tensor used twice accumulates its adjoint (the
// second product adds with beta = 1 to what the first wrote with beta = 0).
BOOST_AUTO_TEST_CASE(matmul_with_a_bias_and_a_reused_operand_equal_the_scalar_path) {
  std::mt19937 generator(6);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  Tensor<double> x0(3, 4), w0(2, 4), b0(1, 2);
  for (auto* t : {&x0, &w0, &b0}) {
    for (double& v : t->span()) v = value(generator);
  }
  Tape tape;
  TensorVar<double> x(x0), w(w0), b(b0);
  const TensorVar<double> y = subgrad::matmul(x, subgrad::transpose(w), b);
  const TensorVar<double> z = subgrad::matmul(y, w);  // w again, and y's adjoint from one product
  const Var loss = subgrad::sum(z * z) + subgrad::sum(y);
  subgrad::backward(loss);
  const Tensor<double> dx = x.adjoint(), dw = w.adjoint(), db = b.adjoint(), y0 = y.value();
  // The scalar path.
  Tape scalar_tape;
  std::vector<Var> xs(x0.span().begin(), x0.span().end()), ws(w0.span().begin(), w0.span().end()),
      bs(b0.span().begin(), b0.span().end());
  Var expected = 0.0;
  std::vector<Var> ys(6);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 2; ++j) {
      Var sum = bs[j];
      for (std::size_t k = 0; k < 4; ++k) sum += xs[i * 4 + k] * ws[j * 4 + k];
      ys[i * 2 + j] = sum;
      expected += sum;
    }
    for (std::size_t k = 0; k < 4; ++k) {
      Var zik = 0.0;
      for (std::size_t j = 0; j < 2; ++j) zik += ys[i * 2 + j] * ws[j * 4 + k];
      expected += zik * zik;
    }
  }
  for (std::size_t k = 0; k < 6; ++k) BOOST_TEST(close(y0.data()[k], ys[k].value()));
  BOOST_TEST(close(loss.value(), expected.value()));
  subgrad::backward(expected);
  for (std::size_t k = 0; k < 12; ++k) BOOST_TEST(close(dx.data()[k], xs[k].adjoint()));
  for (std::size_t k = 0; k < 8; ++k) BOOST_TEST(close(dw.data()[k], ws[k].adjoint()));
  for (std::size_t k = 0; k < 2; ++k) BOOST_TEST(close(db.data()[k], bs[k].adjoint()));
}

BOOST_AUTO_TEST_CASE(a_bias_of_another_shape_is_an_error) {
  Tape tape;
  TensorVar<double> x(Tensor<double>(3, 4)), w(Tensor<double>(2, 4));
  TensorVar<double> wrong(Tensor<double>(1, 3));
  BOOST_CHECK_EXCEPTION(subgrad::matmul(x, subgrad::transpose(w), wrong), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).find(
                                     "a bias of 1 x 3 for a 3 x 2 product") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(cross_entropy_sums_and_elements_equal_the_scalar_path) {
  const Tensor<double> z0{{1.0, -2.0, 0.5}, {300.0, 299.0, -1.0}};  // large logits: stability
  const std::vector<int> labels{2, 1};
  Tape tape;
  TensorVar<double> z(z0);
  const TensorVar<double> column_sums = subgrad::sum(z, subgrad::Axis::rows);  // 1 x 3
  const TensorVar<double> row_sums = subgrad::sum(z, subgrad::Axis::columns);  // 2 x 1
  const Var loss = subgrad::cross_entropy(z, labels) +
                   0.1 * subgrad::sum(column_sums * column_sums) + 0.01 * subgrad::mean(row_sums) +
                   z.element(1, 2) * 3.0;
  subgrad::backward(loss);
  const Tensor<double> dz = z.adjoint();

  Tape scalar_tape;
  std::vector<Var> zs;
  for (double v : z0.span()) zs.emplace_back(v);
  Var expected = 0.0;
  for (std::size_t i = 0; i < 2; ++i) {
    const double largest = std::max({z0(i, 0), z0(i, 1), z0(i, 2)});
    Var total = 0.0;
    for (std::size_t j = 0; j < 3; ++j) total += exp(zs[i * 3 + j] - largest);
    expected += (largest + log(total) - zs[i * 3 + labels[i]]) / 2.0;
  }
  for (std::size_t j = 0; j < 3; ++j) {
    Var column = zs[j] + zs[3 + j];
    expected += 0.1 * column * column;
  }
  for (std::size_t i = 0; i < 2; ++i)
    expected += 0.01 * (zs[i * 3] + zs[i * 3 + 1] + zs[i * 3 + 2]) / 2.0;
  expected += zs[5] * 3.0;
  BOOST_TEST(close(loss.value(), expected.value()));
  subgrad::backward(expected);
  for (std::size_t k = 0; k < 6; ++k)
    BOOST_TEST(close(dz.data()[k], zs[k].adjoint()), "element " << k);
}

BOOST_AUTO_TEST_CASE(mse_and_grad) {
  Tape tape;
  TensorVar<double> p(Tensor<double>{{1, 2}, {3, 5}});
  const Tensor<double> target{{1, 1}, {1, 1}};
  const Var loss = subgrad::mse(p, target);  // (0 + 1 + 4 + 16) / 4
  BOOST_TEST(loss.value() == 21.0 / 4.0);
  const Tensor<double> g = subgrad::grad(loss, p);  // 2 (p - t) / 4
  BOOST_TEST(g(1, 1) == 2.0);
  BOOST_TEST(g(0, 0) == 0.0);
}

// A column of predictions against a row of targets would broadcast to every pair (4/3 here
// instead of 0): refused, as PyTorch warns. A scalar target is still compared with each element.
BOOST_AUTO_TEST_CASE(mse_needs_equal_shapes) {
  Tape tape;
  TensorVar<double> column(Tensor<double>{{0}, {1}, {2}});
  const Tensor<double> row{{0, 1, 2}};
  BOOST_CHECK_EXCEPTION(subgrad::mse(column, row), subgrad::Error,
                        says("subgrad::mse: the prediction is 3 x 1, the target 1 x 3"));
  BOOST_CHECK_EXCEPTION(subgrad::mse(column, Tensor<double>(1, 1)), subgrad::Error,
                        says("the prediction is 3 x 1, the target 1 x 1"));
  BOOST_CHECK_EXCEPTION(subgrad::mse(TensorVar<double>(Tensor<double>(0, 2)), Tensor<double>(0, 2)),
                        subgrad::Error, says("subgrad::mse: no elements"));
  BOOST_TEST(subgrad::mse(column, 1.0).value() == 2.0 / 3.0);  // (1 + 0 + 1) / 3
  Var c = 2.0;
  const Var loss = subgrad::mse(column, c);  // (4 + 1 + 0) / 3
  BOOST_TEST(loss.value() == 5.0 / 3.0);
  subgrad::backward(loss);
  BOOST_TEST(close(c.adjoint(), -2.0 * ((0.0 - 2.0) + (1.0 - 2.0) + (2.0 - 2.0)) / 3.0));
}

// FiniteCheck covers the results of tensor operations (element-wise expressions, matmul,
// softmax, reductions, losses): each names the operation and the element, and records nothing.
BOOST_AUTO_TEST_CASE(finite_check_covers_tensor_results) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tape tape;
  TensorVar<double> x(Tensor<double>{{1, 0}});
  TensorVar<double> huge(Tensor<double>{{1e308, 1e308}});
  TensorVar<double> with_nan(Tensor<double>{{0, nan}});
  const std::vector<int> label{0};
  // Off: the same operations give non-finite values without a word.
  BOOST_TEST(std::isinf(TensorVar<double>(subgrad::log(x)).value()(0, 1)));
  BOOST_TEST(std::isinf(subgrad::sum(huge).value()));
  const subgrad::FiniteCheck check;
  const std::size_t nodes = tape.node_count();
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::log(x)), subgrad::Error,
                        says("subgrad::FiniteCheck: log at x = 0 gives value -inf, at element "
                             "(0, 1) of a 1 x 2 element-wise tensor expression"));
  BOOST_CHECK_EXCEPTION(subgrad::matmul(huge, subgrad::transpose(huge)), subgrad::Error,
                        says("subgrad::matmul gives inf at element (0, 0) of its 1 x 1 result"));
  BOOST_CHECK_EXCEPTION(subgrad::softmax(with_nan), subgrad::Error,
                        says("subgrad::softmax gives nan at element (0, 0)"));
  BOOST_CHECK_EXCEPTION(subgrad::sum(huge, subgrad::Axis::columns), subgrad::Error,
                        says("subgrad::sum(t, axis) gives inf at element (0, 0) of its 1 x 1"));
  BOOST_CHECK_EXCEPTION(subgrad::sum(huge), subgrad::Error, says("subgrad::sum gives inf"));
  BOOST_CHECK_EXCEPTION(subgrad::mean(with_nan), subgrad::Error, says("subgrad::mean gives nan"));
  BOOST_CHECK_EXCEPTION(subgrad::cross_entropy(with_nan, label), subgrad::Error,
                        says("subgrad::cross_entropy gives nan"));
  BOOST_CHECK_EXCEPTION(subgrad::binary_cross_entropy_with_logits(with_nan, Tensor<double>(1, 2)),
                        subgrad::Error,
                        says("subgrad::binary_cross_entropy_with_logits gives nan"));
  BOOST_CHECK_EXCEPTION(subgrad::maxout(with_nan, 2), subgrad::Error,
                        says("subgrad::maxout gives nan at element (0, 0) of its 1 x 1 result"));
  BOOST_TEST(tape.node_count() == nodes);
  // Finite results pass.
  BOOST_TEST(TensorVar<double>(subgrad::exp(x)).value()(0, 1) == 1.0);
  BOOST_TEST(subgrad::sum(x).value() == 1.0);
}

// In an element-wise expression FiniteCheck checks what the sweep will use, as it does for a Var
// statement: every primitive's and operator's value and the partials of the operands that receive
// an adjoint (the first failure, innermost first, named with its arguments and the element), then
// the products of those partials, the result's partials with respect to its operands.
BOOST_AUTO_TEST_CASE(finite_check_covers_the_derivatives_of_element_wise_expressions) {
  Tape tape;
  TensorVar<double> x(Tensor<double>{{1, 0}});
  TensorVar<double> half(Tensor<double>{{0.5, 0.5}});
  TensorVar<double> tiny(Tensor<double>{{1e-300}});
  // Off: a finite result whose gradient the sweep makes NaN (exp(-1/x) at 0: 0 * inf).
  const TensorVar<double> quiet = subgrad::exp(-1.0 / x);
  BOOST_TEST(quiet.value()(0, 1) == 0.0);
  subgrad::backward(subgrad::sum(quiet));
  BOOST_TEST(std::isnan(x.adjoint()(0, 1)));

  const subgrad::FiniteCheck check;
  const std::size_t nodes = tape.node_count();
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::exp(-1.0 / x)), subgrad::Error,
                        says("subgrad::FiniteCheck: operator/ at (x, y) = (-1, 0) gives value "
                             "-inf, at element (0, 1) of a 1 x 2 element-wise tensor expression"));
  // A finite value with an infinite derivative, alone and under another primitive: the
  // innermost is named.
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::sqrt(x)), subgrad::Error,
                        says("sqrt at x = 0 gives value 0 and derivative inf, at element (0, 1)"));
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::exp(subgrad::sqrt(x))), subgrad::Error,
                        says("sqrt at x = 0 gives value 0 and derivative inf"));
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::pow(x, half)), subgrad::Error,
                        says("pow at (x, y) = (0, 0.5) gives value 0 and partial 1 = inf, at "
                             "element (0, 1) of a 1 x 2"));
  // Every factor finite, their product not: sqrt' = 5e149 at 1e-300, times 1e200.
  BOOST_CHECK_EXCEPTION(TensorVar<double>(1e200 * subgrad::sqrt(tiny)), subgrad::Error,
                        says("an element-wise tensor expression gives value 1e+50 and partial inf "
                             "with respect to its operand 2 (a 1 x 1 tensor) at element (0, 0) "
                             "of its 1 x 1 result"));
  TensorVar<double> ones(Tensor<double>{{1.0}});
  Var small_var = 1e-300;
  BOOST_CHECK_EXCEPTION(TensorVar<double>(1e200 * subgrad::sqrt(small_var * ones)), subgrad::Error,
                        says("partial inf with respect to its operand 2 (a Var of value 1e-300)"));
  BOOST_TEST(tape.node_count() == nodes);
  // A partial the sweep does not use is not checked: a constant divisor near 0 has an infinite
  // partial of its own, the quotient's value and its partial for x are finite.
  const Tensor<double> small{{1e-200, 1e-200}};
  const TensorVar<double> quotient = x / small;
  BOOST_TEST(quotient.value()(0, 0) == 1e200);
}

BOOST_AUTO_TEST_CASE(float_tensors_agree_with_double_at_float_precision) {
  const Tensor<double> x0{{0.3, -1.2, 2.5}, {0.0, 1.7, -0.4}};
  Tensor<float> xf(2, 3);
  for (std::size_t k = 0; k < 6; ++k) xf.data()[k] = static_cast<float>(x0.data()[k]);
  Tape tape;
  TensorVar<double> xd(x0);
  TensorVar<float> xs(xf);
  subgrad::backward(subgrad::sum(subgrad::gelu(xd) * subgrad::elu(xd, 0.5)));
  const Tensor<double> gd = xd.adjoint();
  subgrad::backward(subgrad::sum(subgrad::gelu(xs) * subgrad::elu(xs, 0.5)));
  const Tensor<float> gf = xs.adjoint();
  // Inputs rounded to float (relative 6e-8) and float storage of the adjoints: 1e-6 relative.
  for (std::size_t k = 0; k < 6; ++k) {
    BOOST_TEST(std::abs(gf.data()[k] - gd.data()[k]) <=
               1e-6 * std::max(1.0, std::abs(gd.data()[k])));
  }
}

BOOST_AUTO_TEST_CASE(misuse_is_an_error_naming_the_operation_and_shapes) {
  Tape tape;
  TensorVar<double> a(Tensor<double>(2, 3)), b(Tensor<double>(3, 2));
  BOOST_CHECK_EXCEPTION(TensorVar<double>(a + b), subgrad::Error,
                        says("subgrad::operator+: shapes 2 x 3 and 3 x 2 do not broadcast"));
  BOOST_CHECK_EXCEPTION(subgrad::matmul(a, a), subgrad::Error,
                        says("subgrad::matmul: a 2 x 3 matrix times a 2 x 3 matrix"));
  const std::vector<int> bad{0, 3};
  BOOST_CHECK_EXCEPTION(subgrad::cross_entropy(a, bad), subgrad::Error,
                        says("label 3 of row 1 is not in [0, 3)"));
  const std::vector<int> short_labels{0};
  BOOST_CHECK_EXCEPTION(subgrad::cross_entropy(a, short_labels), subgrad::Error,
                        says("1 labels for 2 rows"));
  BOOST_CHECK_EXCEPTION(a.element(2, 0), subgrad::Error, says("(2, 0) is outside a 2 x 3"));
  tape.clear();
  BOOST_CHECK_EXCEPTION(TensorVar<double>(subgrad::relu(a)), subgrad::Error,
                        says("a 2 x 3 tensor belongs to tape"));
  BOOST_CHECK_EXCEPTION(a.adjoint(), subgrad::Error, says("subgrad::TensorVar::adjoint"));
  // From a tape that no longer exists: refused without reading its memory (ASan checks that).
  std::optional<TensorVar<double>> orphan;
  {
    Tape inner;
    orphan.emplace(Tensor<double>(2, 2, 1.0));
  }
  BOOST_CHECK_EXCEPTION(subgrad::matmul(*orphan, *orphan), subgrad::Error, says("subgrad::matmul"));
  BOOST_CHECK_EXCEPTION(subgrad::sum(*orphan), subgrad::Error, says("subgrad::TensorVar::value"));
  BOOST_CHECK_EXCEPTION(TensorVar<double>(*orphan * 2.0), subgrad::Error, says("a 2 x 2 tensor"));
  // Sizes whose product wraps around (2^32 x 2^32 is 0 in a size_t) would give a tensor that
  // claims more elements than it stores; a negative int passed as a size is refused as well.
  const std::size_t large = std::size_t{1} << 32;
  BOOST_CHECK_EXCEPTION(Tensor<double>(large, large), subgrad::Error,
                        says("subgrad::Tensor: 4294967296 x 4294967296"));
  const int minus_one = -1;
  BOOST_CHECK_EXCEPTION(Tensor<float>(static_cast<std::size_t>(minus_one), 3, 1.0f), subgrad::Error,
                        says("(-1 x 3 as signed numbers)"));
  Tensor<double> resized(2, 2, 1.0);
  BOOST_CHECK_EXCEPTION(resized.resize(large, large), subgrad::Error,
                        says("subgrad::Tensor::resize"));
  BOOST_TEST((resized.rows() == 2 && resized.cols() == 2 && resized.size() == 4));
  BOOST_CHECK_EXCEPTION(subgrad::tensor_of(std::span<const Var>(), large, large), subgrad::Error,
                        says("subgrad::tensor_of: 4294967296 x 4294967296"));
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer aborts on a failed allocation by design
  // A size that fits a vector but no machine (2^60 bytes, beyond any x86-64 address space, so
  // that no overcommit setting lets it through): an Error saying what and how much, not a bare
  // std::bad_alloc.
  const std::size_t too_many = std::size_t{1} << 57;
  BOOST_CHECK_EXCEPTION(Tensor<double>(too_many, 1), subgrad::Error,
                        says("subgrad::Tensor: 144115188075855872 x 1 elements "
                             "(1152921504606846976 bytes) cannot be allocated"));
  BOOST_CHECK_EXCEPTION(resized.resize(1, too_many), subgrad::Error,
                        says("subgrad::Tensor::resize: 1 x 144115188075855872 elements"));
  BOOST_TEST((resized.rows() == 2 && resized.cols() == 2 && resized.size() == 4));
#endif
}

// One step of a small MLP: after the first step on a cleared tape, nothing is allocated.
BOOST_AUTO_TEST_CASE(a_repeated_training_step_allocates_nothing) {
  std::mt19937 generator(3);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  Tensor<float> w1(16, 8), b1(1, 16), w2(4, 16), x(32, 8);
  for (auto* t : {&w1, &b1, &w2, &x}) {
    for (float& v : t->span()) v = normal(generator);
  }
  std::vector<int> labels(32);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 4);
  Tape tape;
  long first = 0, later = 0;
  float last_loss = 0.0f;
  for (int step = 0; step < 5; ++step) {
    const long before = allocation_count.load();
    tape.clear();
    TensorVar<float> W1(w1), B1(b1), W2(w2);
    TensorVar<float> h = subgrad::relu(subgrad::matmul(x, subgrad::transpose(W1)) + B1);
    const Var loss = subgrad::cross_entropy(subgrad::matmul(h, subgrad::transpose(W2)), labels);
    subgrad::backward(loss);
    const Tensor<float>& g = W1.value();  // read without copying
    (void)g;
    (step == 0 ? first : later) += allocation_count.load() - before;
    last_loss = static_cast<float>(loss.value());
  }
  BOOST_TEST(first > 0);
  BOOST_TEST(later == 0);
  BOOST_TEST(std::isfinite(last_loss));
}

BOOST_AUTO_TEST_CASE(softmax_log_softmax_and_logistic_loss_equal_the_scalar_path) {
  const Tensor<double> z0{{0.5, -1.0, 2.0}, {100.0, 101.0, 99.0}};  // large logits: stability
  const Tensor<double> q0{{0.5, -3.0, 2.0}, {1.5, 0.0, -0.25}};     // the logistic loss's logits
  const Tensor<double> t0{{1.0, 0.0, 0.25}, {0.0, 1.0, 1.0}};
  const Tensor<double> w{{0.3, -0.7, 1.1}, {2.0, 0.1, -0.4}};  // weights of the outputs
  Tape tape;
  TensorVar<double> z(z0), q(q0);
  const Tensor<double> s = subgrad::softmax(z).value();
  BOOST_TEST(s(1, 0) + s(1, 1) + s(1, 2) == 1.0, boost::test_tools::tolerance(1e-15));
  const Var loss = subgrad::sum(subgrad::softmax(z) * w) +
                   subgrad::sum(subgrad::log_softmax(z) * w) +
                   subgrad::binary_cross_entropy_with_logits(q, t0);
  subgrad::backward(loss);
  const Tensor<double> dz = z.adjoint(), dq = q.adjoint();

  Tape scalar_tape;
  std::vector<Var> zs, qs;
  for (double v : z0.span()) zs.emplace_back(v);
  for (double v : q0.span()) qs.emplace_back(v);
  Var expected = 0.0;
  for (std::size_t i = 0; i < 2; ++i) {
    const double largest = std::max({z0(i, 0), z0(i, 1), z0(i, 2)});
    Var total = 0.0;
    for (std::size_t j = 0; j < 3; ++j) total += exp(zs[i * 3 + j] - largest);
    for (std::size_t j = 0; j < 3; ++j) {
      const Var shifted = zs[i * 3 + j] - largest;
      expected += w(i, j) * (exp(shifted) / total + (shifted - log(total)));
      // Logistic loss of sigmoid(q) against t, written directly: -t log s - (1 - t) log(1 - s).
      const Var p = subgrad::sigmoid(qs[i * 3 + j]);
      expected += (-t0(i, j) * log(p) - (1.0 - t0(i, j)) * log(1.0 - p)) / 6.0;
    }
  }
  BOOST_TEST(std::abs(loss.value() - expected.value()) <= 1e-12 * std::abs(expected.value()));
  subgrad::backward(expected);
  for (std::size_t k = 0; k < 6; ++k) {
    BOOST_TEST(std::abs(dz.data()[k] - zs[k].adjoint()) <= 1e-12, "element " << k);
    BOOST_TEST(std::abs(dq.data()[k] - qs[k].adjoint()) <= 1e-12, "element " << k);
  }
}

BOOST_AUTO_TEST_CASE(maxout_over_column_groups_splits_ties_as_the_scalar_maxout) {
  const Tensor<double> x0{{1.0, 3.0, 3.0, -1.0, 0.0, 0.0}, {2.0, 2.0, 2.0, 5.0, -4.0, 1.0}};
  for (const KinkRule rule : kink::all) {
    Tape tape;
    TensorVar<double> x(x0);
    const TensorVar<double> y = subgrad::maxout(x, 3, rule);  // 2 x 2
    BOOST_TEST(y.value()(0, 0) == 3.0);
    BOOST_TEST(y.value()(1, 1) == 5.0);
    subgrad::backward(subgrad::sum(y * Tensor<double>{{1.0, 2.0}, {3.0, 4.0}}));
    const Tensor<double> dx = x.adjoint();
    for (std::size_t i = 0; i < 2; ++i) {
      for (std::size_t g = 0; g < 2; ++g) {
        Tape scalar_tape;
        Var a = x0(i, 3 * g), b = x0(i, 3 * g + 1), c = x0(i, 3 * g + 2);
        const auto d = subgrad::grad(subgrad::maxout(a, b, c, rule), a, b, c);
        const double weight = double(1 + g + 2 * i);
        for (std::size_t p = 0; p < 3; ++p) {
          BOOST_TEST(dx(i, 3 * g + p) == weight * d[p], rule.name()
                                                            << " (" << i << ", " << g << ")");
        }
      }
    }
  }
  Tape tape;
  TensorVar<double> x(x0);
  BOOST_CHECK_THROW(subgrad::maxout(x, 4), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(rrelu_training_draws_a_slope_per_non_positive_element_and_keeps_it) {
  Tape tape;
  std::mt19937 generator(9);
  TensorVar<double> x(Tensor<double>{{-1.0, -2.0, 3.0, 0.0}});
  const TensorVar<double> y = subgrad::rrelu(x, generator, 0.1, 0.3, kink::left);
  subgrad::backward(subgrad::sum(y));
  const Tensor<double> dx = x.adjoint();
  for (std::size_t j : {0, 1}) {
    BOOST_TEST(dx(0, j) >= 0.1);
    BOOST_TEST(dx(0, j) <= 0.3);
    BOOST_TEST(y.value()(0, j) == dx(0, j) * x.value()(0, j));  // the slope of the value is kept
  }
  BOOST_TEST(dx(0, 0) != dx(0, 1));  // one draw per element
  BOOST_TEST(dx(0, 2) == 1.0);
  BOOST_TEST(dx(0, 3) >= 0.1);  // at 0 under kink::left: the drawn slope
  BOOST_TEST(dx(0, 3) <= 0.3);
}

// Users verify their own layers: check_gradient on a function of a tensor passes on a correct
// layer (with kinks at exact zeros) and catches a layer whose backward is wrong.
BOOST_AUTO_TEST_CASE(check_gradient_verifies_a_layer_of_tensors) {
  const Tensor<double> w0{{0.5, -1.0}, {2.0, 0.25}, {0.0, 1.0}};  // 3 x 2
  const Tensor<double> x0{{1.0, 0.0}, {-2.0, 0.5}};               // 2 x 2: rows are samples
  auto layer = [&x0](const TensorVar<double>& w) {
    return subgrad::mean(subgrad::relu(subgrad::matmul(x0, subgrad::transpose(w))) * 2.0);
  };
  const subgrad::GradientReport report = subgrad::check_gradient(layer, w0);
  BOOST_TEST(report.ok(), fmt::format("{}", report));
  BOOST_TEST(report.coordinates.size() == 6u);
  // A wrong layer: the kink rule picks a value outside relu's subdifferential at 0 (slope 2).
  struct WrongRelu {
    subgrad::Slopes slopes(double x) const {
      return x > 0 ? subgrad::Slopes{1, 1}
                   : (x < 0 ? subgrad::Slopes{0, 0} : subgrad::Slopes{2, 2});
    }
    double value(double x) const { return x > 0 ? x : 0.0; }
  };
  auto wrong = [&x0](const TensorVar<double>& w) {
    return subgrad::mean(
        subgrad::Primitive<WrongRelu>{}(subgrad::matmul(x0, subgrad::transpose(w))));
  };
  const Tensor<double> at_kink{{0.0, 1.0}, {0.0, 2.0}, {1.0, 1.0}};  // x0 row 0 . w row 0 = 0
  BOOST_TEST(!subgrad::check_gradient(wrong, at_kink).ok());
  subgrad::CheckOptions directions;
  directions.coordinates = false;
  directions.directions = 4;
  BOOST_TEST(subgrad::check_gradient(layer, w0, directions).ok());
}

// With the tensor layer included, check_gradient on a vector still takes the generic lambdas of
// docs/checking.md (`auto x`, indexed): the tensor overload must not instantiate them with a
// TensorVar to find out whether it applies. Until this was fixed the file did not compile.
BOOST_AUTO_TEST_CASE(check_gradient_on_a_vector_takes_a_generic_lambda_beside_the_tensor_layer) {
  auto f = [](auto x) { return relu(x[0]) * x[1] + abs(x[2]); };
  subgrad::CheckOptions options;
  options.forward = true;  // the same lambda on Dual<double>
  const subgrad::GradientReport report =
      subgrad::check_gradient(f, std::vector<double>{0.0, 2.0, -1.5}, options);
  BOOST_TEST(report.ok(), fmt::format("{}", report));
  BOOST_TEST(report.coordinates.size() == 3u);
  BOOST_TEST((report.coordinates[0].kind == subgrad::Smoothness::kink));  // relu at 0
}

// An activation chosen by name at run time (a rule behind std::function) works on tensors, and
// its node contexts are destroyed at clear() (ASan would see a leak otherwise).
BOOST_AUTO_TEST_CASE(an_activation_chosen_by_name_works_element_wise) {
  const subgrad::Primitive<subgrad::DynamicUnaryRule> gelu_by_name{
      *subgrad::find_unary_primitive("gelu")};
  const Tensor<double> x0{{-1.0, 0.0, 2.0}};
  Tape tape;
  for (int round = 0; round < 3; ++round) {
    tape.clear();
    TensorVar<double> x(x0);
    subgrad::backward(subgrad::sum(gelu_by_name(x)));
    const Tensor<double> by_name = x.adjoint();
    subgrad::backward(subgrad::sum(subgrad::gelu(x)));
    BOOST_TEST((by_name == x.adjoint()));
  }
}

BOOST_AUTO_TEST_CASE(a_transpose_assigned_to_a_tensor_var_is_recorded) {
  Tape tape;
  TensorVar<double> a(Tensor<double>{{1, 2, 3}, {4, 5, 6}});
  const TensorVar<double> t = subgrad::transpose(a);  // 3 x 2
  BOOST_TEST(t.rows() == 3u);
  BOOST_TEST(t.value()(2, 1) == 6.0);
  // d/da sum(t * w) = w transposed.
  const Tensor<double> w{{1, 10}, {2, 20}, {3, 30}};
  const Tensor<double> g = subgrad::grad(subgrad::sum(t * w), a);
  BOOST_TEST((g == Tensor<double>{{1, 2, 3}, {10, 20, 30}}));
}

BOOST_AUTO_TEST_CASE(tensor_of_vars_passes_the_adjoint_back_and_refuses_a_stale_element) {
  Tape tape;
  Var a = 2.0, b = -3.0;
  Var c = a * b;
  const std::vector<Var> elements{a, b, c, Var()};  // Var(): the constant 0, on no tape
  const TensorVar<double> t = subgrad::tensor_of(std::span<const Var>(elements), 2, 2);
  BOOST_TEST((t.value() == Tensor<double>{{2, -3}, {-6, 0}}));
  // d/da sum(t * w) = w00 + w10 * b, d/db = w01 + w10 * a.
  const Tensor<double> w{{1, 10}, {100, 1000}};
  subgrad::backward(subgrad::sum(t * w));
  BOOST_TEST(a.adjoint() == 1.0 + 100.0 * -3.0);
  BOOST_TEST(b.adjoint() == 10.0 + 100.0 * 2.0);

  Var old = a * 4.0;
  tape.clear();
  Var x = 1.0;
  const std::vector<Var> mixed{x, old};
  BOOST_CHECK_EXCEPTION(subgrad::tensor_of(std::span<const Var>(mixed), 1, 2), subgrad::Error,
                        [](const subgrad::Error& e) {
                          const std::string message = e.what();
                          return message.find("subgrad::tensor_of") != std::string::npos &&
                                 message.find("element 1 (value 8)") != std::string::npos &&
                                 message.find("clear()") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(a_tensor_var_of_another_threads_tape_is_refused) {
  Tape tape;
  TensorVar<double> mine(Tensor<double>(2, 2, 1.0));
  bool refused = false;
  std::thread other([&] {
    Tape theirs;
    try {
      TensorVar<double> y = subgrad::relu(mine);
    } catch (const subgrad::Error& e) {
      refused = std::string(e.what()).find("another thread") != std::string::npos;
    }
  });
  other.join();
  BOOST_TEST(refused);
}

#if SUBGRAD_HAS_FLOAT16
BOOST_AUTO_TEST_CASE(sixteen_bit_products_accumulate_in_float_and_round_once) {
  using Half = _Float16;
  // 1 x 3 times 3 x 2: sums exact in float (multiples of 1/8), then rounded once to 16 bits:
  // 2049 has no 16-bit representation and rounds (to even) to 2048.
  Tensor<Half> a(1, 3), b(3, 2);
  const double a_values[] = {1024.0, 1024.0, 1.0}, b_values[] = {1.0, 0.5, 1.0, 0.25, 1.0, 0.125};
  for (std::size_t k = 0; k < 3; ++k) a.data()[k] = Half(a_values[k]);
  for (std::size_t k = 0; k < 6; ++k) b.data()[k] = Half(b_values[k]);
  Tape tape;
  const TensorVar<Half> c = subgrad::matmul(a, b);
  BOOST_TEST(double(c.value()(0, 0)) == 2048.0);
  BOOST_TEST(double(c.value()(0, 1)) == double(Half(768.0 + 0.125)));
  // A product below half the smallest 16-bit subnormal (2^-25) is exactly 0: how 16-bit networks
  // meet ReLU's kink far more often than float32 ones.
  Tensor<Half> small(1, 1, Half(1e-4));
  BOOST_TEST(double(small(0, 0)) > 0.0);
  BOOST_TEST(double(subgrad::matmul(small, small).value()(0, 0)) == 0.0);
}

BOOST_AUTO_TEST_CASE(sixteen_bit_relu_at_zero_passes_t_times_the_adjoint) {
  using Half = _Float16;
  Tensor<Half> x0(1, 3);
  x0(0, 0) = Half(0.0);
  x0(0, 1) = Half(1.5);
  x0(0, 2) = Half(-2.0);
  for (const double t : {0.0, 0.25, 1.0}) {
    Tape tape;
    TensorVar<Half> x(x0);
    // The upstream adjoint is 4, so ReLU'(0) = t gives 4 t: the slope times the adjoint, not t.
    subgrad::backward(4.0 * subgrad::sum(subgrad::relu(x, kink::convex(t))));
    BOOST_TEST(double(x.adjoint()(0, 0)) == 4.0 * t);
    BOOST_TEST(double(x.adjoint()(0, 1)) == 4.0);
    BOOST_TEST(double(x.adjoint()(0, 2)) == 0.0);
  }
}
#endif
