// nn: modules against their definitions (and finite differences), optimizers and schedules
// against PyTorch's update formulas written out here, diagnostics on layers built to have dead
// units and kinks, and training that learns.
#include "subgrad/nn.hpp"

#include <unistd.h>

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "error_message.hpp"

namespace nn = subgrad::nn;
using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using subgrad::Var;

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Tensor<T> t(rows, cols);
  for (T& v : t.span()) v = static_cast<T>(normal(generator));
  return t;
}

// Every parameter's gradient against central differences of the loss (double models, random
// points, so no kink is hit).
template <class Loss>
void check_parameter_gradients(nn::BasicModule<double>& model, Loss loss_of) {
  for (const auto& p : model.parameters()) {
    std::vector<double> analytic;
    {
      Tape tape;
      subgrad::backward(loss_of());
      const auto g = p.parameter->gradient();
      analytic.assign(g.begin(), g.end());
    }
    Tensor<double>& value = p.parameter->value();
    for (std::size_t k = 0; k < value.size(); k += std::max<std::size_t>(1, value.size() / 7)) {
      const double saved = value.data()[k];
      const double h = 1e-6 * std::max(1.0, std::abs(saved));
      double up = 0.0, down = 0.0;
      value.data()[k] = saved + h;
      {
        Tape tape;
        up = loss_of().value();
      }
      value.data()[k] = saved - h;
      {
        Tape tape;
        down = loss_of().value();
      }
      value.data()[k] = saved;
      const double numeric = (up - down) / (2 * h);
      BOOST_TEST(std::abs(numeric - analytic[k]) <= 1e-6 * std::max(1.0, std::abs(numeric)),
                 p.name << "[" << k << "]: " << analytic[k] << " vs " << numeric);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(linear_is_x_w_transposed_plus_b_with_pytorch_initialisation) {
  nn::manual_seed(3);
  nn::BasicLinear<double> layer(5, 3);
  const double bound = 1.0 / std::sqrt(5.0);
  for (const double w : layer.weight().value().span()) BOOST_TEST(std::abs(w) <= bound);
  for (const double b : layer.bias().value().span()) BOOST_TEST(std::abs(b) <= bound);
  const Tensor<double> x = random_tensor<double>(4, 5, 1);
  Tape tape;
  const TensorVar<double> y = layer(x);
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      double expected = layer.bias().value()(0, j);
      for (std::size_t k = 0; k < 5; ++k) expected += x(i, k) * layer.weight().value()(j, k);
      BOOST_TEST(std::abs(y.value()(i, j) - expected) <= 1e-12);
    }
  }
  // The same seed gives the same weights; another seed others.
  nn::manual_seed(3);
  nn::BasicLinear<double> same(5, 3);
  nn::manual_seed(4);
  nn::BasicLinear<double> other(5, 3);
  BOOST_TEST((same.weight().value() == layer.weight().value()));
  BOOST_TEST((other.weight().value() != layer.weight().value()));
  BOOST_CHECK_EXCEPTION(layer(random_tensor<double>(4, 6, 1)), subgrad::Error,
                        says("Linear(5, 3): the input is 4 x 6, its columns must be 5"));
}

BOOST_AUTO_TEST_CASE(parameters_are_named_in_a_stable_order) {
  nn::Sequential model{nn::Linear(4, 8),   nn::Activation(subgrad::relu),
                       nn::PReLU(8),       nn::Maxout(8, 3, 2),
                       nn::BatchNorm1d(3), nn::Linear(3, 2, false)};
  std::vector<std::string> names;
  for (const auto& p : model.parameters()) names.push_back(p.name);
  BOOST_TEST(
      (names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "3.linear.weight",
                                         "3.linear.bias", "4.weight", "4.bias", "5.weight"}));
  std::vector<std::string> buffers;
  for (const auto& b : model.buffers()) buffers.push_back(b.name);
  BOOST_TEST((buffers == std::vector<std::string>{"4.running_mean", "4.running_var"}));
  BOOST_TEST(model.describe() ==
             "Sequential(Linear(4, 8), Activation(relu), PReLU(8), Maxout(8, 3, 2), "
             "BatchNorm1d(3), Linear(3, 2, bias = false))");
  // A copy owns new parameters with the same values.
  nn::Sequential copy = model;
  BOOST_TEST(copy.parameters()[0].parameter != model.parameters()[0].parameter);
  BOOST_TEST((copy.parameters()[0].parameter->value() == model.parameters()[0].parameter->value()));
}

