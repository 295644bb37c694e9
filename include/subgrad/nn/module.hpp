#pragma once
/// \file
/// Module<T>: what every layer is (callable on a batch, one sample per row; parameters() by name;
/// train() and eval()), and Sequential, a chain of modules.

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "subgrad/nn/parameter.hpp"
#include "subgrad/tensor/tensor.hpp"
#include "subgrad/tensor/tensor_var.hpp"

namespace subgrad::nn {

template <class T>
class BasicModule;

/// What an activation layer counts over the batches it sees in training (nn::ActivationStats).
struct ActivationCounts {
  std::size_t elements = 0;          // outputs seen
  std::size_t zeros = 0;             // outputs exactly 0
  std::size_t at_kink = 0;           // pre-activations exactly at a kink (one-sided slopes differ)
  std::vector<std::uint8_t> active;  // per unit (column): 1 if some sample had a nonzero derivative
};

/// What Module::visit reports: each parameter and buffer with its full name, and each module.
template <class T>
struct ModuleVisitor {
  std::function<void(const std::string& name, BasicParameter<T>&)> parameter = nullptr;
  std::function<void(const std::string& name, Tensor<T>&)> buffer = nullptr;
  std::function<void(const std::string& name, BasicModule<T>&)> module = nullptr;
};

/// A layer or a network of layers over batches of T (one sample per row).
template <class T = float>
class BasicModule {
 public:
  using value_type = T;
  virtual ~BasicModule() = default;

  /// The output for a batch on the active tape.
  virtual TensorVar<T> forward(const TensorVar<T>& input) = 0;
  TensorVar<T> operator()(const TensorVar<T>& input) { return forward(input); }
  /// A batch of data: a constant on the tape (no gradient is computed for it).
  TensorVar<T> operator()(const Tensor<T>& input) { return forward(constant_tensor(input)); }

  /// What it is, for printing: "Linear(784, 256)".
  virtual std::string describe() const = 0;
  /// A deep copy (fresh parameters with the same values).
  virtual std::unique_ptr<BasicModule> clone() const = 0;

  /// Reports this module, its parameters and buffers, then its children's, names prefixed.
  virtual void visit(const std::string& prefix, ModuleVisitor<T>& visitor) {
    if (visitor.module) visitor.module(prefix, *this);
  }

  /// The learnable parameters, in a stable order, named as in PyTorch ("0.weight", "2.bias").
  std::vector<NamedParameter<T>> parameters() {
    std::vector<NamedParameter<T>> out;
    ModuleVisitor<T> visitor;
    visitor.parameter = [&out](const std::string& name, BasicParameter<T>& p) {
      out.push_back({name, &p});
    };
    visit("", visitor);
    return out;
  }
  /// The buffers (running statistics), named likewise.
  std::vector<NamedBuffer<T>> buffers() {
    std::vector<NamedBuffer<T>> out;
    ModuleVisitor<T> visitor;
    visitor.buffer = [&out](const std::string& name, Tensor<T>& b) { out.push_back({name, &b}); };
    visit("", visitor);
    return out;
  }

  /// Training mode (dropout drops, batch norm uses batch statistics, rrelu draws slopes) for this
  /// module and all it contains.
  void train(bool training = true) {
    ModuleVisitor<T> visitor;
    visitor.module = [training](const std::string&, BasicModule<T>& m) { m.training_ = training; };
    visit("", visitor);
  }
  /// An activation layer starts counting into `counts` in training mode and returns true; other
  /// modules return false (nn::ActivationStats).
  virtual bool count_activations(std::shared_ptr<ActivationCounts> counts) {
    (void)counts;
    return false;
  }

  /// Evaluation mode: deterministic.
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }

  /// Gives the random generators of this module and all it contains (Dropout's masks, RReLU's
  /// slopes) new streams, seeded from `generator` in visiting order. nn::DataParallel does it for
  /// each replica, whose generators would otherwise repeat the model's masks on its own rows.
  void reseed(std::mt19937_64& generator) {
    ModuleVisitor<T> visitor;
    visitor.module = [&generator](const std::string&, BasicModule<T>& m) {
      m.reseed_own(generator());
    };
    visit("", visitor);
  }

 protected:
  /// A module with a random generator of its own seeds it anew (see reseed()).
  virtual void reseed_own(std::uint64_t seed) { (void)seed; }
  BasicModule() = default;
  BasicModule(const BasicModule&) = default;
  BasicModule& operator=(const BasicModule&) = default;
  /// The name of a child or parameter under `prefix`.
  static std::string join(const std::string& prefix, std::string_view name) {
    return prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
  }

 private:
  bool training_ = true;
};

/// Modules applied in order; children are named by position ("0", "1", ...).
template <class T = float>
class BasicSequential final : public BasicModule<T> {
 public:
  BasicSequential() = default;
  /// Sequential{Linear(784, 256), Activation(relu), Linear(256, 10)}
  template <class First, class... Rest>
  requires(std::is_base_of_v<BasicModule<T>, std::remove_cvref_t<First>> &&
           (std::is_base_of_v<BasicModule<T>, std::remove_cvref_t<Rest>> &&
            ...)) explicit BasicSequential(First&& first, Rest&&... rest) {
    push_back(std::forward<First>(first));
    (push_back(std::forward<Rest>(rest)), ...);
  }
  BasicSequential(const BasicSequential& other) : BasicModule<T>(other) {
    for (const auto& m : other.modules_) modules_.push_back(m->clone());
  }
  BasicSequential& operator=(const BasicSequential& other) {
    BasicSequential copy(other);
    std::swap(modules_, copy.modules_);
    BasicModule<T>::operator=(other);
    return *this;
  }
  BasicSequential(BasicSequential&&) noexcept = default;
  BasicSequential& operator=(BasicSequential&&) noexcept = default;

  /// Appends a module (copied or moved in).
  template <class M>
  requires std::is_base_of_v<BasicModule<T>, std::remove_cvref_t<M>>
  void push_back(M&& module) {
    modules_.push_back(std::make_unique<std::remove_cvref_t<M>>(std::forward<M>(module)));
  }
  std::size_t size() const noexcept { return modules_.size(); }
  BasicModule<T>& operator[](std::size_t k) { return *modules_.at(k); }

  TensorVar<T> forward(const TensorVar<T>& input) override {
    TensorVar<T> x = input;
    for (auto& m : modules_) x = m->forward(x);
    return x;
  }
  std::string describe() const override {
    std::string text = "Sequential(";
    for (std::size_t k = 0; k < modules_.size(); ++k) {
      text += fmt::format("{}{}", k == 0 ? "" : ", ", modules_[k]->describe());
    }
    return text + ")";
  }
  std::unique_ptr<BasicModule<T>> clone() const override {
    return std::make_unique<BasicSequential>(*this);
  }
  void visit(const std::string& prefix, ModuleVisitor<T>& visitor) override {
    BasicModule<T>::visit(prefix, visitor);
    for (std::size_t k = 0; k < modules_.size(); ++k) {
      modules_[k]->visit(this->join(prefix, std::to_string(k)), visitor);
    }
  }

 private:
  std::vector<std::unique_ptr<BasicModule<T>>> modules_;
};

/// Models of float (as PyTorch's default); BasicModule<double> etc. for double.
using Module = BasicModule<float>;
using Sequential = BasicSequential<float>;

}  // namespace subgrad::nn
