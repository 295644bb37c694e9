#pragma once
/// \file
/// Mini-batches of a data set as a range-v3 pipeline.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include "subgrad/core/error.hpp"
#include "subgrad/data/dataset.hpp"

namespace subgrad::data {

/// One mini-batch: its samples' inputs (one per row) and labels. Both are views of buffers the
/// batch range owns and reuses: valid until the range moves to the next batch.
struct Batch {
  const Tensor<float>& inputs;
  std::span<const int> labels;
  std::size_t size() const noexcept { return labels.size(); }
};

/// 0, 1, ..., size - 1 shuffled by `seed` (Fisher-Yates with std::mt19937_64 and a draw of our
/// own: std::shuffle's sequence differs between standard libraries, and a seed must give the same
/// order everywhere, also to other frameworks reading it from a file).
inline std::vector<std::size_t> shuffled_order(std::size_t size, std::uint64_t seed) {
  std::vector<std::size_t> order(size);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 generator(seed);
  for (std::size_t k = size; k > 1; --k) {
    const std::size_t j = static_cast<std::size_t>(generator() % k);
    std::swap(order[k - 1], order[j]);
  }
  return order;
}

/// Which part of every mini-batch a process takes in data-parallel training: part `index` of
/// `count` equal (to within one sample) contiguous parts. The parts of all processes together are
/// the single-process batch, in its order.
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
};

namespace detail {
/// The order of one pass and the buffers the batches are gathered into (shared by the range's
/// copies).
class BatchGatherer {
 public:
  BatchGatherer(const Dataset& dataset, std::size_t batch_size, bool shuffle, std::uint64_t seed,
                Shard shard = {})
      : dataset_(&dataset), batch_size_(batch_size), shard_(shard) {
    if (batch_size == 0) throw Error("subgrad::data::batches: batch_size must be at least 1");
    if (shard.count == 0 || shard.index >= shard.count) {
      throw Error(fmt::format("subgrad::data::batches: shard {} of {} does not exist", shard.index,
                              shard.count));
    }
    const std::size_t last =
        dataset.size() % batch_size == 0 ? batch_size : dataset.size() % batch_size;
    if (shard.count > 1 && std::min(batch_size, last) < shard.count) {
      throw Error(fmt::format(
          "subgrad::data::batches: a batch of {} samples (of {} in all, batch size {}) cannot "
          "be split into {} shards of at least one sample",
          std::min(batch_size, last), dataset.size(), batch_size, shard.count));
    }
    if (dataset.inputs.rows() != dataset.size()) {
      throw Error(
          fmt::format("subgrad::data::batches: the data set has {} input rows but {} labels",
                      dataset.inputs.rows(), dataset.size()));
    }
    if (shuffle) {
      order_ = shuffled_order(dataset.size(), seed);
    } else {
      order_.resize(dataset.size());
      std::iota(order_.begin(), order_.end(), std::size_t{0});
    }
  }
  std::size_t count() const noexcept { return (order_.size() + batch_size_ - 1) / batch_size_; }
  Batch gather(std::size_t batch) {
    const std::size_t whole_first = batch * batch_size_;
    const std::size_t whole = std::min(batch_size_, order_.size() - whole_first);
    const std::size_t first = whole_first + whole * shard_.index / shard_.count;
    const std::size_t size = whole_first + whole * (shard_.index + 1) / shard_.count - first;
    const std::size_t width = dataset_->inputs.cols();
    inputs_.resize(size, width);
    labels_.resize(size);
    for (std::size_t k = 0; k < size; ++k) {
      const std::size_t sample = order_[first + k];
      const float* row = dataset_->inputs.data() + sample * width;
      std::copy(row, row + width, inputs_.data() + k * width);
      labels_[k] = dataset_->labels[sample];
    }
    return Batch{inputs_, labels_};
  }

 private:
  const Dataset* dataset_;
  std::size_t batch_size_;
  Shard shard_;
  std::vector<std::size_t> order_;
  Tensor<float> inputs_;
  std::vector<int> labels_;
};
}  // namespace detail

/// The data set in mini-batches of `batch_size` (the last may be smaller), in order or shuffled by
/// `seed` (pass a different seed per epoch, e.g. seed + epoch, for a new order each pass). Each
/// batch is gathered into a buffer the range reuses: one batch's worth is copied, never the data
/// set. The data set must outlive the range.
///
///     for (const data::Batch& batch : data::batches(train, 128, true, seed + epoch)) ...
///
/// With a `shard`, each batch is the shard's part of the batch above: the data-parallel sampler
/// (every process passes the same seed and its own shard).
inline auto batches(const Dataset& dataset, std::size_t batch_size, bool shuffle,
                    std::uint64_t seed = 0, Shard shard = {}) {
  auto gatherer =
      std::make_shared<detail::BatchGatherer>(dataset, batch_size, shuffle, seed, shard);
  return ranges::views::iota(std::size_t{0}, gatherer->count()) |
         ranges::views::transform(
             [gatherer](std::size_t batch) { return gatherer->gather(batch); });
}

}  // namespace subgrad::data
