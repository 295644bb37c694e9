// nn::DataParallel: the gradient and loss of a step split over threads against the same step on
// one thread (uneven parts, fewer rows than threads, labels and tensor targets, mean and sum
// losses), training steps that stay together, products on one thread each meanwhile, and what it
// refuses or passes on.
#include "subgrad/nn/data_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "error_message.hpp"

#include "subgrad/nn.hpp"

namespace nn = subgrad::nn;
using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using subgrad::Var;

namespace {

Tensor<float> random_tensor(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor<float> t(rows, cols);
  for (float& v : t.span()) v = normal(generator);
  return t;
}

std::vector<int> labels_for(std::size_t rows, int classes) {
  std::vector<int> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) labels[i] = static_cast<int>((i * 7 + 3) % classes);
  return labels;
}

nn::Sequential small_network() {
  nn::manual_seed(5);
  return nn::Sequential{nn::Linear(6, 9), nn::Activation(subgrad::relu), nn::Linear(9, 7),
                        nn::Activation(subgrad::leaky_relu, 0.1), nn::Linear(7, 4)};
}

auto classification_loss = [](nn::Module& m, const Tensor<float>& x, std::span<const int> y) {
  return nn::cross_entropy(m(x), y);
};

// The gradients of the parameters on the active tape, in order.
std::vector<std::vector<float>> gradients_of(nn::Module& model) {
  std::vector<std::vector<float>> out;
  for (const auto& p : model.parameters()) {
    BOOST_TEST_REQUIRE(p.parameter->has_gradient());
    const std::span<float> g = p.parameter->gradient();
    out.emplace_back(g.begin(), g.end());
  }
  return out;
}

void check_close(const std::vector<std::vector<float>>& got,
                 const std::vector<std::vector<float>>& expected, double tolerance) {
  BOOST_TEST_REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST_REQUIRE(got[i].size() == expected[i].size());
    for (std::size_t j = 0; j < got[i].size(); ++j) {
      const double scale = 1.0 + std::abs(expected[i][j]);
      BOOST_TEST(
          std::abs(got[i][j] - expected[i][j]) <= tolerance * scale,
          "parameter " << i << " element " << j << ": " << got[i][j] << " vs " << expected[i][j]);
    }
  }
}

// A module whose one parameter is used only when the batch's first input is positive: its parts
// can disagree on whether it was reached.
class Gate final : public nn::Module {
 public:
  Gate() : weight_(Tensor<float>(1, 1, 2.0f)) {}
  TensorVar<float> forward(const TensorVar<float>& x) override {
    if (x.value()(0, 0) > 0.0f) return x * weight_.var();
    return x * 1.0f;
  }
  std::string describe() const override { return "Gate"; }
  std::unique_ptr<nn::Module> clone() const override { return std::make_unique<Gate>(*this); }
  void visit(const std::string& prefix, nn::ModuleVisitor<float>& visitor) override {
    nn::Module::visit(prefix, visitor);
    if (visitor.parameter) visitor.parameter(join(prefix, "weight"), weight_);
  }

 private:
  nn::Parameter weight_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_gradient_and_loss_are_the_whole_batchs_for_every_thread_count) {
  const Tensor<float> x = random_tensor(11, 6, 1);  // 11 rows: uneven parts for 2, 3 and 4
  const std::vector<int> labels = labels_for(11, 4);
  nn::Sequential model = small_network();
  std::vector<std::vector<float>> expected;
  double expected_loss = 0.0;
  {
    nn::Sequential reference = model;
    Tape tape;
    const Var loss = nn::cross_entropy(reference(x), labels);
    subgrad::backward(loss);
    expected_loss = loss.value();
    expected = gradients_of(reference);
  }
  for (const std::size_t threads : {1u, 2u, 3u, 4u}) {
    BOOST_TEST_CONTEXT("threads " << threads) {
      Tape tape;
      nn::DataParallel parallel(model, threads);
      BOOST_TEST(parallel.threads() == threads);
      const double loss = parallel.backward(x, labels, classification_loss);
      BOOST_TEST(loss == expected_loss, boost::test_tools::tolerance(1e-6));
      check_close(gradients_of(model), expected, 1e-6);
      // A second step on the same object (the workers' tapes cleared, their values taken again).
      tape.clear();
      const double again = parallel.backward(x, std::span<const int>(labels), classification_loss);
      BOOST_TEST(again == expected_loss, boost::test_tools::tolerance(1e-6));
      check_close(gradients_of(model), expected, 1e-6);
    }
  }
}

