#include "subgrad/core/tape.hpp"

#include "subgrad/core/var.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace subgrad {

namespace {

// Read by an empty tape's recording path: its zero capacity sends the first record to grow().
detail::Block empty_block;

constexpr std::size_t first_block_operands = std::size_t{1} << 12;
constexpr std::size_t largest_block_operands = std::size_t{1} << 22;

std::uint32_t next_tape_id() {
  static std::atomic<std::uint32_t> counter{0};
  std::uint32_t id = ++counter;
  while (id == 0) id = ++counter;  // 0 means "on no tape"; skip it when the counter wraps
  return id;
}

// The hot loop: statements [low, high) of one block, last to first.
void sweep_statements(const detail::Block& block, std::size_t low, std::size_t high,
                      std::size_t& operand, std::size_t& large, double* adjoints) {
  const detail::OperandCount* counts = block.counts.get();
  const Index* indices = block.indices.get();
  const double* partials = block.partials.get();
  double* left_hand_sides = adjoints + block.first_statement + 1;
  // Statements before the block's first one with operands (independent variables) pass nothing on.
  low = std::max(low, block.first_with_operands);
  if (low >= high) return;
  // What a statement passes to the left-hand side of the statement just before it (a running
  // sum's previous value, `z = z + w * x`) is kept in a register: through memory, each such link
  // of a chain waits for a store to be forwarded to the next statement's load. -0.0 is the
  // identity of addition, so a single contribution sums exactly as it did through memory.
  double carry = -0.0;
  for (std::size_t statement = high; statement > low;) {
    --statement;
    auto count = static_cast<std::size_t>(counts[statement]);
    if (count == detail::large_statement) [[unlikely]]
      count = block.large_counts[--large];
    operand -= count;
    const double adjoint = left_hand_sides[statement] + carry;
    left_hand_sides[statement] = adjoint;  // read later as this Var's adjoint; off the chain
    carry = -0.0;
    if (adjoint == 0.0) continue;
    // Expressions record their leaves left to right, so a running sum's previous value is the
    // first operand: the one compared (a later operand equal to it goes through memory).
    std::size_t k = operand;
    const std::size_t end = operand + count;
    if (count > 0 && indices[k] == static_cast<Index>(block.first_statement + statement)) {
      carry = partials[k] * adjoint;
      ++k;
    }
    for (; k < end; ++k) adjoints[indices[k]] += partials[k] * adjoint;
  }
  adjoints[block.first_statement + low] += carry;  // index 0, the passive sink, when low is 0
}

// Names the calling thread while it runs: the address of one of its thread-local objects.
thread_local const char thread_marker = 0;

// Owns nothing; its destructor runs when its thread ends (made by the thread's first tape).
struct ThreadEndWatch {
  ThreadEndWatch() noexcept = default;
  ThreadEndWatch(const ThreadEndWatch&) = delete;
  ThreadEndWatch& operator=(const ThreadEndWatch&) = delete;
  ~ThreadEndWatch() { detail::thread_ended(); }
};

std::atomic_ref<const void*> owner_of(const void*& owner_thread) noexcept {
  return std::atomic_ref<const void*>(owner_thread);
}

[[noreturn]] void abort_on_destruction_by_another_thread(std::uint32_t id) noexcept {
  // A destructor cannot report by throwing, and the tape's thread would go on recording into
  // freed memory: the program cannot continue safely.
  std::fputs(fmt::format("subgrad::Tape #{} destroyed on a thread other than the one that made it, "
                         "while that thread still runs: its active tape would point to freed "
                         "memory. Destroy a Tape on the thread that made it.\n",
                         id)
                 .c_str(),
             stderr);
  std::abort();
}

}  // namespace

void Tape::become_active() noexcept {
  thread_local ThreadEndWatch watch;  // made once per thread, before the first tape is linked
  previous_ = detail::active_tape;
  detail::active_tape = this;
  owner_of(owner_thread_).store(&thread_marker);
}

Tape::Tape() : current_(&empty_block), id_(next_tape_id()) { become_active(); }

Tape::Tape(PassiveTag) : current_(&empty_block), id_(next_tape_id()) {}

constinit Tape Tape::unstarted_{UnstartedTag{}};

Tape::~Tape() {
  const void* owner = owner_of(owner_thread_).load();
  if (owner != nullptr && owner != &thread_marker) [[unlikely]]
    abort_on_destruction_by_another_thread(id_);
  // The default tape is linked once it is used; the scratch tape and unstarted_ are not linked.
  if (detail::active_tape == this) {
    detail::active_tape = previous_;
    return;
  }
  // Destroyed out of order: unlink this tape from the chain of the tapes nested inside it.
  for (Tape* tape = detail::active_tape; tape != nullptr; tape = tape->previous_) {
    if (tape->previous_ == this) {
      tape->previous_ = previous_;
      break;
    }
  }
}

