// Checkpoints: a round trip restores parameters, buffers and optimizer state; resuming after an
// epoch gives the same parameters bit for bit as never stopping; every kind of bad file is an
// Error naming the file and leaves the model as it was.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include "error_message.hpp"

#include "subgrad/data.hpp"
#include "subgrad/nn.hpp"

namespace nn = subgrad::nn;
namespace data = subgrad::data;
using subgrad::Tape;
using subgrad::Tensor;

namespace {

struct Scratch {
  std::filesystem::path folder = std::filesystem::temp_directory_path() /
                                 ("subgrad_checkpoint_test_" + std::to_string(::getpid()));
  Scratch() { std::filesystem::create_directories(folder); }
  ~Scratch() { std::filesystem::remove_all(folder); }
};

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A model with a buffer (BatchNorm1d) so that buffers take part.
nn::Sequential make_model(std::uint64_t seed, std::size_t hidden = 8) {
  nn::manual_seed(seed);
  return nn::Sequential{nn::Linear(6, hidden), nn::BatchNorm1d(hidden),
                        nn::Activation(subgrad::relu), nn::Linear(hidden, 3)};
}

data::Dataset make_data() {
  data::Dataset set;
  set.inputs = Tensor<float>(100, 6);
  std::mt19937_64 generator(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : set.inputs.span()) v = normal(generator);
  for (std::size_t i = 0; i < 100; ++i) {
    set.labels.push_back(static_cast<int>(i % 3));
    set.inputs(i, i % 3) += 1.5f;
  }
  return set;
}

void train_epoch(nn::Sequential& model, nn::Optimizer& optimizer, const data::Dataset& set,
                 int epoch) {
  Tape tape;
  for (const data::Batch& batch : data::batches(set, 16, true, 100 + epoch)) {
    subgrad::backward(nn::cross_entropy(model(batch.inputs), batch.labels));
    optimizer.step();
  }
}

// Every parameter and buffer, bit for bit.
std::vector<float> state_of(nn::Sequential& model) {
  std::vector<float> out;
  for (const auto& p : model.parameters()) {
    out.insert(out.end(), p.parameter->value().span().begin(), p.parameter->value().span().end());
  }
  for (const auto& b : model.buffers()) {
    out.insert(out.end(), b.buffer->span().begin(), b.buffer->span().end());
  }
  return out;
}
// The bytes of a checkpoint with its CRC-32 (the last four bytes) computed again.
std::string with_checksum(std::string bytes) {
  const std::size_t body = bytes.size() - 4;
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                          static_cast<uInt>(body));
  for (int k = 0; k < 4; ++k) bytes[body + k] = static_cast<char>((crc >> (8 * k)) & 0xff);
  return bytes;
}
bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(resuming_after_an_epoch_is_bit_identical_to_not_stopping) {
  Scratch scratch;
  const data::Dataset set = make_data();
  for (const std::string kind : {"sgd", "adam", "adamw"}) {
    BOOST_TEST_CONTEXT(kind) {
      auto make_optimizer = [&kind](nn::Sequential& m) -> std::unique_ptr<nn::Optimizer> {
        if (kind == "sgd") {
          return std::make_unique<nn::SGD>(m.parameters(), 0.05,
                                           nn::SgdOptions{.momentum = 0.9, .nesterov = true});
        }
        if (kind == "adam") return std::make_unique<nn::Adam>(m.parameters(), 0.01);
        return std::make_unique<nn::AdamW>(m.parameters(), 0.01);
      };
      nn::Sequential straight = make_model(1);
      auto straight_optimizer = make_optimizer(straight);
      for (int epoch = 0; epoch < 3; ++epoch)
        train_epoch(straight, *straight_optimizer, set, epoch);

      nn::Sequential first = make_model(1);
      auto first_optimizer = make_optimizer(first);
      train_epoch(first, *first_optimizer, set, 0);
      nn::save(scratch.folder / "run.ckpt", first, *first_optimizer);

      nn::Sequential resumed = make_model(99);  // other initial weights, all overwritten
      auto resumed_optimizer = make_optimizer(resumed);
      nn::load(scratch.folder / "run.ckpt", resumed, *resumed_optimizer);
      BOOST_TEST(resumed_optimizer->steps() == first_optimizer->steps());
      BOOST_TEST(bitwise_equal(state_of(resumed), state_of(first)));
      for (int epoch = 1; epoch < 3; ++epoch) train_epoch(resumed, *resumed_optimizer, set, epoch);
      BOOST_TEST(bitwise_equal(state_of(resumed), state_of(straight)));
      BOOST_TEST(!bitwise_equal(state_of(resumed), state_of(first)));  // it did train on
    }
  }
}

