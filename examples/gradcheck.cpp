// gradcheck: verifying gradients at kinks.
//  1. A plain central difference at relu(0) sees 1/2, against AD's 0: the usual checkers fail
//     there although nothing is wrong. subgrad's checker recognises the kink and passes.
//  2. A small relu network, checked coordinate by coordinate and along random directions, with
//     some hidden units exactly at their kink.
//  3. relu(x) - relu(-x) at 0: AD gives 0, the function is the identity; the checker catches it.
#include <subgrad/subgrad.hpp>

#include <cmath>
#include <span>
#include <vector>

#include <fmt/format.h>

using subgrad::Var;

int main() {
  // 1.
  const double h = 1e-6;
  Var zero = 0.0;
  fmt::print(
      "1. relu at 0: plain central difference (relu(h) - relu(-h)) / 2h = {}, reverse mode = {}\n",
      (subgrad::relu(h) - subgrad::relu(-h)) / (2 * h), subgrad::grad(relu(zero), zero));
  auto relu_alone = [](std::span<const Var> x) { return Var(relu(x[0])); };
  fmt::print("{}\n", subgrad::check_gradient(relu_alone, std::vector<double>{0.0}));

  // 2. A 2-3-1 relu network whose second hidden unit is exactly at its kink for this input.
  auto network = [](auto p) {
    // p: w1 (3x2), b1 (3), w2 (3), b2; the input is (1, 2)
    using Scalar = std::remove_cvref_t<decltype(p[0])>;  // Var, or Dual<double> for forward mode
    const double input[2] = {1.0, 2.0};
    Scalar out = p[12];
    for (int i = 0; i < 3; ++i) {
      const Scalar z = p[2 * i] * input[0] + p[2 * i + 1] * input[1] + p[6 + i];
      out = out + p[9 + i] * relu(z);
    }
    return out;
  };
  const std::vector<double> one_at_kink{0.5,  -0.25, 1.0, 0.5,  -0.3, 0.4, 0.3,
                                        -2.0, -1.0,  0.7, -1.1, 0.9,  0.1};
  subgrad::CheckOptions options;
  options.directions = 3;
  options.forward = true;
  const subgrad::GradientReport report = subgrad::check_gradient(network, one_at_kink, options);
  fmt::print(
      "2. a relu network, one hidden unit at its kink (coordinates, random directions, forward "
      "mode):\n{}\n",
      report);

  // 2b. All three units at their kinks at once: each coordinate still crosses one kink and
  // passes, but along a random direction the network is a sum of relus with weights of both
  // signs, neither convex nor concave; reverse mode (relu'(0) = 0 in each unit) may then lie
  // outside the one-sided interval of the composite. That is AD's documented behaviour on
  // composites (an element of a conservative field, not of the Clarke set), not a bug.
  std::vector<double> all_at_kink = one_at_kink;
  all_at_kink[6] = 0.0;
  all_at_kink[8] = -0.5;
  const subgrad::GradientReport composite = subgrad::check_gradient(network, all_at_kink, options);
  fmt::print(
      "2b. all three units at their kinks (directional failures here are the composite "
      "caveat):\n{}\n",
      composite);

  // 3.
  auto identity_in_disguise = [](std::span<const Var> x) { return relu(x[0]) - relu(-x[0]); };
  const subgrad::GradientReport caught =
      subgrad::check_gradient(identity_in_disguise, std::vector<double>{0.0});
  fmt::print("3. relu(x) - relu(-x) at 0 (AD 0, true slope 1):\n{}\n", caught);
  return report.ok() && !caught.ok() ? 0 : 1;
}
