#pragma once
/// \file
/// Var: a double that records what is computed from it on the active tape.

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <type_traits>
#include <utility>

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
/// Whether this build merges a statement's repeated leaves (StatementLeaves): it takes g++'s
/// optimiser, which is what can tell that two leaves are the same Var. Elsewhere (-O0, clang)
/// every leaf is recorded, as written.
inline constexpr bool merges_repeated_leaves =
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
    true;
#else
    false;
#endif
/// Statements of up to this many leaves merge (pairs are compared at compile time: quadratic).
inline constexpr std::size_t max_leaves_merged = 8;

/// Whether two leaves' indices are known, once the statement is inlined, to be equal: true when
/// g++ sees the same Var read twice (`x * x`, or `q[i]` in two terms of a flux), false when it
/// cannot tell. Nothing is compared at run time: the test folds to a constant.
[[gnu::always_inline]] inline bool known_equal(Index a, Index b) noexcept {
  return __builtin_constant_p(a == b) && a == b;
}

/// A statement's leaves before they go on the tape. A leaf known to repeat an earlier one adds
/// its partial to that one's and is dropped: each operand is recorded once, so the tape is
/// smaller and the sweep does fewer updates (the advection fluxes name each neighbour two or
/// three times). The gradient is the same up to rounding: the sweep adds adjoint * (p1 + p2)
/// once instead of adjoint * p1 and adjoint * p2.
/// Positions are template arguments and every step is always inlined, so that the leaves stay in
/// registers and the known_equal tests fold, whatever the inliner thinks of the caller's size.
template <std::size_t N>
struct StatementLeaves {
  double value;  // the statement's
  std::array<Index, N> index;
  std::array<double, N> partial;
  std::array<bool, N> kept;

  [[gnu::always_inline]] void merge_known_repeats() noexcept {
    merge(std::make_index_sequence<N>{});
  }
  [[gnu::always_inline]] std::size_t count() const noexcept {
    return count(std::make_index_sequence<N>{});
  }
  /// The tape's fill: writes the kept leaves.
  [[gnu::always_inline]] void operator()(Index* indices, double* partials) const {
    std::size_t position = 0;
    write(indices, partials, position, std::make_index_sequence<N>{});
  }

 private:
  template <std::size_t... J>
  [[gnu::always_inline]] void merge(std::index_sequence<J...>) noexcept {
    (merge_into_earlier<J>(std::make_index_sequence<J>{}), ...);
  }
  // Leaf J into the first kept leaf K < J known to be the same operand, if any.
  template <std::size_t J, std::size_t... K>
  [[gnu::always_inline]] void merge_into_earlier(std::index_sequence<K...>) noexcept {
    kept[J] = true;
    (merge_pair<K, J>(), ...);
  }
  template <std::size_t K, std::size_t J>
  [[gnu::always_inline]] void merge_pair() noexcept {
    if (kept[J] && kept[K] && known_equal(index[K], index[J])) {
      partial[K] += partial[J];
      kept[J] = false;
    }
  }
  template <std::size_t... J>
  [[gnu::always_inline]] std::size_t count(std::index_sequence<J...>) const noexcept {
    return (std::size_t{kept[J]} + ... + 0);
  }
  template <std::size_t... J>
  [[gnu::always_inline]] void write(Index* indices, double* partials, std::size_t& position,
                                    std::index_sequence<J...>) const noexcept {
    ((kept[J] ? (indices[position] = index[J], partials[position] = partial[J], ++position)
              : position),
     ...);
  }
};

/// Builds a Var for a statement recorded by other means (runtime-length statements, tensors).
struct VarAccess {
  static Var make(double value, Index index, std::uint32_t tape) noexcept;
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
  requires(!std::same_as<std::remove_cvref_t<E>, Var>) [[gnu::always_inline]] Var(
      const E& expression) {  // NOLINT: implicit, so that `Var y = a * b;` works
    assign(expression);
  }
  // Field by field, not as one block: g++ then sees that a leaf copied into an expression node
  // holds the index it was copied from, which is what lets a statement merge repeated leaves
  // (StatementLeaves). A block copy hides it from g++'s value numbering.
  constexpr Var(const Var& other) noexcept
      : value_(other.value_), index_(other.index_), tape_(other.tape_) {}
  constexpr Var& operator=(const Var& other) noexcept {
    value_ = other.value_;
    index_ = other.index_;
    tape_ = other.tape_;
    return *this;
  }