// A parameter that a step's backward does not reach is not counted (as torch.optim's per-parameter
// step), and the checkpoint keeps each parameter's count.
BOOST_AUTO_TEST_CASE(each_parameters_step_count_is_saved_and_restored) {
  Scratch scratch;
  const data::Dataset set = make_data();
  auto with_extra = [](nn::Sequential& m, nn::Parameter& extra) {
    std::vector<nn::NamedParameter<float>> parameters = m.parameters();
    parameters.push_back({"extra", &extra});  // in the optimizer, never used by the model
    return parameters;
  };
  nn::Sequential model = make_model(1);
  nn::Parameter extra(Tensor<float>(1, 2, 0.5f));
  nn::Adam adam(with_extra(model, extra), 0.01);
  train_epoch(model, adam, set, 0);
  const std::size_t last = adam.parameters().size() - 1;
  BOOST_TEST(adam.steps() == 7u);
  BOOST_TEST(adam.parameter_steps(0) == 7u);
  BOOST_TEST(adam.parameter_steps(last) == 0u);
  nn::save(scratch.folder / "run.ckpt", model, adam);

  nn::Sequential resumed = make_model(99);
  nn::Parameter resumed_extra(Tensor<float>(1, 2, 0.5f));
  nn::Adam resumed_adam(with_extra(resumed, resumed_extra), 0.01);
  nn::load(scratch.folder / "run.ckpt", resumed, resumed_adam);
  BOOST_TEST(resumed_adam.steps() == 7u);
  for (std::size_t k = 0; k <= last; ++k)
    BOOST_TEST(resumed_adam.parameter_steps(k) == adam.parameter_steps(k), "parameter " << k);
}

// A file of version 1 (before per-parameter step counts; written by subgrad at 3d03c55 from
// make_model(11, 2), Adam(0.01) and train_epoch(..., 0)) loads with every parameter counting every
// step, which is what version 1's optimizers did, and training goes on as from the same run now.
BOOST_AUTO_TEST_CASE(a_version_1_checkpoint_loads) {
  const data::Dataset set = make_data();
  nn::Sequential straight = make_model(11, 2);
  nn::Adam straight_adam(straight.parameters(), 0.01);
  train_epoch(straight, straight_adam, set, 0);

  nn::Sequential loaded = make_model(3, 2);
  nn::Adam loaded_adam(loaded.parameters(), 0.5);
  nn::load(SUBGRAD_CHECKPOINT_VERSION_1, loaded, loaded_adam);
  BOOST_TEST(loaded_adam.steps() == 7u);
  BOOST_TEST(loaded_adam.learning_rate() == 0.01);
  for (std::size_t k = 0; k < loaded_adam.parameters().size(); ++k)
    BOOST_TEST(loaded_adam.parameter_steps(k) == 7u);
  BOOST_TEST(bitwise_equal(state_of(loaded), state_of(straight)));
  train_epoch(straight, straight_adam, set, 1);
  train_epoch(loaded, loaded_adam, set, 1);
  BOOST_TEST(bitwise_equal(state_of(loaded), state_of(straight)));
}

BOOST_AUTO_TEST_CASE(a_model_alone_loads_from_a_file_with_or_without_an_optimizer) {
  Scratch scratch;
  nn::Sequential model = make_model(1);
  nn::SGD sgd(model.parameters(), 0.1);
  nn::save(scratch.folder / "with.ckpt", model, sgd);
  nn::save(scratch.folder / "without.ckpt", model);
  for (const char* name : {"with.ckpt", "without.ckpt"}) {
    nn::Sequential other = make_model(2);
    nn::load(scratch.folder / name, other);
    BOOST_TEST(bitwise_equal(state_of(other), state_of(model)));
  }
  nn::Sequential other = make_model(2);
  nn::SGD other_sgd(other.parameters(), 0.1);
  BOOST_CHECK_EXCEPTION(nn::load(scratch.folder / "without.ckpt", other, other_sgd), subgrad::Error,
                        says("was saved with optimizer none; this one is SGD"));
}

