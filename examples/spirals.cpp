// spirals: a two-class MLP trained on the two-spirals data set, written with scalar Var
// expressions only (act(w . x + b) composed by hand, no tensor layer), trained with plain
// mini-batch SGD. Reports loss and accuracy per epoch, dead units and activation sparsity, and
// writes the decision boundary as an image.
//
//   spirals [--activation NAME] [--kink RULE] [--seed N] [--points N] [--hidden N]
//           [--epochs N] [--rate R] [--image PATH]
#include <subgrad/io/gnuplot.hpp>
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace {

using subgrad::Var;

struct Options {
  std::string activation = "relu";
  subgrad::KinkRule kink_rule = subgrad::kink::min_norm;
  unsigned seed = 7;
  int points = 400;
  int hidden = 24;
  int epochs = 300;
  int batch = 16;
  double rate = 0.1;
  std::string image = "spirals.png";
};

struct Sample {
  double x, y;
  int label;
};

// Two interleaved spirals, 1.5 turns each, with a little noise.
std::vector<Sample> two_spirals(int count, std::mt19937& generator) {
  std::normal_distribution<double> noise(0.0, 0.015);
  std::vector<Sample> samples;
  const int per_class = count / 2;
  for (int label = 0; label < 2; ++label) {
    for (int k = 0; k < per_class; ++k) {
      const double t = 0.3 + 3.0 * std::numbers::pi * (k + 0.5) / per_class;
      const double radius = t / (3.3 * std::numbers::pi);
      const double angle = t + label * std::numbers::pi;
      samples.push_back({radius * std::cos(angle) + noise(generator),
                         radius * std::sin(angle) + noise(generator), label});
    }
  }
  return samples;
}

// Parameters of 2 -> hidden -> hidden -> 1, flat: W1, b1, W2, b2, w3, b3.
struct Network {
  int hidden;
  std::vector<double> parameters;
  std::size_t w1() const { return 0; }
  std::size_t b1() const { return w1() + 2 * hidden; }
  std::size_t w2() const { return b1() + hidden; }
  std::size_t b2() const { return w2() + static_cast<std::size_t>(hidden) * hidden; }
  std::size_t w3() const { return b2() + hidden; }
  std::size_t b3() const { return w3() + hidden; }
  std::size_t size() const { return b3() + 1; }
};

Network initialise(int hidden, std::mt19937& generator) {
  Network network{hidden, {}};
  network.parameters.assign(network.size(), 0.0);
  auto fill = [&](std::size_t first, std::size_t count, double fan_in) {
    std::normal_distribution<double> he(0.0, std::sqrt(2.0 / fan_in));
    for (std::size_t i = 0; i < count; ++i) network.parameters[first + i] = he(generator);
  };
  fill(network.w1(), 2 * static_cast<std::size_t>(hidden), 2.0);
  fill(network.w2(), static_cast<std::size_t>(hidden) * hidden, hidden);
  fill(network.w3(), static_cast<std::size_t>(hidden), hidden);
  return network;
}

// The logit for one sample; T is double (evaluation) or Var (training). `hidden_out` receives the
// pre-activations of both hidden layers when given.
template <class T, class Activation>
T logit(const Network& shape, const std::vector<T>& p, const Sample& s, const Activation& act,
        std::vector<double>* pre_activations = nullptr) {
  const int h = shape.hidden;
  std::vector<T> first(static_cast<std::size_t>(h)), second(static_cast<std::size_t>(h));
  for (int i = 0; i < h; ++i) {
    T z = p[shape.b1() + i] + p[shape.w1() + 2 * i] * s.x + p[shape.w1() + 2 * i + 1] * s.y;
    if (pre_activations) pre_activations->push_back(subgrad::primal_value(z));
    first[i] = act(z);
  }
  for (int i = 0; i < h; ++i) {
    T z = p[shape.b2() + i];
    for (int j = 0; j < h; ++j) z += p[shape.w2() + static_cast<std::size_t>(i) * h + j] * first[j];
    if (pre_activations) pre_activations->push_back(subgrad::primal_value(z));
    second[i] = act(z);
  }
  T out = p[shape.b3()];
  for (int j = 0; j < h; ++j) out += p[shape.w3() + j] * second[j];
  return out;
}

// Binary cross-entropy of a logit, written stably: softplus(z) - y z.
Var loss_of(const Var& z, int label) {
  return log1p(exp(-abs(z))) + subgrad::max(z, 0.0, subgrad::kink::min_norm) -
         z * static_cast<double>(label);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw subgrad::Error(fmt::format("spirals: {} needs a value", argument));
      return argv[++i];
    };
    if (argument == "--activation")
      options.activation = value();
    else if (argument == "--kink")
      options.kink_rule = subgrad::parse_kink_rule(value());
    else if (argument == "--seed")
      options.seed = static_cast<unsigned>(std::stoul(value()));
    else if (argument == "--points")
      options.points = std::stoi(value());
    else if (argument == "--hidden")
      options.hidden = std::stoi(value());
    else if (argument == "--epochs")
      options.epochs = std::stoi(value());
    else if (argument == "--rate")
      options.rate = std::stod(value());
    else if (argument == "--image")
      options.image = value();
    else
      throw subgrad::Error(fmt::format("spirals: unknown option '{}'", argument));
  }
  if (options.points < 4 || options.hidden < 1 || options.epochs < 1 || !(options.rate > 0)) {
    throw subgrad::Error(fmt::format(
        "spirals: need points >= 4, hidden >= 1, epochs >= 1, rate > 0 (got {}, {}, {}, {})",
        options.points, options.hidden, options.epochs, options.rate));
  }
  return options;
}

