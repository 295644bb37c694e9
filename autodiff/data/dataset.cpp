#include "subgrad/data/dataset.hpp"

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/data/idx.hpp"

namespace subgrad::data {

namespace {
// The file of that name, gzipped or not.
std::filesystem::path find_file(const std::filesystem::path& directory, std::string_view name) {
  const std::filesystem::path plain = directory / name;
  std::filesystem::path gzipped = plain;
  gzipped += ".gz";
  if (std::filesystem::exists(gzipped)) return gzipped;
  if (std::filesystem::exists(plain)) return plain;
  throw Error(fmt::format("subgrad::data::load_fashion_mnist: neither {} nor {} exists",
                          gzipped.string(), plain.string()));
}
}  // namespace

Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         int classes) {
  const IdxArray image_array = read_idx(images);
  const IdxArray label_array = read_idx(labels);
  if (label_array.dimensions.size() != 1) {
    throw Error(
        fmt::format("subgrad::data::read_idx_dataset: {}: labels must have one dimension, "
                    "the file has {}",
                    labels.string(), label_array.dimensions.size()));
  }
  if (image_array.count() != label_array.count()) {
    throw Error(
        fmt::format("subgrad::data::read_idx_dataset: {} has {} images but {} has {} labels",
                    images.string(), image_array.count(), labels.string(), label_array.count()));
  }
  Dataset dataset;
  dataset.labels.reserve(label_array.count());
  for (std::size_t k = 0; k < label_array.count(); ++k) {
    const int label = label_array.data[k];
    if (label >= classes) {
      throw Error(
          fmt::format("subgrad::data::read_idx_dataset: {}: label {} of item {} is not "
                      "below the {} classes",
                      labels.string(), label, k, classes));
    }
    dataset.labels.push_back(label);
  }
  dataset.inputs = Tensor<float>(image_array.count(), image_array.item_size());
  float* out = dataset.inputs.data();
  for (std::size_t k = 0; k < image_array.data.size(); ++k) {
    out[k] = static_cast<float>(image_array.data[k]) / 255.0f;
  }
  return dataset;
}

FashionMnist load_fashion_mnist(const std::filesystem::path& directory) {
  if (!std::filesystem::is_directory(directory)) {
    throw Error(
        fmt::format("subgrad::data::load_fashion_mnist: {} is not a directory (Debian's "
                    "package dataset-fashion-mnist installs the data set in {})",
                    directory.string(), fashion_mnist_directory.string()));
  }
  FashionMnist result;
  result.train = read_idx_dataset(find_file(directory, "train-images-idx3-ubyte"),
                                  find_file(directory, "train-labels-idx1-ubyte"), 10);
  result.test = read_idx_dataset(find_file(directory, "t10k-images-idx3-ubyte"),
                                 find_file(directory, "t10k-labels-idx1-ubyte"), 10);
  return result;
}

}  // namespace subgrad::data
