#pragma once
/// \file
/// Element-wise tensor expressions: leaves (a tensor on the tape, a constant tensor, a number, a
/// scalar Var) and nodes (arithmetic, any primitive's rule), broadcast over rows and columns.
/// Assigning an expression to a TensorVar evaluates it in one loop and records one node, whose
/// backward is one loop using the very rules' slopes and the kink rule in force when it was
/// recorded. No temporaries per sub-expression.
///
/// An expression type E has `subgrad_tensor_expression_tag`, `value_type` (float, double, or
/// void for a scalar leaf), rows(), cols(), `double value(i, j)`, `prepare(context)` (before
/// a backward loop), `backward(i, j, adjoint, context)`, `check(tape, operation)`, and for a
/// FiniteCheck `receives_adjoint()`, `check_finite_values(at)` and
/// `check_finite_partials(partial, at)`.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/math/piecewise.hpp"
#include "subgrad/tensor/storage.hpp"

namespace subgrad {

/// Satisfied by the element-wise tensor expressions.
template <class E>
concept TensorExpression = requires {
  typename std::remove_cvref_t<E>::subgrad_tensor_expression_tag;
};

namespace detail {
/// What a backward loop needs besides the expression: the scalar adjoints and the sweep number.
struct TensorBackward {
  std::span<double> adjoints;
  std::uint64_t sweep;
};

/// Where a FiniteCheck of an element-wise expression is (check_finite_elements): the element, the
/// result's shape and value there, and how many operands (leaves, as written) it has passed.
struct FiniteCheckAt {
  std::size_t i, j, rows, cols;
  double value = 0.0;
  std::size_t operand = 0;
};
/// A leaf's part of the partials' check: the partial of the expression's element with respect to
/// this operand, the operand's number, and `describe()` naming it (formatted only on failure).
template <class Describe>
void check_finite_operand(double partial, bool receives_adjoint, FiniteCheckAt& at,
                          Describe&& describe) {
  ++at.operand;
  if (receives_adjoint && !finite(partial)) [[unlikely]] {
    throw_non_finite_element_partial(at.value, partial, at.operand, describe(), at.i, at.j, at.rows,
                                     at.cols);
  }
}
}  // namespace detail
using detail::TensorBackward;

namespace detail {
/// Throws unless `tape` is the tape `on` as it is now; the message (naming a rows x cols tensor)
/// is formatted only then, so the check allocates nothing when it passes.
inline void check_tensor_tape(const Tape& on, std::uint32_t tape, std::string_view operation,
                              std::size_t rows, std::size_t cols) {
  if (tape != on.id()) [[unlikely]]
    on.check_owns(tape, operation, fmt::format("a {} x {} tensor", rows, cols));
}
}  // namespace detail

/// A tensor of a slot, broadcast where it has one row or one column.
template <class T>
struct TensorLeaf {
  using subgrad_tensor_expression_tag = void;
  using value_type = T;
  detail::TensorSlot<T>* slot;
  std::uint32_t tape;
  // The shape, kept here so that checking the tape never reads the slot of a dead tape.
  std::size_t rows_;
  std::size_t cols_;
  // Strides of the element index: 0 along a broadcast dimension (one row or one column).
  std::size_t row_stride = rows_ == 1 ? 0 : cols_;
  std::size_t col_stride = cols_ == 1 ? 0 : 1;
  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t at(std::size_t i, std::size_t j) const noexcept {
    return i * row_stride + j * col_stride;
  }
  double value(std::size_t i, std::size_t j) const noexcept {
    return detail::element_to_double(slot->value.data()[at(i, j)]);
  }
  void prepare(TensorBackward& context) const {
    if (slot->requires_adjoint) slot->touch(context.sweep);
  }
  void backward(std::size_t i, std::size_t j, double adjoint, TensorBackward&) const noexcept {
    if (slot->requires_adjoint) slot->adjoint[at(i, j)] += static_cast<T>(adjoint);
  }
  void check(const Tape& on, std::string_view operation) const {
    detail::check_tensor_tape(on, tape, operation, rows(), cols());
  }
  bool receives_adjoint() const noexcept { return slot->requires_adjoint; }
  void check_finite_values(const detail::FiniteCheckAt&) const noexcept {}
  void check_finite_partials(double partial, detail::FiniteCheckAt& at) const {
    detail::check_finite_operand(partial, receives_adjoint(), at,
                                 [this] { return fmt::format("a {} x {} tensor", rows_, cols_); });
  }
};

/// A passive number, broadcast everywhere.
struct NumberLeaf {
  using subgrad_tensor_expression_tag = void;
  using value_type = void;
  double number;
  std::size_t rows() const noexcept { return 1; }
  std::size_t cols() const noexcept { return 1; }
  double value(std::size_t, std::size_t) const noexcept { return number; }
  void prepare(TensorBackward&) const noexcept {}
  void backward(std::size_t, std::size_t, double, TensorBackward&) const noexcept {}
  void check(const Tape&, std::string_view) const noexcept {}
  bool receives_adjoint() const noexcept { return false; }
  void check_finite_values(const detail::FiniteCheckAt&) const noexcept {}
  void check_finite_partials(double, detail::FiniteCheckAt& at) const noexcept { ++at.operand; }
};

/// A scalar Var, broadcast everywhere: its adjoint receives the sum over the elements.
struct VarLeaf {
  using subgrad_tensor_expression_tag = void;
  using value_type = void;
  double number;
  Index index;
  std::uint32_t tape;
  std::size_t rows() const noexcept { return 1; }
  std::size_t cols() const noexcept { return 1; }
  double value(std::size_t, std::size_t) const noexcept { return number; }
  void prepare(TensorBackward&) const noexcept {}
  void backward(std::size_t, std::size_t, double adjoint, TensorBackward& context) const noexcept {
    context.adjoints[index] += adjoint;
  }
  void check(const Tape& on, std::string_view operation) const {
    if (tape != on.id()) [[unlikely]]
      on.check_owns(tape, operation, fmt::format("a Var (value {})", number));
  }
  bool receives_adjoint() const noexcept { return true; }
  void check_finite_values(const detail::FiniteCheckAt&) const noexcept {}
  void check_finite_partials(double partial, detail::FiniteCheckAt& at) const {
    detail::check_finite_operand(partial, true, at,
                                 [this] { return fmt::format("a Var of value {}", number); });
  }
};

namespace detail {
template <class A, class B>
using CommonTensorValue = std::conditional_t<std::is_void_v<typename A::value_type>,
                                             typename B::value_type, typename A::value_type>;

/// The shape of a broadcast of two shapes, or an Error naming the operation and both shapes.
inline std::size_t broadcast(std::size_t a, std::size_t b, std::size_t a_other, std::size_t b_other,
                             std::string_view operation, bool rows) {
  if (a == b || b == 1) return a;
  if (a == 1) return b;
  const std::size_t ar = rows ? a : a_other, ac = rows ? a_other : a;
  const std::size_t br = rows ? b : b_other, bc = rows ? b_other : b;
  throw Error(fmt::format("subgrad::{}: shapes {} x {} and {} x {} do not broadcast", operation, ar,
                          ac, br, bc));
}

/// An operation's name in reports: its rule's (UnaryRuleOp, BinaryRuleOp) or its own.
template <class Op>
constexpr std::string_view operation_name(const Op& op) {
  if constexpr (requires { op.rule; }) {
    return rule_name(op.rule);
  } else {
    return Op::name;
  }
}
}  // namespace detail

/// An element-wise function of one expression: Op has value(x) and derivative(x).
template <class Op, class A>
struct UnaryTensorNode {
  using subgrad_tensor_expression_tag = void;
  using value_type = typename A::value_type;
  Op op;
  A a;
  std::size_t rows() const noexcept { return a.rows(); }
  std::size_t cols() const noexcept { return a.cols(); }
  double value(std::size_t i, std::size_t j) const { return op.value(a.value(i, j)); }
  void prepare(TensorBackward& context) const { a.prepare(context); }
  void backward(std::size_t i, std::size_t j, double adjoint, TensorBackward& context) const {
    a.backward(i, j, adjoint * op.derivative(a.value(i, j)), context);
  }
  void check(const Tape& on, std::string_view operation) const { a.check(on, operation); }
  bool receives_adjoint() const noexcept { return a.receives_adjoint(); }
  // The operand first, so that a failure is reported where it starts (as a statement reports
  // the first primitive noted).
  void check_finite_values(const detail::FiniteCheckAt& at) const {
    a.check_finite_values(at);
    const double x = a.value(at.i, at.j);
    const double value = op.value(x), derivative = op.derivative(x);
    if (!detail::finite(value) || (a.receives_adjoint() && !detail::finite(derivative)))
        [[unlikely]] {
      detail::throw_non_finite_element_primitive(detail::operation_name(op), false, x, 0.0, value,
                                                 derivative, 0.0, at.i, at.j, at.rows, at.cols);
    }
  }
  void check_finite_partials(double partial, detail::FiniteCheckAt& at) const {
    a.check_finite_partials(partial * op.derivative(a.value(at.i, at.j)), at);
  }
};

/// An element-wise function of two expressions, broadcast: Op has value(x, y) and
/// partials(x, y).
template <class Op, class A, class B>
struct BinaryTensorNode {
  using subgrad_tensor_expression_tag = void;
  using value_type = detail::CommonTensorValue<A, B>;
  static_assert(std::is_void_v<typename A::value_type> || std::is_void_v<typename B::value_type> ||
                    std::is_same_v<typename A::value_type, typename B::value_type>,
                "subgrad: a tensor expression mixes float and double tensors");
  Op op;
  A a;
  B b;
  std::size_t rows_;
  std::size_t cols_;
  BinaryTensorNode(Op op_, const A& a_, const B& b_, std::string_view operation)
      : op(op_),
        a(a_),
        b(b_),
        rows_(detail::broadcast(a_.rows(), b_.rows(), a_.cols(), b_.cols(), operation, true)),
        cols_(detail::broadcast(a_.cols(), b_.cols(), a_.rows(), b_.rows(), operation, false)) {}
  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  double value(std::size_t i, std::size_t j) const {
    return op.value(a.value(i, j), b.value(i, j));
  }
  void prepare(TensorBackward& context) const {
    a.prepare(context);
    b.prepare(context);
  }
  void backward(std::size_t i, std::size_t j, double adjoint, TensorBackward& context) const {
    const BinaryPartials<double> d = op.partials(a.value(i, j), b.value(i, j));
    a.backward(i, j, adjoint * d.x, context);
    b.backward(i, j, adjoint * d.y, context);
  }
  void check(const Tape& on, std::string_view operation) const {
    a.check(on, operation);
    b.check(on, operation);
  }
  bool receives_adjoint() const noexcept { return a.receives_adjoint() || b.receives_adjoint(); }
  // A partial counts where its operand receives an adjoint: x / c with a constant c near 0 has
  // an infinite partial for c that the sweep never uses.
  void check_finite_values(const detail::FiniteCheckAt& at) const {
    a.check_finite_values(at);
    b.check_finite_values(at);
    const double x = a.value(at.i, at.j), y = b.value(at.i, at.j);
    const double value = op.value(x, y);
    const BinaryPartials<double> d = op.partials(x, y);
    if (!detail::finite(value) || (a.receives_adjoint() && !detail::finite(d.x)) ||
        (b.receives_adjoint() && !detail::finite(d.y))) [[unlikely]] {
      detail::throw_non_finite_element_primitive(detail::operation_name(op), true, x, y, value, d.x,
                                                 d.y, at.i, at.j, at.rows, at.cols);
    }
  }
  void check_finite_partials(double partial, detail::FiniteCheckAt& at) const {
    const BinaryPartials<double> d = op.partials(a.value(at.i, at.j), b.value(at.i, at.j));
    a.check_finite_partials(partial * d.x, at);
    b.check_finite_partials(partial * d.y, at);
  }
};

namespace detail {
// Arithmetic, each with its partials.
struct AddOp {
  static constexpr std::string_view name = "operator+";
  double value(double x, double y) const noexcept { return x + y; }
  BinaryPartials<double> partials(double, double) const noexcept { return {1.0, 1.0}; }
};
struct SubtractOp {
  static constexpr std::string_view name = "operator-";
  double value(double x, double y) const noexcept { return x - y; }
  BinaryPartials<double> partials(double, double) const noexcept { return {1.0, -1.0}; }
};
struct MultiplyOp {
  static constexpr std::string_view name = "operator*";
  double value(double x, double y) const noexcept { return x * y; }
  BinaryPartials<double> partials(double x, double y) const noexcept { return {y, x}; }
};
struct DivideOp {
  static constexpr std::string_view name = "operator/";
  double value(double x, double y) const noexcept { return x / y; }
  BinaryPartials<double> partials(double x, double y) const noexcept {
    return {1.0 / y, -x / (y * y)};
  }
};
struct NegateOp {
  static constexpr std::string_view name = "operator- (negation)";
  double value(double x) const noexcept { return -x; }
  double derivative(double) const noexcept { return -1.0; }
};

/// A unary primitive's rule applied element-wise, with the kink rule chosen when it was built.
template <class Rule>
struct UnaryRuleOp {
  Rule rule;
  KinkRule kink;
  double value(double x) const { return rule_value(rule, x); }
  double derivative(double x) const {
    return chosen_derivative(rule_slopes(rule, x), CallKinkRule{kink});
  }
};
/// A binary primitive's rule applied element-wise.
template <class Rule>
struct BinaryRuleOp {
  Rule rule;
  KinkRule kink;
  double value(double x, double y) const { return evaluate(rule, x, y).value; }
  BinaryPartials<double> partials(double x, double y) const {
    return resolve(evaluate(rule, x, y).slopes, kink);
  }
};

/// Whether E is a unary rule applied to a tensor on the tape, with a branch-free derivative
/// (Relu::derivative): its backward loop then vectorises (backward_rule_of_leaf).
template <class E>
struct IsBranchFreeRuleOfLeaf : std::false_type {};
template <class Rule, class T>
    struct IsBranchFreeRuleOfLeaf<UnaryTensorNode<UnaryRuleOp<Rule>, TensorLeaf<T>>>
    : std::bool_constant < requires(const Rule& rule, double x) {
  rule.derivative(x, x);
} > {};

/// The backward of `rule(x)` for such a rule: the general loop's result bit for bit (an element
/// whose adjoint is 0 adds nothing, the product is taken in double), but the derivative comes
/// from the rule's branch-free form with the kink rule's pick at 0 computed once, and a fresh
/// input adjoint is written instead of zero-filled and then added to.
template <class Rule, class T>
void backward_rule_of_leaf(const UnaryTensorNode<UnaryRuleOp<Rule>, TensorLeaf<T>>& node,
                           const TensorSlot<T>& result, std::uint64_t sweep) {
  TensorSlot<T>& input = *node.a.slot;
  if (!input.requires_adjoint) return;
  const Rule& rule = node.op.rule;
  const double at_kink = chosen_derivative(rule_slopes(rule, 0.0), CallKinkRule{node.op.kink});
  const bool fresh = input.claim(sweep);
  const std::size_t n = result.value.size();  // a unary node's input has its result's shape
  const T* __restrict x = input.value.data();
  const T* __restrict dy = result.adjoint.data();
  T* __restrict dx = input.adjoint.data();
  if (fresh) {
    for (std::size_t k = 0; k < n; ++k) {
      const double g = element_to_double(dy[k]);
      const T c = T(0) + static_cast<T>(g * rule.derivative(element_to_double(x[k]), at_kink));
      dx[k] = select(g != 0.0, c, T(0));
    }
  } else {
    for (std::size_t k = 0; k < n; ++k) {
      const double g = element_to_double(dy[k]);
      const T c = dx[k] + static_cast<T>(g * rule.derivative(element_to_double(x[k]), at_kink));
      dx[k] = select(g != 0.0, c, dx[k]);
    }
  }
}

/// The context of a fused node: the expression and where its result lives.
template <class E, class T>
struct FusedNode {
  E expression;
  TensorSlot<T>* result;
  const Tape* tape;
  static void backward(const void* context, std::span<double> adjoints) {
    const FusedNode& node = *static_cast<const FusedNode*>(context);
    const TensorSlot<T>& result = *node.result;
    const std::uint64_t sweep = node.tape->sweep_count();
    if (result.adjoint_sweep != sweep) return;  // nothing downstream reached this result
    if constexpr (IsBranchFreeRuleOfLeaf<E>::value) {
      backward_rule_of_leaf(node.expression, result, sweep);
      return;
    }
    TensorBackward backward{adjoints, sweep};
    node.expression.prepare(backward);
    const std::size_t rows = result.value.rows(), cols = result.value.cols();
    const T* adjoint = result.adjoint.data();
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        const double g = static_cast<double>(adjoint[i * cols + j]);
        if (g != 0.0) node.expression.backward(i, j, g, backward);
      }
    }
  }
};

