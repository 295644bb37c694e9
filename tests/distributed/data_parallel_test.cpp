// Data-parallel training over MPI, run by ctest under `mpirun -np 2` (suite two_ranks) and then
// on one rank (suite resume, from the checkpoint the two ranks wrote): training on two ranks
// equals one process on the whole batch to float tolerance, the ranks hold the same parameters bit
// for bit, and misuse is an error on every rank.
#include "subgrad/distributed.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/nn.hpp"

namespace distributed = subgrad::distributed;
namespace data = subgrad::data;
namespace nn = subgrad::nn;
using subgrad::Tape;
using subgrad::Tensor;

namespace {

struct MpiFixture {
  distributed::Context context;
};

// The checkpoint the two ranks write and one rank resumes from: the argument after `--`.
std::filesystem::path checkpoint_path() {
  const auto& suite = boost::unit_test::framework::master_test_suite();
  BOOST_REQUIRE_MESSAGE(suite.argc > 1, "pass the checkpoint path after --");
  return suite.argv[1];
}

// 70 samples of 6 features in 3 classes (a batch of 16 leaves 6 for the last: 3 per rank).
data::Dataset toy_data() {
  data::Dataset set;
  set.inputs = Tensor<float>(70, 6);
  for (std::size_t i = 0; i < 70; ++i) {
    const int label = static_cast<int>(i % 3);
    set.labels.push_back(label);
    for (std::size_t j = 0; j < 6; ++j) {
      set.inputs(i, j) = static_cast<float>(std::sin(0.7 * double(i) + 1.3 * double(j)) +
                                            (j == std::size_t(label) ? 1.0 : 0.0));
    }
  }
  return set;
}

nn::Sequential toy_model(std::uint64_t seed) {
  nn::manual_seed(seed);
  return nn::Sequential{nn::Linear(6, 16), nn::Activation(subgrad::relu), nn::Linear(16, 8),
                        nn::Activation(subgrad::relu), nn::Linear(8, 3)};
}

constexpr std::size_t global_batch = 16;

// `epochs` of SGD with momentum, from epoch `first`; distributed over the ranks or, with
// `distributed` false, as one process on the whole batches.
void train(nn::Sequential& model, nn::SGD& sgd, const data::Dataset& set, int first, int epochs,
           bool over_ranks) {
  Tape tape;
  for (int epoch = first; epoch < first + epochs; ++epoch) {
    const std::uint64_t seed = 50 + static_cast<std::uint64_t>(epoch);
    if (over_ranks) {
      for (const data::Batch& batch : distributed::batches(set, global_batch, true, seed)) {
        subgrad::backward(nn::cross_entropy(model(batch.inputs), batch.labels));
        distributed::allreduce_gradients(model, batch.size());
        sgd.step();
      }
    } else {
      for (const data::Batch& batch : data::batches(set, global_batch, true, seed)) {
        subgrad::backward(nn::cross_entropy(model(batch.inputs), batch.labels));
        sgd.step();
      }
    }
  }
}

std::vector<float> flat_parameters(nn::Sequential& model) {
  std::vector<float> values;
  for (const auto& p : model.parameters()) {
    const Tensor<float>& v = p.parameter->value();
    values.insert(values.end(), v.data(), v.data() + v.size());
  }
  return values;
}

// The largest difference, relative to max(1, |reference|).
double largest_difference(const std::vector<float>& a, const std::vector<float>& reference) {
  double largest = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    largest = std::max(largest, std::abs(double(a[k]) - double(reference[k])) /
                                    std::max(1.0, std::abs(double(reference[k]))));
  }
  return largest;
}

// Whether every rank holds exactly the root's values.
bool same_bits_on_every_rank(std::vector<float> values) {
  const auto& context = distributed::Context::current();
  std::vector<float> root = values;
  distributed::detail::broadcast(std::as_writable_bytes(std::span<float>(root)), 0,
                                 context.communicator(), "test");
  long long differs[1] = {
      std::memcmp(root.data(), values.data(), values.size() * sizeof(float)) ? 1 : 0};
  distributed::detail::allreduce_sum(std::span<long long>(differs), context.communicator(), "test");
  return differs[0] == 0;
}

bool says(const subgrad::Error& e, const std::string& text) {
  BOOST_TEST_MESSAGE(e.what());
  return std::string(e.what()).find(text) != std::string::npos;
}

// Tolerance of "equal to one process": the ranks sum their halves of each batch's gradient in
// float, then add the halves, where one process sums all rows at once; the orders differ, so the
// gradients differ in the last bits (about 1e-7 relative) and the steps carry that on. Measured:
// 4.5e-8 after 3 epochs (15 steps), 6e-8 after a 4th on one rank; the tolerance leaves 15x.
constexpr double tolerance = 1e-6;

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

BOOST_AUTO_TEST_SUITE(two_ranks)

