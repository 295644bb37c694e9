// Does ReLU'(0) matter? A reproduction of Bertoin, Bolte, Gerchinovitz and Pauwels (NeurIPS 2021)
// on Fashion-MNIST, with the derivative at 0 chosen by subgrad's kink rules
// (docs/relu-prime-zero.md).
//
// 1. Bifurcation: for float64, float32 and 16 bits, and N initialisations, two copies of an MLP,
// one
//    with ReLU'(0) = 0 (kink::left) and one with ReLU'(0) = 1 (kink::right), trained by the same
//    mini-batches (batch 256, plain SGD) for one epoch. An initialisation bifurcates when some
//    mini-batch gives the two copies first-layer weight gradients that differ in any element.
// 2. Training: the depth-3 width-256 MLP trained for 10 epochs in float32 with ReLU'(0) = t for t
//    in {0, 0.25, 0.5, 0.75, 1} (kink::convex(t)), without and with BatchNorm1d, 3 seeds each.
//
//   relu_prime_zero [--inits N] [--part bifurcation|training|all] [--epochs N] [--seeds N]
//                   [--max-batches N] [--depth N] [--width N] [--workers N] [--literal] [--quick]
//                   [--curves PATH] [--data DIR]
//
// The copies are identical until a mini-batch holds a pre-activation exactly 0, the one place where
// the rules differ; until then the copy with ReLU'(0) = 1 is not computed (its gradients would be
// the same bits). --literal computes both copies at every mini-batch; --quick checks that both ways
// agree, that float64 never bifurcates and that a batch built to hold an exact zero bifurcates.
#include <subgrad/data.hpp>
#include <subgrad/io/gnuplot.hpp>
#include <subgrad/nn.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "fashion_mlp.hpp"

namespace nn = subgrad::nn;
namespace data = subgrad::data;
using subgrad::Tensor;

namespace {

struct Options {
  std::size_t inits = 100;
  std::string part = "all";
  int epochs = 10;
  std::size_t seeds = 3;
  std::size_t max_batches = 0;  // 0: the whole epoch
  std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
  std::optional<std::size_t> depth, width;  // one architecture of the grid only
  bool literal = false;
  bool quick = false;
  std::string curves = "relu_prime_zero_curves.png";
  std::string data_directory = data::fashion_mnist_directory.string();
};

constexpr std::size_t batch_size = 256;
constexpr double bifurcation_learning_rate = 0.01;
constexpr double training_learning_rate = 0.1;

Options parse(int argc, char** argv) {
  Options o;
  fashion::read_options(argc, argv, "relu_prime_zero", [&o](std::string_view option, auto& value) {
    if (option == "--inits")
      o.inits = fashion::number<std::size_t>(option, value());
    else if (option == "--part")
      o.part = value();
    else if (option == "--epochs")
      o.epochs = fashion::number<int>(option, value());
    else if (option == "--seeds")
      o.seeds = fashion::number<std::size_t>(option, value());
    else if (option == "--max-batches")
      o.max_batches = fashion::number<std::size_t>(option, value());
    else if (option == "--depth")
      o.depth = fashion::number<std::size_t>(option, value());
    else if (option == "--width")
      o.width = fashion::number<std::size_t>(option, value());
    else if (option == "--workers")
      o.workers = fashion::number<std::size_t>(option, value());
    else if (option == "--literal")
      o.literal = true;
    else if (option == "--quick")
      o.quick = true;
    else if (option == "--curves")
      o.curves = value();
    else if (option == "--data")
      o.data_directory = value();
    else
      throw subgrad::Error(fmt::format("relu_prime_zero: unknown option '{}'", option));
  });
  if (o.part != "all" && o.part != "bifurcation" && o.part != "training") {
    throw subgrad::Error(
        fmt::format("relu_prime_zero: --part {} is not bifurcation, training or all", o.part));
  }
  if (o.inits < 1 || o.epochs < 1 || o.seeds < 1 || o.workers < 1) {
    throw subgrad::Error(
        "relu_prime_zero: --inits, --epochs, --seeds and --workers must be at least 1");
  }
  return o;
}

// Calls body(0), ..., body(count - 1), each once, on `workers` threads; rethrows the first error.
// Independent runs on one core each outpace one run on all cores: this network's products are too
// small to split well.
template <class Body>
void parallel_for(std::size_t count, std::size_t workers, Body body) {
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto work = [&] {
    try {
      for (std::size_t k = next++; k < count; k = next++) body(k);
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = count;
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t w = 1; w < std::min(workers, count); ++w) threads.emplace_back(work);
    work();
  }
  if (failure) std::rethrow_exception(failure);
}

template <class T>
std::string_view precision_name() {
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, float>) return "float32";
  return "float16";
}

