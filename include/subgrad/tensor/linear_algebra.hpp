#pragma once
/// \file
/// matmul(a, b) and transpose(a): a product is one node whose backward is two more products.
/// transpose() is a view: matmul(x, transpose(w)) reads w in place.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/tensor/storage.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad {

namespace detail {
/// C = alpha op(A) op(B) + beta C, row-major; A is stored K x M when transposed (else M x K), B
/// N x K when transposed (else K x N), C is M x N. Defined (OpenBLAS) for float and double, and
/// for _Float16 through float.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, const T* b, T beta, T* c);
template <>
void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                 const float*, float, float*);
template <>
void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                  const double*, double, double*);
#if SUBGRAD_HAS_FLOAT16
/// 16 bits: the operands widened to float, sgemm, each output rounded once to 16 bits.
template <>
void gemm<_Float16>(bool, bool, std::size_t, std::size_t, std::size_t, _Float16, const _Float16*,
                    const _Float16*, _Float16, _Float16*);
#endif
}  // namespace detail

/// The transpose of a tensor: an operand of matmul (no copy), or, converted to a TensorVar, a
/// transposed copy on the tape whose adjoint flows back.
template <class T>
struct Transposed {
  detail::TensorSlot<T>* slot;
  std::uint32_t tape;
  std::size_t rows;  // of the tensor before transposing
  std::size_t cols;

  operator TensorVar<T>() const;  // NOLINT: implicit, as an expression converts
};
/// The transpose of a tensor on the tape or of a constant, for matmul.
template <class T>
Transposed<T> transpose(const TensorVar<T>& a) {
  return {detail::TensorVarAccess::slot(a), a.tape_id(), a.rows(), a.cols()};
}
template <class T>
Transposed<T> transpose(const Tensor<T>& a) {
  return {detail::constant_slot(a), Tape::active().id(), a.rows(), a.cols()};
}

namespace detail {
template <class T>
struct MatrixOperand {
  TensorSlot<T>* slot;  // nullptr while `constant` stands in for it
  std::uint32_t tape;
  bool transposed;
  std::size_t stored_rows;  // kept here: checking the tape never reads a dead tape's slot
  std::size_t stored_cols;
  // A constant operand of one matmul call: copied onto the tape only if the call records a node
  // (whose backward needs the values after the caller's Tensor may be gone), so a product of
  // constants copies nothing.
  const Tensor<T>* constant = nullptr;
  std::size_t rows() const { return transposed ? stored_cols : stored_rows; }
  std::size_t cols() const { return transposed ? stored_rows : stored_cols; }
  const T* values() const { return constant != nullptr ? constant->data() : slot->value.data(); }
  bool requires_adjoint() const { return slot != nullptr && slot->requires_adjoint; }
  /// The operand as a recorded node holds it: a constant copied onto the tape.
  MatrixOperand kept() const {
    MatrixOperand on_tape = *this;
    if (constant != nullptr) {
      on_tape.slot = constant_slot(*constant);
      on_tape.constant = nullptr;
    }
    return on_tape;
  }
};
template <class T>
MatrixOperand<T> matrix_operand(const TensorVar<T>& a) {
  return {TensorVarAccess::slot(a), a.tape_id(), false, a.rows(), a.cols()};
}
template <class T>
MatrixOperand<T> matrix_operand(const Tensor<T>& a) {
  return {nullptr, Tape::active().id(), false, a.rows(), a.cols(), &a};
}
template <class T>
MatrixOperand<T> matrix_operand(const Transposed<T>& a) {
  return {a.slot, a.tape, true, a.rows, a.cols};
}

template <class T>
struct MatmulNode {
  MatrixOperand<T> a;
  MatrixOperand<T> b;
  TensorSlot<T>* bias;  // a 1 x n row added to every row of the product, or nullptr
  TensorSlot<T>* result;
  const Tape* tape;
  static void backward(const void* context, std::span<double>) {
    const MatmulNode& node = *static_cast<const MatmulNode*>(context);
    const std::uint64_t sweep = node.tape->sweep_count();
    if (node.result->adjoint_sweep != sweep) return;
    const std::size_t m = node.a.rows(), k = node.a.cols(), n = node.b.cols();
    const T* dc = node.result->adjoint.data();
    const T* a = node.a.slot->value.data();
    const T* b = node.b.slot->value.data();
    // A fresh adjoint is written by the GEMM (beta = 0), a current one added to (beta = 1).
    if (node.a.slot->requires_adjoint) {
      const T beta = node.a.slot->claim(sweep) ? T(0) : T(1);
      T* da = node.a.slot->adjoint.data();
      if (!node.a.transposed) {
        gemm<T>(false, !node.b.transposed, m, k, n, T(1), dc, b, beta, da);  // dA += dC op(B)^T
      } else {
        gemm<T>(node.b.transposed, true, k, m, n, T(1), b, dc, beta, da);  // dA += op(B) dC^T
      }
    }
    if (node.b.slot->requires_adjoint) {
      const T beta = node.b.slot->claim(sweep) ? T(0) : T(1);
      T* db = node.b.slot->adjoint.data();
      if (!node.b.transposed) {
        gemm<T>(!node.a.transposed, false, k, n, m, T(1), a, dc, beta, db);  // dB += op(A)^T dC
      } else {
        gemm<T>(true, node.a.transposed, n, k, m, T(1), dc, a, beta, db);  // dB += dC^T op(A)
      }
    }
    if (node.bias != nullptr && node.bias->requires_adjoint) {
      // d bias += the column sums of dC.
      const bool fresh = node.bias->claim(sweep);
      T* dbias = node.bias->adjoint.data();
      if (fresh) std::fill(dbias, dbias + n, T(0));
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) dbias[j] += dc[i * n + j];
      }
    }
  }
};
}  // namespace detail

