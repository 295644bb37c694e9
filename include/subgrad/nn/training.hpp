#pragma once
/// \file
/// The training experience: a progress line, the loss and accuracy of a classifier on a data set,
/// and the curves of a run drawn to PNG.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/nn/module.hpp"
#include "subgrad/tensor/reduction.hpp"

namespace subgrad::nn {

/// A progress line for long work: what is done of how much, the running loss, samples per second
/// and the time left. On a terminal it updates in place (at most ten times a second); otherwise
/// only finish() prints, one line.
class Progress {
 public:
  /// `title` leads the line ("epoch 3/10"); `total` counts the steps (batches). With `out` null it
  /// prints nothing (a data-parallel rank other than the root).
  Progress(std::string title, std::size_t total, std::FILE* out = stdout);
  /// After step `done` (1-based) of `total`, with the running loss and the samples so far.
  void update(std::size_t done, double running_loss, std::size_t samples);
  /// Ends the line, adding `summary` (test accuracy, ...).
  void finish(const std::string& summary = "");
  /// Seconds since construction.
  double seconds() const;

 private:
  std::string line(std::size_t done) const;
  std::string title_;
  std::size_t total_;
  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  double running_loss_ = 0.0;
  std::size_t samples_ = 0, done_ = 0;
};

/// A classifier's mean cross-entropy and accuracy over a data set.
struct ClassifierScore {
  double loss = 0.0;
  double accuracy = 0.0;  // fraction of samples whose largest logit is their label
};

/// How many rows of `logits` have their largest value (the first, at a tie) at their label.
template <class T>
std::size_t count_correct(const Tensor<T>& logits, std::span<const int> labels) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < logits.rows(); ++i) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < logits.cols(); ++j) {
      if (logits(i, j) > logits(i, best)) best = j;
    }
    correct += static_cast<int>(best) == labels[i];
  }
  return correct;
}

/// Scores `model` (logits in the columns) on inputs and labels, in evaluation mode, batch by
/// batch on a tape of its own; the model's mode is restored afterwards, also when an error (a
/// label out of range) interrupts it.
template <class T>
ClassifierScore evaluate_classifier(BasicModule<T>& model, const Tensor<T>& inputs,
                                    std::span<const int> labels, std::size_t batch_size = 1000) {
  if (inputs.rows() != labels.size() || batch_size == 0 || labels.empty()) {
    throw Error(
        fmt::format("subgrad::nn::evaluate_classifier: {} input rows, {} labels, batch "
                    "size {} (the rows and labels must be as many, at least one; the batch size "
                    "at least 1)",
                    inputs.rows(), labels.size(), batch_size));
  }
  struct ModeRestorer {
    BasicModule<T>& model;
    bool was_training;
    ~ModeRestorer() { model.train(was_training); }
  } restorer{model, model.is_training()};
  model.eval();
  Tape tape;
  ClassifierScore score;
  std::size_t correct = 0;
  Tensor<T> batch;
  for (std::size_t first = 0; first < labels.size(); first += batch_size) {
    const std::size_t rows = std::min(batch_size, labels.size() - first);
    batch.resize(rows, inputs.cols());
    std::copy(inputs.data() + first * inputs.cols(), inputs.data() + (first + rows) * inputs.cols(),
              batch.data());
    tape.clear();
    const std::span<const int> batch_labels = labels.subspan(first, rows);
    try {
      const TensorVar<T> logits = model(batch);
      score.loss += cross_entropy(logits, batch_labels).value() * static_cast<double>(rows);
      correct += count_correct(logits.value(), batch_labels);
    } catch (const Error& error) {  // its rows are the batch's: say where the batch starts
      throw Error(fmt::format("subgrad::nn::evaluate_classifier: in the batch of rows [{}, {}): {}",
                              first, first + rows, error.what()));
    }
  }
  score.loss /= static_cast<double>(labels.size());
  score.accuracy = static_cast<double>(correct) / static_cast<double>(labels.size());
  return score;
}

/// Per epoch: training loss and accuracy, test loss and accuracy.
struct TrainingHistory {
  std::vector<ClassifierScore> train;
  std::vector<ClassifierScore> test;
};

/// Draws loss (left) and accuracy (right) per epoch, train and test, to a PNG with gnuplot.
/// Throws subgrad::Error naming the image when gnuplot is missing or fails.
void plot_training_curves(const TrainingHistory& history, const std::filesystem::path& image,
                          const std::string& title);

}  // namespace subgrad::nn
