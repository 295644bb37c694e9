// The main demo: a 784-256-128-10 MLP trained on Fashion-MNIST (Debian's dataset-fashion-mnist),
// float32, SGD with momentum 0.9, lr 0.05 annealed by a cosine over the run, batch 128, ReLU; any
// registered primitive as the activation, any kink rule. Per epoch: a progress line, test accuracy,
// the activation layers' sparsity, dead units and kink hits, and gradient norms; at the end the
// loss and accuracy curves as a PNG. Checkpoints after each epoch with --checkpoint; --resume
// continues a run and gives the same parameters, bit for bit, as never stopping.
//
//   fashion_mnist [--activation NAME] [--kink RULE] [--epochs N] [--batch N] [--lr X]
//                 [--optimizer sgd|adam|adamw] [--schedule constant|cosine] [--threads N] [--seed
//                 N] [--checkpoint PATH]
//                 [--resume PATH] [--train-subset N] [--curves PATH] [--data DIR]
//                 [--min-accuracy X]
#include <subgrad/data.hpp>
#include <subgrad/nn.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fashion_mlp.hpp"

namespace nn = subgrad::nn;
namespace data = subgrad::data;

namespace {

struct Options {
  std::string activation = "relu";
  std::optional<subgrad::KinkRule> kink;
  int epochs = 10;
  std::size_t batch = 128;
  std::optional<double> learning_rate;
  std::string optimizer = "sgd";
  std::string schedule = "cosine";  // lr annealed to 0 over the epochs, or "constant"
  int threads = 0;                  // 0: the library's default (both cores)
  std::uint64_t seed = 1;
  std::string checkpoint, resume;
  std::size_t train_subset = 0;  // 0: all 60,000
  std::string curves = "fashion_mnist_curves.png";
  std::string data_directory = data::fashion_mnist_directory.string();
  double min_accuracy = 0.0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int k = 1; k < argc; ++k) {
    const std::string_view option = argv[k];
    auto value = [&]() -> std::string_view {
      if (k + 1 >= argc)
        throw subgrad::Error(fmt::format("fashion_mnist: {} needs a value", option));
      return argv[++k];
    };
    if (option == "--activation")
      o.activation = value();
    else if (option == "--kink")
      o.kink = subgrad::parse_kink_rule(value());
    else if (option == "--epochs")
      o.epochs = fashion::number<int>(option, value());
    else if (option == "--batch")
      o.batch = fashion::number<std::size_t>(option, value());
    else if (option == "--lr")
      o.learning_rate = fashion::number<double>(option, value());
    else if (option == "--optimizer")
      o.optimizer = value();
    else if (option == "--schedule")
      o.schedule = value();
    else if (option == "--threads")
      o.threads = fashion::number<int>(option, value());
    else if (option == "--seed")
      o.seed = fashion::number<std::uint64_t>(option, value());
    else if (option == "--checkpoint")
      o.checkpoint = value();
    else if (option == "--resume")
      o.resume = value();
    else if (option == "--train-subset")
      o.train_subset = fashion::number<std::size_t>(option, value());
    else if (option == "--curves")
      o.curves = value();
    else if (option == "--data")
      o.data_directory = value();
    else if (option == "--min-accuracy")
      o.min_accuracy = fashion::number<double>(option, value());
    else
      throw subgrad::Error(fmt::format("fashion_mnist: unknown option '{}'", option));
  }
  if (o.schedule != "constant" && o.schedule != "cosine") {
    throw subgrad::Error(
        fmt::format("fashion_mnist: --schedule {} is not constant or cosine", o.schedule));
  }
  if (o.epochs < 1 || o.batch < 1) {
    throw subgrad::Error("fashion_mnist: --epochs and --batch must be at least 1");
  }
  return o;
}

