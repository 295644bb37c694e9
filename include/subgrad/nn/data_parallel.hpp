#pragma once
/// \file
/// DataParallel: one training step split over threads. Each thread runs its own copy of the
/// model (a replica, whose parameters read the model's values) on a contiguous part of the
/// batch's rows, on its own tape; the parts' gradients are then combined into the model's own, so
/// that the optimizer's step is the step of the whole batch (to float rounding: each part sums
/// over its own rows first). With step(), the combination and the optimizer's update are split
/// over the threads as well, a slice of every parameter each. Matrix products run on the thread
/// that calls them meanwhile, which on a few cores beats splitting each product: a product on
/// one core runs closer to its peak than half of it on each of two, and the element-wise work
/// is split too (docs/performance.md).
///
///     nn::DataParallel parallel(model);  // as many threads as cores
///     for (const data::Batch& batch : data::batches(train, 128, true, seed)) {
///       parallel.step(optimizer, batch.inputs, batch.labels,
///                     [](nn::Module& m, const Tensor<float>& x, std::span<const int> y) {
///                       return nn::cross_entropy(m(x), y);
///                     });
///     }
///
/// (`parallel.backward(...)` followed by `optimizer.step()` is the same step, with the update on
/// the calling thread only.)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/finite_check.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/nn/init.hpp"
#include "subgrad/nn/module.hpp"
#include "subgrad/nn/optim.hpp"
#include "subgrad/nn/parameter.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/threads.hpp"

namespace subgrad::nn {

/// How the loss of a part relates to the loss of the whole batch: the mean over its rows (as
/// nn::cross_entropy and nn::mse give it; the parts are then weighted by their rows) or the sum
/// (the parts add up).
enum class LossReduction { mean, sum };

namespace detail {
/// Rows [first, first + count) of a batch's inputs or targets: for a tensor, copied into
/// `buffer` (kept from step to step, so that a step allocates nothing); for a span of labels, a
/// view.
template <class U>
const Tensor<U>& rows_of(const Tensor<U>& batch, std::size_t first, std::size_t count,
                         Tensor<U>& buffer) {
  buffer.resize(count, batch.cols());
  std::copy_n(batch.data() + first * batch.cols(), count * batch.cols(), buffer.data());
  return buffer;
}
template <class L, class U>
std::span<const L> rows_of(std::span<const L> batch, std::size_t first, std::size_t count,
                           Tensor<U>&) {
  return batch.subspan(first, count);
}
template <class U>
std::size_t row_count(const Tensor<U>& batch) {
  return batch.rows();
}
template <class L>
std::size_t row_count(std::span<const L> batch) {
  return batch.size();
}
// Labels given as a vector are read as a span.
template <class Targets>
decltype(auto) as_rows(const Targets& targets) {
  if constexpr (
      requires { std::span(targets); } && !requires { targets.rows(); }) {
    return std::span(targets);
  } else {
    return (targets);
  }
}
}  // namespace detail

/// Splits the forward and backward pass of each step over threads, and with step() the
/// optimizer's update too (see the file comment).
/// The model's parameters must keep their shapes while a DataParallel refers to it (a changed
/// one is an error at the next step); their values may change (that is what an optimizer does
/// between steps). Models with buffers (BatchNorm's running
/// statistics) are refused: each part would update them from its own rows.
template <class T = float>
class BasicDataParallel {
 public:
  /// Threads to split over (the calling thread is one of them; 0: one per core).
  explicit BasicDataParallel(BasicModule<T>& model, std::size_t threads = 0,
                             LossReduction reduction = LossReduction::mean)
      : model_(model), reduction_(reduction) {
    constexpr std::string_view operation = "subgrad::nn::DataParallel";
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const auto buffers = model.buffers();
    if (!buffers.empty()) {
      throw Error(fmt::format(
          "{}: the model has {} buffers (the first is '{}', a running statistic): each thread "
          "would update them from its own rows; train this model on one thread",
          operation, buffers.size(), buffers.front().name));
    }
    model_parameters_ = model.parameters();
    for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
      BasicParameter<T>* p = model_parameters_[i].parameter;
      model_parameter_pointers_.push_back(p);
      model_parameter_index_.emplace(p, i);
      shapes_.emplace_back(p->rows(), p->cols());
    }
    errors_.resize(threads);
    combined_.assign(threads, std::vector<T>(combined_chunk));
    shares_ = std::make_unique<Share[]>(threads);
    workers_.reserve(threads - 1);
    try {
      for (std::size_t k = 1; k < threads; ++k) {
        auto worker = std::make_unique<Worker>();
        worker->replica = model.clone();
        worker->replica->reseed(default_generator());  // its own dropout masks
        for (const NamedParameter<T>& p : worker->replica->parameters())
          worker->parameters.push_back(p.parameter);
        if (worker->parameters.size() != model_parameters_.size()) {
          throw Error(fmt::format("{}: the model's clone() has {} parameters, the model {}",
                                  operation, worker->parameters.size(), model_parameters_.size()));
        }
        for (std::size_t i = 0; i < model_parameters_.size(); ++i)
          worker->parameters[i]->share_value_of(*model_parameters_[i].parameter);
        workers_.push_back(std::move(worker));
      }
      for (std::size_t k = 0; k < workers_.size(); ++k) {
        workers_[k]->thread = std::thread([this, k] { run_worker(k); });
      }
    } catch (...) {
      stop_workers();
      throw;
    }
  }
  ~BasicDataParallel() { stop_workers(); }
  BasicDataParallel(const BasicDataParallel&) = delete;
  BasicDataParallel& operator=(const BasicDataParallel&) = delete;

