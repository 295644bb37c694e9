#pragma once
/// \file
/// The Jacobian tape: statements as flat arrays of (operand index, partial), swept backwards.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/finite_check.hpp"

namespace subgrad {

/// Position of a value on a tape. Index 0 is the passive sink: never read, written freely.
using Index = std::uint32_t;

class Tape;

namespace detail {
inline thread_local Tape* active_tape = nullptr;
/// A statement's operand count, in a byte. Not a character type, so that a store of one does not
/// force the compiler to reload the block's cursors (a char may alias anything; an enum may not).
enum class OperandCount : std::uint8_t {};
/// Statements whose operand count does not fit in a byte store this marker and the count apart.
inline constexpr unsigned large_statement = 255;

/// One chunk of storage. A statement's operands never straddle two blocks.
struct Block {
  std::unique_ptr<Index[]> indices;
  std::unique_ptr<double[]> partials;
  std::unique_ptr<OperandCount[]> counts;
  std::vector<std::uint32_t> large_counts;
  std::size_t operand_capacity = 0;
  /// Statements this block may hold: its allocation, less where the 32-bit index space ends.
  std::size_t statement_capacity = 0;
  std::size_t statement_allocated = 0;
  /// Used counts: up to date for a block that is not the tape's current one, and for the current
  /// one after Tape::settle_current_block() (while recording, the tape's cursors run ahead).
  std::size_t operand_used = 0;
  std::size_t statement_used = 0;
  /// Global number of the block's first statement; statement s has left-hand side index s + 1.
  std::uint64_t first_statement = 0;
  /// Statements [0, first_with_operands) of the block have no operands (independent variables):
  /// the sweep stops before them. Raised by each such statement recorded before any operand.
  std::size_t first_with_operands = 0;
};

struct TapeTesting;
class ScratchTape;
/// Called when a thread ends: the tapes still in its chain have no thread left to protect.
void thread_ended() noexcept;
}  // namespace detail

/// A user-supplied backward function of a node: it reads and adds to the tape's adjoints.
using NodeBackward = std::function<void(std::span<double> adjoints)>;
/// A node's backward as a plain function of a context the recorder keeps alive until clear():
/// recording one allocates nothing (the tensor layer's nodes).
using RawNodeBackward = void (*)(const void* context, std::span<double> adjoints);

/// Storage a higher layer keeps on a tape (tensor buffers, node contexts): owned by the tape,
/// told when the tape is cleared so that it can reuse its memory for the next recording.
class TapeAttachment {
 public:
  virtual ~TapeAttachment() = default;
  /// The tape was cleared: what was recorded is gone, the memory may be reused.
  virtual void on_clear() = 0;
};

/// Records statements (one per assignment of an expression to a Var) and nodes (external
/// computations with hand-written adjoints), and sweeps them backwards.
///
/// A Tape object is the active tape of the thread that made it while it lives; tapes nest like
/// a stack. Destroy a Tape on the thread that made it: another thread cannot reset that thread's
/// active tape, so destroying it elsewhere while its thread still runs ends the program with a
/// message (std::abort, as std::thread's destructor ends it for a joinable thread); once its
/// thread has ended, any thread may destroy it. Without any Tape object a default per-thread tape
/// is used.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// The thread's active tape (the innermost live Tape, or the thread's default tape).
  static Tape& active() {
    Tape* tape = detail::active_tape;
    if (tape == nullptr) [[unlikely]]
      tape = &default_for_thread();
    return *tape;
  }

  /// The live tape of this thread (the active one, one it is nested in, or the default tape)
  /// whose id is `id` as it is now, or nullptr: what a handle may still read.
  static const Tape* find_on_this_thread(std::uint32_t id) noexcept;

  /// Forgets everything recorded, keeps the memory; Vars recorded before become invalid.
  void clear();

  /// Statements recorded, independent variables included.
  std::size_t statement_count() const noexcept {
    return statements_before_current_ + current_statements();
  }
  /// Operands recorded (an operand is one (index, partial) pair).
  std::size_t operand_count() const noexcept {
    return operands_before_current_ + current_operands();
  }
  /// Bytes of recorded statements and operands (not the adjoint vector, not unused capacity).
  std::size_t memory_bytes() const noexcept;
  /// Bytes allocated for statements and operands, used or not.
  std::size_t capacity_bytes() const noexcept;
  /// Nodes recorded.
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// Identifies this tape between two clears; Vars carry it to detect misuse.
  std::uint32_t id() const noexcept { return id_; }