BOOST_AUTO_TEST_CASE(an_activation_is_its_primitive_by_function_rule_or_name) {
  const Tensor<double> x{{-1.5, 0.0, 2.0}, {0.5, -0.25, 0.0}};
  Tape tape;
  const TensorVar<double> in = subgrad::constant_tensor(x);
  nn::BasicActivation<double> leaky(subgrad::leaky_relu, 0.1);
  nn::BasicActivation<double> elu_by_name = nn::BasicActivation<double>::from_name("elu");
  const TensorVar<double> a = leaky(in), b = elu_by_name(in);
  for (std::size_t k = 0; k < x.size(); ++k) {
    BOOST_TEST(a.value().data()[k] == subgrad::leaky_relu(x.data()[k], 0.1));
    BOOST_TEST(b.value().data()[k] == subgrad::elu(x.data()[k]));
  }
  BOOST_TEST(leaky.describe() == "Activation(leaky_relu, 0.1)");
  // The kink rule of the call decides at 0.
  nn::BasicActivation<double> right(subgrad::relu, subgrad::kink::right);
  nn::BasicActivation<double> by_thread(subgrad::relu);
  TensorVar<double> v(x);
  subgrad::backward(subgrad::sum(right(v)));
  BOOST_TEST(v.adjoint()(0, 1) == 1.0);
  subgrad::backward(subgrad::sum(by_thread(v)));
  BOOST_TEST(v.adjoint()(0, 1) == 0.0);  // min_norm
  {
    subgrad::KinkScope scope{subgrad::kink::right};
    subgrad::backward(subgrad::sum(by_thread(v)));
    BOOST_TEST(v.adjoint()(0, 1) == 1.0);
  }
  BOOST_CHECK_EXCEPTION(nn::Activation::from_name("no_such"), subgrad::Error,
                        says("no primitive \"no_such\"; registered: "));
}

