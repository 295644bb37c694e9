#pragma once
/// \file
/// Data-parallel training over MPI: every rank holds the whole model, trains on its shard of each
/// mini-batch, and the ranks average their gradients before each optimizer step, so that all of
/// them take the same step as one process on the whole batch would (to rounding:
/// docs/distributed.md).
///
///     distributed::broadcast_parameters(model);            // the root's initial values everywhere
///     for (const data::Batch& batch : distributed::batches(train, 128, true, seed + epoch)) {
///       subgrad::backward(nn::cross_entropy(model(batch.inputs), batch.labels));
///       distributed::allreduce_gradients(model, batch.size());
///       optimizer.step();
///     }

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "subgrad/data/batches.hpp"
#include "subgrad/distributed/context.hpp"
#include "subgrad/nn/checkpoint.hpp"
#include "subgrad/nn/module.hpp"
#include "subgrad/nn/optim.hpp"

namespace subgrad::distributed {

/// This rank's part of every mini-batch of data::batches(dataset, batch_size, shuffle, seed): the
/// ranks' parts, in rank order, are the single-process batches.
inline auto batches(const data::Dataset& dataset, std::size_t batch_size, bool shuffle,
                    std::uint64_t seed = 0) {
  const Context& context = Context::current();
  return data::batches(dataset, batch_size, shuffle, seed,
                       data::Shard{static_cast<std::size_t>(context.rank()),
                                   static_cast<std::size_t>(context.size())});
}

namespace detail {
template <class T>
std::vector<std::pair<std::string, Tensor<T>*>> state_tensors(nn::BasicModule<T>& model) {
  std::vector<std::pair<std::string, Tensor<T>*>> tensors;
  nn::ModuleVisitor<T> visitor;
  visitor.parameter = [&](const std::string& name, nn::BasicParameter<T>& p) {
    tensors.emplace_back(name, &p.value());
  };
  visitor.buffer = [&](const std::string& name, Tensor<T>& b) { tensors.emplace_back(name, &b); };
  model.visit("", visitor);
  return tensors;
}
}  // namespace detail

/// Copies the root's parameters and buffers (BatchNorm's running statistics) to every rank, so that
/// all start from the same values. First checks that every rank's model has the same parameters,
/// by name and shape: otherwise every rank throws subgrad::Error naming the first that differs.
template <class T>
void broadcast_parameters(nn::BasicModule<T>& model, int root = 0) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "subgrad::distributed: models of float or double");
  constexpr std::string_view operation = "subgrad::distributed::broadcast_parameters";
  const Context& context = Context::current();
  if (root < 0 || root >= context.size()) {
    throw Error(
        fmt::format("{}: root {} is not a rank (0 to {})", operation, root, context.size() - 1));
  }
  const auto tensors = detail::state_tensors(model);
  // The root's names and shapes, one line each, to every rank.
  std::string layout;
  for (const auto& [name, tensor] : tensors) {
    layout += fmt::format("{} {} {}\n", name, tensor->rows(), tensor->cols());
  }
  unsigned long long length = layout.size();
  detail::check_mpi(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, root, context.communicator()),
                    operation);
  std::string root_layout = context.rank() == root ? layout : std::string(length, ' ');
  detail::broadcast(std::as_writable_bytes(std::span<char>(root_layout.data(), root_layout.size())),
                    root, context.communicator(), operation);
  // This rank's first difference from the root's, if any.
  std::string difference;
  std::size_t line_start = 0, k = 0;
  for (; k < tensors.size() && line_start < root_layout.size(); ++k) {
    const std::size_t line_end = root_layout.find('\n', line_start);
    const std::string_view theirs(root_layout.data() + line_start, line_end - line_start);
    line_start = line_end + 1;
    const std::string mine = fmt::format("{} {} {}", tensors[k].first, tensors[k].second->rows(),
                                         tensors[k].second->cols());
    if (theirs != mine) {
      difference =
          fmt::format("'{}' is {} x {} on rank {}, but the root's is '{}'", tensors[k].first,
                      tensors[k].second->rows(), tensors[k].second->cols(), context.rank(), theirs);
      break;
    }
  }
  if (difference.empty() && k < tensors.size()) {
    difference = fmt::format("'{}' (and {} more) on rank {} is not in the root's model",
                             tensors[k].first, tensors.size() - k - 1, context.rank());
  } else if (difference.empty() && line_start < root_layout.size()) {
    difference = fmt::format(
        "rank {} lacks the root's '{}'", context.rank(),
        root_layout.substr(line_start, root_layout.find('\n', line_start) - line_start));
  }
  detail::agree(
      context, difference.empty(),
      fmt::format("{}: the models differ across ranks: parameter {}", operation, difference));
  // The values, in one buffer.
  std::size_t total = 0;
  for (const auto& entry : tensors) total += entry.second->size();
  std::vector<T> values(total);
  std::size_t at = 0;
  for (const auto& entry : tensors) {
    std::memcpy(values.data() + at, entry.second->data(), entry.second->size() * sizeof(T));
    at += entry.second->size();
  }
  detail::broadcast(std::as_writable_bytes(std::span<T>(values)), root, context.communicator(),
                    operation);
  at = 0;
  for (const auto& entry : tensors) {
    std::memcpy(entry.second->data(), values.data() + at, entry.second->size() * sizeof(T));
    at += entry.second->size();
  }
}

