#pragma once
/// \file
/// Checkpoints: a model's parameters and buffers and an optimizer's state in one versioned binary
/// file with names, shapes, element type and a checksum, written atomically. Loading checks
/// everything before changing anything: a file of another model, optimizer, version or element
/// type, or a truncated or corrupted one, throws subgrad::Error naming the file and what is wrong,
/// and leaves the model and optimizer as they were.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "subgrad/nn/module.hpp"
#include "subgrad/nn/optim.hpp"

namespace subgrad::nn {

namespace detail {
/// One tensor of a checkpoint, pointing at the live tensor it is saved from or loaded into.
struct CheckpointTensor {
  std::string name;
  std::size_t rows;
  std::size_t cols;
  void* data;
};
/// A parameter's step count (BasicOptimizer::parameter_steps), saved by the parameter's name.
struct CheckpointStepCount {
  std::string name;
  std::uint64_t steps;
};
/// What a checkpoint holds, type-erased: the element size (4 for float, 8 for double), the
/// optimizer's name ("" for none), learning rate, step count and each parameter's, and the
/// tensors in order.
struct CheckpointContents {
  std::size_t element_size = 0;
  std::string optimizer;
  double learning_rate = 0.0;
  std::uint64_t steps = 0;
  std::vector<CheckpointStepCount> parameter_steps;
  std::vector<CheckpointTensor> tensors;
};
void save_checkpoint(const std::filesystem::path& path, const CheckpointContents& contents);
/// Reads and checks the whole file against `contents` (names, shapes, element size, optimizer,
/// the parameters whose step counts it holds), then copies the tensors in and sets learning rate
/// and step counts; throws before copying on any mismatch.
void load_checkpoint(const std::filesystem::path& path, CheckpointContents& contents);

template <class T>
CheckpointContents contents_of(BasicModule<T>& model, BasicOptimizer<T>* optimizer) {
  CheckpointContents contents;
  contents.element_size = sizeof(T);
  for (const auto& p : model.parameters()) {
    Tensor<T>& value = p.parameter->value();
    contents.tensors.push_back({"parameter " + p.name, value.rows(), value.cols(), value.data()});
  }
  for (const auto& b : model.buffers()) {
    contents.tensors.push_back(
        {"buffer " + b.name, b.buffer->rows(), b.buffer->cols(), b.buffer->data()});
  }
  if (optimizer != nullptr) {
    contents.optimizer = std::string(optimizer->name());
    contents.learning_rate = optimizer->learning_rate();
    contents.steps = optimizer->steps();
    const auto& parameters = optimizer->parameters();
    for (std::size_t k = 0; k < parameters.size(); ++k)
      contents.parameter_steps.push_back({parameters[k].name, optimizer->parameter_steps(k)});
    for (const auto& state : optimizer->state()) {
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        Tensor<T>& t = (*state.per_parameter)[k];
        contents.tensors.push_back(
            {"optimizer " + state.name + " " + parameters[k].name, t.rows(), t.cols(), t.data()});
      }
    }
  }
  return contents;
}
}  // namespace detail

/// Saves the model's parameters and buffers and the optimizer's state to `path`, atomically.
template <class T>
void save(const std::filesystem::path& path, BasicModule<T>& model, BasicOptimizer<T>& optimizer) {
  detail::save_checkpoint(path, detail::contents_of(model, &optimizer));
}
/// Saves the model alone.
template <class T>
void save(const std::filesystem::path& path, BasicModule<T>& model) {
  detail::save_checkpoint(path, detail::contents_of<T>(model, nullptr));
}
/// Restores what save(path, model, optimizer) wrote into a model and optimizer of the same
/// structure; on any error neither is changed.
template <class T>
void load(const std::filesystem::path& path, BasicModule<T>& model, BasicOptimizer<T>& optimizer) {
  detail::CheckpointContents contents = detail::contents_of(model, &optimizer);
  detail::load_checkpoint(path, contents);
  optimizer.set_learning_rate(contents.learning_rate);
  optimizer.set_steps(contents.steps);
  for (std::size_t k = 0; k < contents.parameter_steps.size(); ++k)
    optimizer.set_parameter_steps(k, contents.parameter_steps[k].steps);
}
/// Restores a model saved with or without an optimizer (the optimizer's part is skipped).
template <class T>
void load(const std::filesystem::path& path, BasicModule<T>& model) {
  detail::CheckpointContents contents = detail::contents_of<T>(model, nullptr);
  detail::load_checkpoint(path, contents);
}

}  // namespace subgrad::nn
