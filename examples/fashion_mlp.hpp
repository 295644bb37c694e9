#pragma once
// The demos' network, shared by fashion_mnist and activation_zoo: 784-256-128-10 with one
// activation after each hidden layer, chosen by name.
#include <subgrad/nn.hpp>

#include <optional>
#include <string>

namespace fashion {

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

}  // namespace fashion