namespace detail {
template <class T>
struct TransposeNode {
  TensorSlot<T>* input;
  TensorSlot<T>* result;
  const Tape* tape;
  static void backward(const void* context, std::span<double>) {
    const TransposeNode& node = *static_cast<const TransposeNode*>(context);
    T* dx = input_adjoint(*node.result, *node.input, node.tape->sweep_count());
    if (dx == nullptr) return;
    const std::size_t rows = node.input->value.rows(), cols = node.input->value.cols();
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        dx[i * cols + j] += node.result->adjoint[j * rows + i];
      }
    }
  }
};
}  // namespace detail

template <class T>
Transposed<T>::operator TensorVar<T>() const {
  Tape& active = Tape::active();
  detail::check_tensor_tape(active, tape, "subgrad::transpose", rows, cols);
  detail::TensorSlot<T>& result =
      active.attachment<detail::TensorStorage<T>>().next(cols, rows, slot->requires_adjoint);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) result.value(j, i) = slot->value(i, j);
  }
  if (slot->requires_adjoint) {
    detail::record_tensor_node<detail::TransposeNode<T>>(active, slot, &result, &active);
  }
  return detail::TensorVarAccess::make(&result, active.id());
}

namespace detail {
/// The product op(A) op(B), plus `bias` (a 1 x n row) in every row when given: one node, the
/// bias put in C before a GEMM with beta = 1 (as PyTorch's addmm).
template <class T>
TensorVar<T> product(const MatrixOperand<T>& a, const MatrixOperand<T>& b, TensorSlot<T>* bias,
                     std::uint32_t bias_tape) {
  Tape& tape = Tape::active();
  check_tensor_tape(tape, a.tape, "subgrad::matmul", a.rows(), a.cols());
  check_tensor_tape(tape, b.tape, "subgrad::matmul", b.rows(), b.cols());
  if (a.cols() != b.rows()) {
    throw Error(
        fmt::format("subgrad::matmul: a {} x {} matrix times a {} x {} matrix: inner sizes "
                    "differ",
                    a.rows(), a.cols(), b.rows(), b.cols()));
  }
  const std::size_t m = a.rows(), n = b.cols();
  if (bias != nullptr) {
    check_tensor_tape(tape, bias_tape, "subgrad::matmul (bias)", bias->value.rows(),
                      bias->value.cols());
    if (bias->value.rows() != 1 || bias->value.cols() != n) {
      throw Error(
          fmt::format("subgrad::matmul: a bias of {} x {} for a {} x {} product (it must "
                      "be 1 x {})",
                      bias->value.rows(), bias->value.cols(), m, n, n));
    }
  }
  const bool active =
      a.requires_adjoint() || b.requires_adjoint() || (bias != nullptr && bias->requires_adjoint);
  TensorSlot<T>& result = tape.attachment<TensorStorage<T>>().next(m, n, active);
  T* c = result.value.data();
  if (bias != nullptr) {
    for (std::size_t i = 0; i < m; ++i) std::copy_n(bias->value.data(), n, c + i * n);
  }
  gemm<T>(a.transposed, b.transposed, m, n, a.cols(), T(1), a.values(), b.values(),
          bias != nullptr ? T(1) : T(0), c);
  check_finite_result(result.value, "subgrad::matmul");
  if (active) record_tensor_node<MatmulNode<T>>(tape, a.kept(), b.kept(), bias, &result, &tape);
  return TensorVarAccess::make(&result, tape.id());
}
}  // namespace detail

/// The matrix product a b of tensors on the tape, constants, or transpose() views.
template <class A, class B>
requires requires(const A& a, const B& b) {
  detail::matrix_operand(a);
  detail::matrix_operand(b);
}
auto matmul(const A& a_operand, const B& b_operand) {
  const auto a = detail::matrix_operand(a_operand);
  using T = typename std::remove_cvref_t<decltype(*a.slot)>::value_type_of_tensor;
  return detail::product<T>(a, detail::matrix_operand(b_operand), nullptr, 0);
}

/// a b + bias, the bias (1 x cols, a TensorVar or a constant) added to every row: the affine map
/// of a linear layer as one node, without a pass of its own for the addition.
template <class A, class B, class T>
requires requires(const A& a, const B& b) {
  detail::matrix_operand(a);
  detail::matrix_operand(b);
}
TensorVar<T> matmul(const A& a_operand, const B& b_operand, const TensorVar<T>& bias) {
  return detail::product<T>(detail::matrix_operand(a_operand), detail::matrix_operand(b_operand),
                            detail::TensorVarAccess::slot(bias), bias.tape_id());
}

}  // namespace subgrad