namespace {
struct Cube {  // a user's own primitive: x^3
  static constexpr std::string_view name = "cube";
  double value(double x) const { return x * x * x; }
  subgrad::Slopes slopes(double x) const { return {3 * x * x, 3 * x * x}; }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_users_primitive_is_an_activation) {
  constexpr subgrad::Primitive<Cube> cube{};
  nn::BasicActivation<double> layer(cube);
  Tape tape;
  TensorVar<double> x(Tensor<double>{{2.0, -1.0}});
  subgrad::backward(subgrad::sum(layer(x)));
  BOOST_TEST(x.adjoint()(0, 0) == 12.0);
  BOOST_TEST(layer.describe() == "Activation(cube)");
}

BOOST_AUTO_TEST_CASE(every_layer_backpropagates_as_finite_differences_say) {
  nn::manual_seed(7);
  nn::BasicSequential<double> model{nn::BasicLinear<double>(4, 6),
                                    nn::BasicLayerNorm<double>(6),
                                    nn::BasicActivation<double>(subgrad::gelu),
                                    nn::BasicPReLU<double>(6),
                                    nn::BasicMaxout<double>(6, 4, 2),
                                    nn::BasicBatchNorm1d<double>(4),
                                    nn::BasicActivation<double>(subgrad::elu, 0.7),
                                    nn::BasicLinear<double>(4, 3)};
  const Tensor<double> x = random_tensor<double>(5, 4, 11);
  const std::vector<int> labels{0, 2, 1, 1, 0};
  auto loss = [&] { return nn::cross_entropy(model(x), labels); };
  check_parameter_gradients(model, loss);
  // And with respect to the input, through the kink-aware checker.
  const auto report = subgrad::check_gradient(
      [&](const TensorVar<double>& input) { return nn::cross_entropy(model(input), labels); }, x);
  BOOST_TEST(report.ok(), subgrad::detail::format_report(report));
}

BOOST_AUTO_TEST_CASE(batch_norm_keeps_running_statistics_as_pytorch) {
  nn::BasicBatchNorm1d<double> norm(2, 1e-5, 0.1);
  const Tensor<double> x{{1.0, 10.0}, {3.0, 14.0}, {5.0, 12.0}};
  Tape tape;
  const TensorVar<double> y = norm(x);
  // Column 0: mean 3, biased variance 8/3, unbiased 4.
  BOOST_TEST(std::abs(y.value()(0, 0) - (1.0 - 3.0) / std::sqrt(8.0 / 3.0 + 1e-5)) <= 1e-12);
  const auto buffers = norm.buffers();
  BOOST_TEST(std::abs((*buffers[0].buffer)(0, 0) - 0.3) <= 1e-12);          // 0.9 * 0 + 0.1 * 3
  BOOST_TEST(std::abs((*buffers[1].buffer)(0, 0) - (0.9 + 0.4)) <= 1e-12);  // 0.9 * 1 + 0.1 * 4
  norm.eval();
  const TensorVar<double> z = norm(x);
  BOOST_TEST(std::abs(z.value()(0, 0) - (1.0 - 0.3) / std::sqrt(1.3 + 1e-5)) <= 1e-12);
  norm.train();
  BOOST_CHECK_EXCEPTION(norm(Tensor<double>{{1.0, 2.0}}), subgrad::Error,
                        says("training needs more than one sample"));
  BOOST_CHECK_EXCEPTION(nn::BasicBatchNorm1d<double>(2, -1.0), subgrad::Error,
                        says("BatchNorm1d: eps = -1 must be finite and > 0"));
  BOOST_CHECK_EXCEPTION(nn::BasicBatchNorm1d<double>(2, 0.0), subgrad::Error,
                        says("BatchNorm1d: eps = 0"));
  BOOST_CHECK_EXCEPTION(nn::BasicBatchNorm1d<double>(2, 1e-5, 2.0), subgrad::Error,
                        says("BatchNorm1d: momentum = 2 must be in [0, 1]"));
  BOOST_CHECK_EXCEPTION(nn::BasicBatchNorm1d<double>(2, 1e-5, std::nan("")), subgrad::Error,
                        says("BatchNorm1d: momentum = nan"));
}

BOOST_AUTO_TEST_CASE(dropout_drops_and_scales_in_training_only) {
  nn::manual_seed(5);
  nn::Dropout dropout(0.25);
  const Tensor<float> x(200, 50, 1.0f);
  Tape tape;
  const TensorVar<float> y = dropout(x);
  std::size_t zeros = 0;
  for (const float v : y.value().span()) {
    BOOST_TEST((v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f));
    zeros += v == 0.0f;
  }
  BOOST_TEST(std::abs(static_cast<double>(zeros) / 10000.0 - 0.25) < 0.02);  // 5 sigma: 0.0217
  dropout.eval();
  BOOST_TEST((dropout(x).value() == x));
  BOOST_CHECK_THROW(nn::Dropout(1.0), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(rrelu_draws_in_training_and_uses_the_mean_slope_in_evaluation) {
  nn::BasicRReLU<double> layer(0.1, 0.3);
  const Tensor<double> x{{-1.0, -2.0, 3.0, -4.0}};
  Tape tape;
  const TensorVar<double> y = layer(x);
  for (const std::size_t k : {0u, 1u, 3u}) {
    const double slope = y.value().data()[k] / x.data()[k];
    BOOST_TEST((slope >= 0.1 && slope <= 0.3));
  }
  BOOST_TEST(y.value()(0, 2) == 3.0);
  layer.eval();
  BOOST_TEST(std::abs(layer(x).value()(0, 0) + 0.2) <= 1e-15);
}

// PyTorch's update rules (torch.optim docs), written out for one parameter of two elements with a
// gradient that is the parameter itself (the loss sum(p^2) / 2).
BOOST_AUTO_TEST_CASE(optimizers_follow_pytorchs_update_rules) {
  auto run = [](auto make, int steps) {
    nn::BasicParameter<double> p(Tensor<double>{{1.0, -2.0}});
    std::vector<nn::NamedParameter<double>> parameters{{"p", &p}};
    auto optimizer = make(parameters);
    for (int s = 0; s < steps; ++s) {
      Tape tape;
      const TensorVar<double> v = p.var();
      subgrad::backward(subgrad::sum(v * v) * 0.5);
      optimizer.step();
    }
    return p.value();
  };
  // SGD, momentum 0.9, dampening 0.1, weight decay 0.01, and Nesterov.
  for (const bool nesterov : {false, true}) {
    const double lr = 0.1, mu = 0.9, damp = nesterov ? 0.0 : 0.1, wd = 0.01;
    const Tensor<double> got = run(
        [&](auto& ps) {
          return nn::BasicSGD<double>(ps, lr, {mu, damp, wd, nesterov});
        },
        3);
    for (std::size_t k = 0; k < 2; ++k) {
      double p = k == 0 ? 1.0 : -2.0, b = 0.0;
      for (int t = 1; t <= 3; ++t) {
        double g = p + wd * p;
        b = t == 1 ? g : mu * b + (1 - damp) * g;
        g = nesterov ? g + mu * b : b;
        p -= lr * g;
      }
      BOOST_TEST(std::abs(got.data()[k] - p) <= 1e-14, "SGD nesterov " << nesterov);
    }
  }
  {  // SGD without momentum, with weight decay: p -= lr * (g + wd * p).
    const double lr = 0.1, wd = 0.01;
    const Tensor<double> got =
        run([&](auto& ps) { return nn::BasicSGD<double>(ps, lr, {.weight_decay = wd}); }, 3);
    for (std::size_t k = 0; k < 2; ++k) {
      double p = k == 0 ? 1.0 : -2.0;
      for (int t = 1; t <= 3; ++t) p -= lr * (p + wd * p);
      BOOST_TEST(std::abs(got.data()[k] - p) <= 1e-14, "SGD without momentum");
    }
  }
  // Adam with L2 weight decay and AdamW with decoupled decay.
  for (const bool decoupled : {false, true}) {
    const double lr = 0.01, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
    const Tensor<double> got = decoupled
                                   ? run(
                                         [&](auto& ps) {
                                           return nn::BasicAdamW<double>(ps, lr, {b1, b2, eps, wd});
                                         },
                                         4)
                                   : run(
                                         [&](auto& ps) {
                                           return nn::BasicAdam<double>(ps, lr, {b1, b2, eps, wd});
                                         },
                                         4);
    for (std::size_t k = 0; k < 2; ++k) {
      double p = k == 0 ? 1.0 : -2.0, m = 0.0, v = 0.0;
      for (int t = 1; t <= 4; ++t) {
        double g = p;
        if (decoupled) {
          p *= 1 - lr * wd;
        } else {
          g += wd * p;
        }
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const double m_hat = m / (1 - std::pow(b1, t)), v_hat = v / (1 - std::pow(b2, t));
        p -= lr * m_hat / (std::sqrt(v_hat) + eps);
      }
      BOOST_TEST(std::abs(got.data()[k] - p) <= 1e-12 * std::abs(p), "decoupled " << decoupled);
    }
  }
}

BOOST_AUTO_TEST_CASE(schedules_and_clipping) {
  nn::BasicParameter<double> p(Tensor<double>{{3.0, 4.0}});
  std::vector<nn::NamedParameter<double>> parameters{{"p", &p}};
  nn::BasicSGD<double> sgd(parameters, 1.0);
  nn::BasicStepLR<double> step(sgd, 2, 0.5);
  std::vector<double> rates;
  for (int e = 0; e < 5; ++e) {
    step.step();
    rates.push_back(sgd.learning_rate());
  }
  BOOST_TEST((rates == std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25}));
  nn::BasicCosineAnnealingLR<double> cosine(sgd, 4, 0.05);  // from the current 0.25
  cosine.step();
  BOOST_TEST(std::abs(sgd.learning_rate() - (0.05 + 0.2 * (1 + std::cos(M_PI / 4)) / 2)) <= 1e-15);
  cosine.set_epoch(4);
  BOOST_TEST(std::abs(sgd.learning_rate() - 0.05) <= 1e-15);
  cosine.set_epoch(9);  // stays at the minimum after the period
  BOOST_TEST(std::abs(sgd.learning_rate() - 0.05) <= 1e-15);

  Tape tape;
  const TensorVar<double> v = p.var();
  subgrad::backward(subgrad::sum(v * v) * 0.5);  // gradient (3, 4), norm 5
  BOOST_TEST(nn::clip_grad_norm(parameters, 1.0) == 5.0);
  const auto g = p.gradient();
  BOOST_TEST(std::abs(std::hypot(g[0], g[1]) - 1.0) <= 1e-6);
  BOOST_TEST(std::abs(g[0] / g[1] - 0.75) <= 1e-12);
  BOOST_CHECK_THROW(nn::clip_grad_norm(parameters, 0.0), subgrad::Error);
  BOOST_CHECK_EXCEPTION(nn::BasicSGD<double>(parameters, -1.0), subgrad::Error,
                        says("SGD: learning rate -1"));
  // Options that would turn the parameters into NaN at the first step are refused by name.
  const double inf = std::numeric_limits<double>::infinity();
  BOOST_CHECK_EXCEPTION(nn::BasicSGD<double>(parameters, 0.1, {.momentum = inf}), subgrad::Error,
                        says("SGD: momentum = inf"));
  BOOST_CHECK_EXCEPTION(nn::BasicSGD<double>(parameters, 0.1, {.weight_decay = inf}),
                        subgrad::Error, says("SGD: weight_decay = inf"));
  BOOST_CHECK_EXCEPTION(nn::BasicSGD<double>(parameters, 0.1, {.dampening = std::nan("")}),
                        subgrad::Error, says("SGD: dampening = nan"));
  BOOST_CHECK_EXCEPTION(nn::BasicAdam<double>(parameters, 0.1, {.eps = inf}), subgrad::Error,
                        says("Adam: betas (0.9, 0.999) must be in [0, 1), eps inf"));
  BOOST_CHECK_EXCEPTION(nn::BasicAdamW<double>(parameters, 0.1, {.weight_decay = inf}),
                        subgrad::Error, says("weight_decay inf finite and >= 0"));
  BOOST_CHECK_NO_THROW(nn::BasicSGD<double>(parameters, 0.1, {.momentum = 0.9}));
  // A schedule's bad factor is refused when the schedule is made, not when its rate arrives.
  BOOST_CHECK_EXCEPTION(nn::BasicStepLR<double>(sgd, 2, -0.5), subgrad::Error,
                        says("StepLR: gamma = -0.5"));
  BOOST_CHECK_EXCEPTION(nn::BasicStepLR<double>(sgd, 2, std::nan("")), subgrad::Error,
                        says("StepLR: gamma = nan"));
  BOOST_CHECK_EXCEPTION(nn::BasicCosineAnnealingLR<double>(sgd, 4, inf), subgrad::Error,
                        says("CosineAnnealingLR: minimum = inf"));
  BOOST_CHECK_EXCEPTION(nn::BasicCosineAnnealingLR<double>(sgd, 4, -0.01), subgrad::Error,
                        says("CosineAnnealingLR: minimum = -0.01"));
}

BOOST_AUTO_TEST_CASE(huber_is_quadratic_inside_delta_and_linear_outside) {
  Tape tape;
  TensorVar<double> prediction(Tensor<double>{{0.5, 3.0, -2.0, 0.0}});
  const Tensor<double> target(1, 4);
  const Var loss = nn::huber(prediction, target, 1.0);
  BOOST_TEST(std::abs(loss.value() - (0.125 + 2.5 + 1.5 + 0.0) / 4) <= 1e-15);
  const Tensor<double> g = subgrad::grad(loss, prediction);
  BOOST_TEST(g(0, 0) == 0.5 / 4);
  BOOST_TEST(g(0, 1) == 1.0 / 4);
  BOOST_TEST(g(0, 2) == -1.0 / 4);
  BOOST_TEST(g(0, 3) == 0.0);
}

BOOST_AUTO_TEST_CASE(activation_stats_find_dead_units_sparsity_and_kinks) {
  nn::manual_seed(2);
  nn::BasicLinear<double> linear(2, 3);
  linear.weight().value() = Tensor<double>{{1, 0}, {0, 1}, {0, 0}};
  linear.bias().value() = Tensor<double>{{0, 0, -1}};  // unit 2 is -1 on every sample: dead
  nn::BasicSequential<double> model{linear, nn::BasicActivation<double>(subgrad::relu)};
  nn::ActivationStats stats(model);
  Tape tape;
  model(Tensor<double>{{1.0, 0.0}, {-2.0, 3.0}});  // unit 1 is exactly at the kink on sample 0
  auto layers = stats.layers();
  BOOST_TEST(layers.size() == 1u);
  BOOST_TEST(layers[0].units == 3u);
  BOOST_TEST(layers[0].dead == 1u);
  BOOST_TEST(layers[0].at_kink == 1u);
  BOOST_TEST(layers[0].elements == 6u);
  BOOST_TEST(std::abs(layers[0].sparsity - 4.0 / 6.0) <= 1e-15);  // relu(0), relu(-2), unit 2 twice
  model.eval();                                                   // not counted in evaluation
  model(Tensor<double>{{5.0, 5.0}});
  BOOST_TEST(stats.layers()[0].elements == 6u);
  stats.reset();
  BOOST_TEST(stats.layers()[0].elements == 0u);
}

BOOST_AUTO_TEST_CASE(a_small_network_learns) {
  // Two Gaussian blobs; 20 steps of Adam bring the loss well down.
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(2, 16), nn::Activation(subgrad::relu), nn::Linear(16, 2)};
  nn::Adam adam(model.parameters(), 0.05);
  Tensor<float> x = random_tensor<float>(64, 2, 9);
  std::vector<int> labels(64);
  for (std::size_t i = 0; i < 64; ++i) {
    labels[i] = static_cast<int>(i % 2);
    x(i, 0) += labels[i] ? 2.0f : -2.0f;
  }
  Tape tape;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 20; ++step) {
    const Var loss = nn::cross_entropy(model(x), labels);
    (step == 0 ? first : last) = loss.value();
    subgrad::backward(loss);
    adam.step();
  }
  BOOST_TEST(last < 0.3 * first);
  BOOST_TEST(nn::evaluate_classifier(model, x, labels).accuracy > 0.9);
  BOOST_TEST(model.is_training());
  // A label out of range interrupts the evaluation; the model is given its mode back all the same.
  std::vector<int> bad_labels = labels;
  bad_labels[40] = 7;
  BOOST_CHECK_EXCEPTION(nn::evaluate_classifier(model, x, bad_labels, 16), subgrad::Error,
                        says("in the batch of rows [32, 48): subgrad::cross_entropy: label 7 "
                             "of row 8 is not in [0, 2)"));
  BOOST_TEST(model.is_training());
  BOOST_CHECK_EXCEPTION(nn::evaluate_classifier(model, Tensor<float>(0, 2), std::vector<int>()),
                        subgrad::Error, says("0 input rows, 0 labels"));
}