// The calling thread's kink rule and FiniteCheck are per thread: the workers' parts must run
// under them too, or a step split over threads is not the one-thread step.
BOOST_AUTO_TEST_CASE(the_callers_kink_rule_and_finite_check_reach_every_part) {
  // Zero inputs and a zero first bias put every first-layer relu at its kink: relu'(0) decides
  // whether that bias gets a gradient (0 under min_norm, 1 under right).
  nn::Sequential model = small_network();
  for (const auto& p : model.parameters()) {
    if (p.name == "0.bias")
      std::fill(p.parameter->value().span().begin(), p.parameter->value().span().end(), 0.0f);
  }
  const Tensor<float> x(8, 6);
  const std::vector<int> labels = labels_for(8, 4);
  auto bias_gradient_norm = [](const std::vector<std::vector<float>>& gradients) {
    double sum = 0.0;
    for (const float g : gradients[1]) sum += std::abs(g);  // parameter 1: 0.bias
    return sum;
  };
  const subgrad::KinkScope right{subgrad::kink::right};
  std::vector<std::vector<float>> expected;
  {
    nn::Sequential reference = model;
    Tape tape;
    subgrad::backward(nn::cross_entropy(reference(x), labels));
    expected = gradients_of(reference);
  }
  BOOST_TEST_REQUIRE(bias_gradient_norm(expected) > 0.0);  // the rule matters here
  {
    Tape tape;
    nn::DataParallel parallel(model, 2);
    parallel.backward(x, labels, classification_loss);
    check_close(gradients_of(model), expected, 1e-6);
  }
  // A FiniteCheck on the calling thread catches a NaN in a worker's part (rows 4 to 7).
  Tensor<float> inputs = random_tensor(8, 6, 3);
  inputs(0, 0) = 1.0f;
  inputs(4, 0) = -1.0f;
  auto log_of_first_input = [](nn::Module& m, const Tensor<float>& part, std::span<const int> y) {
    const TensorVar<float> logits = m(part);
    return Var(nn::cross_entropy(logits, y) +
               subgrad::log(subgrad::sum(logits) * 0.0 + static_cast<double>(part(0, 0))));
  };
  Tape tape;
  nn::DataParallel parallel(model, 2);
  BOOST_TEST(std::isnan(parallel.backward(inputs, labels, log_of_first_input)));
  const subgrad::FiniteCheck check;
  tape.clear();
  BOOST_CHECK_EXCEPTION(parallel.backward(inputs, labels, log_of_first_input), subgrad::Error,
                        says("log"));
}