template <class T>
Tensor<T> converted(const Tensor<float>& x) {
  Tensor<T> out(x.rows(), x.cols());
  std::transform(x.data(), x.data() + x.size(), out.data(), [](float v) { return T(v); });
  return out;
}

// 784 -> `depth` hidden layers of `width` ReLU units (after BatchNorm1d if asked) -> 10, PyTorch's
// default initialisation from nn::default_generator().
template <class T>
nn::BasicSequential<T> make_network(std::size_t depth, std::size_t width, subgrad::KinkRule rule,
                                    bool batch_norm = false) {
  nn::BasicSequential<T> model;
  std::size_t in = 784;
  for (std::size_t layer = 0; layer < depth; ++layer) {
    model.push_back(nn::BasicLinear<T>(in, width));
    if (batch_norm) model.push_back(nn::BasicBatchNorm1d<T>(width));
    model.push_back(nn::BasicActivation<T>::from_name("relu", rule));
    in = width;
  }
  model.push_back(nn::BasicLinear<T>(in, 10));
  return model;
}

std::size_t pre_activations_at_zero(const nn::ActivationStats& stats) {
  std::size_t zeros = 0;
  for (const auto& layer : stats.layers()) zeros += layer.at_kink;
  return zeros;
}

template <class T>
bool differ(std::span<const T> a, std::span<const T> b) {
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (a[k] != b[k]) return true;
  }
  return false;
}

// The two copies of one initialisation: `zero` with ReLU'(0) = 0, `one` with ReLU'(0) = 1.
template <class T>
class CopyPair {
 public:
  CopyPair(std::size_t depth, std::size_t width, std::uint64_t seed, bool literal)
      : zero_(make(depth, width, subgrad::kink::left, seed)),
        one_(make(depth, width, subgrad::kink::right, seed)),
        zero_sgd_(zero_.parameters(), bifurcation_learning_rate),
        one_sgd_(one_.parameters(), bifurcation_learning_rate),
        stats_(zero_),
        in_sync_(!literal) {}

  nn::BasicSequential<T>& zero() { return zero_; }
  std::size_t zeros_seen() const { return pre_activations_at_zero(stats_); }
  std::size_t pre_activations_seen() const {
    std::size_t total = 0;
    for (const auto& layer : stats_.layers()) total += layer.elements;
    return total;
  }

