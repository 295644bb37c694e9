#pragma once
/// \file
/// maxout(x1, ..., xk) and maxout(range): the largest of k pieces. The largest piece gets
/// derivative 1; at a tie the kink rule splits it jointly: min_norm and midpoint give 1/k to each
/// of the k tied pieces, right gives 1 to the first tied piece, left to the last, convex(t) gives
/// t to the first and 1 - t to the last (for two pieces this is exactly max(x, y)).

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <ranges>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/expression.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"

namespace subgrad {

namespace detail {

template <std::size_t... Counts>
constexpr std::array<std::size_t, sizeof...(Counts)> prefix_offsets() {
  std::array<std::size_t, sizeof...(Counts)> offsets{};
  std::size_t running = 0, i = 0;
  ((offsets[i++] = running, running += Counts), ...);
  return offsets;
}
}  // namespace detail

/// maxout over a fixed number of expressions; the weights of the pieces are chosen when it is
/// built, with the kink rule in force then (as for every primitive).
template <class Choice, Expression... Pieces>
struct MaxoutExpression {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = (Pieces::leaf_count + ... + 0);
  static constexpr std::array<std::size_t, sizeof...(Pieces)> offsets =
      detail::prefix_offsets<Pieces::leaf_count...>();
  std::tuple<Pieces...> pieces;
  std::array<double, sizeof...(Pieces)> weights;
  double result;

  MaxoutExpression(Choice choice, const Pieces&... pieces_) : pieces(pieces_...) {
    const std::array<double, sizeof...(Pieces)> values{pieces_.value()...};
    result = detail::maxout_weights(values, choice.get(), weights);
  }
  double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    record_pieces<Offset>(indices, partials, multiplier, std::index_sequence_for<Pieces...>{});
  }
  template <class F>
  void for_each_var(F&& f) const {
    std::apply([&f](const auto&... piece) { (piece.for_each_var(f), ...); }, pieces);
  }

 private:
  template <std::size_t Offset, std::size_t... I>
  void record_pieces(Index* indices, double* partials, double multiplier,
                     std::index_sequence<I...>) const {
    (std::get<I>(pieces).template record<Offset + offsets[I]>(indices, partials,
                                                              multiplier * weights[I]),
     ...);
  }
};

namespace detail {
template <class... Args>
constexpr bool ends_with_kink_rule =
    std::same_as<std::remove_cvref_t<decltype((std::declval<Args>(), ...))>, KinkRule>;

template <class T>
concept MaxoutPiece = ExpressionOperand<T> || std::same_as<std::remove_cvref_t<T>, KinkRule>;

/// Calls make(choice, pieces...), the choice being the trailing KinkRule if there is one.
template <class Make, class... Args>
auto split_kink_rule(const Make& make, const Args&... args) {
  if constexpr (ends_with_kink_rule<Args...>) {
    static_assert(sizeof...(Args) >= 3,
                  "subgrad::maxout: needs at least two pieces before the KinkRule");
    const std::tuple<const Args&...> all(args...);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return make(CallKinkRule{std::get<sizeof...(Args) - 1>(all)}, std::get<I>(all)...);
    }
    (std::make_index_sequence<sizeof...(Args) - 1>{});
  } else {
    return make(ThreadKinkRule{}, args...);
  }
}

template <class Choice, class... Args>
auto make_maxout(Choice choice, const Args&... args) {
  if constexpr ((Passive<Args> && ...)) {
    const std::array<double, sizeof...(Args)> values{static_cast<double>(args)...};
    return largest_value(values);
  } else {
    return MaxoutExpression<Choice, ExpressionOf<Args>...>(choice, as_expression(args)...);
  }
}
}  // namespace detail

/// The largest of the pieces (Var, expressions or doubles; at least two); a trailing KinkRule
/// chooses the split at ties for this call.
template <class... Args>
requires(sizeof...(Args) >= 2) &&
    (detail::MaxoutPiece<Args> && ...) auto maxout(const Args&... args) {
  return detail::split_kink_rule(
      [](auto choice, const auto&... pieces) { return detail::make_maxout(choice, pieces...); },
      args...);
}

namespace detail {
template <std::ranges::input_range R>
auto maxout_of_range(const R& pieces, KinkRule rule) {
  using Element = std::ranges::range_value_t<R>;
  // Scratch kept per thread, so that a call allocates only when a range is longer than before.
  thread_local std::vector<double> values;
  thread_local std::vector<double> weights;
  values.clear();
  for (const auto& piece : pieces) values.push_back(primal_value(piece));
  if (values.empty()) throw Error("subgrad::maxout: the range is empty");
  weights.resize(values.size());
  const double largest = maxout_weights(values, rule, weights);
  if constexpr (Passive<Element>) {
    return largest;
  } else {
    static_assert(std::same_as<Element, Var>,
                  "subgrad::maxout(range): the range must hold Var or double");
    Tape& tape = Tape::active();
    for (const Var& piece : pieces) {
      detail::check_operand_tape(tape, piece, "subgrad::maxout", [&] {
        return detail::message("an element (value {})", {piece.value()});
      });
    }
    std::size_t count = 0;
    for (double w : weights) count += (w != 0.0);
    const Index index = tape.record_dynamic(count, [&](Index* indices, double* partials) {
      std::size_t k = 0, i = 0;
      for (const Var& piece : pieces) {
        if (weights[i] != 0.0) {
          indices[k] = piece.index();
          partials[k] = weights[i];
          ++k;
        }
        ++i;
      }
    });
    return VarAccess::make(largest, index, tape.id());
  }
}
}  // namespace detail

/// The largest element of a range of Var (recorded as one statement) or of double.
template <std::ranges::input_range R>
requires ExpressionOperand<std::ranges::range_value_t<R>>
auto maxout(const R& pieces) { return detail::maxout_of_range(pieces, current_kink_rule()); }
template <std::ranges::input_range R>
requires ExpressionOperand<std::ranges::range_value_t<R>>
auto maxout(const R& pieces, KinkRule rule) { return detail::maxout_of_range(pieces, rule); }

}  // namespace subgrad
