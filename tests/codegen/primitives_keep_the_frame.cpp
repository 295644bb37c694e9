// Compiled to assembly with -O3 -mavx2 -mfma by the test `primitives_keep_the_frame_pointer_free`
// (tests/codegen/check_no_stack_realignment.cmake): a recording loop through unary and binary
// primitives must not make g++ realign the stack, which costs the loop a register (the frame
// pointer) whether or not a FiniteCheck is on. A 256-bit store in a primitive's FiniteCheck
// path did that once (core/finite_check.hpp, note_non_finite_primitive).
#include <cstddef>
#include <span>

#include <subgrad/subgrad.hpp>

subgrad::Var record_primitives(std::span<const subgrad::Var> x) {
  subgrad::Var sum = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    sum += subgrad::softplus(x[i]) * subgrad::max(x[i + 1], 0.0) + subgrad::relu(x[i]) +
           subgrad::pow(x[i], x[i + 1]);
  }
  return sum;
}