  // Trains both copies on one mini-batch; true when their first-layer weight gradients differ.
  bool step(const Tensor<T>& inputs, std::span<const int> labels) {
    const std::size_t zeros_before = zeros_seen();
    subgrad::backward(nn::cross_entropy(zero_(inputs), labels));
    if (in_sync_ && zeros_seen() == zeros_before) {
      zero_sgd_.step();  // no pre-activation at 0: the other copy's step is the same, bit for bit
      return false;
    }
    std::vector<std::vector<T>> zero_gradients;
    for (const auto& p : zero_.parameters()) {
      const std::span<const T> g = p.parameter->gradient();
      zero_gradients.emplace_back(g.begin(), g.end());
    }
    if (in_sync_) copy_values(zero_, one_);
    bool first_layer_differs = false, any_differs = false;
    {
      subgrad::Tape tape;
      subgrad::backward(nn::cross_entropy(one_(inputs), labels));
      const auto parameters = one_.parameters();
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        const bool d = differ<T>(zero_gradients[k], parameters[k].parameter->gradient());
        any_differs |= d;
        if (k == 0) first_layer_differs = d;
      }
      if (any_differs) in_sync_ = false;
      if (!in_sync_) one_sgd_.step();
    }
    zero_sgd_.step();
    return first_layer_differs;
  }

 private:
  static nn::BasicSequential<T> make(std::size_t depth, std::size_t width, subgrad::KinkRule rule,
                                     std::uint64_t seed) {
    nn::manual_seed(seed);
    return make_network<T>(depth, width, rule);
  }
  static void copy_values(nn::BasicSequential<T>& from, nn::BasicSequential<T>& to) {
    const auto source = from.parameters(), target = to.parameters();
    for (std::size_t k = 0; k < source.size(); ++k) {
      target[k].parameter->value() = source[k].parameter->value();
    }
  }

  nn::BasicSequential<T> zero_, one_;
  nn::BasicSGD<T> zero_sgd_, one_sgd_;
  nn::ActivationStats stats_;
  bool in_sync_;  // the copies hold the same parameters; `one_` is brought up to date when needed
};

struct InitOutcome {
  bool bifurcated = false;
  std::size_t first_batch = 0;  // counted from 1
  std::size_t zeros = 0;        // pre-activations exactly 0 in the scanned batches
  std::size_t pre_activations = 0;
};

template <class T>
InitOutcome scan_epoch(const data::Dataset& train, std::size_t depth, std::size_t width,
                       std::uint64_t seed, const Options& o) {
  CopyPair<T> pair(depth, width, seed, o.literal);
  InitOutcome outcome;
  std::size_t index = 0;
  for (const data::Batch& batch : data::batches(train, batch_size, true, seed)) {
    if (o.max_batches > 0 && index == o.max_batches) break;
    ++index;
    bool differs = false;
    if constexpr (std::is_same_v<T, float>) {
      differs = pair.step(batch.inputs, batch.labels);
    } else {
      differs = pair.step(converted<T>(batch.inputs), batch.labels);
    }
    if (differs) {
      outcome.bifurcated = true;
      outcome.first_batch = index;
      break;
    }
  }
  outcome.zeros = pair.zeros_seen();
  outcome.pre_activations = pair.pre_activations_seen();
  return outcome;
}