  /// Reverse sweep from `output` with adjoint `seed`; the adjoints are read by adjoint().
  /// `operation` names the public call in error messages.
  void backward(Index output, std::uint32_t output_tape, double seed,
                std::string_view operation = "subgrad::backward");
  /// The adjoint of `index` after the last sweep.
  double adjoint(Index index, std::uint32_t tape,
                 std::string_view operation = "subgrad::Var::adjoint") const {
    if (tape == id_ && swept_ && index <= swept_statement_count_ && index != 0) [[likely]] {
      return index < adjoints_.size() ? adjoints_[index] : 0.0;
    }
    throw_bad_adjoint(index, tape, operation);
  }
  /// Throws unless `tape` names this tape as it is now (not cleared since); `what` names the
  /// value in the message.
  void check_owns(std::uint32_t tape, std::string_view operation, std::string_view what) const;

  /// Records an independent variable (a statement without operands).
  Index new_variable() {
    std::uint32_t id = id_;
    return record_for_var<0>(fill_nothing, id);
  }
  /// Records `count` independent variables in one call; their indices are consecutive, starting
  /// at the one returned.
  Index new_variables(std::size_t count);

  /// Records a statement with N operands written by `fill(indices, partials)`; returns the
  /// left-hand side's index. The hot path: no checks, no allocation unless a block is full.
  /// While a FiniteCheck is on, `check(partials, count)` is called after the fill and before the
  /// statement counts (it may throw: then nothing of the statement is recorded).
  template <std::size_t N, class Fill, class Check = detail::NoFiniteCheck>
  [[gnu::always_inline]] Index record(Fill&& fill, Check&& check = {}) {
    std::uint32_t id = id_;
    return record_for_var<N>(fill, id, check);
  }
  /// Records a statement whose operand count is known only at run time.
  template <class Fill, class Check = detail::NoFiniteCheck>
  [[gnu::always_inline]] Index record_dynamic(std::size_t count, Fill&& fill, Check&& check = {}) {
    std::uint32_t id = id_;
    return record_statement<0, std::numeric_limits<std::size_t>::max()>(count, fill, id, check);
  }

  /// Records a node at the current position: the sweep calls `backward` after every statement
  /// recorded later and before every statement recorded earlier.
  void record_node(NodeBackward backward);
  /// Records a node whose backward is `backward(context, adjoints)`; `context` must stay valid
  /// until the tape is cleared or destroyed.
  void record_node(RawNodeBackward backward, const void* context);

  /// Sweeps done since the tape was made (each backward() is one): tells stored adjoints of an
  /// earlier sweep from this sweep's.
  std::uint64_t sweep_count() const noexcept { return sweep_count_; }

  /// The attachment of type A (made on first use, kept until the tape is destroyed).
  template <class A>
  A& attachment() {
    static_assert(std::is_base_of_v<TapeAttachment, A>,
                  "subgrad::Tape::attachment<A>: A must derive from subgrad::TapeAttachment");
    static const char key = 0;  // one address per attachment type
    for (const auto& [k, a] : attachments_) {
      if (k == &key) return static_cast<A&>(*a);
    }
    attachments_.emplace_back(&key, std::make_unique<A>());
    return static_cast<A&>(*attachments_.back().second);
  }

