// The main demo: a 784-256-128-10 MLP trained on Fashion-MNIST (Debian's dataset-fashion-mnist),
// float32, SGD with momentum 0.9, lr 0.05 annealed by a cosine over the run, batch 128, ReLU; any
// registered primitive as the activation, any kink rule. Per epoch: a progress line, test accuracy,
// the activation layers' sparsity, dead units and kink hits, and gradient norms; at the end the
// loss and accuracy curves as a PNG. Checkpoints after each epoch with --checkpoint; --resume
// continues a run and gives the same parameters, bit for bit, as never stopping.
//
// Built with subgrad::distributed (MPI found), it trains data-parallel when started by mpirun,
// with the same options: `mpirun -np 2 build/release/examples/fashion_mnist --threads 1`. Each
// rank trains on its part of every batch, the gradients are averaged over the ranks, and rank 0
// prints, evaluates and writes checkpoints (docs/distributed.md).
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
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fashion_mlp.hpp"

#if SUBGRAD_HAS_DISTRIBUTED
#include <subgrad/distributed.hpp>
namespace distributed = subgrad::distributed;
#endif

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
  fashion::read_options(argc, argv, "fashion_mnist", [&o](std::string_view option, auto& value) {
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
  });
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

// This process's place in a data-parallel run: rank 0 of 1 without MPI or outside mpirun.
struct Ranks {
  std::size_t rank = 0, size = 1;
  bool root() const { return rank == 0; }
};

Ranks ranks() {
#if SUBGRAD_HAS_DISTRIBUTED
  const distributed::Context& context = distributed::Context::current();
  return {static_cast<std::size_t>(context.rank()), static_cast<std::size_t>(context.size())};
#else
  return {};
#endif
}

// The whole batch's training loss and accuracy from each rank's part.
nn::ClassifierScore over_ranks(const fashion::Epoch& trained) {
#if SUBGRAD_HAS_DISTRIBUTED
  const double samples = static_cast<double>(trained.samples);
  double sums[3] = {trained.train.loss * samples, trained.train.accuracy * samples, samples};
  distributed::detail::allreduce_sum(
      std::span<double>(sums), distributed::Context::current().communicator(), "fashion_mnist");
  return {sums[0] / sums[2], sums[1] / sums[2]};
#else
  return trained.train;
#endif
}

void save(const Options& o, nn::Sequential& model, nn::Optimizer& optimizer) {
#if SUBGRAD_HAS_DISTRIBUTED
  distributed::save(o.checkpoint, model, optimizer);  // rank 0 writes
#else
  nn::save(o.checkpoint, model, optimizer);
#endif
}

void load(const Options& o, nn::Sequential& model, nn::Optimizer& optimizer) {
#if SUBGRAD_HAS_DISTRIBUTED
  distributed::load(o.resume, model, optimizer);
#else
  nn::load(o.resume, model, optimizer);
#endif
}

int run(const Options& o) {
  if (o.threads > 0) subgrad::set_num_threads(o.threads);
  const Ranks place = ranks();
  std::FILE* const out = place.root() ? stdout : nullptr;
  auto say = [out](const std::string& text) {
    if (out != nullptr) fmt::print(out, "{}", text);
  };
  const data::FashionMnist set = fashion::load_data(o.data_directory, o.train_subset);
  nn::manual_seed(o.seed);
  nn::Sequential model = fashion::make_mlp(o.activation, o.kink);
  std::function<void(std::size_t)> synchronize;
#if SUBGRAD_HAS_DISTRIBUTED
  if (place.size > 1) {
    distributed::broadcast_parameters(model);
    synchronize = [&model](std::size_t samples) {
      distributed::allreduce_gradients(model, samples);
    };
  }
#endif
  const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(model, o);
  const std::size_t batches_per_epoch = (set.train.size() + o.batch - 1) / o.batch;
  int first_epoch = 0;
  std::optional<nn::CosineAnnealingLR> schedule;
  if (o.schedule == "cosine") schedule.emplace(*optimizer, static_cast<std::uint64_t>(o.epochs));
  if (!o.resume.empty()) {
    load(o, model, *optimizer);
    first_epoch = static_cast<int>(optimizer->steps() / batches_per_epoch);
    if (schedule) schedule->set_epoch(static_cast<std::uint64_t>(first_epoch));
    say(fmt::format("resumed from {} after epoch {}\n", o.resume, first_epoch));
  }
  say(fmt::format("fashion_mnist: {} training and {} test images; {}\n", set.train.size(),
                  set.test.size(), model.describe()));
  say(fmt::format("{} lr {}, batch {}, kink rule {}, seed {}, {} rank(s) of {} thread(s)\n",
                  optimizer->name(), optimizer->learning_rate(), o.batch,
                  o.kink ? o.kink->name() : subgrad::current_kink_rule().name(), o.seed, place.size,
                  subgrad::num_threads()));

  nn::ActivationStats stats(model);
  nn::TrainingHistory history;
  nn::ClassifierScore test;
  for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
    nn::Progress progress(fmt::format("epoch {}/{}", epoch + 1, o.epochs), batches_per_epoch, out);
    stats.reset();
    const fashion::Epoch trained =
        fashion::train_epoch(model, *optimizer, set.train, o.batch, o.seed + epoch, progress,
                             {place.rank, place.size}, synchronize);
    const double training_seconds = progress.seconds();  // before evaluating the test set
    history.train.push_back(over_ranks(trained));
    if (place.root()) test = nn::evaluate_classifier(model, set.test.inputs, set.test.labels);
    history.test.push_back(test);
    progress.finish(fmt::format("training {:.3f} s, test loss {:.4f}, test accuracy {:.2f}%",
                                training_seconds, test.loss, 100.0 * test.accuracy));
    say(stats.report());
    say("  mean gradient norms:");
    for (const auto& n : trained.mean_norms) say(fmt::format(" {} {:.3g}", n.name, n.norm));
    say("\n");
    if (schedule) schedule->step();
    if (!o.checkpoint.empty()) {
      save(o, model, *optimizer);
      say(fmt::format("  checkpoint: {}\n", o.checkpoint));
    }
  }
  if (!place.root()) return 0;
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
  auto main_body = [&] {
    try {
      return run(parse(argc, argv));
    } catch (const subgrad::Error& e) {
      if (ranks().size > 1) throw;  // distributed::run stops every rank with the message
      fmt::print(stderr, "{}\n", e.what());
      return 2;
    }
  };
#if SUBGRAD_HAS_DISTRIBUTED
  return distributed::run(argc, argv, [&](const distributed::Context&) { return main_body(); });
#else
  return main_body();
#endif
}
