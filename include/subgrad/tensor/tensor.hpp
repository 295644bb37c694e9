#pragma once
/// \file
/// Tensor<T>: a dense row-major matrix of float or double (or _Float16 where the compiler has it)
/// with value semantics (a constant in tensor expressions). A vector is a 1 x n or n x 1 tensor.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"

// IEEE binary16, for studies of low precision (docs/relu-prime-zero.md): g++ 12 has _Float16 on
// x86-64 and computes with it through float. Products round each output once to 16 bits after
// accumulating in float, as GPUs' half-precision GEMMs do.
#if defined(__FLT16_MAX__)
#define SUBGRAD_HAS_FLOAT16 1
#endif

namespace subgrad {

/// The element types of tensors: float and double, and _Float16 where the compiler has it.
template <class T>
concept TensorElement = std::is_same_v<T, float> || std::is_same_v<T, double>
#if SUBGRAD_HAS_FLOAT16
    || std::is_same_v<T, _Float16>
#endif
    ;

namespace detail {
/// An element as a double. A 16-bit one goes through float: exact, and one instruction with F16C
/// where a direct conversion is a call into libgcc.
template <class T>
constexpr double element_to_double(T x) noexcept {
#if SUBGRAD_HAS_FLOAT16
  if constexpr (std::is_same_v<T, _Float16>) return static_cast<double>(static_cast<float>(x));
#endif
  return static_cast<double>(x);
}
/// rows * cols, refused when no vector of T could hold it: a product that wraps around would
/// make a tensor claim more elements than it stores. A negative int passed as a size is the usual
/// cause, so the message shows the sizes as the caller's signed values too.
template <class T>
std::size_t element_count(std::size_t rows, std::size_t cols, const char* operation) {
  std::size_t count = 0;
  if (__builtin_mul_overflow(rows, cols, &count) || count > PTRDIFF_MAX / sizeof(T)) [[unlikely]] {
    throw Error(fmt::format(
        "subgrad::{}: {} x {} ({} x {} as signed numbers) is more elements "
        "than memory can hold",
        operation, rows, cols, static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)));
  }
  return count;
}
/// What a tensor's allocation failing throws instead of std::bad_alloc, which says neither what
/// nor how much.
inline Error allocation_error(const char* operation, std::size_t rows, std::size_t cols,
                              std::size_t bytes) {
  return Error(fmt::format("subgrad::{}: {} x {} elements ({} bytes) cannot be allocated",
                           operation, rows, cols, bytes));
}
/// rows x cols elements of `value`.
template <class T>
std::vector<T> make_elements(std::size_t rows, std::size_t cols, T value, const char* operation) {
  const std::size_t count = element_count<T>(rows, cols, operation);
  try {
    return std::vector<T>(count, value);
  } catch (const std::bad_alloc&) {
    throw allocation_error(operation, rows, cols, count * sizeof(T));
  }
}
}  // namespace detail

/// A dense row-major rows x cols matrix of T (float or double, or _Float16).
template <class T>
class Tensor {
  static_assert(TensorElement<T>, "subgrad::Tensor<T>: T must be float or double (or _Float16)");

 public:
  using value_type = T;
  Tensor() = default;
  /// rows x cols zeros.
  Tensor(std::size_t rows, std::size_t cols)
      : rows_(rows), cols_(cols), data_(detail::make_elements<T>(rows, cols, T(0), "Tensor")) {}
  /// rows x cols, every element `value`.
  Tensor(std::size_t rows, std::size_t cols, T value)
      : rows_(rows), cols_(cols), data_(detail::make_elements<T>(rows, cols, value, "Tensor")) {}
  /// Nested lists, one per row: Tensor<double>{{1, 2}, {3, 4}}.
  Tensor(std::initializer_list<std::initializer_list<T>> rows) : rows_(rows.size()) {
    cols_ = rows.size() == 0 ? 0 : rows.begin()->size();
    data_.reserve(rows_ * cols_);
    for (const auto& row : rows) {
      if (row.size() != cols_) {
        throw Error(fmt::format("subgrad::Tensor: row {} has {} elements, the first has {}",
                                data_.size() / std::max<std::size_t>(cols_, 1), row.size(), cols_));
      }
      data_.insert(data_.end(), row.begin(), row.end());
    }
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t size() const noexcept { return data_.size(); }
  T& operator()(std::size_t i, std::size_t j) { return data_[i * cols_ + j]; }
  const T& operator()(std::size_t i, std::size_t j) const { return data_[i * cols_ + j]; }
  T* data() noexcept { return data_.data(); }
  const T* data() const noexcept { return data_.data(); }
  /// The elements in row-major order.
  std::span<T> span() noexcept { return data_; }
  std::span<const T> span() const noexcept { return data_; }
  operator std::span<const T>() const noexcept { return data_; }  // NOLINT: a view

  /// Makes this rows x cols, keeping the allocation when it is large enough (elements past the
  /// old size are zero; the others keep their memory order).
  void resize(std::size_t rows, std::size_t cols) {
    const std::size_t count = detail::element_count<T>(rows, cols, "Tensor::resize");
    try {
      data_.resize(count);
    } catch (const std::bad_alloc&) {
      throw detail::allocation_error("Tensor::resize", rows, cols, count * sizeof(T));
    }
    rows_ = rows;
    cols_ = cols;
  }

  bool operator==(const Tensor&) const = default;

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<T> data_;
};

}  // namespace subgrad

/// Prints "[[1, 2], [3, 4]]"; the format spec applies to each element.
template <class T>
struct fmt::formatter<subgrad::Tensor<T>> : fmt::formatter<T> {
  template <class Context>
  auto format(const subgrad::Tensor<T>& t, Context& context) const {
    auto out = fmt::format_to(context.out(), "[");
    for (std::size_t i = 0; i < t.rows(); ++i) {
      out = fmt::format_to(out, "{}[", i == 0 ? "" : ", ");
      for (std::size_t j = 0; j < t.cols(); ++j) {
        if (j > 0) out = fmt::format_to(out, ", ");
        context.advance_to(out);
        out = fmt::formatter<T>::format(t(i, j), context);
      }
      out = fmt::format_to(out, "]");
    }
    return fmt::format_to(out, "]");
  }
};

namespace subgrad {
/// Writes what fmt's `{}` gives ("[[1, 2], [3, 4]]", above); the stream's precision and width do
/// not apply (use fmt::print("{:.3f}", t) for a format per element).
template <class T, class Traits>
std::basic_ostream<char, Traits>& operator<<(std::basic_ostream<char, Traits>& out,
                                             const Tensor<T>& t) {
  return out << fmt::format("{}", t);
}
}  // namespace subgrad
