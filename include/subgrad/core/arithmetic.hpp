#pragma once
/// \file
/// + - * / and unary minus over any mix of Var, expressions and passive numbers; comparisons
/// by value; the compound assignments of Var (+=, -=, *=, /=).

#include <cmath>
#include <cstddef>

#include "subgrad/core/expression.hpp"
#include "subgrad/core/primal_value.hpp"
#include "subgrad/core/var.hpp"

namespace subgrad {

/// a + b; partials 1 and 1.
template <Expression A, Expression B>
struct Sum {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A a;
  B b;
  constexpr Sum(const A& a_, const B& b_) : a(a_), b(b_) {}
  constexpr double value() const noexcept { return a.value() + b.value(); }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    a.template record<Offset>(indices, partials, multiplier);
    b.template record<Offset + A::leaf_count>(indices, partials, multiplier);
  }
  template <class F>
  void for_each_var(F&& f) const {
    a.for_each_var(f);
    b.for_each_var(f);
  }
};

/// a - b; partials 1 and -1.
template <Expression A, Expression B>
struct Difference {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A a;
  B b;
  constexpr Difference(const A& a_, const B& b_) : a(a_), b(b_) {}
  constexpr double value() const noexcept { return a.value() - b.value(); }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    a.template record<Offset>(indices, partials, multiplier);
    b.template record<Offset + A::leaf_count>(indices, partials, -multiplier);
  }
  template <class F>
  void for_each_var(F&& f) const {
    a.for_each_var(f);
    b.for_each_var(f);
  }
};

/// a * b; partials b and a.
template <Expression A, Expression B>
struct Product {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A a;
  B b;
  constexpr Product(const A& a_, const B& b_) : a(a_), b(b_) {}
  constexpr double value() const noexcept { return a.value() * b.value(); }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    a.template record<Offset>(indices, partials, multiplier * b.value());
    b.template record<Offset + A::leaf_count>(indices, partials, multiplier * a.value());
  }
  template <class F>
  void for_each_var(F&& f) const {
    a.for_each_var(f);
    b.for_each_var(f);
  }
};

/// a / b; partials 1/b and -a/b^2.
template <Expression A, Expression B>
struct Quotient {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A a;
  B b;
  double result;
  constexpr Quotient(const A& a_, const B& b_) : a(a_), b(b_), result(a_.value() / b_.value()) {}
  constexpr double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    const double scaled = multiplier / b.value();
    a.template record<Offset>(indices, partials, scaled);
    b.template record<Offset + A::leaf_count>(indices, partials, -scaled * result);
  }
  template <class F>
  void for_each_var(F&& f) const {
    a.for_each_var(f);
    b.for_each_var(f);
  }
};

/// -a; partial -1.
template <Expression A>
struct Negation {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count;
  A a;
  constexpr double value() const noexcept { return -a.value(); }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    a.template record<Offset>(indices, partials, -multiplier);
  }
  template <class F>
  void for_each_var(F&& f) const {
    a.for_each_var(f);
  }
};

template <class A, class B>
requires ExpressionOperands<A, B>
constexpr auto operator+(const A& a, const B& b) {
  return Sum<detail::ExpressionOf<A>, detail::ExpressionOf<B>>(detail::as_expression(a),
                                                               detail::as_expression(b));
}
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr auto operator-(const A& a, const B& b) {
  return Difference<detail::ExpressionOf<A>, detail::ExpressionOf<B>>(detail::as_expression(a),
                                                                      detail::as_expression(b));
}
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr auto operator*(const A& a, const B& b) {
  return Product<detail::ExpressionOf<A>, detail::ExpressionOf<B>>(detail::as_expression(a),
                                                                   detail::as_expression(b));
}
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr auto operator/(const A& a, const B& b) {
  return Quotient<detail::ExpressionOf<A>, detail::ExpressionOf<B>>(detail::as_expression(a),
                                                                    detail::as_expression(b));
}
template <Expression A>
constexpr auto operator-(const A& a) {
  return Negation<A>{a};
}
template <Expression A>
constexpr const A& operator+(const A& a) {
  return a;
}

// Comparisons look at values only; they record nothing.
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator==(const A& a, const B& b) { return primal_value(a) == primal_value(b); }
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator!=(const A& a, const B& b) { return primal_value(a) != primal_value(b); }
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator<(const A& a, const B& b) { return primal_value(a) < primal_value(b); }
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator<=(const A& a, const B& b) { return primal_value(a) <= primal_value(b); }
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator>(const A& a, const B& b) { return primal_value(a) > primal_value(b); }
template <class A, class B>
requires ExpressionOperands<A, B>
constexpr bool operator>=(const A& a, const B& b) { return primal_value(a) >= primal_value(b); }

// The classifications of <cmath>, on the value, recording nothing. Found by argument-dependent
// lookup, as generic code calls them (`using std::isnan; isnan(x)`: Eigen's allFinite, hasNaN
// and hypotNorm do).
template <Expression A>
bool isnan(const A& a) {
  return std::isnan(primal_value(a));
}
template <Expression A>
bool isinf(const A& a) {
  return std::isinf(primal_value(a));
}
template <Expression A>
bool isfinite(const A& a) {
  return std::isfinite(primal_value(a));
}

// Compound assignments: one new statement each, as `x = x + other`; always inlined, as the
// assignment itself is (core/var.hpp: repeated leaves merge only where the statement is built).
template <ExpressionOperand E>
[[gnu::always_inline]] inline Var& operator+=(Var& x, const E& other) {
  return x = x + other;
}
template <ExpressionOperand E>
[[gnu::always_inline]] inline Var& operator-=(Var& x, const E& other) {
  return x = x - other;
}
template <ExpressionOperand E>
[[gnu::always_inline]] inline Var& operator*=(Var& x, const E& other) {
  return x = x * other;
}
template <ExpressionOperand E>
[[gnu::always_inline]] inline Var& operator/=(Var& x, const E& other) {
  return x = x / other;
}

}  // namespace subgrad