BOOST_AUTO_TEST_CASE(a_step_in_slices_is_the_whole_step) {
  // begin_step() and update_slice() over two slices, from their own gradient copies, against
  // step(): every optimizer, each case of SGD.
  using Make = std::function<std::unique_ptr<nn::BasicOptimizer<double>>(
      std::vector<nn::NamedParameter<double>>)>;
  const std::vector<Make> makes = {
      [](auto ps) { return std::make_unique<nn::BasicSGD<double>>(ps, 0.1); },
      [](auto ps) {
        return std::make_unique<nn::BasicSGD<double>>(ps, 0.1, nn::SgdOptions{0.9, 0.2, 0.01});
      },
      [](auto ps) {
        return std::make_unique<nn::BasicSGD<double>>(ps, 0.1,
                                                      nn::SgdOptions{0.9, 0.0, 0.01, true});
      },
      [](auto ps) { return std::make_unique<nn::BasicAdam<double>>(ps, 0.01); },
      [](auto ps) { return std::make_unique<nn::BasicAdamW<double>>(ps, 0.01); }};
  for (std::size_t m = 0; m < makes.size(); ++m) {
    const Tensor<double> start{{1.0, -2.0, 0.5, 3.0, -0.25, 7.0, 0.0}};
    nn::BasicParameter<double> whole(start), sliced(start);
    const auto whole_optimizer = makes[m]({{"p", &whole}});
    const auto sliced_optimizer = makes[m]({{"p", &sliced}});
    for (int step = 0; step < 4; ++step) {
      std::vector<double> gradient;
      {
        Tape tape;
        const TensorVar<double> v = whole.var();
        subgrad::backward(subgrad::sum(v * v * v) * 0.25);
        const std::span<const double> g = whole.gradient();
        gradient.assign(g.begin(), g.end());
        whole_optimizer->step();
      }
      sliced_optimizer->begin_step();
      sliced_optimizer->update_slice(0, 0, std::span<const double>(gradient).first(3));
      sliced_optimizer->update_slice(0, 3, std::span<const double>(gradient).subspan(3));
    }
    for (std::size_t k = 0; k < start.size(); ++k) {
      BOOST_TEST(sliced.value().data()[k] == whole.value().data()[k],
                 sliced_optimizer->name() << " " << m << " element " << k);
    }
  }
  nn::BasicParameter<double> p(Tensor<double>{{1.0, 2.0, 3.0}});
  nn::BasicSGD<double> sgd({{"p", &p}}, 0.1);
  const std::vector<double> two(2, 1.0);
  BOOST_CHECK_EXCEPTION(sgd.update_slice(0, 2, two), subgrad::Error,
                        says("subgrad::nn::SGD::update_slice: elements [2, 4) are outside "
                             "parameter 'p' of 3"));
  BOOST_CHECK_EXCEPTION(sgd.update_slice(1, 0, two), subgrad::Error,
                        says("subgrad::nn::SGD::update_slice: no parameter 1 (it has 1)"));
}

