#pragma once
/// \file
/// Training diagnostics for the ReLU family's known troubles: how sparse each activation layer's
/// output is, which of its units never let a gradient through (dead), how often a pre-activation
/// sits exactly at a kink (where the kink rule decides), and each parameter's gradient norm.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "subgrad/nn/module.hpp"

namespace subgrad::nn {

/// Per activation layer of a model, over the training batches since the last reset():
///
///     nn::ActivationStats stats(model);
///     ... train one epoch ...
///     fmt::print("{}", stats.report());
///     stats.reset();
class ActivationStats {
 public:
  struct Layer {
    std::string name;          // the module's name in the model ("1") and what it is
    double sparsity = 0.0;     // fraction of outputs exactly 0
    std::size_t dead = 0;      // units with a zero derivative (or output) on every sample
    std::size_t units = 0;     // units (columns) of the layer
    std::size_t at_kink = 0;   // pre-activations exactly at a kink or tie
    std::size_t elements = 0;  // outputs counted
  };

  /// Attaches to every activation layer (Activation, PReLU, RReLU, Maxout) in the model; they
  /// count in training mode from now on, as long as this object lives.
  template <class T>
  explicit ActivationStats(BasicModule<T>& model) {
    ModuleVisitor<T> visitor;
    visitor.module = [this](const std::string& name, BasicModule<T>& module) {
      auto counts = std::make_shared<ActivationCounts>();
      if (module.count_activations(counts)) {
        layers_.push_back(
            {name.empty() ? module.describe() : name + " " + module.describe(), counts});
      }
    };
    model.visit("", visitor);
    detach_ = [&model] {
      ModuleVisitor<T> detach;
      detach.module = [](const std::string&, BasicModule<T>& m) { m.count_activations(nullptr); };
      model.visit("", detach);
    };
  }
  ActivationStats(const ActivationStats&) = delete;
  ActivationStats& operator=(const ActivationStats&) = delete;
  ~ActivationStats() { detach_(); }

  /// The figures so far, one per activation layer, in model order.
  std::vector<Layer> layers() const {
    std::vector<Layer> out;
    for (const auto& [name, counts] : layers_) {
      Layer layer;
      layer.name = name;
      layer.elements = counts->elements;
      layer.sparsity = counts->elements == 0 ? 0.0
                                             : static_cast<double>(counts->zeros) /
                                                   static_cast<double>(counts->elements);
      layer.units = counts->active.size();
      for (const std::uint8_t active : counts->active) layer.dead += active == 0;
      layer.at_kink = counts->at_kink;
      out.push_back(layer);
    }
    return out;
  }
  /// Starts counting afresh (at each epoch).
  void reset() {
    for (auto& layer : layers_) *layer.counts = ActivationCounts{};
  }
  /// A table of layers(): one line each.
  std::string report() const {
    std::string text = fmt::format("  {:<36} {:>9} {:>12} {:>12}\n", "activation layer", "sparsity",
                                   "dead units", "at a kink");
    for (const Layer& l : layers()) {
      text += fmt::format("  {:<36} {:>8.1f}% {:>6} / {:<5} {:>12}\n", l.name, 100.0 * l.sparsity,
                          l.dead, l.units, l.at_kink);
    }
    return text;
  }

 private:
  struct Attached {
    std::string name;
    std::shared_ptr<ActivationCounts> counts;
  };
  std::vector<Attached> layers_;
  std::function<void()> detach_;
};

/// A parameter's gradient norm.
struct GradientNorm {
  std::string name;
  double norm;
};
/// The Euclidean norm of each parameter's gradient after backward(), by name.
template <class T>
std::vector<GradientNorm> gradient_norms(BasicModule<T>& model) {
  std::vector<GradientNorm> out;
  for (const auto& p : model.parameters()) {
    const std::span<const T> gradient = p.parameter->gradient();
    out.push_back({p.name, std::sqrt(detail::sum_of_squares(gradient))});
  }
  return out;
}

}  // namespace subgrad::nn
