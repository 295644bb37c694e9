// The demo network trained with each activation of the ReLU family and its smooth relatives, from
// one loop over names: a table (test accuracy, epoch time, dead units, sparsity) and one plot of
// the test-accuracy curves, written to docs/activation-zoo.md and docs/images/activation_zoo.png
// (run from the repository root).
//
//   activation_zoo [--epochs N] [--train-subset N] [--seed N] [--markdown PATH] [--plot PATH]
#include <subgrad/data.hpp>
#include <subgrad/io/file.hpp>
#include <subgrad/io/gnuplot.hpp>
#include <subgrad/nn.hpp>

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fashion_mlp.hpp"

namespace nn = subgrad::nn;

namespace {

// registry names, and three layers that are modules: prelu, rrelu (training noise) and maxout.
const std::vector<std::string> activations = {
    "relu",      "leaky_relu", "prelu", "rrelu",         "elu",      "selu",
    "celu",      "gelu",       "silu",  "mish",          "softplus", "relu6",
    "hardswish", "squareplus", "smelu", "relu_poly(10)", "maxout"};

struct Result {
  std::string name;
  std::vector<double> test_accuracy;  // per epoch
  double seconds_per_epoch = 0.0;
  std::size_t dead = 0, units = 0;
  double sparsity = 0.0;
  double final_train_loss = 0.0;
};

struct Options {
  int epochs = 3;
  std::size_t train_subset = 0;
  std::uint64_t seed = 1;
  std::string markdown = "docs/activation-zoo.md";
  std::string plot = "docs/images/activation_zoo.png";
};

Options parse(int argc, char** argv) {
  Options o;
  fashion::read_options(argc, argv, "activation_zoo", [&o](std::string_view option, auto& value) {
    if (option == "--epochs")
      o.epochs = fashion::number<decltype(o.epochs)>(option, value());
    else if (option == "--train-subset")
      o.train_subset = fashion::number<decltype(o.train_subset)>(option, value());
    else if (option == "--seed")
      o.seed = fashion::number<decltype(o.seed)>(option, value());
    else if (option == "--markdown")
      o.markdown = value();
    else if (option == "--plot")
      o.plot = value();
    else
      throw subgrad::Error(fmt::format("activation_zoo: unknown option '{}'", option));
  });
  return o;
}

Result train(const std::string& activation, const subgrad::data::FashionMnist& set,
             const Options& o) {
  nn::manual_seed(o.seed);
  nn::Sequential model = fashion::make_mlp(activation);
  nn::SGD optimizer(model.parameters(), 0.05, {.momentum = 0.9});
  nn::ActivationStats stats(model);
  Result result{activation};
  const std::size_t batches = (set.train.size() + 127) / 128;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    stats.reset();
    nn::Progress progress(fmt::format("{} epoch {}/{}", activation, epoch + 1, o.epochs), batches);
    const fashion::Epoch trained =
        fashion::train_epoch(model, optimizer, set.train, 128, o.seed + epoch, progress);
    result.seconds_per_epoch += progress.seconds() / o.epochs;
    result.final_train_loss = trained.train.loss;
    const nn::ClassifierScore test =
        nn::evaluate_classifier(model, set.test.inputs, set.test.labels);
    result.test_accuracy.push_back(test.accuracy);
    progress.finish(fmt::format("test accuracy {:.2f}%", 100.0 * test.accuracy));
  }
  // Dead units and sparsity of the last epoch, over both activation layers.
  std::size_t zeros_weight = 0;
  for (const auto& layer : stats.layers()) {
    result.dead += layer.dead;
    result.units += layer.units;
    result.sparsity += layer.sparsity * static_cast<double>(layer.elements);
    zeros_weight += layer.elements;
  }
  if (zeros_weight > 0) result.sparsity /= static_cast<double>(zeros_weight);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const subgrad::data::FashionMnist set =
        fashion::load_data(subgrad::data::fashion_mnist_directory.string(), o.train_subset);
    std::vector<Result> results;
    for (const std::string& name : activations) results.push_back(train(name, set, o));

    std::string table = fmt::format(
        "| activation | test accuracy after {} epochs | seconds per epoch | dead units | "
        "sparsity |\n|---|---|---|---|---|\n",
        o.epochs);
    std::string curves;
    for (const Result& r : results) {
      table += fmt::format("| `{}` | {:.2f} % | {:.2f} | {} / {} | {:.1f} % |\n", r.name,
                           100.0 * r.test_accuracy.back(), r.seconds_per_epoch, r.dead, r.units,
                           100.0 * r.sparsity);
      for (std::size_t e = 0; e < r.test_accuracy.size(); ++e) {
        curves += fmt::format("{} {}\n", e + 1, 100.0 * r.test_accuracy[e]);
      }
      curves += "\n\n";  // one gnuplot data block per activation
    }
    subgrad::GnuplotPlot plot;
    const std::string data = plot.data("curves", curves).string();
    std::string script =
        "set title 'Fashion-MNIST, 784-256-128-10, SGD momentum 0.9, lr 0.05: test accuracy'\n"
        "set xlabel 'epoch'\nset ylabel 'test accuracy (%)'\nset xtics 1\nset grid lc rgb "
        "'#dddddd'\nset key outside right top\nplot ";
    for (std::size_t k = 0; k < results.size(); ++k) {
      script +=
          fmt::format("{}{} index {} with linespoints lw 2 title {}", k ? ", " : "",
                      subgrad::gnuplot_quoted(data), k, subgrad::gnuplot_quoted(results[k].name));
    }
    plot.render(o.plot, 1000, 520, script);

    const std::string markdown = fmt::format(
        "# The activation zoo\n\n"
        "<!-- generated by examples/activation_zoo: run `build/release/examples/activation_zoo` "
        "from the repository root -->\n\n"
        "The demo network of [nn](nn.md) (784-256-128-10, float, SGD with momentum 0.9, lr 0.05, "
        "batch 128, seed {0}, PyTorch's initialisation; `selu` with `lecun_normal`) trained on "
        "Fashion-MNIST{1} for {2} epochs with each activation, from one loop over names "
        "(`examples/activation_zoo.cpp`). `prelu` is `nn::PReLU` (one learnable slope), `rrelu` "
        "`nn::RReLU` (slopes drawn in training), `maxout` `nn::Maxout` with two pieces; every "
        "other "
        "name is `nn::Activation::from_name`, the registered primitive under the default kink "
        "rule (min_norm).\n\n"
        "Dead units and sparsity are those of the last epoch over both hidden layers (384 units; "
        "see `nn::ActivationStats`): a dead unit passed no gradient on any training sample, "
        "sparsity is the fraction of outputs exactly zero. Times are per epoch on this project's "
        "2-core machine, with the diagnostics on.\n\n{3}\n![test accuracy per epoch](images/{4})\n",
        o.seed, o.train_subset ? fmt::format(" (first {} training images)", o.train_subset) : "",
        o.epochs, table, std::filesystem::path(o.plot).filename().string());
    subgrad::write_file_atomically(o.markdown, markdown);
    fmt::print("{}\ntable: {}\nplot: {}\n", table, o.markdown, o.plot);
    return 0;
  } catch (const subgrad::Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
}
