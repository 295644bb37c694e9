#pragma once
/// \file
/// Var: a double that records what is computed from it on the active tape.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "subgrad/core/expression.hpp"
#include "subgrad/core/finite_check.hpp"
#include "subgrad/core/tape.hpp"

// Recording checks that every operand is on the active tape (see Var::check_operands); on by
// default, in release builds too. Define it to 0 to drop the check (docs/performance.md: its cost).
#ifndef SUBGRAD_CHECK_OPERAND_TAPES
#define SUBGRAD_CHECK_OPERAND_TAPES 1
#endif

namespace subgrad {

class Var;
namespace detail {
/// Builds a Var for a statement recorded by other means (runtime-length statements, tensors).
struct VarAccess {
  static Var make(double value, Index index, std::uint32_t tape);
};
}  // namespace detail

/// An active scalar: a value, its index on a tape, and the id of that tape.
/// A Var is a small handle; copying it does not record anything.
class Var {
 public:
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = 1;

  /// 0, on no tape: a passive value until something is assigned to it.
  constexpr Var() noexcept = default;
  /// A new independent variable on the active tape.
  Var(double value) { make_independent(value); }  // NOLINT: implicit, as for double
  /// Records `expression` as one statement on the active tape.
  template <Expression E>
  requires(!std::same_as<std::remove_cvref_t<E>, Var>)
      Var(const E& expression) {  // NOLINT: implicit, so that `Var y = a * b;` works
    assign(expression);
  }
  Var(const Var&) noexcept = default;
  Var& operator=(const Var&) noexcept = default;

  /// Makes this Var a new independent variable with `value`.
  Var& operator=(double value) {
    make_independent(value);
    return *this;
  }
  template <Expression E>
  requires(!std::same_as<std::remove_cvref_t<E>, Var>) Var& operator=(const E& expression) {
    assign(expression);
    return *this;
  }

  constexpr double value() const noexcept { return value_; }
  /// d(output)/d(this) after the last backward() on this Var's tape, which must be active.
  double adjoint() const { return Tape::active().adjoint(index_, tape_, "subgrad::Var::adjoint"); }
  /// The position on the tape (0: on no tape).
  constexpr Index index() const noexcept { return index_; }
  /// The id of the tape this Var was recorded on (0: none); see Tape::id().
  constexpr std::uint32_t tape_id() const noexcept { return tape_; }

  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const noexcept {
    indices[Offset] = index_;
    partials[Offset] = multiplier;
  }
  template <class F>
  void for_each_var(F&& f) const {
    f(*this);
  }

 private:
  friend struct detail::VarAccess;
  void make_independent(double value) {
    Tape& tape = Tape::active();
    index_ = tape.new_variable();
    value_ = value;
    tape_ = tape.id();
  }

  template <class E>
  void assign(const E& expression) {
    Tape& tape = Tape::active();
    // Read once: the compiler cannot know that recording (stores of indices) leaves it unchanged.
    const std::uint32_t id = tape.id();
#if SUBGRAD_CHECK_OPERAND_TAPES
    check_operands(expression, id);
#endif
    const double value = expression.value();
    index_ = tape.record<E::leaf_count>([&expression, value](Index* indices, double* partials) {
      expression.template record<0>(indices, partials, 1.0);
      // Before the statement is counted: if this throws, nothing of it is recorded.
      detail::check_finite_statement<E::leaf_count>(value, partials);
    });
    value_ = value;
    tape_ = id;
  }

  // Every Var leaf must be on the active tape (or on none: a default-constructed Var is the
  // constant 0). A stale one (recorded before clear(), on a destroyed tape, another thread's or an
  // outer tape) would make the sweep read or write an index that is not its own.
  template <class E>
  static void check_operands(const E& expression, std::uint32_t id) {
    if constexpr (requires { expression.for_each_var([](const Var&) {}); }) {
      // Two instructions per leaf and one branch per statement. A leaf on no tape (a
      // default-constructed Var, the constant 0) is allowed but takes the slow path, which is
      // rare: assigning to such a Var puts it on the tape.
      std::uint32_t differs = 0;
      expression.for_each_var([&differs, id](const Var& leaf) { differs |= leaf.tape_ ^ id; });
      if (differs != 0) [[unlikely]] {
        expression.for_each_var([id](const Var& leaf) {
          if (leaf.tape_ != 0 && leaf.tape_ != id)
            report_stale_operand(leaf.value_, leaf.index_, leaf.tape_);
        });
      }
    }
  }
  // Out of line and with the leaf's fields by value: passing the expression would make the
  // compiler keep it in memory instead of registers on the recording path.
  [[noreturn, gnu::cold]] static void report_stale_operand(double value, Index index,
                                                           std::uint32_t tape);

  double value_ = 0.0;
  Index index_ = 0;
  std::uint32_t tape_ = 0;
};

namespace detail {
/// Throws subgrad::Error unless `operand` is on `tape` or on none (a default-constructed Var, the
/// constant 0). `describe()` names the operand in the message and is called only on failure, so
/// the check formats nothing when it passes.
template <class Describe>
void check_operand_tape(const Tape& tape, const Var& operand, std::string_view operation,
                        Describe&& describe) {
  if (operand.tape_id() != 0 && operand.tape_id() != tape.id()) [[unlikely]]
    tape.check_owns(operand.tape_id(), operation, describe());
}
}  // namespace detail

inline Var detail::VarAccess::make(double value, Index index, std::uint32_t tape) {
  Var var;
  var.value_ = value;
  var.index_ = index;
  var.tape_ = tape;
  return var;
}

}  // namespace subgrad