std::unique_ptr<nn::Optimizer> make_optimizer(nn::Sequential& model, const Options& o) {
  if (o.optimizer == "sgd") {
    return std::make_unique<nn::SGD>(model.parameters(), o.learning_rate.value_or(0.05),
                                     nn::SgdOptions{.momentum = 0.9});
  }
  if (o.optimizer == "adam") {
    return std::make_unique<nn::Adam>(model.parameters(), o.learning_rate.value_or(1e-3));
  }
  if (o.optimizer == "adamw") {
    return std::make_unique<nn::AdamW>(model.parameters(), o.learning_rate.value_or(1e-3));
  }
  throw subgrad::Error(
      fmt::format("fashion_mnist: --optimizer {} is not sgd, adam or adamw", o.optimizer));
}

int run(const Options& o) {
  if (o.threads > 0) subgrad::set_num_threads(o.threads);
  const data::FashionMnist set = fashion::load_data(o.data_directory, o.train_subset);
  nn::manual_seed(o.seed);
  nn::Sequential model = fashion::make_mlp(o.activation, o.kink);
  const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(model, o);
  const std::size_t batches_per_epoch = (set.train.size() + o.batch - 1) / o.batch;
  int first_epoch = 0;
  std::optional<nn::CosineAnnealingLR> schedule;
  if (o.schedule == "cosine") schedule.emplace(*optimizer, static_cast<std::uint64_t>(o.epochs));
  if (!o.resume.empty()) {
    nn::load(o.resume, model, *optimizer);
    first_epoch = static_cast<int>(optimizer->steps() / batches_per_epoch);
    if (schedule) schedule->set_epoch(static_cast<std::uint64_t>(first_epoch));
    fmt::print("resumed from {} after epoch {}\n", o.resume, first_epoch);
  }
  fmt::print("fashion_mnist: {} training and {} test images; {}\n", set.train.size(),
             set.test.size(), model.describe());
  fmt::print("{} lr {}, batch {}, kink rule {}, seed {}, {} thread(s)\n", optimizer->name(),
             optimizer->learning_rate(), o.batch,
             o.kink ? o.kink->name() : subgrad::current_kink_rule().name(), o.seed,
             subgrad::num_threads());

  nn::ActivationStats stats(model);
  nn::TrainingHistory history;
  nn::ClassifierScore test;
  for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
    nn::Progress progress(fmt::format("epoch {}/{}", epoch + 1, o.epochs), batches_per_epoch);
    stats.reset();
    const fashion::Epoch trained =
        fashion::train_epoch(model, *optimizer, set.train, o.batch, o.seed + epoch, progress);
    test = nn::evaluate_classifier(model, set.test.inputs, set.test.labels);
    history.train.push_back(trained.train);
    history.test.push_back(test);
    progress.finish(
        fmt::format("test loss {:.4f}, test accuracy {:.2f}%", test.loss, 100.0 * test.accuracy));
    fmt::print("{}", stats.report());
    fmt::print("  mean gradient norms:");
    for (const auto& n : trained.mean_norms) fmt::print(" {} {:.3g}", n.name, n.norm);
    fmt::print("\n");
    if (schedule) schedule->step();
    if (!o.checkpoint.empty()) {
      nn::save(o.checkpoint, model, *optimizer);
      fmt::print("  checkpoint: {}\n", o.checkpoint);
    }
  }
  if (history.train.empty()) {
    fmt::print("nothing to train: the checkpoint is at epoch {} of {}\n", first_epoch, o.epochs);
    return 0;
  }
  fmt::print("test accuracy after {} epochs: {:.2f}%\n", o.epochs, 100.0 * test.accuracy);
  if (!o.curves.empty()) {
    try {
      nn::plot_training_curves(history, o.curves,
                               fmt::format("Fashion-MNIST, 784-256-128-10, {}", o.activation));
      fmt::print("curves: {}\n", o.curves);
    } catch (const subgrad::Error& e) {
      fmt::print("curves not drawn: {}\n", e.what());
    }
  }
  if (test.accuracy < o.min_accuracy) {
    fmt::print(stderr, "fashion_mnist: test accuracy {:.4f} is below --min-accuracy {}\n",
               test.accuracy, o.min_accuracy);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const subgrad::Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
}