const Tape* Tape::find_on_this_thread(std::uint32_t id) noexcept {
  for (const Tape* tape = detail::active_tape; tape != nullptr; tape = tape->previous_) {
    if (tape->id_ == id) return tape;
  }
  const Tape& fallback = default_for_thread();
  return fallback.id_ == id ? &fallback : nullptr;
}

namespace detail {
namespace {
thread_local bool scratch_in_use = false;
}

ScratchTape::ScratchTape() {
  if (scratch_in_use) {
    own_ = std::make_unique<Tape>();
    tape_ = own_.get();
    return;
  }
  thread_local Tape scratch{Tape::PassiveTag{}};  // not linked until borrowed
  scratch_in_use = true;
  scratch.clear();
  scratch.previous_ = active_tape;
  active_tape = &scratch;
  tape_ = &scratch;
}

ScratchTape::~ScratchTape() {
  if (own_) return;
  // Unlink the scratch tape as ~Tape unlinks a tape (Tapes made inside the scope are gone).
  if (active_tape == tape_) {
    active_tape = tape_->previous_;
  } else {
    for (Tape* tape = active_tape; tape != nullptr; tape = tape->previous_) {
      if (tape->previous_ == tape_) {
        tape->previous_ = tape_->previous_;
        break;
      }
    }
  }
  tape_->previous_ = nullptr;
  scratch_in_use = false;
}
}  // namespace detail

Tape& Tape::default_for_thread() {
  thread_local Tape tape{PassiveTag{}};
  // Active while no Tape object is: then recording_tape() finds it without a call. Tapes made
  // later nest in it and hand it back when they end; it unlinks itself when the thread ends.
  if (detail::active_tape == nullptr) tape.become_active();
  return tape;
}

void Tape::clear() {
  for (std::size_t b = 0; b < blocks_.size() && b <= current_block_; ++b) {
    blocks_[b]->operand_used = 0;
    blocks_[b]->statement_used = 0;
    blocks_[b]->large_counts.clear();
    blocks_[b]->first_with_operands = 0;
  }
  current_block_ = 0;
  if (!blocks_.empty()) {
    current_ = blocks_.front().get();
    current_->first_statement = 0;
    current_->statement_capacity = static_cast<std::size_t>(
        std::min<std::uint64_t>(current_->statement_allocated, index_limit_));
  } else {
    current_ = &empty_block;
  }
  point_cursors_at_current_block();
  room_limited_ = false;
  if (detail::finite_check_on() && current_ != &empty_block) limit_room(0);
  statements_before_current_ = 0;
  operands_before_current_ = 0;
  nodes_.clear();
  adjoints_.clear();
  for (auto& attachment : attachments_) attachment.second->on_clear();
  swept_ = false;
  swept_statement_count_ = 0;
  id_ = next_tape_id();
}

void Tape::point_cursors_at_current_block() noexcept {
  detail::Block& block = *current_;
  next_index_ = block.indices.get() + block.operand_used;
  next_partial_ = block.partials.get() + block.operand_used;
  next_count_ = block.counts.get() + block.statement_used;
  count_end_ = block.counts.get() + block.statement_capacity;
  // Operand room at most the count room, so that a statement with operands, which takes at least
  // one of each, never runs out of counts first.
  const std::size_t operand_room = block.operand_capacity - block.operand_used;
  index_end_ = next_index_ + std::min(operand_room, count_room());
  statement_bias_ = reinterpret_cast<std::uintptr_t>(block.counts.get()) -
                    static_cast<std::uintptr_t>(block.first_statement);
}

std::size_t Tape::memory_bytes() const noexcept {
  std::size_t large = 0;
  for (std::size_t b = 0; b < blocks_.size() && b <= current_block_; ++b) {
    large += blocks_[b]->large_counts.size();
  }
  return operand_count() * (sizeof(Index) + sizeof(double)) +
         statement_count() * sizeof(std::uint8_t) + large * sizeof(std::uint32_t);
}

std::size_t Tape::capacity_bytes() const noexcept {
  std::size_t bytes = 0;
  for (const auto& block : blocks_) {
    bytes += block->operand_capacity * (sizeof(Index) + sizeof(double)) +
             block->statement_allocated + block->large_counts.capacity() * sizeof(std::uint32_t);
  }
  return bytes;
}

Tape& Tape::grow(std::size_t operands_needed) {
  if (this == &unstarted_) {
    // A Var's first statement on a thread with no active tape (recording_tape()).
    Tape& tape = default_for_thread();
    return tape.needs_block(operands_needed) || tape.room_limited_ || detail::finite_check_on()
               ? tape.grow(operands_needed)
               : tape;
  }
  if (room_limited_) {  // by a FiniteCheck: the block's own room first
    room_limited_ = false;
    settle_current_block();
    point_cursors_at_current_block();
  }
  if (needs_block(operands_needed)) start_block(operands_needed);
  if (detail::finite_check_on()) limit_room(operands_needed);
  return *this;
}

