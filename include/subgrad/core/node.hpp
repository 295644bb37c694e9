#pragma once
/// \file
/// record_node: an external computation (a solver, a library call) whose vector-Jacobian
/// product the user supplies, recorded on the tape between ordinary statements.

#include <concepts>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"

namespace subgrad {

/// What a node's backward function sees: the adjoints of its outputs (to read) and of its
/// inputs (to add to).
class NodeAdjoints {
 public:
  NodeAdjoints(std::span<double> adjoints, std::span<const Index> inputs, Index first_output,
               std::size_t output_count)
      : adjoints_(adjoints),
        inputs_(inputs),
        first_output_(first_output),
        output_count_(output_count) {}

  std::size_t input_count() const noexcept { return inputs_.size(); }
  std::size_t output_count() const noexcept { return output_count_; }
  /// The adjoint of output j (0 when the output cannot reach what is being differentiated).
  double output(std::size_t j) const {
    const std::size_t index = first_output_ + j;
    return index < adjoints_.size() ? adjoints_[index] : 0.0;
  }
  /// The adjoint of input i; add the input's share to it.
  double& input(std::size_t i) { return adjoints_[inputs_[i]]; }

 private:
  std::span<double> adjoints_;
  std::span<const Index> inputs_;
  Index first_output_;
  std::size_t output_count_;
};

/// Records outputs = F(inputs) as one node: the outputs get the given values, and the sweep
/// calls `backward(NodeAdjoints&)`, which must add (dF/dinput)^T * output adjoints to the
/// inputs' adjoints.
template <class Backward>
requires std::invocable<Backward&, NodeAdjoints&> std::vector<Var> record_node(
    std::span<const Var> inputs, std::span<const double> output_values, Backward backward) {
  Tape& tape = Tape::active();
  std::vector<Index> input_indices;
  input_indices.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    detail::check_operand_tape(tape, inputs[i], "subgrad::record_node", [&] {
      return detail::message("input {} (value {})", {i, inputs[i].value()});
    });
    input_indices.push_back(inputs[i].index());  // a Var on no tape has index 0: the sink
  }
  std::vector<Var> outputs;
  outputs.reserve(output_values.size());
  for (const double value : output_values) outputs.emplace_back(value);
  const Index first_output = outputs.empty() ? 0 : outputs.front().index();
  const std::size_t output_count = outputs.size();
  tape.record_node([input_indices = std::move(input_indices), first_output, output_count,
                    backward = std::move(backward)](std::span<double> adjoints) mutable {
    NodeAdjoints node_adjoints(adjoints, input_indices, first_output, output_count);
    backward(node_adjoints);
  });
  return outputs;
}

}  // namespace subgrad
