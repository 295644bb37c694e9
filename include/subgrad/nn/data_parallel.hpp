#pragma once
/// \file
/// DataParallel: one training step's forward and backward pass split over threads. Each thread
/// runs its own copy of the model (a replica, its values taken from the model at every step) on
/// a contiguous part of the batch's rows, on its own tape; the parts' gradients are then combined
/// into the model's own, so that an optimizer step afterwards is the step of the whole batch (to
/// float rounding: each part sums over its own rows first). Matrix products run on the thread
/// that calls them meanwhile, which on a few cores beats splitting each product: a product on
/// one core runs closer to its peak than half of it on each of two, and the element-wise work
/// is split too (docs/performance.md).
///
///     nn::DataParallel parallel(model);  // as many threads as cores
///     for (const data::Batch& batch : data::batches(train, 128, true, seed)) {
///       parallel.backward(batch.inputs, batch.labels,
///                         [](nn::Module& m, const Tensor<float>& x, std::span<const int> y) {
///                           return nn::cross_entropy(m(x), y);
///                         });
///       optimizer.step();
///     }

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
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/nn/init.hpp"
#include "subgrad/nn/module.hpp"
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

/// Splits the forward and backward pass of each step over threads (see the file comment).
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
    for (const NamedParameter<T>& p : model_parameters_)
      model_parameter_pointers_.push_back(p.parameter);
    workers_.reserve(threads - 1);
    try {
      for (std::size_t k = 1; k < threads; ++k) {
        auto worker = std::make_unique<Worker>();
        worker->replica = model.clone();
        worker->replica->reseed(default_generator());  // its own dropout masks
        for (const NamedParameter<T>& p : worker->replica->parameters())
          worker->parameters.push_back(p.parameter);
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
  double backward(const Tensor<T>& inputs, const Targets& targets_given, Loss&& loss) {
    constexpr std::string_view operation = "subgrad::nn::DataParallel::backward";
    const auto& targets = detail::as_rows(targets_given);
    const std::size_t rows = inputs.rows();
    if (rows == 0) throw Error(fmt::format("{}: an empty batch", operation));
    if (detail::row_count(targets) != rows) {
      throw Error(fmt::format("{}: {} rows of inputs but {} of targets", operation, rows,
                              detail::row_count(targets)));
    }
    const std::size_t parts = std::min(threads(), rows);
    part_count_ = parts;
    parts_.resize(parts);
    for (Part& part : parts_) {
      part.loss = 0.0;
      part.gradients.assign(model_parameters_.size(), {});
      part.error = nullptr;
    }
    const bool training = model_.is_training();
    job_ = [&, parts, rows, training](std::size_t k) {
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
    // The replicas take the model's values here, not on their threads, and the gradients are
    // combined here below: the optimizer step that follows writes the model's values and reads
    // its gradients on this thread, and ran 4 times slower when another core had read the one
    // and written part of the other (784-256-128-10 network, batch 128, 2 threads: its step took
    // 0.17 s an epoch, 0.145 s with the combination here, 0.04 s with the copy here too).
    for (std::size_t k = 1; k < parts; ++k) {
      for (std::size_t i = 0; i < model_parameters_.size(); ++i) {
        const Tensor<T>& from = model_parameters_[i].parameter->value();
        Tensor<T>& to = workers_[k - 1]->parameters[i]->value();
        if (from.rows() != to.rows() || from.cols() != to.cols()) {
          throw Error(fmt::format(
              "{}: parameter '{}' is {} x {} now but was {} x {} when the DataParallel was made",
              operation, model_parameters_[i].name, from.rows(), from.cols(), to.rows(),
              to.cols()));
        }
        std::copy_n(from.data(), from.size(), to.data());
      }
    }
    std::optional<subgrad::detail::OneThreadPerProduct> one_thread_per_product;
    if (parts > 1) one_thread_per_product.emplace();
    run_phase();
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
    // The combination, into the model's gradients (with one part they are the batch's already).
    for (std::size_t i = 0; i < model_parameters_.size() && parts > 1; ++i) {
      const std::span<T> into = parts_[0].gradients[i];
      if (into.empty()) continue;
      // The first two parts in one pass, any further part added in one pass each.
      const T w0 = static_cast<T>(weights_[0]), w1 = static_cast<T>(weights_[1]);
      const T* second = parts_[1].gradients[i].data();
      for (std::size_t j = 0; j < into.size(); ++j) into[j] = w0 * into[j] + w1 * second[j];
      for (std::size_t q = 2; q < parts; ++q) {
        const T w = static_cast<T>(weights_[q]);
        const T* from = parts_[q].gradients[i].data();
        for (std::size_t j = 0; j < into.size(); ++j) into[j] += w * from[j];
      }
    }
    return total;
  }

 private:
  struct Worker {
    std::unique_ptr<BasicModule<T>> replica;
    std::vector<BasicParameter<T>*> parameters;
    std::thread thread;
  };
  // What one part of the current step did.
  struct Part {
    std::size_t first = 0, rows = 0;
    double loss = 0.0;
    std::vector<std::span<T>> gradients;  // per model parameter; empty: not reached
    std::exception_ptr error;
    Tensor<T> inputs, targets;  // the part's rows of tensors, reused from step to step
  };

  // Runs job_(k) for every part k: part 0 here, the others on the workers; returns when all have
  // ended. A worker waits for a phase by spinning briefly (the next one usually follows within a
  // step), then on the condition variable.
  // Every worker reports back, also one without a part in this step, so that nothing of a phase
  // is still read when the next one is set up.
  void run_phase() {
    arrived_.store(0, std::memory_order_relaxed);
    {
      const std::lock_guard lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    try {
      job_(0);
    } catch (...) {
      parts_[0].error = std::current_exception();
    }
    while (arrived_.load(std::memory_order_acquire) != workers_.size()) std::this_thread::yield();
  }
  void rethrow_first_error() {
    for (std::size_t k = 0; k < part_count_; ++k) {
      if (parts_[k].error) std::rethrow_exception(parts_[k].error);
    }
  }
  void run_worker(std::size_t index) {
    Tape tape;  // this thread's, for its parts
    std::uint64_t seen = 0;
    while (true) {
      seen = wait_for_phase(seen);
      if (stopping_) return;
      if (index + 1 < part_count_) {  // else this step has fewer parts than threads
        try {
          job_(index + 1);
        } catch (...) {
          parts_[index + 1].error = std::current_exception();
        }
      }
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
  std::vector<std::unique_ptr<Worker>> workers_;
  std::function<void(std::size_t)> job_;
  std::vector<Part> parts_;
  std::vector<double> weights_;
  std::size_t part_count_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  bool stopping_ = false;  // written under mutex_ before the last generation
  std::atomic<std::size_t> arrived_{0};
};

/// DataParallel for float models (as nn::Sequential).
using DataParallel = BasicDataParallel<float>;

}  // namespace subgrad::nn