void Tape::limit_room(std::size_t operands) noexcept {
  // Called with at least this room in the block. A statement of `operands` operands fills it;
  // one without operands takes the count and leaves the operand room at 0 (record_in_room
  // shrinks the operand room only when it equals the count room).
  index_end_ = next_index_ + operands;
  count_end_ = next_count_ + (operands > 0 || count_room() > 0 ? 1 : 0);
  room_limited_ = true;
}

namespace detail {
void thread_ended() noexcept {
  for (Tape* tape = active_tape; tape != nullptr; tape = tape->previous_) {
    owner_of(tape->owner_thread_).store(nullptr);
  }
}

void finite_check_started() noexcept {
  // Every tape that records without going through grow() first: the active one and those it is
  // nested in (the default tape among them once it has been used; the scratch tape while a
  // functional form borrows it). Others reach grow() when they become active.
  for (Tape* tape = active_tape; tape != nullptr; tape = tape->previous_) {
    if (tape->current_ != &empty_block) tape->limit_room(0);
  }
  non_finite_primitive = {};  // noted by an expression that was never recorded
}
}  // namespace detail

void Tape::start_block(std::size_t operands_needed) {
  const std::uint64_t first = statement_count();
  if (first >= index_limit_) {
    throw Error(fmt::format(
        "subgrad::Tape: cannot record statement {}: a tape holds at most {} indices (32-bit); "
        "split the computation or clear() the tape",
        first + 1, index_limit_));
  }
  // A block keeps no more operand room than count room (the recorder checks one bound), so a
  // statement of n operands needs n indices left; refused before anything changes.
  if (operands_needed > index_limit_ - first) {
    throw Error(fmt::format(
        "subgrad::Tape: cannot record statement {} of {} operands: a tape holds at most {} "
        "indices (32-bit) and a statement needs as many left as it has operands; split the "
        "computation or clear() the tape",
        first + 1, operands_needed, index_limit_));
  }
  const bool had_block = current_ != &empty_block;
  std::size_t next = had_block ? current_block_ + 1 : 0;
  if (had_block) {
    settle_current_block();
    statements_before_current_ += current_->statement_used;
    operands_before_current_ += current_->operand_used;
  }
  const std::size_t wanted = std::max<std::size_t>(
      operands_needed,
      next == 0 ? first_block_operands
                : std::min(largest_block_operands, blocks_[next - 1]->operand_capacity * 2));
  if (next < blocks_.size() && blocks_[next]->operand_capacity < operands_needed) {
    blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(next));  // too small to reuse
  }
  if (next == blocks_.size()) {
    auto block = std::make_unique<detail::Block>();
    block->indices = std::make_unique_for_overwrite<Index[]>(wanted);
    block->partials = std::make_unique_for_overwrite<double[]>(wanted);
    // Twice as many counts as operands: room for independent variables (statements without
    // operands) beside a full block of operands. Pages never written cost no memory.
    block->counts = std::make_unique_for_overwrite<detail::OperandCount[]>(2 * wanted);
    block->operand_capacity = wanted;
    block->statement_allocated = 2 * wanted;
    blocks_.push_back(std::move(block));
  }
  detail::Block* block = blocks_[next].get();
  block->operand_used = 0;
  block->statement_used = 0;
  block->large_counts.clear();
  block->first_with_operands = 0;
  block->first_statement = first;
  block->statement_capacity = static_cast<std::size_t>(
      std::min<std::uint64_t>(block->statement_allocated, index_limit_ - first));
  current_block_ = next;
  current_ = block;
  point_cursors_at_current_block();
}

Index Tape::new_variables(std::size_t count) {
  if (statement_count() + count > index_limit_) {  // all or nothing
    throw Error(
        fmt::format("subgrad::Tape::new_variables: cannot record {} variables after {} statements: "
                    "a tape holds at most {} "
                    "indices (32-bit)",
                    count, statement_count(), index_limit_));
  }
  const auto first = static_cast<Index>(statement_count() + 1);
  while (count > 0) {
    if (next_count_ == count_end_) grow(0);
    const std::size_t taken = std::min(count, count_room());
    std::memset(next_count_, 0, taken);
    next_count_ += taken;
    index_end_ = next_index_ + std::min(operand_room(), count_room());  // as record_statement
    if (next_index_ == current_->indices.get())
      current_->first_with_operands = current_statements();
    count -= taken;
  }
  return first;
}

void Tape::record_node(NodeBackward backward) {
  nodes_.push_back(Node{statement_count(), std::move(backward)});
}

