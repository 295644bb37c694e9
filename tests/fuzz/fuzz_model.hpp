#pragma once
// The model and optimizer the checkpoint fuzzer loads into, and make_fuzz_seeds saves.
#include "subgrad/nn.hpp"

struct FuzzModel {
  subgrad::nn::Sequential model;
  subgrad::nn::Adam optimizer;
  FuzzModel() : model(make()), optimizer(model.parameters(), 0.01) {}
  static subgrad::nn::Sequential make() {
    subgrad::nn::manual_seed(1);
    return subgrad::nn::Sequential{subgrad::nn::Linear(3, 2), subgrad::nn::BatchNorm1d(2)};
  }
};