// As torch.optim, each parameter counts the steps that updated it: one that a step's backward did
// not reach is left alone and not counted, and its first update is a first step (Adam's bias
// correction of step 1, SGD's momentum b = g), whenever it comes. Through step() and in slices.
BOOST_AUTO_TEST_CASE(each_parameter_counts_the_steps_that_updated_it) {
  const double lr = 0.1, a0 = 1.5, b0 = -0.75;
  for (const bool adam : {false, true}) {
    auto make = [&](nn::BasicParameter<double>& a,
                    nn::BasicParameter<double>& b) -> std::unique_ptr<nn::BasicOptimizer<double>> {
      if (adam)
        return std::make_unique<nn::BasicAdam<double>>(
            std::vector<nn::NamedParameter<double>>{{"a", &a}, {"b", &b}}, lr);
      return std::make_unique<nn::BasicSGD<double>>(
          std::vector<nn::NamedParameter<double>>{{"a", &a}, {"b", &b}}, lr,
          nn::SgdOptions{.momentum = 0.9, .dampening = 0.5});
    };
    nn::BasicParameter<double> a(Tensor<double>(1, 1, a0)), b(Tensor<double>(1, 1, b0));
    nn::BasicParameter<double> sliced_a(Tensor<double>(1, 1, a0)),
        sliced_b(Tensor<double>(1, 1, b0));
    const auto whole = make(a, b), sliced = make(sliced_a, sliced_b);
    double gradient_a = 0.0, gradient_b = 0.0;
    {
      Tape tape;  // step 1 reaches a only
      subgrad::backward(subgrad::sum(a.var() * a.var()));
      gradient_a = a.gradient()[0];
      BOOST_TEST(!b.has_gradient());
      whole->step();
    }
    const double a_after_one = a.value()(0, 0);
    BOOST_TEST(whole->parameter_steps(0) == 1u);
    BOOST_TEST(whole->parameter_steps(1) == 0u);
    BOOST_TEST(b.value()(0, 0) == b0);
    {
      Tape tape;  // step 2 reaches both
      subgrad::backward(subgrad::sum(a.var() * b.var() * 3.0));
      gradient_a = a.gradient()[0];
      gradient_b = b.gradient()[0];
      whole->step();
    }
    BOOST_TEST(whole->steps() == 2u);
    BOOST_TEST(whole->parameter_steps(0) == 2u);
    BOOST_TEST(whole->parameter_steps(1) == 1u);
    // b's first update, as PyTorch's first step: Adam's moments bias-corrected by 1 - beta^1
    // (so the step is lr * g / (|g| + eps)), SGD's momentum buffer b = g (not (1 - dampening) g).
    const double expected_b =
        adam ? b0 - lr * gradient_b / (std::abs(gradient_b) + 1e-8) : b0 - lr * gradient_b;
    BOOST_TEST(std::abs(b.value()(0, 0) - expected_b) <= 1e-15);
    BOOST_TEST(gradient_a == 3.0 * b0);
    BOOST_TEST(a.value()(0, 0) != a_after_one);

    // The same steps in slices: begin_step(updated) counts the listed parameters only.
    const std::vector<double> first_a = {2.0 * a0};
    sliced->begin_step(std::vector<std::size_t>{0});
    sliced->update_slice(0, 0, first_a);
    BOOST_CHECK_EXCEPTION(sliced->update_slice(1, 0, first_a), subgrad::Error,
                          says("update_slice: parameter 'b' was not counted by begin_step() for "
                               "step 1"));
    const std::vector<double> second_a = {3.0 * b0}, second_b = {3.0 * a_after_one};
    sliced->begin_step(std::vector<std::size_t>{1, 0});
    sliced->update_slice(1, 0, second_b);
    sliced->update_slice(0, 0, second_a);
    BOOST_TEST(sliced_a.value()(0, 0) == a.value()(0, 0));
    BOOST_TEST(sliced_b.value()(0, 0) == b.value()(0, 0));
    BOOST_TEST(sliced->parameter_steps(1) == 1u);
    BOOST_CHECK_EXCEPTION(sliced->begin_step(std::vector<std::size_t>{1, 1}), subgrad::Error,
                          says("begin_step: parameter 1 ('b') is listed twice"));
    BOOST_CHECK_EXCEPTION(sliced->begin_step(std::vector<std::size_t>{2}), subgrad::Error,
                          says("begin_step: no parameter 2 (it has 2)"));
    BOOST_TEST(sliced->steps() == 2u);  // a refused begin_step counts nothing
    BOOST_CHECK_EXCEPTION(sliced->set_parameter_steps(0, 3), subgrad::Error,
                          says("parameter 'a' cannot have been updated in 3 steps of 2"));
    // set_steps sets every parameter's count too (a resumed run's history, all updated).
    sliced->set_steps(10);
    BOOST_TEST(sliced->parameter_steps(1) == 10u);
  }
}