  /// The threads a step is split over, the calling one included.
  std::size_t threads() const noexcept { return workers_.size() + 1; }

  /// One step's forward and backward pass over `inputs` (one sample per row) and `targets`
  /// (a label per row, as a span or vector, or a tensor with a row per sample):
  /// `loss(module, inputs_part, targets_part)` returns the loss of a part as a Var, and is
  /// called once per part, each on its own thread with its own module (the model itself for the
  /// calling thread's part, whose tape is the active one). Afterwards the model's parameters
  /// hold the gradient of the whole batch's loss on the active tape, ready for an optimizer;
  /// returns that loss. A batch of fewer rows than threads uses as many threads as rows. An
  /// exception thrown in any part is rethrown here, after every part has ended.
  template <class Targets, class Loss>
  double backward(const Tensor<T>& inputs, const Targets& targets, Loss&& loss) {
    const double total =
        forward_and_backward(inputs, targets, loss, "subgrad::nn::DataParallel::backward");
    if (parts_used_ > 1) combine_and_update(nullptr);
    return total;
  }

  /// backward(), then `optimizer.step()` with the update split over the same threads: each
  /// thread combines the parts' gradients of a slice of every parameter and updates those
  /// elements, so that no thread waits while one updates everything. The same step as
  /// backward() followed by optimizer.step() (to float rounding, as backward()); afterwards the
  /// active tape is cleared, as step() clears it. Every parameter of `optimizer` must be one of
  /// the model's; the optimizer's update must be element-wise (those of nn are). Returns the
  /// batch's loss.
  template <class Targets, class Loss>
  double step(BasicOptimizer<T>& optimizer, const Tensor<T>& inputs, const Targets& targets,
              Loss&& loss) {
    constexpr std::string_view operation = "subgrad::nn::DataParallel::step";
    // Before the pass: a wrong optimizer costs no work.
    optimizer_index_.assign(model_parameters_.size(), no_index);
    const std::vector<NamedParameter<T>>& held = optimizer.parameters();
    for (std::size_t k = 0; k < held.size(); ++k) {
      const auto found = model_parameter_index_.find(held[k].parameter);
      if (found == model_parameter_index_.end()) {
        throw Error(
            fmt::format("{}: the {}'s parameter '{}' (number {}) is not a parameter of the model",
                        operation, optimizer.name(), held[k].name, k));
      }
      optimizer_index_[found->second] = k;
    }
    const double total = forward_and_backward(inputs, targets, loss, operation);
    // The parameters the pass reached: each counts a step, as step() counts them.
    updated_.clear();
    for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
      if (optimizer_index_[i] != no_index && !parts_[0].gradients[i].empty())
        updated_.push_back(optimizer_index_[i]);
    }
    optimizer.begin_step(updated_);
    combine_and_update(&optimizer);
    Tape::active().clear();
    return total;
  }

 private:
  static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
  static constexpr std::size_t combined_chunk = 2048;   // elements: stays in the L1 cache
  static constexpr std::size_t piece_elements = 16384;  // 64 KB of floats
  struct Piece {
    std::size_t parameter, first, count;
  };
  struct Worker {
    std::unique_ptr<BasicModule<T>> replica;  // its parameters read the model's values
    std::vector<BasicParameter<T>*> parameters;
    std::thread thread;
  };
  // What one part of the current step did.
  struct Part {
    std::size_t first = 0, rows = 0;
    double loss = 0.0;
    std::vector<std::span<T>> gradients;  // per model parameter; empty: not reached
    Tensor<T> inputs, targets;            // the part's rows of tensors, reused from step to step
  };

  // The parts' forward and backward passes (the first phase of a step); returns the batch's
  // loss and leaves each part's gradients and weight.
  template <class Targets, class Loss>
  double forward_and_backward(const Tensor<T>& inputs, const Targets& targets_given, Loss& loss,
                              std::string_view operation) {
    const auto& targets = detail::as_rows(targets_given);
    const std::size_t rows = inputs.rows();
    if (rows == 0) throw Error(fmt::format("{}: an empty batch", operation));
    if (detail::row_count(targets) != rows) {
      throw Error(fmt::format("{}: {} rows of inputs but {} of targets", operation, rows,
                              detail::row_count(targets)));
    }
    for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
      const BasicParameter<T>& p = *model_parameters_[i].parameter;
      if (p.rows() != shapes_[i].first || p.cols() != shapes_[i].second) {
        throw Error(fmt::format(
            "{}: parameter '{}' is {} x {} now but was {} x {} when the DataParallel was made",
            operation, model_parameters_[i].name, p.rows(), p.cols(), shapes_[i].first,
            shapes_[i].second));
      }
    }
    const std::size_t parts = std::min(threads(), rows);
    parts_used_ = parts;
    parts_.resize(parts);
    for (Part& part : parts_) {
      part.loss = 0.0;
      part.gradients.assign(model_parameters_.size(), {});
    }
    const bool training = model_.is_training();
    // The calling thread's kink rule and FiniteCheck hold in every part, as on one thread: both
    // are per thread, and a worker's own would be the defaults.
    const KinkRule kink_rule = current_kink_rule();
    const bool finite_checking = subgrad::detail::finite_check_on();
    job_ = [&, parts, rows, training, kink_rule, finite_checking](std::size_t k) {
      if (k >= parts) return;  // this step has fewer parts than threads
      const KinkScope kink_scope{kink_rule};
      std::optional<FiniteCheck> finite_check;
      if (finite_checking && k > 0) finite_check.emplace();
      Part& part = parts_[k];
      part.first = k * rows / parts;
      part.rows = (k + 1) * rows / parts - part.first;
      BasicModule<T>* module = &model_;
      const std::vector<BasicParameter<T>*>* own = &model_parameter_pointers_;
      if (k > 0) {
        Worker& worker = *workers_[k - 1];
        module = worker.replica.get();
        own = &worker.parameters;
        if (worker.replica->is_training() != training) worker.replica->train(training);
        Tape::active().clear();
      }
      const auto& x = detail::rows_of(inputs, part.first, part.rows, part.inputs);
      const auto& y = detail::rows_of(targets, part.first, part.rows, part.targets);
      const Var part_loss = loss(*module, x, y);
      subgrad::backward(part_loss);
      part.loss = part_loss.value();
      for (std::size_t i = 0; i < own->size(); ++i) {
        if ((*own)[i]->has_gradient()) part.gradients[i] = (*own)[i]->gradient();
      }
    };
    {
      std::optional<subgrad::detail::OneThreadPerProduct> one_thread_per_product;
      if (parts > 1) one_thread_per_product.emplace();
      run_phase();
    }
    rethrow_first_error();
    // Every part reaches the same parameters, or the step is not the whole batch's.
    for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
      for (std::size_t k = 1; k < parts; ++k) {
        const bool here = !parts_[k].gradients[i].empty(), first = !parts_[0].gradients[i].empty();
        if (here == first) continue;
        const Part& reached = here ? parts_[k] : parts_[0];
        const Part& missed = here ? parts_[0] : parts_[k];
        throw Error(fmt::format(
            "{}: parameter '{}' got a gradient from rows {}-{} but not from rows {}-{}", operation,
            model_parameters_[i].name, reached.first, reached.first + reached.rows - 1,
            missed.first, missed.first + missed.rows - 1));
      }
    }
    double total = 0.0;
    weights_.resize(parts);
    for (std::size_t k = 0; k < parts; ++k) {
      weights_[k] = reduction_ == LossReduction::mean
                        ? static_cast<double>(parts_[k].rows) / static_cast<double>(rows)
                        : 1.0;
      total += weights_[k] * parts_[k].loss;
    }
    return total;
  }

  // The second phase: the threads share the reached parameters' elements, in pieces (a core
  // slowed by others takes fewer), and combine the parts' gradients of each piece:
  // into the model's gradient (the first part's, on the active tape), or, given an optimizer,
  // into a small buffer of the thread's own from which it updates those elements (the tape is
  // cleared afterwards; writing the first part's gradient would take its cache lines from the
  // core that wrote them). A piece is many cache lines long: two threads share at most the line
  // where their pieces meet.
  void combine_and_update(BasicOptimizer<T>* optimizer) {
    pieces_.clear();
    for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
      const std::size_t size = parts_[0].gradients[i].size();
      if (size == 0) continue;
      if (optimizer != nullptr && optimizer_index_[i] == no_index) continue;  // nothing reads it
      for (std::size_t first = 0; first < size; first += piece_elements)
        pieces_.push_back({i, first, std::min(piece_elements, size - first)});
    }
    // Thread t takes the pieces of its own share first, the same from step to step while the
    // threads keep pace (so that each finds its pieces' optimizer state in its own cache), then
    // what is left of the others'.
    const std::size_t threads = this->threads();
    for (std::size_t t = 0; t < threads; ++t) {
      shares_[t].next.store(t * pieces_.size() / threads, std::memory_order_relaxed);
      shares_[t].end = (t + 1) * pieces_.size() / threads;
    }
    job_ = [this, optimizer, threads](std::size_t thread) {
      std::vector<T>& buffer = combined_[thread];
      auto take = [&]() -> std::size_t {
        for (std::size_t k = 0; k < threads; ++k) {
          Share& share = shares_[(thread + k) % threads];
          const std::size_t p = share.next.fetch_add(1, std::memory_order_relaxed);
          if (p < share.end) return p;
        }
        return pieces_.size();
      };
      for (std::size_t p; (p = take()) < pieces_.size();) {
        const Piece piece = pieces_[p];
        T* model_gradient = parts_[0].gradients[piece.parameter].data();
        if (optimizer == nullptr) {
          combine(piece.parameter, piece.first, piece.count, model_gradient + piece.first);
          continue;
        }
        const std::size_t end = piece.first + piece.count;
        for (std::size_t start = piece.first; start < end; start += buffer.size()) {
          const std::size_t count = std::min(buffer.size(), end - start);
          const T* gradient = model_gradient + start;
          if (parts_used_ > 1) {
            combine(piece.parameter, start, count, buffer.data());
            gradient = buffer.data();
          }
          optimizer->update_slice(optimizer_index_[piece.parameter], start,
                                  std::span<const T>(gradient, count));
        }
      }
    };
    run_phase();
    rethrow_first_error();
  }
  // Writes the parts' gradients of elements [first, first + count) of parameter i, weighted, into
  // `to` (which may be the first part's own): the first two parts in one pass, any further part
  // added in one pass each.
  void combine(std::size_t i, std::size_t first, std::size_t count, T* to) const {
    const T w0 = static_cast<T>(weights_[0]), w1 = static_cast<T>(weights_[1]);
    const T* zeroth = parts_[0].gradients[i].data() + first;
    const T* second = parts_[1].gradients[i].data() + first;
    for (std::size_t j = 0; j < count; ++j) to[j] = w0 * zeroth[j] + w1 * second[j];
    for (std::size_t q = 2; q < parts_used_; ++q) {
      const T w = static_cast<T>(weights_[q]);
      const T* from = parts_[q].gradients[i].data() + first;
      for (std::size_t j = 0; j < count; ++j) to[j] += w * from[j];
    }
  }

  // Runs job_(k) for every thread k: 0 here, the others on the workers; returns when all have
  // ended. A worker waits for a phase by spinning briefly (the next one usually follows within a
  // step), then on the condition variable.
  void run_phase() {
    for (std::exception_ptr& error : errors_) error = nullptr;
    arrived_.store(0, std::memory_order_relaxed);
    {
      const std::lock_guard lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    try {
      job_(0);
    } catch (...) {
      errors_[0] = std::current_exception();
    }
    while (arrived_.load(std::memory_order_acquire) != workers_.size()) std::this_thread::yield();
  }
  void rethrow_first_error() {
    for (const std::exception_ptr& error : errors_) {
      if (error) std::rethrow_exception(error);
    }
  }
  void run_worker(std::size_t index) {
    Tape tape;  // this thread's, for its parts
    std::uint64_t seen = 0;
    while (true) {
      seen = wait_for_phase(seen);
      if (stopping_) return;
      try {
        job_(index + 1);
      } catch (...) {
        errors_[index + 1] = std::current_exception();
      }
      // Every worker reports back, so that nothing of a phase is still read when the next one
      // is set up.
      arrived_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  // The generation of the next phase. What the phase was set up with (job_, parts_, stopping_)
  // was written before the generation's release increment, so its acquire load orders it.
  std::uint64_t wait_for_phase(std::uint64_t seen) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    std::uint64_t now = seen;
    for (int spin = 0; (now = generation_.load(std::memory_order_acquire)) == seen; ++spin) {
      if (spin % 64 == 63 && std::chrono::steady_clock::now() > until) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        return generation_.load(std::memory_order_acquire);
      }
      std::this_thread::yield();
    }
    return now;
  }
  void stop_workers() noexcept {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& worker : workers_) {
      if (worker->thread.joinable()) worker->thread.join();
    }
  }

  BasicModule<T>& model_;
  LossReduction reduction_;
  std::vector<NamedParameter<T>> model_parameters_;
  std::vector<BasicParameter<T>*> model_parameter_pointers_;
  std::unordered_map<const BasicParameter<T>*, std::size_t> model_parameter_index_;
  std::vector<std::pair<std::size_t, std::size_t>> shapes_;  // the parameters' when made
  std::vector<std::unique_ptr<Worker>> workers_;
  std::function<void(std::size_t)> job_;    // the current phase's work of thread k
  std::vector<std::exception_ptr> errors_;  // of the current phase, per thread
  std::vector<Part> parts_;
  std::size_t parts_used_ = 0;
  std::vector<double> weights_;
  std::vector<std::size_t> optimizer_index_;  // per model parameter, in step()'s optimizer
  std::vector<std::size_t> updated_;          // step()'s optimizer's reached parameters
  std::vector<std::vector<T>> combined_;      // per thread, a chunk of combined gradient
  std::vector<Piece> pieces_;                 // of the second phase
  // A thread's share of the pieces: the next one not taken, and the end. On a cache line of its
  // own, as each thread takes from its share's cursor.
  struct alignas(64) Share {
    std::atomic<std::size_t> next{0};
    std::size_t end = 0;
  };
  std::unique_ptr<Share[]> shares_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  bool stopping_ = false;  // written under mutex_ before the last generation
  std::atomic<std::size_t> arrived_{0};
};

/// DataParallel for float models (as nn::Sequential).
using DataParallel = BasicDataParallel<float>;

}  // namespace subgrad::nn