BOOST_AUTO_TEST_CASE(bad_checkpoints_are_errors_and_leave_the_model_unchanged) {
  Scratch scratch;
  const auto good_path = scratch.folder / "good.ckpt";
  nn::Sequential saved = make_model(1);
  nn::Adam adam(saved.parameters(), 0.01);
  train_epoch(saved, adam, make_data(), 0);  // 7 steps
  nn::save(good_path, saved, adam);
  const std::string good = read(good_path);

  nn::Sequential model = make_model(7);
  nn::Adam model_adam(model.parameters(), 0.02);
  const std::vector<float> before = state_of(model);
  auto refused = [&](const std::filesystem::path& path, const std::string& text) {
    BOOST_CHECK_EXCEPTION(nn::load(path, model, model_adam), subgrad::Error,
                          says(path.string() + ": " + text));
    BOOST_TEST(bitwise_equal(state_of(model), before), "model changed by " << path);
    BOOST_TEST(model_adam.learning_rate() == 0.02);
  };
  refused(scratch.folder / "absent.ckpt", "no such file");
  write(scratch.folder / "other.ckpt", "not a checkpoint at all");
  refused(scratch.folder / "other.ckpt", "is not a subgrad checkpoint");
  write(scratch.folder / "cut.ckpt", good.substr(0, good.size() - 9));
  refused(scratch.folder / "cut.ckpt", "is corrupted or truncated");
  write(scratch.folder / "tiny.ckpt", good.substr(0, 10));
  refused(scratch.folder / "tiny.ckpt", "");
  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 1);
  write(scratch.folder / "flipped.ckpt", flipped);
  refused(scratch.folder / "flipped.ckpt", "is corrupted or truncated");
  std::string future = good;
  future[8] = 3;  // the version field
  write(scratch.folder / "future.ckpt", future);
  refused(scratch.folder / "future.ckpt",
          "is a version 3 checkpoint; this subgrad reads versions 1 to 2");

  // A parameter's step count is checked against the optimizer's (a file altered, the checksum
  // made right again), and every parameter of the optimizer needs one.
  const std::size_t count_name = good.find("0.weight");  // the step counts come before tensors
  BOOST_TEST_REQUIRE(count_name < good.find("parameter 0.weight"));
  std::string more_steps = good;
  more_steps[count_name + 8] = static_cast<char>(more_steps[count_name + 8] + 1);
  write(scratch.folder / "more_steps.ckpt", with_checksum(more_steps));
  refused(scratch.folder / "more_steps.ckpt",
          "says parameter 0.weight was updated in 8 steps of 7");
  std::string renamed = good;
  renamed[count_name + 7] = 'x';
  write(scratch.folder / "renamed.ckpt", with_checksum(renamed));
  refused(scratch.folder / "renamed.ckpt", "has no step count of parameter 0.weight");

  nn::Sequential wider = make_model(1, 9);
  nn::Adam wider_adam(wider.parameters(), 0.01);
  nn::save(scratch.folder / "wider.ckpt", wider, wider_adam);
  refused(scratch.folder / "wider.ckpt", "parameter 0.weight is 9 x 6 in the file, 8 x 6 here");

  nn::SGD sgd(saved.parameters(), 0.1);
  nn::save(scratch.folder / "sgd.ckpt", saved, sgd);
  refused(scratch.folder / "sgd.ckpt", "was saved with optimizer SGD; this one is Adam");

  nn::manual_seed(1);
  nn::BasicSequential<double> doubles{nn::BasicLinear<double>(6, 8)};
  nn::save(scratch.folder / "double.ckpt", doubles);
  BOOST_CHECK_EXCEPTION(nn::load(scratch.folder / "double.ckpt", model), subgrad::Error,
                        says("holds double elements; the model's are float"));
  BOOST_TEST(bitwise_equal(state_of(model), before));
}