/// What one allreduce_gradients call sent: gradient bytes summed over the ranks, and the
/// MPI_Allreduce calls it took (one for the sample counts, one per bucket).
struct AllreduceReport {
  std::size_t bytes = 0;
  std::size_t calls = 0;
};

/// Gradients are packed into buckets of this many bytes, one MPI_Allreduce each: a model of many
/// small tensors costs few calls.
inline constexpr std::size_t default_bucket_bytes = std::size_t{4} << 20;

/// After backward() on every rank: replaces each parameter's gradient with the average over the
/// ranks, weighted by `local_samples` (this rank's batch size; the average is then the gradient of
/// the mean loss over the whole batch) or, without it, equally. A parameter reached by backward on
/// some ranks but not others is an error on every rank.
template <class T>
AllreduceReport allreduce_gradients(nn::BasicModule<T>& model,
                                    std::optional<std::size_t> local_samples = std::nullopt,
                                    std::size_t bucket_bytes = default_bucket_bytes) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "subgrad::distributed: models of float or double");
  constexpr std::string_view operation = "subgrad::distributed::allreduce_gradients";
  const Context& context = Context::current();
  const auto parameters = model.parameters();
  AllreduceReport report;
  // The samples of all ranks, and on how many ranks each parameter has a gradient.
  std::vector<long long> counts(parameters.size() + 1);
  counts[0] = static_cast<long long>(local_samples.value_or(1));
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    counts[k + 1] = parameters[k].parameter->has_gradient() ? 1 : 0;
  }
  detail::allreduce_sum(std::span<long long>(counts), context.communicator(), operation);
  ++report.calls;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    if (counts[k + 1] != 0 && counts[k + 1] != context.size()) {
      throw Error(
          fmt::format("{}: parameter '{}' has a gradient on {} of {} ranks (backward must "
                      "reach the same parameters on every rank)",
                      operation, parameters[k].name, counts[k + 1], context.size()));
    }
  }
  if (counts[0] <= 0) {
    throw Error(fmt::format("{}: {} samples over all ranks", operation, counts[0]));
  }
  const T scale = static_cast<T>(static_cast<double>(local_samples.value_or(1)) /
                                 static_cast<double>(counts[0]));
  // Scaled gradients packed into buckets; each full bucket is summed over the ranks in place and
  // unpacked. A tensor larger than a bucket is split across buckets.
  struct Piece {
    T* gradient;
    std::size_t count;
  };
  const std::size_t capacity = std::max<std::size_t>(1, bucket_bytes / sizeof(T));
  std::vector<T> bucket;
  bucket.reserve(capacity);
  std::vector<Piece> pieces;
  auto flush = [&] {
    if (bucket.empty()) return;
    detail::allreduce_sum(std::span<T>(bucket), context.communicator(), operation);
    ++report.calls;
    report.bytes += bucket.size() * sizeof(T);
    std::size_t at = 0;
    for (const Piece& piece : pieces) {
      std::memcpy(piece.gradient, bucket.data() + at, piece.count * sizeof(T));
      at += piece.count;
    }
    bucket.clear();
    pieces.clear();
  };
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    if (counts[k + 1] == 0) continue;
    const std::span<T> gradient = parameters[k].parameter->gradient();
    for (std::size_t first = 0; first < gradient.size();) {
      const std::size_t count = std::min(gradient.size() - first, capacity - bucket.size());
      for (std::size_t i = 0; i < count; ++i) bucket.push_back(gradient[first + i] * scale);
      pieces.push_back({gradient.data() + first, count});
      first += count;
      if (bucket.size() == capacity) flush();
    }
  }
  flush();
  return report;
}

/// Saves model and optimizer from the root only (every rank holds the same); the other ranks wait
/// for it, and if it fails every rank throws the root's error.
template <class T>
void save(const std::filesystem::path& path, nn::BasicModule<T>& model,
          nn::BasicOptimizer<T>& optimizer) {
  const Context& context = Context::current();
  std::string failure;
  if (context.is_root()) {
    try {
      nn::save(path, model, optimizer);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  detail::agree(context, failure.empty(), failure);
}

/// Loads a checkpoint on every rank (a file every rank can read, saved with any number of ranks or
/// by a single process). If any rank fails, every rank throws the lowest failing rank's error; the
/// ranks whose load succeeded then hold the checkpoint, the others their old state.
template <class T>
void load(const std::filesystem::path& path, nn::BasicModule<T>& model,
          nn::BasicOptimizer<T>& optimizer) {
  const Context& context = Context::current();
  std::string failure;
  try {
    nn::load(path, model, optimizer);
  } catch (const std::exception& e) {
    failure = fmt::format("rank {}: {}", context.rank(), e.what());
  }
  detail::agree(context, failure.empty(), failure);
}

}  // namespace subgrad::distributed