BOOST_AUTO_TEST_CASE(tensor_targets_and_sum_losses) {
  const Tensor<float> x = random_tensor(9, 6, 2);
  const Tensor<float> target = random_tensor(9, 4, 3);
  nn::Sequential model = small_network();
  auto regression = [](nn::Module& m, const Tensor<float>& in, const Tensor<float>& y) {
    return nn::mse(m(in), y);
  };
  auto summed = [](nn::Module& m, const Tensor<float>& in, const Tensor<float>& y) {
    const TensorVar<float> out = m(in);
    return subgrad::sum((out - y) * (out - y));
  };
  for (const bool mean : {true, false}) {
    BOOST_TEST_CONTEXT((mean ? "mean" : "sum")) {
      std::vector<std::vector<float>> expected;
      double expected_loss = 0.0;
      {
        nn::Sequential reference = model;
        Tape tape;
        const Var loss = mean ? regression(reference, x, target) : summed(reference, x, target);
        subgrad::backward(loss);
        expected_loss = loss.value();
        expected = gradients_of(reference);
      }
      Tape tape;
      nn::DataParallel parallel(model, 2, mean ? nn::LossReduction::mean : nn::LossReduction::sum);
      const double loss =
          mean ? parallel.backward(x, target, regression) : parallel.backward(x, target, summed);
      BOOST_TEST(loss == expected_loss, boost::test_tools::tolerance(1e-5));
      check_close(gradients_of(model), expected, 1e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(fewer_rows_than_threads_use_as_many_threads_as_rows) {
  const Tensor<float> x = random_tensor(2, 6, 4);
  const std::vector<int> labels = labels_for(2, 4);
  nn::Sequential model = small_network();
  std::vector<std::vector<float>> expected;
  {
    nn::Sequential reference = model;
    Tape tape;
    subgrad::backward(nn::cross_entropy(reference(x), labels));
    expected = gradients_of(reference);
  }
  Tape tape;
  nn::DataParallel parallel(model, 4);
  // Written by the parts' threads (Boost.Test's assertions are for the main thread only).
  std::vector<std::size_t> part_rows(2, 0);
  parallel.backward(x, labels, [&](nn::Module& m, const Tensor<float>& in, std::span<const int> y) {
    part_rows[&m == &model ? 0 : 1] = in.rows();
    return nn::cross_entropy(m(in), y);
  });
  BOOST_TEST(part_rows == std::vector<std::size_t>({1, 1}));  // two parts of one row
  check_close(gradients_of(model), expected, 1e-6);
}

BOOST_AUTO_TEST_CASE(sgd_steps_stay_with_the_one_thread_steps) {
  nn::Sequential alone = small_network();
  nn::Sequential split = alone;
  nn::SGD alone_optimizer(alone.parameters(), 0.1, {.momentum = 0.9});
  nn::SGD split_optimizer(split.parameters(), 0.1, {.momentum = 0.9});
  nn::DataParallel parallel(split, 3);
  Tape tape;
  for (int step = 0; step < 8; ++step) {
    const Tensor<float> x = random_tensor(16, 6, 10 + step);
    const std::vector<int> labels = labels_for(16, 4);
    subgrad::backward(nn::cross_entropy(alone(x), labels));
    alone_optimizer.step();
    parallel.backward(x, labels, classification_loss);
    split_optimizer.step();
  }
  const auto a = alone.parameters(), s = split.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::span<const float> va = a[i].parameter->value().span();
    const std::span<const float> vs = s[i].parameter->value().span();
    for (std::size_t j = 0; j < va.size(); ++j) {
      BOOST_TEST(std::abs(va[j] - vs[j]) <= 1e-5 * (1.0 + std::abs(va[j])),
                 a[i].name << "[" << j << "]: " << va[j] << " vs " << vs[j]);
    }
  }
}

// Two layers whose first weight (130 x 160) is more than one piece of the update (16384
// elements), so that the threads share it.
nn::Sequential wide_network() {
  nn::manual_seed(8);
  return nn::Sequential{nn::Linear(130, 160), nn::Activation(subgrad::relu), nn::Linear(160, 4)};
}

void check_same_values(nn::Module& expected, nn::Module& got, double tolerance) {
  const auto e = expected.parameters(), g = got.parameters();
  BOOST_TEST_REQUIRE(e.size() == g.size());
  for (std::size_t i = 0; i < e.size(); ++i) {
    const std::span<const float> ve = e[i].parameter->value().span();
    const std::span<const float> vg = g[i].parameter->value().span();
    BOOST_TEST_REQUIRE(ve.size() == vg.size());
    for (std::size_t j = 0; j < ve.size(); ++j) {
      BOOST_TEST(std::abs(ve[j] - vg[j]) <= tolerance * (1.0 + std::abs(ve[j])),
                 e[i].name << "[" << j << "]: " << ve[j] << " vs " << vg[j]);
    }
  }
}

BOOST_AUTO_TEST_CASE(step_splits_the_update_too_and_is_the_one_thread_step) {
  for (const bool adam : {false, true}) {
    nn::Sequential alone = wide_network();
    nn::Sequential split = alone;
    auto make = [adam](nn::Sequential& m) -> std::unique_ptr<nn::Optimizer> {
      if (adam) return std::make_unique<nn::Adam>(m.parameters(), 0.01);
      return std::make_unique<nn::SGD>(m.parameters(), 0.05,
                                       nn::SgdOptions{.momentum = 0.9, .weight_decay = 0.01});
    };
    const auto alone_optimizer = make(alone), split_optimizer = make(split);
    nn::DataParallel parallel(split, 3);
    Tape tape;
    for (int step = 0; step < 8; ++step) {
      if (step == 4) {
        // Values changed between steps (as an initialiser or a checkpoint does) reach the parts.
        for (nn::Sequential* m : {&alone, &split}) {
          for (float& v : m->parameters()[0].parameter->value().span()) v *= 0.5f;
        }
      }
      const Tensor<float> x = random_tensor(20, 130, 30 + step);
      const std::vector<int> labels = labels_for(20, 4);
      const Var loss = nn::cross_entropy(alone(x), labels);
      subgrad::backward(loss);
      alone_optimizer->step();
      const double split_loss = parallel.step(*split_optimizer, x, labels, classification_loss);
      BOOST_TEST(std::abs(split_loss - loss.value()) <= 1e-5 * (1.0 + std::abs(loss.value())));
      // The tape is cleared, as optimizer.step() clears it.
      BOOST_TEST(tape.statement_count() == 0u);
      BOOST_TEST(!split.parameters()[0].parameter->has_gradient());
    }
    BOOST_TEST(split_optimizer->steps() == 8u);
    check_same_values(alone, split, 1e-6);
  }
}

// A parameter the pass does not reach is not counted by step(optimizer), as optimizer.step() does
// not count it: its first update is then Adam's first step, on one thread or several.
BOOST_AUTO_TEST_CASE(step_counts_only_the_parameters_it_reaches) {
  Gate alone, split;
  nn::Adam alone_adam(alone.parameters(), 0.1), split_adam(split.parameters(), 0.1);
  nn::BasicDataParallel<float> parallel(split, 2);
  auto gate_loss = [](nn::Module& m, const Tensor<float>& in, const Tensor<float>&) {
    return subgrad::sum(m(in) * in);
  };
  Tape tape;
  for (const float sign : {-1.0f, 1.0f, 1.0f}) {  // the first step does not use the weight
    Tensor<float> x(4, 1);
    for (std::size_t i = 0; i < 4; ++i) x(i, 0) = sign * (0.5f + static_cast<float>(i));
    subgrad::backward(gate_loss(alone, x, x));
    alone_adam.step();
    parallel.step(split_adam, x, x, gate_loss);
  }
  BOOST_TEST(split_adam.steps() == 3u);
  BOOST_TEST(alone_adam.parameter_steps(0) == 2u);
  BOOST_TEST(split_adam.parameter_steps(0) == 2u);
  check_same_values(alone, split, 1e-6);
}

BOOST_AUTO_TEST_CASE(step_updates_the_optimizers_parameters_only_and_refuses_others) {
  nn::Sequential alone = wide_network();
  nn::Sequential split = alone;
  const nn::Sequential untouched = alone;
  // The optimizers hold the last layer's parameters only (fine-tuning).
  auto last_layer = [](nn::Sequential& m) {
    auto all = m.parameters();
    return std::vector<nn::NamedParameter<float>>(all.end() - 2, all.end());
  };
  nn::SGD alone_optimizer(last_layer(alone), 0.1, {.momentum = 0.9, .nesterov = true});
  nn::SGD split_optimizer(last_layer(split), 0.1, {.momentum = 0.9, .nesterov = true});
  nn::DataParallel parallel(split, 2);
  Tape tape;
  for (int step = 0; step < 3; ++step) {
    const Tensor<float> x = random_tensor(9, 130, 50 + step);
    subgrad::backward(nn::cross_entropy(alone(x), labels_for(9, 4)));
    alone_optimizer.step();
    parallel.step(split_optimizer, x, labels_for(9, 4), classification_loss);
  }
  check_same_values(alone, split, 1e-5);
  nn::Sequential frozen = untouched;
  for (std::size_t i = 0; i < 2; ++i) {
    const auto got = split.parameters()[i].parameter->value().span();
    const auto was = frozen.parameters()[i].parameter->value().span();
    BOOST_TEST(std::equal(got.begin(), got.end(), was.begin(), was.end()));
  }

  // An optimizer over another model's parameters: refused before any work is done.
  nn::Sequential other = wide_network();
  nn::SGD foreign(other.parameters(), 0.1);
  const Tensor<float> x = random_tensor(4, 130, 60);
  BOOST_CHECK_EXCEPTION(parallel.step(foreign, x, labels_for(4, 4), classification_loss),
                        subgrad::Error,
                        says("subgrad::nn::DataParallel::step: the SGD's parameter '0.weight' "
                             "(number 0) is not a parameter of the model"));
  BOOST_TEST(tape.statement_count() == 0u);
  BOOST_TEST(foreign.steps() == 0u);
}

BOOST_AUTO_TEST_CASE(products_run_on_one_thread_each_while_a_step_is_split) {
  subgrad::set_num_threads(2);
  nn::Sequential model = small_network();
  nn::DataParallel parallel(model, 2);
  Tape tape;
  std::vector<int> inside(2, 0);
  const Tensor<float> x = random_tensor(4, 6, 5);
  parallel.backward(x, labels_for(4, 4),
                    [&](nn::Module& m, const Tensor<float>& in, std::span<const int> y) {
                      inside[&m == &model ? 0 : 1] = subgrad::num_threads();
                      return nn::cross_entropy(m(in), y);
                    });
  BOOST_TEST(inside[0] == 1);
  BOOST_TEST(inside[1] == 1);
  BOOST_TEST(subgrad::num_threads() == 2);  // the requested count is back
}

BOOST_AUTO_TEST_CASE(evaluation_mode_reaches_the_replicas) {
  nn::manual_seed(6);
  nn::Sequential model{nn::Linear(6, 8), nn::Activation(subgrad::relu), nn::Dropout(0.5),
                       nn::Linear(8, 4)};
  model.eval();  // dropout passes everything: the split step equals the one-thread step
  const Tensor<float> x = random_tensor(10, 6, 7);
  const std::vector<int> labels = labels_for(10, 4);
  std::vector<std::vector<float>> expected;
  {
    nn::Sequential reference = model;
    reference.eval();
    Tape tape;
    subgrad::backward(nn::cross_entropy(reference(x), labels));
    expected = gradients_of(reference);
  }
  nn::DataParallel parallel(model, 2);
  Tape tape;
  std::vector<int> training(2, -1);  // per part, written on its thread
  parallel.backward(x, labels, [&](nn::Module& m, const Tensor<float>& in, std::span<const int> y) {
    training[&m == &model ? 0 : 1] = m.is_training() ? 1 : 0;
    return nn::cross_entropy(m(in), y);
  });
  BOOST_TEST(training == std::vector<int>({0, 0}));
  check_close(gradients_of(model), expected, 1e-6);
}

BOOST_AUTO_TEST_CASE(the_replicas_draw_dropout_masks_of_their_own) {
  nn::manual_seed(8);
  nn::Sequential model{nn::Linear(6, 32), nn::Dropout(0.5), nn::Linear(32, 4)};
  Tensor<float> x(2, 6);  // two equal rows, one per part
  const Tensor<float> row = random_tensor(1, 6, 11);
  for (std::size_t j = 0; j < 6; ++j) x(0, j) = x(1, j) = row(0, j);
  const std::vector<int> labels{1, 1};
  nn::DataParallel parallel(model, 2);
  Tape tape;
  std::vector<double> part_loss(2, 0.0);  // per part, written on its thread
  parallel.backward(x, labels, [&](nn::Module& m, const Tensor<float>& in, std::span<const int> y) {
    const Var loss = nn::cross_entropy(m(in), y);
    part_loss[&m == &model ? 0 : 1] = loss.value();
    return loss;
  });
  // A replica copied with the model's generator would drop the same units of the same row.
  BOOST_TEST(part_loss[0] != part_loss[1]);
}

BOOST_AUTO_TEST_CASE(what_it_refuses) {
  nn::Sequential with_statistics{nn::Linear(6, 4), nn::BatchNorm1d(4)};
  BOOST_CHECK_EXCEPTION(nn::DataParallel(with_statistics, 2), subgrad::Error,
                        says("subgrad::nn::DataParallel: the model has 2 buffers"));

  nn::Sequential model = small_network();
  nn::DataParallel parallel(model, 2);
  Tape tape;
  const Tensor<float> x = random_tensor(11, 6, 8);
  BOOST_CHECK_EXCEPTION(parallel.backward(x, labels_for(10, 4), classification_loss),
                        subgrad::Error,
                        says("subgrad::nn::DataParallel::backward: 11 rows of inputs but 10 of "
                             "targets"));
  BOOST_CHECK_EXCEPTION(
      parallel.backward(Tensor<float>(0, 6), std::vector<int>{}, classification_loss),
      subgrad::Error, says("an empty batch"));

  // A parameter whose shape changed since the replicas were made.
  nn::Sequential reshaped = small_network();
  nn::DataParallel reshaped_parallel(reshaped, 2);
  reshaped.parameters()[1].parameter->value() = Tensor<float>(1, 3);
  BOOST_CHECK_EXCEPTION(reshaped_parallel.backward(x, labels_for(11, 4), classification_loss),
                        subgrad::Error,
                        says("parameter '0.bias' is 1 x 3 now but was 1 x 9 when the "
                             "DataParallel was made"));

  // A parameter that one part reaches and the other does not: the step would not be the batch's.
  Gate gate;
  nn::BasicDataParallel<float> gated(gate, 2);
  Tensor<float> mixed(2, 1);
  mixed(0, 0) = 1.0f;   // the first part uses the weight ...
  mixed(1, 0) = -1.0f;  // ... the second does not
  auto gate_loss = [](nn::Module& m, const Tensor<float>& in, const Tensor<float>&) {
    return subgrad::sum(m(in));
  };
  BOOST_CHECK_EXCEPTION(gated.backward(mixed, mixed, gate_loss), subgrad::Error,
                        says("parameter 'weight' got a gradient from rows 0-0 but not from rows "
                             "1-1"));
}

BOOST_AUTO_TEST_CASE(an_exception_in_any_part_reaches_the_caller_and_the_object_stays_usable) {
  nn::Sequential model = small_network();
  nn::DataParallel parallel(model, 3);
  Tape tape;
  const Tensor<float> x = random_tensor(9, 6, 9);
  const std::vector<int> labels = labels_for(9, 4);
  for (const int failing : {0, 1, 2}) {
    BOOST_TEST_CONTEXT("part " << failing) {
      tape.clear();
      BOOST_CHECK_EXCEPTION(
          parallel.backward(x, labels,
                            [&](nn::Module& m, const Tensor<float>& in, std::span<const int> y) {
                              const bool mine = (failing == 0) == (&m == &model);
                              if (mine && (failing == 0 || in(0, 0) == x(3 * failing, 0)))
                                throw subgrad::Error("the loss failed");
                              return nn::cross_entropy(m(in), y);
                            }),
          subgrad::Error, says("the loss failed"));
    }
  }
  tape.clear();
  std::vector<std::vector<float>> expected;
  {
    nn::Sequential reference = model;
    Tape inner;
    subgrad::backward(nn::cross_entropy(reference(x), labels));
    expected = gradients_of(reference);
  }
  parallel.backward(x, labels, classification_loss);
  check_close(gradients_of(model), expected, 1e-6);
}
