// A worker of bench_check_costs: times the tape-API gradient of each bench_scalar case, as this
// binary was built (with or without the operand check, with or without FiniteCheck), and prints
// one line per case: name, median and 10th percentile in nanoseconds.
// Usage: bench_check_costs_worker RUNS
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "scalar_cases.hpp"

namespace {

template <class Function>
void time_gradient(const char* name, Function function, const std::vector<double>& point,
                   int runs) {
  subgrad::Tape tape;
  std::vector<double> gradient(point.size());
  std::vector<Var> x(point.size());
  auto tape_gradient = [&] {  // as bench_scalar's tape API
    tape.clear();
    subgrad::variables(point, x);
    const Var y = function.template operator()<Var>(std::span<const Var>(x));
    subgrad::backward(y);
    subgrad::adjoints(x, gradient);
  };
  tape_gradient();  // warm-up: caches, tape memory
  std::vector<double> times;
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    tape_gradient();
    times.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  std::printf("%s %.1f %.1f\n", name, times[times.size() / 2], times[times.size() / 10]);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 0;
  if (runs < 10) {
    std::fprintf(stderr, "usage: bench_check_costs_worker RUNS (at least 10)\n");
    return 2;
  }
  try {
    // mlp's gradient takes about a quarter of the others': four times the runs.
    time_gradient("mlp", Mlp{}, mlp_point(), 4 * runs);
    time_gradient("rosenbrock", Rosenbrock{}, rosenbrock_point(), runs);
    time_gradient("softplus_max", SoftplusMax{}, softplus_max_point(), runs);
    time_gradient("advection_lw", AdvectionLaxWendroff{}, advection_point(), runs);
    time_gradient("advection_toon", AdvectionToon{}, advection_point(), runs);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_check_costs_worker: %s\n", error.what());
    return 1;
  }
  return 0;
}
