// A training step of an nn model (forward, loss, backward, optimizer step) allocates nothing once
// the first step has sized the tape's buffers: parameters reuse their slots, optimizers update in
// place, the tape keeps its memory across clear().
#include <random>

#include <boost/test/unit_test.hpp>

#include "allocation_counter.hpp"
#include "subgrad/nn.hpp"

namespace nn = subgrad::nn;

BOOST_AUTO_TEST_CASE(a_repeated_training_step_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(20, 32),
                       nn::Activation(subgrad::leaky_relu, 0.1),
                       nn::LayerNorm(32),
                       nn::Linear(32, 16),
                       nn::Activation(subgrad::gelu),
                       nn::Linear(16, 4)};
  nn::Adam adam(model.parameters(), 1e-3);
  subgrad::Tensor<float> x(64, 20);
  std::mt19937 generator(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x.span()) v = normal(generator);
  std::vector<int> labels(64);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 4);
  subgrad::Tape tape;
  double first_loss = 0.0, loss_value = 0.0;
  long during = -1;
  for (int step = 0; step < 6; ++step) {
    const long before = allocation_count.load();
    const subgrad::Var loss = nn::cross_entropy(model(x), labels);
    subgrad::backward(loss);
    adam.step();
    loss_value = loss.value();
    if (step == 0) first_loss = loss_value;
    if (step >= 2) during = std::max(during, allocation_count.load() - before);
  }
  BOOST_TEST(during == 0);
  BOOST_TEST(loss_value < first_loss);  // and it trains
}