 private:
  struct PassiveTag {};
  explicit Tape(PassiveTag);
  struct UnstartedTag {};
  constexpr explicit Tape(UnstartedTag) noexcept : current_(nullptr), id_(0) {}
  // The thread's default tape; made on first use, and made the active tape if none is.
  static Tape& default_for_thread();
  // The tape a Var records on: the active one, or on a thread where none is yet, `unstarted_`,
  // which holds no room and no Var (id 0), so that its first statement reaches grow(), which
  // hands it to the thread's default tape. No call on this path: with one (the default tape's
  // lazy construction), g++ kept every operand of the statement being built on the stack,
  // live across it (Lax-Wendroff's recording took a third longer).
  [[gnu::always_inline]] static Tape& recording_tape() noexcept {
    Tape* tape = detail::active_tape;
    return tape != nullptr ? *tape : unstarted_;
  }
  static Tape unstarted_;
  // The one body of record<N>, record_dynamic and record_bounded; inlined, so that a compile-time
  // count folds. MinCount <= count <= MaxCount: bounds known at compile time drop paths. `id` is
  // this tape's id on entry; it becomes the id of the tape recorded on, which differs only when
  // this is `unstarted_`.
  // While a FiniteCheck is on, the thread's tapes show no room (grow() gives each statement
  // exactly its own), so every statement takes the branch to grow(), and the check is made
  // there: the path with room tests nothing (a thread-local test per statement cost up to 8 %
  // on AMD Zen, docs/performance.md).
  template <std::size_t MinCount, std::size_t MaxCount, class Fill, class Check>
  [[gnu::always_inline]] inline Index record_statement(std::size_t count, Fill& fill,
                                                       std::uint32_t& id, Check& check) {
    Tape* tape = this;
    if (needs_block<MinCount>(count)) [[unlikely]] {
      tape = &grow(count);
      id = tape->id_;
      if constexpr (!std::is_same_v<std::remove_cvref_t<Check>, detail::NoFiniteCheck>) {
        if (detail::finite_check_on()) [[unlikely]] {
          auto checked = [&fill, &check, count, tape](Index* indices, double* partials) {
            fill(indices, partials);
            try {
              check(static_cast<const double*>(partials), count);
            } catch (...) {
              tape->limit_room_to_nothing();  // the next statement comes here too
              throw;
            }
          };
          return tape->record_in_room<MinCount, MaxCount>(count, checked);
        }
      }
    }
    return tape->record_in_room<MinCount, MaxCount>(count, fill);
  }
  // The block keeps at least as much room for operand counts as for operands, so a statement
  // with operands checks the operand room only: one comparison on the hot path.
  template <std::size_t MinCount = 0>
  bool needs_block(std::size_t count) const noexcept {
    return MinCount == 0 && count == 0 ? next_count_ == count_end_ : operand_room() < count;
  }
  template <std::size_t MinCount, std::size_t MaxCount, class Fill>
  [[gnu::always_inline]] inline Index record_in_room(std::size_t count, Fill& fill) {
    const bool no_operands = MinCount == 0 && count == 0;
    fill(next_index_, next_partial_);
    if (no_operands) {
      // Takes a count but no operand: shrink the operand room if it would exceed the count room.
      if (operand_room() == count_room()) --index_end_;
      // No statement of the block has operands yet: the sweep may stop before this one.
      if (next_index_ == current_->indices.get()) [[unlikely]]
        current_->first_with_operands = current_statements() + 1;
    }
    next_index_ += count;
    next_partial_ += count;
    if (MaxCount < detail::large_statement || count < detail::large_statement) [[likely]] {
      *next_count_ = static_cast<detail::OperandCount>(count);
    } else {
      *next_count_ = static_cast<detail::OperandCount>(detail::large_statement);
      current_->large_counts.push_back(static_cast<std::uint32_t>(count));
    }
    ++next_count_;
    // The left-hand side's index: the block's first statement plus the statements it now holds.
    return static_cast<Index>(reinterpret_cast<std::uintptr_t>(next_count_) - statement_bias_);
  }
  std::size_t operand_room() const noexcept {
    return static_cast<std::size_t>(index_end_ - next_index_);
  }
  std::size_t count_room() const noexcept {
    return static_cast<std::size_t>(count_end_ - next_count_);
  }
  // Statements recorded in the current block (its statement_used lags behind while recording).
  std::size_t current_statements() const noexcept {
    return static_cast<std::size_t>(next_count_ - current_->counts.get());
  }
  std::size_t current_operands() const noexcept {
    return static_cast<std::size_t>(next_index_ - current_->indices.get());
  }
  // Writes the cursors' positions into the current block's used counts, which the sweep reads.
  void settle_current_block() noexcept {
    current_->operand_used = current_operands();
    current_->statement_used = current_statements();
  }
  // Points the recording cursors at the current block's used counts, with an operand room of at
  // most the count room.
  void point_cursors_at_current_block() noexcept;
  // Makes room for a statement of `operands_needed` operands (starting a block if the current one
  // is full) and returns this tape; called on `unstarted_`, returns the thread's default tape with
  // that room instead. While a FiniteCheck is on, the room shown is exactly the statement's.
  Tape& grow(std::size_t operands_needed);
  // Moves recording to the next block (reused, or allocated with room for `operands_needed`);
  // throws before anything changes if the 32-bit index space would run out.
  void start_block(std::size_t operands_needed);
  // While a FiniteCheck is on: the recorder sees no room, or exactly `operands` operands and one
  // count, so that every statement reaches grow() (room_limited_ says so; grow() restores the
  // block's room first).
  void limit_room(std::size_t operands) noexcept;
  void limit_room_to_nothing() noexcept {
    index_end_ = next_index_;
    count_end_ = next_count_;
  }
  friend void detail::finite_check_started() noexcept;
  friend void detail::thread_ended() noexcept;
  // Links this tape into the calling thread's chain as its active tape.
  void become_active() noexcept;
  void sweep(std::uint64_t statement_end);
  [[noreturn]] void throw_bad_adjoint(Index index, std::uint32_t tape,
                                      std::string_view operation) const;
  // Records a statement of `count` operands, 1 <= count <= MaxCount < 255 (Var's statements
  // with merged repeated leaves, see core/var.hpp, whose count the optimiser folds late): the
  // paths of operand-free and large statements are left out at compile time. Private: the
  // bounds are the caller's invariant, not checked.
  template <std::size_t MaxCount, class Fill, class Check>
  [[gnu::always_inline]] Index record_bounded(std::size_t count, Fill&& fill, std::uint32_t& id,
                                              Check&& check) {
    static_assert(MaxCount >= 1 && MaxCount < detail::large_statement);
    if (count < 1 || count > MaxCount) __builtin_unreachable();
    return record_statement<1, MaxCount>(count, fill, id, check);
  }
  // record<N> and new_variable() for Var, on recording_tape(): `id` as in record_statement.
  static void fill_nothing(Index*, double*) noexcept {}  // an independent variable's fill
  template <std::size_t N, class Fill, class Check = detail::NoFiniteCheck>
  [[gnu::always_inline]] Index record_for_var(Fill&& fill, std::uint32_t& id, Check&& check = {}) {
    return record_statement<N, N>(N, fill, id, check);
  }
  friend struct detail::TapeTesting;
  friend class detail::ScratchTape;
  friend class Var;