BOOST_AUTO_TEST_CASE(training_on_two_ranks_equals_one_process_on_the_whole_batch) {
  const auto& context = distributed::Context::current();
  BOOST_REQUIRE(context.size() == 2);
  const data::Dataset set = toy_data();
  // Each rank draws different initial values; broadcast_parameters gives all the root's.
  nn::Sequential model = toy_model(1 + static_cast<std::uint64_t>(context.rank()));
  distributed::broadcast_parameters(model);
  nn::Sequential reference = toy_model(1);
  BOOST_TEST(flat_parameters(model) == flat_parameters(reference));
  nn::SGD sgd(model.parameters(), 0.1, {.momentum = 0.9});
  nn::SGD reference_sgd(reference.parameters(), 0.1, {.momentum = 0.9});
  train(model, sgd, set, 0, 3, true);
  train(reference, reference_sgd, set, 0, 3, false);
  const double difference = largest_difference(flat_parameters(model), flat_parameters(reference));
  BOOST_TEST_MESSAGE("largest relative difference from one process: " << difference);
  BOOST_TEST(difference <= tolerance);
  nn::Sequential initial = toy_model(1);
  BOOST_TEST(flat_parameters(model) != flat_parameters(initial));  // it did train
  BOOST_TEST(same_bits_on_every_rank(flat_parameters(model)));
  // The checkpoint for the suite `resume`, written by the root only.
  distributed::save(checkpoint_path(), model, sgd);
  nn::Sequential loaded = toy_model(9);
  nn::SGD loaded_sgd(loaded.parameters(), 0.1, {.momentum = 0.9});
  distributed::load(checkpoint_path(), loaded, loaded_sgd);
  BOOST_TEST(flat_parameters(loaded) == flat_parameters(model));
  BOOST_TEST(loaded_sgd.steps() == sgd.steps());
}

BOOST_AUTO_TEST_CASE(gradients_are_averaged_weighted_by_samples_in_few_calls) {
  const auto& context = distributed::Context::current();
  const double r = context.rank();
  nn::Sequential model{nn::Linear(3, 4), nn::Linear(4, 2)};
  Tape tape;
  // d/dW of (r + 1) * sum(W) is r + 1 everywhere: rank 0 has 1, rank 1 has 2.
  subgrad::Var total = 0.0;
  for (const auto& p : model.parameters()) total = total + subgrad::sum(p.parameter->var());
  subgrad::backward((r + 1.0) * total);
  // Weighted by samples 1 and 3: (1 * 1 + 3 * 2) / 4 = 1.75. 26 floats in buckets of 8 floats:
  // 4 buckets and the call for the counts.
  const distributed::AllreduceReport report =
      distributed::allreduce_gradients(model, context.rank() == 0 ? 1 : 3, 8 * sizeof(float));
  BOOST_TEST(report.calls == 5u);
  BOOST_TEST(report.bytes == 26 * sizeof(float));
  for (const auto& p : model.parameters()) {
    for (const float g : p.parameter->gradient()) BOOST_TEST(g == 1.75f);
  }
  // Unweighted: the plain mean, 1.5; one bucket.
  subgrad::backward((r + 1.0) * total);
  BOOST_TEST(distributed::allreduce_gradients(model).calls == 2u);
  for (const auto& p : model.parameters()) {
    for (const float g : p.parameter->gradient()) BOOST_TEST(g == 1.5f);
  }
}

BOOST_AUTO_TEST_CASE(models_that_differ_across_ranks_are_an_error_on_every_rank) {
  const auto& context = distributed::Context::current();
  nn::Sequential model{nn::Linear(4, 8), nn::Linear(8, context.rank() == 0 ? 2 : 3)};
  BOOST_CHECK_EXCEPTION(distributed::broadcast_parameters(model), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return says(e,
                                      "parameter '1.weight' is 3 x 8 on rank 1, but the "
                                      "root's is '1.weight 2 8'");
                        });
  nn::Sequential longer = context.rank() == 0 ? nn::Sequential{nn::Linear(4, 8)}
                                              : nn::Sequential{nn::Linear(4, 8), nn::Linear(8, 2)};
  BOOST_CHECK_EXCEPTION(distributed::broadcast_parameters(longer), subgrad::Error,
                        [](const subgrad::Error& e) { return says(e, "'1.weight'"); });
}

BOOST_AUTO_TEST_CASE(a_gradient_on_one_rank_only_is_an_error_on_every_rank) {
  const auto& context = distributed::Context::current();
  nn::Sequential model{nn::Linear(2, 2), nn::Linear(2, 1)};
  const auto parameters = model.parameters();
  Tape tape;
  subgrad::Var total = subgrad::sum(parameters[0].parameter->var());
  if (context.rank() == 1) total = total + subgrad::sum(parameters[2].parameter->var());
  subgrad::backward(total);
  BOOST_CHECK_EXCEPTION(distributed::allreduce_gradients(model), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return says(e, "parameter '1.weight' has a gradient on 1 of 2 ranks");
                        });
}

BOOST_AUTO_TEST_CASE(a_failed_save_is_an_error_on_every_rank) {
  nn::Sequential model = toy_model(1);
  nn::SGD sgd(model.parameters(), 0.1);
  BOOST_CHECK_EXCEPTION(distributed::save("/nonexistent-folder/x.ckpt", model, sgd), subgrad::Error,
                        [](const subgrad::Error& e) { return says(e, "/nonexistent-folder"); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resume)

BOOST_AUTO_TEST_CASE(a_checkpoint_of_two_ranks_resumes_on_one) {
  BOOST_REQUIRE(distributed::Context::current().size() == 1);
  const data::Dataset set = toy_data();
  nn::Sequential model = toy_model(5);
  nn::SGD sgd(model.parameters(), 0.1, {.momentum = 0.9});
  distributed::load(checkpoint_path(), model, sgd);
  BOOST_TEST(sgd.steps() == 15u);  // 3 epochs of 5 batches
  train(model, sgd, set, 3, 1, true);
  nn::Sequential reference = toy_model(1);
  nn::SGD reference_sgd(reference.parameters(), 0.1, {.momentum = 0.9});
  train(reference, reference_sgd, set, 0, 4, false);
  const double difference = largest_difference(flat_parameters(model), flat_parameters(reference));
  BOOST_TEST_MESSAGE("largest relative difference from one process: " << difference);
  BOOST_TEST(difference <= tolerance);
}

BOOST_AUTO_TEST_SUITE_END()
