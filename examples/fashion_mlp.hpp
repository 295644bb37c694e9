#pragma once
// The demos' network, shared by fashion_mnist and activation_zoo: 784-256-128-10 with one
// activation after each hidden layer, chosen by name.
#include <subgrad/data.hpp>
#include <subgrad/nn.hpp>

#include <charconv>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace fashion {

// Calls handle(option, value) for each option of the command line; value() takes the argument
// after the option, or throws an error naming the program and the option when there is none.
template <class Handle>
void read_options(int argc, char** argv, std::string_view program, Handle handle) {
  for (int k = 1; k < argc; ++k) {
    const std::string_view option = argv[k];
    auto value = [&]() -> std::string_view {
      if (k + 1 >= argc) {
        throw subgrad::Error(fmt::format("{}: {} needs a value", program, option));
      }
      return argv[++k];
    };
    handle(option, value);
  }
}

// A number given on the command line after `option`, all of `text` or an error naming both.
template <class N>
N number(std::string_view option, std::string_view text) {
  N value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw subgrad::Error(fmt::format("{} needs a number, got '{}'", option, text));
  }
  return value;
}

namespace nn = subgrad::nn;

// A hidden layer of `out` units: Linear then the activation; "prelu" and "rrelu" are the
// learnable and randomized layers, "maxout" a Maxout layer of two pieces; "selu" gets the
// lecun_normal initialisation it assumes; any other name is a registered primitive.
inline void add_hidden(nn::Sequential& model, std::size_t in, std::size_t out,
                       const std::string& activation, std::optional<subgrad::KinkRule> kink) {
  if (activation == "maxout") {
    model.push_back(nn::Maxout(in, out, 2));
    return;
  }
  nn::Linear linear(in, out);
  if (activation == "selu") nn::lecun_normal(linear.weight().value(), nn::default_generator());
  model.push_back(std::move(linear));
  if (activation == "prelu") {
    model.push_back(nn::PReLU());
  } else if (activation == "rrelu") {
    model.push_back(nn::RReLU());
  } else {
    model.push_back(kink ? nn::Activation::from_name(activation, *kink)
                         : nn::Activation::from_name(activation));
  }
}

// The 784-256-128-10 MLP, its weights from nn::default_generator() (seed it first).
inline nn::Sequential make_mlp(const std::string& activation,
                               std::optional<subgrad::KinkRule> kink = std::nullopt) {
  nn::Sequential model;
  add_hidden(model, 784, 256, activation, kink);
  add_hidden(model, 256, 128, activation, kink);
  model.push_back(nn::Linear(128, 10));
  return model;
}

// One pass over the training set in shuffled mini-batches (the order from `seed`). Data-parallel,
// each process passes its `shard` and a `synchronize(local samples)` that averages the gradients
// over the processes after each backward; the figures are then this process's.
struct Epoch {
  nn::ClassifierScore train;                 // mean loss and accuracy over the pass
  std::vector<nn::GradientNorm> mean_norms;  // per parameter, averaged over the steps
  std::size_t samples = 0;
};
inline Epoch train_epoch(nn::Sequential& model, nn::Optimizer& optimizer,
                         const subgrad::data::Dataset& set, std::size_t batch_size,
                         std::uint64_t seed, nn::Progress& progress,
                         subgrad::data::Shard shard = {},
                         const std::function<void(std::size_t)>& synchronize = {}) {
  Epoch epoch;
  double loss_sum = 0.0;
  std::size_t samples = 0, correct = 0, step = 0;
  subgrad::Tape tape;
  for (const subgrad::data::Batch& batch :
       subgrad::data::batches(set, batch_size, true, seed, shard)) {
    const subgrad::TensorVar<float> logits = model(batch.inputs);
    const subgrad::Var loss = nn::cross_entropy(logits, batch.labels);
    subgrad::backward(loss);
    if (synchronize) synchronize(batch.size());
    correct += nn::count_correct(logits.value(), batch.labels);
    const std::vector<nn::GradientNorm> norms = nn::gradient_norms(model);
    optimizer.step();  // also clears the tape: what is needed of it was read above
    if (epoch.mean_norms.empty()) {
      for (const auto& n : norms) epoch.mean_norms.push_back({n.name, 0.0});
    }
    for (std::size_t k = 0; k < norms.size(); ++k) epoch.mean_norms[k].norm += norms[k].norm;
    loss_sum += loss.value() * static_cast<double>(batch.size());
    samples += batch.size();
    progress.update(++step, loss_sum / static_cast<double>(samples), samples);
  }
  for (auto& n : epoch.mean_norms) n.norm /= static_cast<double>(step);
  epoch.train = {loss_sum / static_cast<double>(samples),
                 static_cast<double>(correct) / static_cast<double>(samples)};
  epoch.samples = samples;
  return epoch;
}

// Fashion-MNIST, the training set cut to its first `train_subset` images if that is not 0.
inline subgrad::data::FashionMnist load_data(const std::string& directory,
                                             std::size_t train_subset) {
  subgrad::data::FashionMnist set = subgrad::data::load_fashion_mnist(directory);
  if (train_subset > 0 && train_subset < set.train.size()) {
    set.train.labels.resize(train_subset);
    set.train.inputs.resize(train_subset, set.train.inputs.cols());
  }
  return set;
}

}  // namespace fashion
