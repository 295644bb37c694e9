#pragma once
/// \file
/// Var: a double that records what is computed from it on the active tape.

#include <cstddef>
#include <cstdint>
#include <string>

#include "subgrad/core/expression.hpp"
#include "subgrad/core/finite_check.hpp"
#include "subgrad/core/tape.hpp"

#ifndef SUBGRAD_CHECK_OPERAND_TAPES
#ifdef NDEBUG
#define SUBGRAD_CHECK_OPERAND_TAPES 0
#else
#define SUBGRAD_CHECK_OPERAND_TAPES 1
#endif
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
#if SUBGRAD_CHECK_OPERAND_TAPES
    check_operands(expression, tape);
#endif
    const double value = expression.value();
    index_ = tape.record<E::leaf_count>([&expression, value](Index* indices, double* partials) {
      expression.template record<0>(indices, partials, 1.0);
      // Before the statement is counted: if this throws, nothing of it is recorded.
      detail::check_finite_statement<E::leaf_count>(value, partials);
    });
    value_ = value;
    tape_ = tape.id();
  }

  // Every Var leaf must be on `tape` (or on none: a default-constructed Var is the constant 0). A
  // stale one (recorded before clear(), on a destroyed tape, another thread's or an outer tape)
  // would make the sweep read or write an index that is not its own. A second walk over the
  // expression, it adds 20-75 % to the time of a gradient on bench_scalar (measured), so it is on
  // in debug builds and where SUBGRAD_CHECK_OPERAND_TAPES is 1, off in release builds.
  template <class E>
  static void check_operands(const E& expression, const Tape& tape) {
    if constexpr (requires { expression.for_each_var([](const Var&) {}); }) {
      const std::uint32_t id = tape.id();
      bool stale = false;
      expression.for_each_var(
          [&stale, id](const Var& leaf) { stale |= (leaf.tape_ != id) & (leaf.tape_ != 0); });
      if (stale) [[unlikely]]
        report_stale_operand(expression, tape);
    }
  }
  template <class E>
  [[gnu::cold, gnu::noinline]] static void report_stale_operand(const E& expression,
                                                                const Tape& tape) {
    expression.for_each_var([&tape](const Var& leaf) {
      if (leaf.tape_ != 0) tape.check_owns(leaf.tape_, "subgrad::Var (recording)", describe(leaf));
    });
  }
  static std::string describe(const Var& leaf);

  double value_ = 0.0;
  Index index_ = 0;
  std::uint32_t tape_ = 0;
};

inline Var detail::VarAccess::make(double value, Index index, std::uint32_t tape) {
  Var var;
  var.value_ = value;
  var.index_ = index;
  var.tape_ = tape;
  return var;
}

}  // namespace subgrad