// The optimizers' loops flush subnormals to zero (a dead unit's momentum decays through them, and
// on Intel CPUs each costs a microcode assist), then give the caller its floating-point mode
// back, with the exception flags raised meanwhile.
BOOST_AUTO_TEST_CASE(optimizer_updates_flush_subnormals_and_give_the_mode_back) {
  const float tiny = std::numeric_limits<float>::min();  // the smallest normal float, 1.2e-38
  nn::BasicParameter<float> p(Tensor<float>{{0.0f, 0.0f}});
  nn::BasicSGD<float> sgd({{"p", &p}}, 1.0, {.momentum = 0.5});
  const std::vector<float> first = {tiny, 0.0f}, none = {0.0f, 0.0f};
  sgd.begin_step();
  sgd.update_slice(0, 0, first);  // b = g = tiny; p = -tiny
  std::feclearexcept(FE_ALL_EXCEPT);
  sgd.begin_step();
  sgd.update_slice(0, 0, none);  // b = 0.5 tiny: subnormal, so 0; p stays -tiny
  // IEEE arithmetic would give p = -1.5 tiny.
  BOOST_TEST(p.value()(0, 0) == -tiny);
  BOOST_TEST(std::fetestexcept(FE_UNDERFLOW) != 0);  // raised by the flush, kept
  volatile float x = tiny;
  BOOST_TEST(x * 0.5f != 0.0f);  // the caller's mode: subnormals again

  // Adam: the second moment of a gradient whose square is subnormal is 0.
  nn::BasicParameter<float> q(Tensor<float>{{0.0f}});
  nn::BasicAdam<float> adam({{"q", &q}}, 1.0, {.eps = 1e-30});
  const std::vector<float> small = {1e-20f};  // its square, 1e-40, is subnormal
  adam.begin_step();
  adam.update_slice(0, 0, small);
  // m = 1e-21 after bias correction 1e-20; v = 0 flushed, so q = -1e-20 / 1e-30 = -1e10. IEEE
  // arithmetic would keep v = 1e-43 and give sqrt(1e-40) = 1e-20 after correction: q = -1.
  BOOST_TEST(q.value()(0, 0) < -1e9f);
  BOOST_TEST(x * 0.5f != 0.0f);
}

