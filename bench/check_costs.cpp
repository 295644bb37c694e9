// bench_check_costs: what the operand check and FiniteCheck (when off) cost on bench_scalar's
// cases, in one run. The cases are built three times: as shipped, without the operand check
// (SUBGRAD_CHECK_OPERAND_TAPES=0) and with FiniteCheck compiled out (SUBGRAD_FINITE_CHECK=0); each
// of the three is linked four times with 0, 16, 32 and 48 bytes of padding in front of its code,
// because where the hot loops fall relative to 64-byte lines moves a gradient's time by several
// per cent, as much as the checks cost. Rounds run all twelve workers in turn. A variant's time in
// one layout is the least over rounds of its 10th percentile (what the code costs while no other
// process takes the core; the medians of a shared machine move by tens of per cent); a check's
// cost is the geometric mean over the four layouts of as-shipped / without-it.
// Usage: bench_check_costs [ROUNDS]   (default 6; each round takes about 35 s)
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

constexpr std::array<const char*, 3> variants = {"as_shipped", "without_operand_check",
                                                 "without_finite_check"};
constexpr int layouts = 4;
constexpr std::array<const char*, 5> cases = {"mlp", "rosenbrock", "softplus_max", "advection_lw",
                                              "advection_toon"};

// Worker path: SUBGRAD_BENCH_WORKER_DIR/bench_check_costs_<variant>_<layout>.
std::string worker(const char* variant, int layout) {
  return fmt::format("{}/bench_check_costs_{}_{}", SUBGRAD_BENCH_WORKER_DIR, variant, layout);
}

// Runs one worker; adds each case's 10th percentile to `best` (keeping the least).
void run_worker(const char* variant, int layout, std::map<std::string, double>& best) {
  const std::string command = worker(variant, layout) + " 100";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  char name[64];
  double median = 0, p10 = 0;
  int lines = 0;
  while (std::fscanf(pipe, "%63s %lf %lf", name, &median, &p10) == 3) {
    auto [it, inserted] = best.try_emplace(name, p10);
    if (!inserted) it->second = std::min(it->second, p10);
    ++lines;
  }
  if (::pclose(pipe) != 0 || lines != static_cast<int>(cases.size())) {
    throw std::runtime_error(command + " failed");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 6;
  if (rounds < 1) {
    fmt::print(stderr, "usage: bench_check_costs [ROUNDS]\n");
    return 2;
  }
  try {
    // best[variant][layout][case]
    std::array<std::array<std::map<std::string, double>, layouts>, variants.size()> best;
    for (int round = 0; round < rounds; ++round) {
      for (int layout = 0; layout < layouts; ++layout) {
        for (std::size_t v = 0; v < variants.size(); ++v) {
          run_worker(variants[v], layout, best[v][layout]);
        }
      }
    }
    fmt::print("bench_check_costs, built with: {}; {} rounds x 4 layouts\n", SUBGRAD_BENCH_FLAGS,
               rounds);
    fmt::print("{:<15} {:>11} | {:>14} {:>26} | {:>14} {:>26}\n", "case", "shipped us",
               "operand check", "(by layout)", "FiniteCheck", "(by layout)");
    for (const char* name : cases) {
      auto cost = [&](std::size_t without) {
        double log_sum = 0;
        std::string by_layout;
        for (int layout = 0; layout < layouts; ++layout) {
          const double ratio = best[0][layout].at(name) / best[without][layout].at(name);
          log_sum += std::log(ratio);
          by_layout += fmt::format(" {:+5.1f}", 100 * (ratio - 1));
        }
        return std::pair{100 * (std::exp(log_sum / layouts) - 1), by_layout};
      };
      double shipped = std::numeric_limits<double>::infinity();
      for (const auto& layout : best[0]) shipped = std::min(shipped, layout.at(name));
      const auto [operand, operand_layouts] = cost(1);
      const auto [finite, finite_layouts] = cost(2);
      fmt::print("{:<15} {:>11.1f} | {:>+13.1f}% {:>26} | {:>+13.1f}% {:>26}\n", name,
                 shipped / 1e3, operand, operand_layouts, finite, finite_layouts);
    }
    fmt::print(
        "(tape-API gradient; a check's cost: time as shipped / time without it - 1, geometric "
        "mean over the layouts; per layout: least 10th percentile over the rounds)\n");
  } catch (const std::exception& error) {
    fmt::print(stderr, "bench_check_costs: {}\n", error.what());
    return 1;
  }
  return 0;
}