// The Wilson score interval for `successes` of `trials` at 95%.
std::pair<double, double> wilson_interval(std::size_t successes, std::size_t trials) {
  const double z = 1.959963984540054, n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

struct GridRow {
  std::string precision;
  std::size_t depth, width, inits, bifurcated;
  std::optional<double> median_first_batch;
  double zero_rate;  // exactly-zero pre-activations per unit and sample
  std::vector<std::size_t> first_batches;
  double seconds = 0.0;
};

template <class T>
GridRow bifurcation_row(const data::Dataset& train, std::size_t depth, std::size_t width,
                        const Options& o) {
  GridRow row{std::string(precision_name<T>()), depth, width, o.inits, 0, std::nullopt, 0.0, {}};
  const auto start = std::chrono::steady_clock::now();
  std::vector<InitOutcome> outcomes(o.inits);
  parallel_for(o.inits, o.workers, [&](std::size_t init) {
    outcomes[init] = scan_epoch<T>(train, depth, width, 1000 + init, o);
  });
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t zeros = 0, pre_activations = 0;
  for (const InitOutcome& outcome : outcomes) {
    zeros += outcome.zeros;
    pre_activations += outcome.pre_activations;
    row.bifurcated += outcome.bifurcated;
    row.first_batches.push_back(outcome.bifurcated ? outcome.first_batch : 0);
  }
  std::vector<std::size_t> firsts;
  for (const std::size_t b : row.first_batches) {
    if (b > 0) firsts.push_back(b);
  }
  if (!firsts.empty()) {
    std::sort(firsts.begin(), firsts.end());
    const std::size_t n = firsts.size();
    row.median_first_batch =
        n % 2 == 1 ? double(firsts[n / 2]) : 0.5 * double(firsts[n / 2 - 1] + firsts[n / 2]);
  }
  row.zero_rate = pre_activations == 0 ? 0.0 : double(zeros) / double(pre_activations);
  return row;
}

void print_row(const GridRow& row) {
  const auto [low, high] = wilson_interval(row.bifurcated, row.inits);
  fmt::print(
      "| {:<7} | {:>5} | {:>5} | {:>4}/{:<4} | {:>5.1f}% [{:.1f}, {:.1f}] | {:>12} | {:>9.2e} | "
      "{:.0f} |\n",
      row.precision, row.depth, row.width, row.bifurcated, row.inits,
      100.0 * double(row.bifurcated) / double(row.inits), 100.0 * low, 100.0 * high,
      row.median_first_batch ? fmt::format("{:g}", *row.median_first_batch) : "-", row.zero_rate,
      row.seconds);
  std::fflush(stdout);
}

struct Architecture {
  std::size_t depth, width;
};

std::vector<GridRow> bifurcation_grid(const data::Dataset& train, const Options& o,
                                      const std::vector<Architecture>& grid) {
  fmt::print("\nBifurcation: batch {}, SGD lr {}, one epoch{}, {} initialisations each{}\n",
             batch_size, bifurcation_learning_rate,
             o.max_batches ? fmt::format(" (at most {} mini-batches)", o.max_batches) : "", o.inits,
             o.literal ? ", both copies computed at every mini-batch" : "");
  fmt::print(
      "| precision | depth | width | bifurcated | fraction [95% CI] | median first batch | "
      "zeros per unit | seconds |\n|---|---|---|---|---|---|---|---|\n");
  std::vector<GridRow> rows;
  auto run = [&]<class T>(T) {
    for (const Architecture& a : grid) {
      rows.push_back(bifurcation_row<T>(train, a.depth, a.width, o));
      print_row(rows.back());
    }
  };
  run(double{});
  run(float{});
#if SUBGRAD_HAS_FLOAT16
  run(_Float16{});
#endif
  return rows;
}

// --- 2. Training effect --------------------------------------------------------------------------

struct TrainingRun {
  double slope_at_zero;
  bool batch_norm;
  std::vector<double> final_accuracies;     // one per seed
  std::vector<double> mean_loss_per_epoch;  // training loss, averaged over seeds
  std::size_t zeros = 0;                    // pre-activations exactly 0 over all seeds and epochs
};

struct SeedResult {
  double accuracy = 0.0;
  std::vector<double> loss_per_epoch;
  std::size_t zeros = 0;
};

SeedResult train_seed(const data::FashionMnist& set, double slope, bool batch_norm,
                      std::uint64_t seed, const Options& o) {
  SeedResult result;
  nn::manual_seed(seed);
  nn::Sequential model = make_network<float>(3, 256, subgrad::kink::convex(slope), batch_norm);
  nn::SGD sgd(model.parameters(), training_learning_rate);
  nn::ActivationStats stats(model);
  subgrad::Tape tape;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    double loss_sum = 0.0;
    std::size_t samples = 0, index = 0;
    for (const data::Batch& batch :
         data::batches(set.train, batch_size, true, seed * 100 + epoch)) {
      if (o.max_batches > 0 && index++ == o.max_batches) break;
      const subgrad::Var loss = nn::cross_entropy(model(batch.inputs), batch.labels);
      subgrad::backward(loss);
      sgd.step();
      loss_sum += loss.value() * double(batch.size());
      samples += batch.size();
    }
    result.loss_per_epoch.push_back(loss_sum / double(samples));
  }
  result.accuracy = nn::evaluate_classifier(model, set.test.inputs, set.test.labels).accuracy;
  result.zeros = pre_activations_at_zero(stats);
  return result;
}