#if SUBGRAD_HAS_FLOAT16
BOOST_AUTO_TEST_CASE(a_sixteen_bit_network_learns_with_sgd) {
  // The same blobs in 16 bits (parameters, activations and adjoints), plain SGD.
  using Half = _Float16;
  nn::manual_seed(1);
  nn::BasicSequential<Half> model{nn::BasicLinear<Half>(2, 16),
                                  nn::BasicActivation<Half>(subgrad::relu),
                                  nn::BasicLinear<Half>(16, 2)};
  nn::BasicSGD<Half> sgd(model.parameters(), 0.1);
  const Tensor<float> blobs = random_tensor<float>(64, 2, 9);
  Tensor<Half> x(64, 2);
  std::vector<int> labels(64);
  for (std::size_t i = 0; i < 64; ++i) {
    labels[i] = static_cast<int>(i % 2);
    x(i, 0) = Half(blobs(i, 0) + (labels[i] ? 2.0f : -2.0f));
    x(i, 1) = Half(blobs(i, 1));
  }
  Tape tape;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 40; ++step) {
    const Var loss = nn::cross_entropy(model(x), labels);
    (step == 0 ? first : last) = loss.value();
    subgrad::backward(loss);
    sgd.step();
  }
  BOOST_TEST(last < 0.3 * first);
  BOOST_TEST(nn::evaluate_classifier(model, x, labels).accuracy > 0.9);
}
#endif

