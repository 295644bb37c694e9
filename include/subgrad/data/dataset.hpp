#pragma once
/// \file
/// Labelled data sets in memory, and Fashion-MNIST from Debian's dataset-fashion-mnist package.

#include <array>
#include <cstddef>
#include <filesystem>
#include <string_view>
#include <vector>

#include "subgrad/tensor/tensor.hpp"

namespace subgrad::data {

/// A labelled data set: one sample per row of `inputs`, its class in `labels`.
struct Dataset {
  Tensor<float> inputs;
  std::vector<int> labels;
  std::size_t size() const noexcept { return labels.size(); }
};

/// Images and labels from two IDX files: each image becomes one row of `inputs`, its bytes scaled
/// to [0, 1]. Throws subgrad::Error naming the file when either cannot be read (see read_idx), when
/// the labels are not one-dimensional, when the counts differ, or when a label is `classes` or
/// more.
Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         int classes);

/// Fashion-MNIST: 60,000 training and 10,000 test images of 28 x 28 pixels in 10 classes.
struct FashionMnist {
  Dataset train;
  Dataset test;
  static constexpr std::array<std::string_view, 10> class_names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
};

/// Where Debian's dataset-fashion-mnist package installs the files.
inline const std::filesystem::path fashion_mnist_directory = "/usr/share/datasets/fashion-mnist";

/// Loads Fashion-MNIST's four IDX files (gzipped or not) from `directory`. A missing directory
/// throws subgrad::Error saying which package provides it; bad files as read_idx_dataset.
FashionMnist load_fashion_mnist(const std::filesystem::path& directory = fashion_mnist_directory);

}  // namespace subgrad::data