void plot_losses(const std::vector<TrainingRun>& runs, const std::string& image) {
  subgrad::GnuplotPlot plot;
  std::string panels[2];
  for (const TrainingRun& run : runs) {
    std::string rows;
    for (std::size_t e = 0; e < run.mean_loss_per_epoch.size(); ++e) {
      rows += fmt::format("{} {}\n", e + 1, run.mean_loss_per_epoch[e]);
    }
    const std::string file =
        plot.data(fmt::format("loss_{}_{}", run.slope_at_zero, run.batch_norm), rows).string();
    std::string& panel = panels[run.batch_norm ? 1 : 0];
    panel += fmt::format("{}{} using 1:2 with linespoints lw 2 title {}",
                         panel.empty() ? "plot " : ", ", subgrad::gnuplot_quoted(file),
                         subgrad::gnuplot_quoted(fmt::format("ReLU'(0) = {}", run.slope_at_zero)));
  }
  plot.render(image, 1000, 400,
              fmt::format("set multiplot layout 1,2 title 'Fashion-MNIST, MLP 3 x 256, float32, "
                          "SGD lr {}, batch {}: mean training loss over seeds'\n"
                          "set grid lc rgb '#dddddd'\nset xlabel 'epoch'\nset xtics 1\n"
                          "set logscale y\nset key top right\n"
                          "set title 'without batch norm'\n{}\n"
                          "set title 'with BatchNorm1d'\n{}\nunset multiplot",
                          training_learning_rate, batch_size, panels[0], panels[1]));
}

std::vector<TrainingRun> training_effect(const data::FashionMnist& set, const Options& o,
                                         const std::vector<double>& slopes) {
  fmt::print(
      "\nTraining: MLP 784-256-256-256-10, float32, SGD lr {} (no momentum), batch {}, {} "
      "epochs, {} seed(s)\n",
      training_learning_rate, batch_size, o.epochs, o.seeds);
  fmt::print(
      "| ReLU'(0) | batch norm | test accuracy per seed (%) | mean | final training loss | "
      "zeros met |\n|---|---|---|---|---|---|\n");
  std::vector<TrainingRun> runs;
  for (const bool batch_norm : {false, true}) {
    for (const double slope : slopes) {
      runs.push_back({slope, batch_norm, {}, std::vector<double>(std::size_t(o.epochs), 0.0), 0});
    }
  }
  std::vector<SeedResult> results(runs.size() * o.seeds);
  parallel_for(results.size(), o.workers, [&](std::size_t k) {
    const TrainingRun& run = runs[k / o.seeds];
    results[k] = train_seed(set, run.slope_at_zero, run.batch_norm, k % o.seeds + 1, o);
  });
  for (std::size_t r = 0; r < runs.size(); ++r) {
    TrainingRun& run = runs[r];
    double mean = 0.0;
    std::string each;
    for (std::size_t seed = 0; seed < o.seeds; ++seed) {
      const SeedResult& result = results[r * o.seeds + seed];
      run.final_accuracies.push_back(result.accuracy);
      for (std::size_t e = 0; e < result.loss_per_epoch.size(); ++e) {
        run.mean_loss_per_epoch[e] += result.loss_per_epoch[e] / double(o.seeds);
      }
      run.zeros += result.zeros;
      mean += result.accuracy / double(o.seeds);
      each += fmt::format("{}{:.2f}", each.empty() ? "" : ", ", 100.0 * result.accuracy);
    }
    fmt::print("| {:<4} | {:<3} | {} | {:.2f} | {:.4f} | {} |\n", run.slope_at_zero,
               run.batch_norm ? "yes" : "no", each, 100.0 * mean, run.mean_loss_per_epoch.back(),
               run.zeros);
  }
  return runs;
}

// --- --quick's checks ----------------------------------------------------------------------------

