#pragma once
/// \file
/// TensorVar<T>: a tensor on the active tape (a handle, cheap to copy, like Var), the arithmetic
/// of tensor expressions, and every primitive applied element-wise through its one rule.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/tensor/expression.hpp"
#include "subgrad/tensor/storage.hpp"
#include "subgrad/tensor/tensor.hpp"

namespace subgrad {

template <class T>
class TensorVar;

namespace detail {
struct TensorVarAccess;
}

/// A tensor on the active tape. Made from a Tensor<T> it is an independent variable (as Var from
/// double); made from a tensor expression it is that expression, evaluated in one loop and
/// recorded as one node.
template <class T>
class TensorVar {
 public:
  using value_type = T;
  /// A new independent variable with these values.
  TensorVar(const Tensor<T>& values) {  // NOLINT: implicit, as Var from double
    Tape& tape = Tape::active();
    slot_ = &tape.attachment<detail::TensorStorage<T>>().next(values.rows(), values.cols(), true);
    slot_->value = values;
    tape_ = tape.id();
    rows_ = values.rows();
    cols_ = values.cols();
  }
  /// Evaluates and records an element-wise expression.
  template <TensorExpression E>
  TensorVar(const E& expression)  // NOLINT: implicit, so that `TensorVar<float> y = relu(x);`
      : slot_(detail::assign_expression<T>(expression)),
        tape_(Tape::active().id()),
        rows_(expression.rows()),
        cols_(expression.cols()) {
    static_assert(
        std::is_void_v<typename E::value_type> || std::is_same_v<typename E::value_type, T>,
        "subgrad::TensorVar<T>: the expression's tensors are of another element type");
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t size() const noexcept { return rows_ * cols_; }
  /// The values (valid until the tape is cleared; readable while another tape is nested in it).
  const Tensor<T>& value() const {
    if (Tape::find_on_this_thread(tape_) == nullptr) [[unlikely]] {
      Tape::active().check_owns(tape_, "subgrad::TensorVar::value",
                                fmt::format("a {} x {} tensor", rows_, cols_));
    }
    return slot_->value;
  }
  /// d(output)/d(this) after the last backward() on this tensor's tape (zeros where the output
  /// does not depend on it).
  Tensor<T> adjoint() const {
    const Tape& tape = Tape::active();
    detail::check_tensor_tape(tape, tape_, "subgrad::TensorVar::adjoint", rows(), cols());
    Tensor<T> result(rows(), cols());
    if (slot_->adjoint_sweep == tape.sweep_count() && tape.sweep_count() > 0) {
      std::copy(slot_->adjoint.begin(), slot_->adjoint.end(), result.data());
    }
    return result;
  }
  /// Element (i, j) as a Var: its adjoint flows back into this tensor's.
  Var element(std::size_t i, std::size_t j) const;
  /// The id of the tape this tensor was recorded on.
  std::uint32_t tape_id() const noexcept { return tape_; }

 private:
  friend struct detail::TensorVarAccess;
  TensorVar() = default;
  detail::TensorSlot<T>* slot_ = nullptr;
  std::uint32_t tape_ = 0;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

namespace detail {
struct TensorVarAccess {
  template <class T>
  static TensorSlot<T>* slot(const TensorVar<T>& t) noexcept {
    return t.slot_;
  }
  template <class T>
  static TensorVar<T> make(TensorSlot<T>* slot, std::uint32_t tape) {
    TensorVar<T> t;
    t.slot_ = slot;
    t.tape_ = tape;
    t.rows_ = slot->value.rows();
    t.cols_ = slot->value.cols();
    return t;
  }
};

template <class T>
struct is_tensor_var : std::false_type {};
template <class T>
struct is_tensor_var<TensorVar<T>> : std::true_type {};
template <class T>
struct is_tensor : std::false_type {};
template <class T>
struct is_tensor<Tensor<T>> : std::true_type {};

/// A constant tensor's values, copied onto the active tape (the backward needs them after the
/// caller's Tensor may be gone).
template <class T>
TensorSlot<T>* constant_slot(const Tensor<T>& values) {
  Tape& tape = Tape::active();
  TensorSlot<T>* slot =
      &tape.attachment<TensorStorage<T>>().next(values.rows(), values.cols(), false);
  slot->value = values;
  return slot;
}
}  // namespace detail

/// A tensor on the active tape that is not a variable: no gradient is computed for it (a batch of
/// inputs, a mask). It takes part in expressions and products as a TensorVar does.
template <class T>
TensorVar<T> constant_tensor(const Tensor<T>& values) {
  return detail::TensorVarAccess::make(detail::constant_slot(values), Tape::active().id());
}

/// A tensor on the tape (TensorVar) or an element-wise expression.
template <class X>
concept ActiveTensorOperand =
    TensorExpression<X> || detail::is_tensor_var<std::remove_cvref_t<X>>::value;
/// Anything that may stand in a tensor expression (a scalar Var or expression is broadcast).
template <class X>
concept TensorOperand = ActiveTensorOperand<X> ||
    detail::is_tensor<std::remove_cvref_t<X>>::value || Passive<X> || Expression<X>;

/// The expression a tensor operand stands for.
template <TensorOperand X>
auto as_tensor_expression(const X& x) {
  using Plain = std::remove_cvref_t<X>;
  if constexpr (TensorExpression<Plain>) {
    return x;
  } else if constexpr (detail::is_tensor_var<Plain>::value) {
    return TensorLeaf<typename Plain::value_type>{detail::TensorVarAccess::slot(x), x.tape_id(),
                                                  x.rows(), x.cols()};
  } else if constexpr (detail::is_tensor<Plain>::value) {
    return TensorLeaf<typename Plain::value_type>{detail::constant_slot(x), Tape::active().id(),
                                                  x.rows(), x.cols()};
  } else if constexpr (Expression<Plain>) {
    const Var recorded = x;  // a scalar expression is recorded as one statement first
    return VarLeaf{recorded.value(), recorded.index(), recorded.tape_id()};
  } else {
    return NumberLeaf{static_cast<double>(x)};
  }
}

namespace detail {
template <class Op, class A, class B>
auto make_binary_tensor(Op op, const A& a, const B& b, std::string_view operation) {
  using EA = decltype(as_tensor_expression(a));
  using EB = decltype(as_tensor_expression(b));
  return BinaryTensorNode<Op, EA, EB>(op, as_tensor_expression(a), as_tensor_expression(b),
                                      operation);
}
}  // namespace detail

/// At least one operand is a tensor on the tape or an expression; the other may be a constant
/// Tensor, a number or a scalar Var (whose adjoint receives the sum).
template <class A, class B>
concept TensorOperands = TensorOperand<A> && TensorOperand<B> &&
    (ActiveTensorOperand<A> || ActiveTensorOperand<B>);

template <class A, class B>
requires TensorOperands<A, B>
auto operator+(const A& a, const B& b) {
  return detail::make_binary_tensor(detail::AddOp{}, a, b, "operator+");
}
template <class A, class B>
requires TensorOperands<A, B>
auto operator-(const A& a, const B& b) {
  return detail::make_binary_tensor(detail::SubtractOp{}, a, b, "operator-");
}
template <class A, class B>
requires TensorOperands<A, B>
auto operator*(const A& a, const B& b) {
  return detail::make_binary_tensor(detail::MultiplyOp{}, a, b, "operator*");
}
template <class A, class B>
requires TensorOperands<A, B>
auto operator/(const A& a, const B& b) {
  return detail::make_binary_tensor(detail::DivideOp{}, a, b, "operator/");
}
template <ActiveTensorOperand A>
auto operator-(const A& a) {
  using E = decltype(as_tensor_expression(a));
  return UnaryTensorNode<detail::NegateOp, E>{{}, as_tensor_expression(a)};
}

/// Any unary primitive applied element-wise (found by Primitive<Rule> through ADL): the same
/// rule as on double, Var and Dual, with the kink rule in force now or named in the call.
template <class Rule, ActiveTensorOperand X, class Choice>
requires UnaryRule<Rule>
auto apply_primitive(const Rule& rule, const X& x, Choice choice) {
  using E = decltype(as_tensor_expression(x));
  return UnaryTensorNode<detail::UnaryRuleOp<Rule>, E>{{rule, choice.get()},
                                                       as_tensor_expression(x)};
}
/// Any binary primitive applied element-wise, broadcast (max, min, prelu with a slope per column,
/// ...).
template <class Rule, class X, class Y, class Choice>
requires BinaryRule<Rule> && TensorOperands<X, Y>
auto apply_primitive(const Rule& rule, const X& x, const Y& y, Choice choice) {
  return detail::make_binary_tensor(detail::BinaryRuleOp<Rule>{rule, choice.get()}, x, y,
                                    rule_name<Rule>());
}

}  // namespace subgrad

template <class T>
struct fmt::formatter<subgrad::TensorVar<T>> : fmt::formatter<subgrad::Tensor<T>> {
  template <class Context>
  auto format(const subgrad::TensorVar<T>& t, Context& context) const {
    return fmt::formatter<subgrad::Tensor<T>>::format(t.value(), context);
  }
};

namespace subgrad {
/// Writes the value, as for a Tensor.
template <class T, class Traits>
std::basic_ostream<char, Traits>& operator<<(std::basic_ostream<char, Traits>& out,
                                             const TensorVar<T>& t) {
  return out << t.value();
}
}  // namespace subgrad