BOOST_AUTO_TEST_CASE(initialisers_draw_with_the_documented_spread) {
  std::mt19937_64 generator(8);
  Tensor<double> w(200, 300);  // fan in 300, fan out 200
  auto deviation = [&w] {
    double squares = 0.0;
    for (const double v : w.span()) squares += v * v;
    return std::sqrt(squares / static_cast<double>(w.size()));
  };
  // Uniform in [-b, b] has deviation b / sqrt(3); 60,000 draws pin it to within 1 %.
  nn::kaiming_uniform(w, generator);
  BOOST_TEST(std::abs(deviation() - std::sqrt(2.0 / 300.0)) < 0.01 * std::sqrt(2.0 / 300.0));
  nn::kaiming_normal(w, generator, 0.1);
  const double leaky = std::sqrt(2.0 / 1.01) / std::sqrt(300.0);
  BOOST_TEST(std::abs(deviation() - leaky) < 0.01 * leaky);
  nn::xavier_uniform(w, generator);
  BOOST_TEST(std::abs(deviation() - std::sqrt(2.0 / 500.0)) < 0.01 * std::sqrt(2.0 / 500.0));
  nn::xavier_normal(w, generator, 2.0);
  BOOST_TEST(std::abs(deviation() - 2.0 * std::sqrt(2.0 / 500.0)) < 0.02 * std::sqrt(2.0 / 500.0));
  nn::lecun_normal(w, generator);
  BOOST_TEST(std::abs(deviation() - 1.0 / std::sqrt(300.0)) < 0.01 / std::sqrt(300.0));
  nn::constant(w, 0.5);
  BOOST_TEST(deviation() == 0.5);
  nn::zeros(w);
  BOOST_TEST(deviation() == 0.0);
  Tensor<double> empty;
  BOOST_CHECK_THROW(nn::kaiming_uniform(empty, generator), subgrad::Error);
  // A gain that makes the spread negative, infinite or NaN is refused (the standard distributions'
  // behaviour would be undefined); a zero gain gives zeros, as in PyTorch.
  BOOST_CHECK_EXCEPTION(nn::xavier_uniform(w, generator, -1.0), subgrad::Error,
                        says("nn::xavier_uniform: bound = -0.109"));
  BOOST_CHECK_EXCEPTION(nn::xavier_normal(w, generator, std::nan("")), subgrad::Error,
                        says("nn::xavier_normal: deviation = nan must be finite"));
  BOOST_CHECK_EXCEPTION(nn::kaiming_normal(w, generator, std::nan("")), subgrad::Error,
                        says("nn::kaiming_normal: deviation = nan"));
  BOOST_CHECK_EXCEPTION(nn::xavier_uniform(w, generator, std::numeric_limits<double>::infinity()),
                        subgrad::Error, says("nn::xavier_uniform: bound = inf"));
  // Finite, but [-b, b] is wider than the largest double: also undefined for the distribution.
  Tensor<double> pair(1, 2);
  BOOST_CHECK_EXCEPTION(nn::xavier_uniform(pair, generator, 1e308), subgrad::Error,
                        says("nn::xavier_uniform: bound = 1.414"));
  nn::xavier_normal(w, generator, 0.0);
  BOOST_TEST(deviation() == 0.0);
  nn::constant(w, 0.5);
  nn::xavier_uniform(w, generator, 0.0);
  BOOST_TEST(deviation() == 0.0);
}

BOOST_AUTO_TEST_CASE(progress_prints_one_line_when_not_on_a_terminal) {
  std::FILE* out = std::tmpfile();
  {
    nn::Progress progress("epoch 1/2", 3, out);
    for (std::size_t k = 1; k <= 3; ++k) progress.update(k, 0.5, 128 * k);
    progress.finish("test accuracy 90.00%");
  }
  std::rewind(out);
  std::string text;
  for (int c = std::fgetc(out); c != EOF; c = std::fgetc(out)) text.push_back(static_cast<char>(c));
  std::fclose(out);
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 1);
  BOOST_TEST(text.starts_with("epoch 1/2: batch 3/3, loss 0.5000, "));
  BOOST_TEST(text.find("samples/s") != std::string::npos);
  BOOST_TEST(text.ends_with(", test accuracy 90.00%\n"));
}

BOOST_AUTO_TEST_CASE(training_curves_are_drawn_to_a_png) {
  nn::TrainingHistory history;
  history.train = {{0.9, 0.7}, {0.6, 0.8}};
  history.test = {{1.0, 0.65}, {0.7, 0.78}};
  const std::filesystem::path image = std::filesystem::temp_directory_path() /
                                      ("subgrad_curves_" + std::to_string(::getpid()) + ".png");
  nn::plot_training_curves(history, image, "test");
  std::ifstream in(image, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  BOOST_TEST((magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G'));
  std::filesystem::remove(image);
  BOOST_CHECK_EXCEPTION(nn::plot_training_curves(history, "/no/such/folder/curves.png", "test"),
                        subgrad::Error, says("could not draw /no/such/folder/curves.png"));
  BOOST_CHECK_EXCEPTION(nn::plot_training_curves(nn::TrainingHistory{}, image, "test"),
                        subgrad::Error, says("the history has no epochs"));
  BOOST_TEST(!std::filesystem::exists(image));
}

BOOST_AUTO_TEST_CASE(a_parameter_the_step_did_not_reach_is_left_alone) {
  nn::BasicParameter<double> used(Tensor<double>{{1.0}}), unused(Tensor<double>{{2.0}});
  std::vector<nn::NamedParameter<double>> parameters{{"used", &used}, {"unused", &unused}};
  nn::BasicAdamW<double> optimizer(parameters, 0.1);  // weight decay 0.01 would shrink it
  Tape tape;
  BOOST_TEST(!used.has_gradient());
  subgrad::backward(subgrad::sum(used.var() * 3.0));
  BOOST_TEST(used.has_gradient());
  BOOST_TEST(!unused.has_gradient());
  BOOST_TEST(unused.gradient()[0] == 0.0);  // reading a gradient does not make one
  BOOST_TEST(!unused.has_gradient());
  optimizer.step();
  BOOST_TEST(used.value()(0, 0) < 1.0);
  BOOST_TEST(unused.value()(0, 0) == 2.0);
}