// A mini-batch whose first row is the unit vector e_k, and a network whose first unit has bias
// -W[0][k]: that unit's pre-activation on row 0 is exactly 0, so the copies must bifurcate at once.
bool crafted_zero_bifurcates(const data::Dataset& train) {
  CopyPair<float> pair(1, 16, 7, false);
  auto parameters = pair.zero().parameters();
  Tensor<float>& weight = parameters[0].parameter->value();
  Tensor<float>& bias = parameters[1].parameter->value();
  const std::size_t k = 300;
  bias(0, 0) = -weight(0, k);
  Tensor<float> inputs(batch_size, 784);
  std::copy(train.inputs.data(), train.inputs.data() + inputs.size(), inputs.data());
  std::fill(inputs.data(), inputs.data() + 784, 0.0f);
  inputs(0, k) = 1.0f;
  const std::span<const int> labels(train.labels.data(), batch_size);
  return pair.step(inputs, labels);
}

int quick_checks(const data::Dataset& train, const std::vector<GridRow>& rows, Options o) {
  int failures = 0;
  auto check = [&](bool ok, std::string_view what) {
    fmt::print("{}: {}\n", ok ? "ok" : "FAILED", what);
    failures += !ok;
  };
  for (const GridRow& row : rows) {
    if (row.precision == "float64") {
      check(row.bifurcated == 0,
            fmt::format("float64 never bifurcates (depth {}, width {})", row.depth, row.width));
    }
  }
  check(crafted_zero_bifurcates(train),
        "a mini-batch with a pre-activation exactly 0 makes the copies bifurcate");
#if SUBGRAD_HAS_FLOAT16
  // 16 bits meet exact zeros within a few mini-batches: both ways must see the same ones.
  o.max_batches = 20;
  o.literal = true;
  const GridRow literal = bifurcation_row<_Float16>(train, 3, 256, o);
  o.literal = false;
  const GridRow shortcut = bifurcation_row<_Float16>(train, 3, 256, o);
  check(literal.bifurcated > 0 && literal.first_batches == shortcut.first_batches,
        fmt::format("16 bits, depth 3, width 256: computing both copies at every mini-batch finds "
                    "bifurcations ({} of {}), at the same mini-batches as computing the second "
                    "copy only at exact zeros ({} of {})",
                    literal.bifurcated, literal.inits, shortcut.bifurcated, shortcut.inits));
#endif
  return failures == 0 ? 0 : 1;
}

int run(const Options& given) {
  Options o = given;
  if (o.quick) {
    o.inits = std::min<std::size_t>(o.inits, 4);
    o.max_batches = o.max_batches ? o.max_batches : 30;
    o.epochs = 1;
    o.seeds = 1;
  }
  const data::FashionMnist set = fashion::load_data(o.data_directory, 0);
  if (o.workers > 1) subgrad::set_num_threads(1);  // a core per worker
  fmt::print("relu_prime_zero: {} training and {} test images; {} worker(s) of {} thread(s)\n",
             set.train.size(), set.test.size(), o.workers, subgrad::num_threads());
  std::vector<Architecture> grid =
      o.quick ? std::vector<Architecture>{{1, 64}, {3, 16}}
              : std::vector<Architecture>{{1, 256}, {3, 256}, {5, 256}, {3, 16}, {3, 64}};
  if (o.depth || o.width) grid = {{o.depth.value_or(3), o.width.value_or(256)}};
  std::vector<GridRow> rows;
  if (o.part != "training") rows = bifurcation_grid(set.train, o, grid);
  if (o.part != "bifurcation") {
    const std::vector<double> slopes =
        o.quick ? std::vector<double>{0.0, 1.0} : std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0};
    const std::vector<TrainingRun> runs = training_effect(set, o, slopes);
    if (!o.curves.empty()) {
      try {
        plot_losses(runs, o.curves);
        fmt::print("loss curves: {}\n", o.curves);
      } catch (const subgrad::Error& e) {
        fmt::print("loss curves not drawn: {}\n", e.what());
      }
    }
  }
  return o.quick ? quick_checks(set.train, rows, o) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const subgrad::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