  /// Makes this Var a new independent variable with `value`.
  Var& operator=(double value) {
    make_independent(value);
    return *this;
  }
  template <Expression E>
  requires(!std::same_as<std::remove_cvref_t<E>, Var>) [[gnu::always_inline]] Var& operator=(
      const E& expression) {
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
    Tape& tape = Tape::recording_tape();
    std::uint32_t id = tape.id();
    index_ = tape.record_for_var<0>(Tape::fill_nothing, id);
    value_ = value;
    tape_ = id;
  }

  // Always inlined: the statement's layout folds only where the expression is built (see
  // StatementLeaves); an out-of-line copy would take it through memory.
  template <class E>
  [[gnu::always_inline]] void assign(const E& expression) {
    Tape& tape = Tape::recording_tape();
    // Read once: the compiler cannot know that recording (stores of indices) leaves it unchanged.
    // Recording changes it only for a thread's first statement (recording_tape()), whose
    // operands, if on a tape, are then stale and refused by the check.
    std::uint32_t id = tape.id();
    // Evaluated before the operand check (which only reads tape ids): after it, g++ computed the
    // value from stack copies of the leaves' values, and mlp's check cost 5 % instead of 0.4 %
    // (docs/performance.md).
    const double value = expression.value();
#if SUBGRAD_CHECK_OPERAND_TAPES
    check_operands(expression, id);
#endif
    constexpr std::size_t leaves = E::leaf_count;
    // While a FiniteCheck is on (Tape::record_statement), before the statement is counted: if
    // this throws, nothing of it is recorded.
    auto check = [value](const double* partials, std::size_t count) {
      detail::check_finite_statement(value, partials, count);
    };
    if constexpr (!detail::merges_repeated_leaves || leaves < 2 ||
                  leaves > detail::max_leaves_merged) {
      index_ = tape.record_for_var<leaves>(
          [&expression](Index* indices, double* partials) {
            expression.template record<0>(indices, partials, 1.0);
          },
          id, check);
    } else {
      detail::StatementLeaves<leaves> statement{.value = value};
      expression.template record<0>(statement.index.data(), statement.partial.data(), 1.0);
      statement.merge_known_repeats();
      index_ = tape.record_bounded<leaves>(statement.count(), statement, id, check);
    }
    value_ = value;
    tape_ = id;
  }

  // Every Var leaf must be on the active tape (or on none: a default-constructed Var is the
  // constant 0). A stale one (recorded before clear(), on a destroyed tape, another thread's or an
  // outer tape) would make the sweep read or write an index that is not its own.
  template <class E>
  static void check_operands(const E& expression, std::uint32_t id) {
    if constexpr (requires { expression.for_each_var([](const Var&) {}); }) {
      // One compare and branch per leaf, not taken (cheaper than one `or` of `xor`s per statement
      // on rosenbrock and softplus_max; docs/performance.md). A leaf on no tape (a
      // default-constructed Var, the constant 0) is allowed but takes the slow path, which is
      // rare: assigning to such a Var puts it on the tape. The empty asm hides the id from g++,
      // which would otherwise put the test for 0 on the path every leaf takes.
      expression.for_each_var([id](const Var& leaf) {
        if (leaf.tape_ != id) [[unlikely]] {
          std::uint32_t tape = leaf.tape_;
          asm("" : "+r"(tape));
          if (tape != 0) report_stale_operand(leaf.value_, leaf.index_, tape);
        }
      });
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

/// Writes the value, as the stream writes a double (its precision, width and flags apply), as
/// fmt's `{}` does (core/format.hpp). A template so that this header needs only <iosfwd>.
template <class Char, class Traits>
std::basic_ostream<Char, Traits>& operator<<(std::basic_ostream<Char, Traits>& out,
                                             const Var& var) {
  return out << var.value();
}

inline Var detail::VarAccess::make(double value, Index index, std::uint32_t tape) noexcept {
  Var var;
  var.value_ = value;
  var.index_ = index;
  var.tape_ = tape;
  return var;
}

}  // namespace subgrad