  struct Node {
    std::uint64_t position;         // statements recorded before the node
    NodeBackward backward;          // either this ...
    RawNodeBackward raw = nullptr;  // ... or this with its context
    const void* context = nullptr;
  };

  // The recording cursors, first so that the hot path finds them in one cache line: where the
  // current block's next operand, partial and operand count go, and where its room ends. Only
  // these move while recording; the block's operand_used and statement_used are brought up to
  // date from them (settle_current_block) when the block is left or swept.
  Index* next_index_ = nullptr;
  double* next_partial_ = nullptr;
  Index* index_end_ = nullptr;
  detail::OperandCount* next_count_ = nullptr;
  detail::OperandCount* count_end_ = nullptr;
  // The address of the current block's operand counts less its first statement's number, so that
  // a left-hand side's index is the count cursor's address less this (one subtraction).
  std::uintptr_t statement_bias_ = 0;
  std::vector<std::unique_ptr<detail::Block>> blocks_;
  detail::Block* current_;
  std::size_t current_block_ = 0;
  std::uint64_t statements_before_current_ = 0;
  std::uint64_t operands_before_current_ = 0;
  std::uint64_t index_limit_ = std::numeric_limits<Index>::max();
  std::vector<Node> nodes_;
  std::vector<double> adjoints_;
  bool swept_ = false;
  std::uint64_t swept_statement_count_ = 0;
  std::uint64_t sweep_count_ = 0;
  std::vector<std::pair<const void*, std::unique_ptr<TapeAttachment>>> attachments_;
  std::uint32_t id_;
  bool room_limited_ = false;  // by limit_room(), for a FiniteCheck
  Tape* previous_ = nullptr;
  // While this tape is in a running thread's chain: that thread (the address of a thread-local
  // object of it); null otherwise. Read and written atomically (std::atomic_ref, tape.cpp).
  const void* owner_thread_ = nullptr;
};

namespace detail {
/// The tape of a functional form (gradient, value_and_gradient, jacobian, hessian): the thread's
/// scratch tape, cleared and made active for the scope, so that repeated calls reuse its memory
/// instead of faulting in a fresh tape's each time; a call nested in another's f (f itself calls
/// gradient) gets a Tape of its own. The scratch tape keeps its memory until the thread ends.
class ScratchTape {
 public:
  ScratchTape();
  ~ScratchTape();
  ScratchTape(const ScratchTape&) = delete;
  ScratchTape& operator=(const ScratchTape&) = delete;
  Tape& tape() noexcept { return *tape_; }

 private:
  Tape* tape_;
  std::unique_ptr<Tape> own_;  // the nested case
};
}  // namespace detail

}  // namespace subgrad
