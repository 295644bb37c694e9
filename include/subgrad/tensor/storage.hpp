#pragma once
/// \file
/// Where tensors live: per tape, slots holding a value and an adjoint, and an arena for the
/// contexts of tensor nodes. Both are kept across Tape::clear() and reused in recording order, so
/// a training step that records the same shapes as the last one allocates nothing.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "subgrad/core/finite_check.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/tensor/tensor.hpp"

namespace subgrad::detail {

/// One tensor on a tape: its value, and its adjoint, which is valid for the sweep numbered
/// `adjoint_sweep` only (stale adjoints are zeroed on first use in a new sweep).
template <class T>
struct TensorSlot {
  using value_type_of_tensor = T;
  Tensor<T> value;
  std::vector<T> adjoint;
  std::uint64_t adjoint_sweep = 0;
  bool requires_adjoint = true;

  /// Makes the adjoint this sweep's, zeroing it if it was another's.
  void touch(std::uint64_t sweep) { touch(sweep, T(0)); }
  /// Makes the adjoint this sweep's without writing it: true if it was another sweep's, and the
  /// caller must then overwrite every element (a GEMM with beta 0 instead of zeros and beta 1).
  bool claim(std::uint64_t sweep) {
    if (adjoint_sweep == sweep) return false;
    adjoint.resize(value.size());
    adjoint_sweep = sweep;
    return true;
  }
  /// The same, filling a fresh adjoint with `fill` instead of 0; false if it was this sweep's
  /// already (then nothing is written).
  bool touch(std::uint64_t sweep, T fill) {
    if (adjoint_sweep == sweep) return false;
    adjoint.assign(value.size(), fill);
    adjoint_sweep = sweep;
    return true;
  }
};

/// The input's adjoint to add to in this sweep, made current, or nullptr when there is nothing to
/// do (no sweep reached the result, or the input is a constant): the preamble of every node from
/// one tensor to another.
template <class T>
T* input_adjoint(const TensorSlot<T>& result, TensorSlot<T>& input, std::uint64_t sweep) {
  if (result.adjoint_sweep != sweep || !input.requires_adjoint) return nullptr;
  input.touch(sweep);
  return input.adjoint.data();
}

/// The slots of one element type on one tape.
template <class T>
class TensorStorage final : public TapeAttachment {
 public:
  /// The next slot, shaped rows x cols (its value's elements are to be overwritten).
  TensorSlot<T>& next(std::size_t rows, std::size_t cols, bool requires_adjoint) {
    if (used_ == slots_.size()) slots_.emplace_back();
    TensorSlot<T>& slot = slots_[used_++];
    slot.value.resize(rows, cols);
    slot.adjoint_sweep = 0;
    slot.requires_adjoint = requires_adjoint;
    return slot;
  }
  void on_clear() override { used_ = 0; }

 private:
  std::deque<TensorSlot<T>> slots_;  // a deque: slots never move
  std::size_t used_ = 0;
};

/// Memory for the contexts of tensor nodes, reused after clear: objects are destroyed (in reverse
/// order of making) when the tape is cleared or destroyed.
class NodeArena final : public TapeAttachment {
 public:
  NodeArena() = default;
  NodeArena(const NodeArena&) = delete;
  NodeArena& operator=(const NodeArena&) = delete;
  ~NodeArena() override { destroy_all(); }

  /// Constructs a T in the arena; it lives until the tape is cleared or destroyed.
  template <class T, class... Args>
  T* make(Args&&... args) {
    T* object = new (allocate(sizeof(T), alignof(T))) T{std::forward<Args>(args)...};
    if constexpr (!std::is_trivially_destructible_v<T>) {
      destructors_.push_back({[](void* p) { static_cast<T*>(p)->~T(); }, object});
    }
    return object;
  }
  void* allocate(std::size_t bytes, std::size_t alignment) {
    // Chunks come from new[], aligned for any standard type; contexts need no more.
    assert(alignment <= alignof(std::max_align_t));
    while (true) {
      if (chunk_ < chunks_.size()) {
        Chunk& c = chunks_[chunk_];
        const std::size_t start = (offset_ + alignment - 1) / alignment * alignment;
        if (start + bytes <= c.size) {
          offset_ = start + bytes;
          return c.memory.get() + start;
        }
        ++chunk_;
        offset_ = 0;
        continue;
      }
      const std::size_t size = std::max(
          {bytes + alignment, std::size_t{1} << 16, chunks_.empty() ? 0 : 2 * chunks_.back().size});
      chunks_.push_back(Chunk{std::make_unique<std::byte[]>(size), size});
    }
  }
  void on_clear() override {
    destroy_all();
    chunk_ = 0;
    offset_ = 0;
  }

 private:
  void destroy_all() noexcept {
    for (auto it = destructors_.rbegin(); it != destructors_.rend(); ++it) it->destroy(it->object);
    destructors_.clear();  // keeps its capacity
  }
  struct Destructor {
    void (*destroy)(void*);
    void* object;
  };
  std::vector<Destructor> destructors_;
  struct Chunk {
    std::unique_ptr<std::byte[]> memory;
    std::size_t size;
  };
  std::vector<Chunk> chunks_;
  std::size_t chunk_ = 0;
  std::size_t offset_ = 0;
};

/// Makes a node's context Node{arguments...} on the tape and records the node (its static
/// `backward`).
template <class Node, class... Arguments>
const Node* record_tensor_node(Tape& tape, Arguments&&... arguments) {
  const Node* node = tape.attachment<NodeArena>().make<Node>(std::forward<Arguments>(arguments)...);
  tape.record_node(&Node::backward, node);
  return node;
}

/// While a FiniteCheck is on: throws at the first element of an operation's result that is not
/// finite, before the operation is recorded. Off, one thread-local test per operation.
template <class T>
void check_finite_result(const Tensor<T>& values, std::string_view operation) {
  if (!finite_check_on()) [[likely]]
    return;
  const T* data = values.data();
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double value = element_to_double(data[k]);
    if (!finite(value)) [[unlikely]] {
      throw_non_finite_element(operation, value, k / values.cols(), k % values.cols(),
                               values.rows(), values.cols());
    }
  }
}

/// The same for an operation whose result is a scalar (sum, mean, a loss).
inline void check_finite_result(double value, std::string_view operation) {
  if (finite_check_on() && !finite(value)) [[unlikely]]
    throw_non_finite_element(operation, value, 0, 0, 0, 0);
}

}  // namespace subgrad::detail