/// While a FiniteCheck is on: throws at the first element where a primitive or operator of
/// `expression` gives a value, or a partial the sweep will use, that is not finite (naming it and
/// its arguments), or where the partial of the result with respect to an operand is not (each
/// factor finite, the product overflowing), as a Var statement is checked.
template <class E>
void check_finite_elements(const E& expression, std::size_t rows, std::size_t cols) {
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      FiniteCheckAt at{.i = i, .j = j, .rows = rows, .cols = cols, .value = expression.value(i, j)};
      expression.check_finite_values(at);
      expression.check_finite_partials(1.0, at);
    }
  }
}

/// Evaluates `expression` into a new slot of the active tape in one loop and records its node.
template <class T, class E>
TensorSlot<T>* assign_expression(const E& expression) {
  Tape& tape = Tape::active();
  expression.check(tape, "subgrad::TensorVar (assigning an expression)");
  const std::size_t rows = expression.rows(), cols = expression.cols();
  TensorSlot<T>& slot = tape.attachment<TensorStorage<T>>().next(rows, cols, true);
  T* out = slot.value.data();
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j)
      out[i * cols + j] = static_cast<T>(expression.value(i, j));
  }
  if (finite_check_on()) [[unlikely]] {
    check_finite_elements(expression, rows, cols);
    // The result as stored: a float element may overflow where its double value did not.
    check_finite_result(slot.value, "an element-wise tensor expression");
  }
  record_tensor_node<FusedNode<E, T>>(tape, expression, &slot, &tape);
  return &slot;
}

}  // namespace detail
}  // namespace subgrad