void Tape::record_node(RawNodeBackward backward, const void* context) {
  nodes_.push_back(Node{statement_count(), {}, backward, context});
}

void Tape::check_owns(std::uint32_t tape, std::string_view operation, std::string_view what) const {
  if (tape == id_) [[likely]]
    return;
  if (tape == 0) {
    throw Error(
        fmt::format("{}: {} is not on a tape (a default-constructed Var or a constant such as "
                    "std::numeric_limits<Var>::max())",
                    operation, what));
  }
  if (find_on_this_thread(tape) != nullptr) {
    throw Error(fmt::format(
        "{}: {} belongs to tape #{}, an outer tape of this thread, but the active tape is the "
        "nested tape #{}: compute with it inside the nested tape's scope or pass its value",
        operation, what, tape, id_));
  }
  throw Error(fmt::format(
      "{}: {} belongs to tape #{}, but the active tape is #{}: it was recorded before a clear(), "
      "on a tape that was destroyed, or on another thread's tape",
      operation, what, tape, id_));
}

void Var::report_stale_operand(double value, Index index, std::uint32_t tape) {
  Tape::active().check_owns(tape, "subgrad::Var (recording)",
                            fmt::format("an operand (a Var of value {}, index {})", value, index));
  throw Error("subgrad::Var (recording): an operand is on another tape");  // check_owns threw
}

void Tape::backward(Index output, std::uint32_t output_tape, double seed,
                    std::string_view operation) {
  check_owns(output_tape, operation, "the output");  // first: a stale output names itself
  const std::uint64_t statements = statement_count();
  if (statements == 0) {
    throw Error(fmt::format("{}: the active tape (#{}) is empty: record a computation first",
                            operation, id_));
  }
  if (output == 0 || output > statements) {
    throw Error(fmt::format("{}: output index {} is not on the tape ({} statements)", operation,
                            output, statements));
  }
  settle_current_block();
  ++sweep_count_;
  adjoints_.assign(static_cast<std::size_t>(output) + 1, 0.0);
  adjoints_[output] = seed;
  sweep(output);
  swept_ = true;
  swept_statement_count_ = statements;
}

void Tape::sweep(std::uint64_t end) {
  double* adjoints = adjoints_.data();
  // Nodes recorded after `end` statements cannot reach the output.
  std::size_t node =
      static_cast<std::size_t>(std::upper_bound(nodes_.begin(), nodes_.end(), end,
                                                [](std::uint64_t position, const Node& n) {
                                                  return position < n.position;
                                                }) -
                               nodes_.begin());

  std::size_t b = current_block_;
  while (b > 0 && blocks_[b]->first_statement >= end) --b;
  const detail::Block* block = end > 0 ? blocks_[b].get() : nullptr;
  std::size_t operand = 0;
  std::size_t large = 0;
  if (block != nullptr) {
    const std::size_t high = static_cast<std::size_t>(end - block->first_statement);
    if (high == block->statement_used) {
      operand = block->operand_used;
      large = block->large_counts.size();
    } else {  // the output lies inside the block: count the operands of the statements before it
      for (std::size_t s = 0; s < high; ++s) {
        const auto count = static_cast<std::size_t>(block->counts[s]);
        if (count == detail::large_statement) {
          operand += block->large_counts[large++];
        } else {
          operand += count;
        }
      }
    }
  }

  std::uint64_t current = end;
  while (true) {
    const std::uint64_t stop = node > 0 ? nodes_[node - 1].position : 0;
    while (current > stop) {
      if (current == block->first_statement) {
        block = blocks_[--b].get();
        operand = block->operand_used;
        large = block->large_counts.size();
      }
      const std::uint64_t low = std::max(stop, block->first_statement);
      sweep_statements(*block, static_cast<std::size_t>(low - block->first_statement),
                       static_cast<std::size_t>(current - block->first_statement), operand, large,
                       adjoints);
      current = low;
    }
    if (node == 0) break;
    const Node& n = nodes_[--node];
    if (n.raw != nullptr) {
      n.raw(n.context, std::span<double>(adjoints_));
    } else {
      n.backward(std::span<double>(adjoints_));
    }
  }
}

void Tape::throw_bad_adjoint(Index index, std::uint32_t tape, std::string_view operation) const {
  check_owns(tape, operation, "the Var");
  if (!swept_) {
    throw Error(
        fmt::format("{}: no backward() on tape #{} since it was last cleared", operation, id_));
  }
  if (index == 0) throw Error(fmt::format("{}: the Var is not on a tape", operation));
  throw Error(
      fmt::format("{}: the Var (index {}) was recorded after the last backward() ({} statements)",
                  operation, index, swept_statement_count_));
}

}  // namespace subgrad