// The decision boundary: the classifier on a grid, the training points on top, through gnuplot.
template <class Activation>
void draw(const Options& options, const Network& network, const std::vector<Sample>& samples,
          const Activation& act) {
  subgrad::GnuplotPlot plot;
  std::string grid;
  constexpr int cells = 160;
  for (int row = 0; row <= cells; ++row) {
    for (int column = 0; column <= cells; ++column) {
      const Sample s{-1.1 + 2.2 * column / cells, -1.1 + 2.2 * row / cells, 0};
      grid += fmt::format("{} {} {}\n", s.x, s.y,
                          logit(network, network.parameters, s, act) > 0 ? 1 : 0);
    }
    grid += "\n";
  }
  std::string points[2];
  for (const Sample& s : samples) points[s.label] += fmt::format("{} {}\n", s.x, s.y);
  const std::string grid_file = plot.data("grid", grid).string();
  const std::string class0 = plot.data("class0", points[0]).string();
  const std::string class1 = plot.data("class1", points[1]).string();
  try {
    plot.render(options.image, 640, 640,
                fmt::format("set title {}\nset size square\n"
                            "set xrange [-1.1:1.1]\nset yrange [-1.1:1.1]\nunset colorbox\n"
                            "set palette defined (0 '#cfe3f7', 1 '#f7d9c4')\n"
                            "plot {} using 1:2:3 with image notitle, {} with points pt 7 ps "
                            "0.6 lc rgb '#1f77b4' title 'class 0', {} with points pt 7 ps 0.6 "
                            "lc rgb '#d62728' title 'class 1'",
                            subgrad::gnuplot_quoted(fmt::format("two spirals: {}, kink rule {}",
                                                                options.activation,
                                                                options.kink_rule.name())),
                            subgrad::gnuplot_quoted(grid_file), subgrad::gnuplot_quoted(class0),
                            subgrad::gnuplot_quoted(class1)));
  } catch (const subgrad::Error& e) {
    fmt::print("decision boundary: no image written ({})\n", e.what());
    return;
  }
  fmt::print("decision boundary: {}\n", options.image);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    const std::optional<subgrad::DynamicUnaryRule> rule =
        subgrad::find_unary_primitive(options.activation);
    if (!rule) {
      throw subgrad::Error(fmt::format("spirals: no primitive '{}'; registered: {}",
                                       options.activation,
                                       fmt::join(subgrad::unary_primitive_names(), ", ")));
    }
    const subgrad::Primitive<subgrad::DynamicUnaryRule> act{*rule};
    fmt::print("spirals: {} points, 2-{}-{}-1 MLP, activation {}, kink rule {}, seed {}\n",
               options.points, options.hidden, options.hidden, options.activation,
               options.kink_rule.name(), options.seed);

    std::mt19937 generator(options.seed);
    const std::vector<Sample> samples = two_spirals(options.points, generator);
    Network network = initialise(options.hidden, generator);
    std::vector<std::size_t> order(samples.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;

    subgrad::Tape tape;
    subgrad::KinkScope scope{options.kink_rule};
    std::vector<Var> p;
    std::vector<double> gradient(network.size());
    const auto start = std::chrono::steady_clock::now();
    double accuracy = 0.0;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
      std::shuffle(order.begin(), order.end(), generator);
      double epoch_loss = 0.0;
      for (std::size_t first = 0; first < order.size();
           first += static_cast<std::size_t>(options.batch)) {
        const std::size_t last =
            std::min(order.size(), first + static_cast<std::size_t>(options.batch));
        tape.clear();
        p.resize(network.parameters.size());
        subgrad::variables(network.parameters, p);
        Var loss = 0.0 * p[0];
        for (std::size_t k = first; k < last; ++k) {
          const Sample& s = samples[order[k]];
          loss += loss_of(logit(network, p, s, act), s.label);
        }
        loss *= 1.0 / static_cast<double>(last - first);
        subgrad::backward(loss);
        subgrad::adjoints(p, gradient);
        for (std::size_t i = 0; i < p.size(); ++i)
          network.parameters[i] -= options.rate * gradient[i];
        epoch_loss += loss.value() * static_cast<double>(last - first);
      }
      int correct = 0;
      for (const Sample& s : samples)
        correct += (logit(network, network.parameters, s, act) > 0) == (s.label == 1);
      accuracy = 100.0 * correct / static_cast<double>(samples.size());
      if (epoch == 1 || epoch % 50 == 0 || epoch == options.epochs) {
        fmt::print("epoch {:4d}  loss {:.4f}  accuracy {:5.1f}%\n", epoch,
                   epoch_loss / static_cast<double>(samples.size()), accuracy);
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Dead units: a hidden unit whose activation has slope 0 on every training point cannot learn.
    const std::size_t units = 2 * static_cast<std::size_t>(options.hidden);
    std::vector<int> active_points(units, 0);
    std::size_t zero_activations = 0;
    for (const Sample& s : samples) {
      std::vector<double> pre;
      logit(network, network.parameters, s, act, &pre);
      for (std::size_t u = 0; u < units; ++u) {
        const subgrad::Evaluation<double> at = rule->evaluate(pre[u]);
        if (at.slopes.left != 0.0 || at.slopes.right != 0.0) ++active_points[u];
        if (at.value == 0.0) ++zero_activations;
      }
    }
    const auto dead = std::count(active_points.begin(), active_points.end(), 0);
    fmt::print(
        "dead units: {} of {} ({:.1f}%); activation sparsity: {:.1f}% of hidden activations are "
        "exactly 0\n",
        dead, units, 100.0 * static_cast<double>(dead) / static_cast<double>(units),
        100.0 * static_cast<double>(zero_activations) /
            static_cast<double>(units * samples.size()));
    fmt::print("training time: {:.1f} s\n", seconds);
    draw(options, network, samples, act);
    fmt::print("accuracy: {:.1f}%\n", accuracy);
  } catch (const std::exception& error) {
    fmt::print(stderr, "{}\n", error.what());
    return 1;
  }
  return 0;
}
