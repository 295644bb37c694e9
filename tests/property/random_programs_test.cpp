// Randomized differential testing: for thousands of random programs, reverse mode equals forward
// mode at every point (exact kinks and ties included), and away from kinks the gradient checker
// passes. A failure prints the program's seed; SUBGRAD_PROPERTY_SEED=N runs that program alone,
// SUBGRAD_PROPERTY_COUNT=N changes how many programs run.
#include <chrono>
#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "property/program.hpp"

using subgrad::Dual;
using subgrad::Var;

namespace {

struct Outcome {
  bool usable = false;     // finite and of moderate size at the first point
  int points_checked = 0;  // points where reverse was compared with forward
  int checker_runs = 0;
};

Outcome run_one(std::uint64_t seed, bool verbose) {
  const property::Program program = property::generate(seed);
  std::mt19937_64 g(seed ^ 0xa5a5a5a5ULL);
  Outcome outcome;
  for (int point_index = 0; point_index < 3; ++point_index) {
    const std::vector<double> x = property::random_point(program, g);
    property::Closeness closeness;
    const double value =
        property::evaluate<double>(program, std::span<const double>(x), &closeness);
    if (!std::isfinite(value) || std::abs(value) > 1e8) continue;
    outcome.usable = true;

    // Reverse mode: one sweep.
    subgrad::Tape tape;
    std::vector<Var> inputs(x.begin(), x.end());
    const Var y = property::evaluate<Var>(program, std::span<const Var>(inputs));
    subgrad::backward(y);
    std::vector<double> reverse;
    for (const Var& input : inputs) reverse.push_back(input.adjoint());
    BOOST_REQUIRE_MESSAGE(y.value() == value,
                          "seed " << seed << ": Var value " << y.value() << " != " << value);

    // Forward mode: one pass per coordinate.
    bool large = false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::vector<Dual<double>> duals;
      for (std::size_t j = 0; j < x.size(); ++j) duals.emplace_back(x[j], i == j ? 1.0 : 0.0);
      const Dual<double> forward =
          property::evaluate<Dual<double>>(program, std::span<const Dual<double>>(duals));
      const double r = reverse[i], f = forward.tangent();
      const bool same = (std::isnan(r) && std::isnan(f)) || r == f ||
                        std::abs(r - f) <= 1e-12 * std::max({1.0, std::abs(r), std::abs(f)});
      BOOST_REQUIRE_MESSAGE(same, "seed " << seed << " (SUBGRAD_PROPERTY_SEED=" << seed << "): d/dx"
                                          << i << " reverse " << fmt::format("{:.17g}", r)
                                          << " forward " << fmt::format("{:.17g}", f) << " at x = ["
                                          << fmt::format("{}", fmt::join(x, ", ")) << "]\n"
                                          << property::describe(program));
      large |= !std::isfinite(r) || std::abs(r) > 1e4;
    }
    ++outcome.points_checked;

    // Away from kinks, jumps and ties the finite differences must agree too.
    if (closeness.nearest > 1e-2 && !large) {
      auto f = [&program](std::span<const Var> v) { return property::evaluate<Var>(program, v); };
      subgrad::CheckOptions options;
      options.rtol = 1e-5;  // composites of up to ~60 primitives: the error grows with depth
      const subgrad::GradientReport report = subgrad::check_gradient(f, x, options);
      BOOST_REQUIRE_MESSAGE(report.ok(), "seed " << seed << " (SUBGRAD_PROPERTY_SEED=" << seed
                                                 << "): gradient check failed away from kinks\n"
                                                 << fmt::format("{}", report)
                                                 << property::describe(program));
      ++outcome.checker_runs;
    }
    if (verbose) {
      BOOST_TEST_MESSAGE("point [" << fmt::format("{}", fmt::join(x, ", ")) << "] value " << value
                                   << " gradient [" << fmt::format("{}", fmt::join(reverse, ", "))
                                   << "] nearest kink " << closeness.nearest);
    }
  }
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reverse_equals_forward_on_random_programs) {
  if (const char* one = std::getenv("SUBGRAD_PROPERTY_SEED")) {
    const std::uint64_t seed = std::stoull(one);
    BOOST_TEST_MESSAGE("program " << seed << ":\n" << property::describe(property::generate(seed)));
    const Outcome outcome = run_one(seed, true);
    BOOST_TEST(outcome.usable);
    return;
  }
  const std::uint64_t base = 20261122;
  long count = 12000;
  if (const char* text = std::getenv("SUBGRAD_PROPERTY_COUNT")) count = std::stol(text);
  const auto start = std::chrono::steady_clock::now();
  long usable = 0, points = 0, checker_runs = 0;
  for (long i = 0; i < count; ++i) {
    const Outcome outcome = run_one(base + static_cast<std::uint64_t>(i), false);
    usable += outcome.usable;
    points += outcome.points_checked;
    checker_runs += outcome.checker_runs;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(count << " programs (" << usable << " usable), " << points << " points, "
                           << checker_runs << " gradient checks in " << seconds << " s");
  BOOST_TEST(usable >= count * 9 / 10);
  BOOST_TEST(points >= count * 2);
  BOOST_TEST(checker_runs >= count / 2);
}
