// bench_scalar: time of one full gradient (record + sweep + read out) against the plain double
// function, for subgrad and ADOL-C, in the same run. Each case is written once, as a template
// over the scalar type. Prints a table; --json PATH also writes the figures.
#include <subgrad/io/file.hpp>
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#ifdef SUBGRAD_BENCH_ADOLC
#include <adolc/adolc.h>
namespace {
adouble relu_of(const adouble& x) { return fmax(x, 0.0); }
adouble square_of(const adouble& x) { return x * x; }
adouble softplus_max_term(const adouble& a, const adouble& b) {
  return log(1.0 + exp(a)) * fmax(b, 0.0);
}
}  // namespace
#endif

#include "scalar_cases.hpp"

namespace {

// The floor: Lax-Wendroff's adjoint by hand. The scheme is linear, so the reverse sweep needs no
// stored state: each flux is A * q[i] + B * q[i + 1]. The forward pass runs too, for J.
double lax_wendroff_by_hand(const std::vector<double>& initial, std::vector<double>& gradient) {
  constexpr int n = advection_points;
  constexpr double A = 0.5 * courant * (1.0 + courant), B = 0.5 * courant * (1.0 - courant);
  double q[n], flux[n - 1];
  std::copy(initial.begin(), initial.end(), q);
  for (int step = 0; step < advection_steps; ++step) {
    for (int i = 0; i < n - 1; ++i) flux[i] = A * q[i] + B * q[i + 1];
    for (int i = 1; i < n - 1; ++i) q[i] += flux[i - 1] - flux[i];
    q[0] = q[n - 2];
    q[n - 1] = q[1];
  }
  double J = 0.0;
  for (int i = 0; i < n; ++i) J += 0.1 * q[i];

  double adjoint[n], flux_adjoint[n - 1];
  std::fill(adjoint, adjoint + n, 0.1);
  for (int step = 0; step < advection_steps; ++step) {
    adjoint[1] += adjoint[n - 1];
    adjoint[n - 1] = 0.0;
    adjoint[n - 2] += adjoint[0];
    adjoint[0] = 0.0;
    // Flux i adds to q[i + 1] and takes from q[i]; q[0] and q[n - 1] were overwritten by the
    // boundary, so their adjoints are 0 here and the end fluxes need no special case.
    for (int i = 0; i < n - 1; ++i) flux_adjoint[i] = adjoint[i + 1] - adjoint[i];
    for (int i = 0; i < n - 1; ++i) {
      adjoint[i] += A * flux_adjoint[i];
      adjoint[i + 1] += B * flux_adjoint[i];
    }
  }
  std::copy(adjoint, adjoint + n, gradient.begin());
  return J;
}

using Run = std::function<void()>;

double median(std::vector<double> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// Times the runs in rounds: each round times a block of each run in turn (a warm-up, then at
// least 10 ms of runs, the block's median), for at least 9 rounds and about 2.5 s. A ratio then
// pairs two blocks taken a few milliseconds apart: on a shared machine the speed drifts by tens
// of per cent over seconds, which made ratios of figures taken seconds apart unstable.
// Returns, for each run, its block medians in nanoseconds, one per round.
std::vector<std::vector<double>> time_in_rounds(const std::vector<Run>& runs) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
  };
  std::vector<std::vector<double>> block_medians(runs.size());
  const auto start = clock::now();
  for (int round = 0; round < 9 || (seconds_since(start) < 2.5 && round < 101); ++round) {
    for (std::size_t r = 0; r < runs.size(); ++r) {
      runs[r]();  // warm-up: caches, after the other runs
      std::vector<double> times;
      const auto block_start = clock::now();
      while (times.empty() || seconds_since(block_start) < 0.01) {
        const auto t0 = clock::now();
        runs[r]();
        times.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
      }
      block_medians[r].push_back(median(std::move(times)));
    }
  }
  return block_medians;
}

// The median over rounds of `times` / `base`, round by round.
double median_ratio(const std::vector<double>& times, const std::vector<double>& base) {
  std::vector<double> ratios(times.size());
  for (std::size_t k = 0; k < times.size(); ++k) ratios[k] = times[k] / base[k];
  return median(std::move(ratios));
}

volatile double sink = 0.0;  // keeps the plain function from being optimised away

// A contender's median time and the median of its per-round ratios to the plain function's.
struct Timing {
  double ns = 0, ratio = 0;
};

struct Row {
  std::string name;
  Timing plain, tape, functional;
  std::optional<Timing> adolc, hand;
  double bytes_per_operand = 0, bytes_per_statement = 0;
  std::size_t statements = 0, operands = 0;
  std::optional<double> max_difference;  // from ADOL-C's gradient and the hand-written one
};

using HandGradient = double (*)(const std::vector<double>&, std::vector<double>&);

template <class Function>
Row measure(std::string name, Function function, const std::vector<double>& point,
            HandGradient by_hand = nullptr) {
  Row row;
  row.name = std::move(name);
  std::vector<Run> runs;
  runs.emplace_back([&] { sink = sink + function.template operator()<double>(point); });

  // The tape API: a reused Tape, the inputs and the gradient moved in one call each.
  subgrad::Tape tape;
  std::vector<double> gradient(point.size());
  std::vector<Var> x(point.size());
  runs.emplace_back([&] {
    tape.clear();
    subgrad::variables(point, x);
    const Var y = function.template operator()<Var>(std::span<const Var>(x));
    subgrad::backward(y);
    subgrad::adjoints(x, gradient);
  });

  // The functional API: one call, on the thread's scratch tape.
  std::vector<double> functional;
  runs.emplace_back([&] {
    functional = subgrad::gradient(
        [&](std::span<const Var> v) { return function.template operator()<Var>(v); }, point);
  });

  std::vector<double> hand(point.size());
  if (by_hand != nullptr) runs.emplace_back([&] { sink = sink + by_hand(point, hand); });

#ifdef SUBGRAD_BENCH_ADOLC
  std::vector<double> adolc_gradient(point.size());
  const short tag = 1;
  const unsigned buffer = 1u << 23;  // keep the whole tape in memory, as subgrad does
  runs.emplace_back([&] {
    trace_on(tag, 1, buffer, buffer, buffer, buffer);
    std::vector<adouble> ax(point.size());
    for (std::size_t i = 0; i < point.size(); ++i) ax[i] <<= point[i];
    adouble ay = function.template operator()<adouble>(std::span<const adouble>(ax));
    double y = 0.0;
    ay >>= y;
    trace_off();
    double seed = 1.0;
    fos_reverse(tag, 1, static_cast<int>(point.size()), &seed, adolc_gradient.data());
  });
#endif

  const std::vector<std::vector<double>> times = time_in_rounds(runs);
  auto timing = [&](std::size_t r) {
    return Timing{median(times[r]), median_ratio(times[r], times[0])};
  };
  std::size_t next = 0;
  row.plain = timing(next++);
  row.tape = timing(next++);
  row.functional = timing(next++);
  if (by_hand != nullptr) row.hand = timing(next++);
#ifdef SUBGRAD_BENCH_ADOLC
  row.adolc = timing(next++);
#endif

  row.statements = tape.statement_count();
  row.operands = tape.operand_count();
  row.bytes_per_operand =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.operands);
  row.bytes_per_statement =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.statements);
  if (functional != gradient) {
    throw subgrad::Error(
        fmt::format("{}: subgrad::gradient(f, x) differs from the tape's", row.name));
  }
  double difference = 0.0;
  auto compare = [&](const std::vector<double>& other) {
    for (std::size_t i = 0; i < point.size(); ++i) {
      difference = std::max(difference, std::abs(gradient[i] - other[i]));
    }
    row.max_difference = difference;
  };
  if (by_hand != nullptr) compare(hand);
#ifdef SUBGRAD_BENCH_ADOLC
  compare(adolc_gradient);
#endif
  return row;
}

// A contender's time in `scale` ns (one decimal), or its ratio to the plain function (four
// significant digits), or `none` if it did not run.
std::string optional_figure(const std::optional<Timing>& timing, bool ratio, double scale = 1.0,
                            std::string_view none = "null") {
  if (!timing) return std::string(none);
  return ratio ? fmt::format("{:.4g}", timing->ratio) : fmt::format("{:.1f}", timing->ns / scale);
}

void write_json_atomically(const std::filesystem::path& path, const std::vector<Row>& rows) {
  std::string text = fmt::format("{{\"flags\": \"{}\", \"cases\": [", SUBGRAD_BENCH_FLAGS);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    text += fmt::format(
        "{}\n  {{\"name\": \"{}\", \"plain_ns\": {:.1f}, \"tape_ns\": {:.1f}, "
        "\"functional_ns\": {:.1f}, \"adolc_ns\": {}, \"hand_ns\": {}, "
        "\"tape_ratio\": {:.4f}, \"functional_ratio\": {:.4f}, \"adolc_ratio\": {}, "
        "\"hand_ratio\": {}, \"bytes_per_operand\": {:.3f}, \"bytes_per_statement\": {:.3f}}}",
        i == 0 ? "" : ",", r.name, r.plain.ns, r.tape.ns, r.functional.ns,
        optional_figure(r.adolc, false), optional_figure(r.hand, false), r.tape.ratio,
        r.functional.ratio, optional_figure(r.adolc, true), optional_figure(r.hand, true),
        r.bytes_per_operand, r.bytes_per_statement);
  }
  text += "\n]}\n";
  subgrad::write_file_atomically(path, text);  // readers see the old file or the whole new one
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::filesystem::path> json;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--json" && i + 1 < argc) {
      json = std::filesystem::absolute(argv[++i]);
    } else {
      fmt::print(stderr, "usage: bench_scalar [--json PATH]\n");
      return 2;
    }
  }
  try {
    std::vector<Row> rows;
    rows.push_back(measure("mlp", Mlp{}, mlp_point()));
    rows.push_back(measure("rosenbrock", Rosenbrock{}, rosenbrock_point()));
    rows.push_back(measure("softplus_max", SoftplusMax{}, softplus_max_point()));
    rows.push_back(
        measure("advection_lw", AdvectionLaxWendroff{}, advection_point(), lax_wendroff_by_hand));
    rows.push_back(measure("advection_toon", AdvectionToon{}, advection_point()));

    fmt::print("bench_scalar, built with: {}\n", SUBGRAD_BENCH_FLAGS);
    fmt::print(
        "{:<15} {:>9} {:>9} {:>9} {:>9} {:>8} | {:>6} {:>6} {:>6} {:>6} | {:>8} {:>6} {:>9}\n",
        "case", "plain us", "tape us", "grad() us", "ADOL-C us", "hand us", "tape", "grad()",
        "ADOL-C", "hand", "operands", "B/op", "max|diff|");
    for (const Row& r : rows) {
      fmt::print(
          // Three significant digits: a target such as Toon's 2.475 needs the second decimal.
          "{:<15} {:>9.1f} {:>9.1f} {:>9.1f} {:>9} {:>8} | {:>#6.3g} {:>#6.3g} {:>6} {:>6} | {:>8} "
          "{:>6.2f} {:>9}\n",
          r.name, r.plain.ns / 1e3, r.tape.ns / 1e3, r.functional.ns / 1e3,
          optional_figure(r.adolc, false, 1e3, "n/a"), optional_figure(r.hand, false, 1e3, "n/a"),
          r.tape.ratio, r.functional.ratio, optional_figure(r.adolc, true, 1.0, "n/a"),
          optional_figure(r.hand, true, 1.0, "n/a"), r.operands, r.bytes_per_operand,
          r.max_difference ? fmt::format("{:.1e}", *r.max_difference) : std::string("n/a"));
    }
    fmt::print(
        "(times: medians over rounds of each round's median; right of the bar: the median over "
        "rounds of gradient time / plain time in the same round. tape: a reused subgrad::Tape with "
        "variables()/adjoints(); grad(): subgrad::gradient(f, x); hand: a hand-written adjoint; "
        "ADOL-C: {})\n",
#ifdef SUBGRAD_BENCH_ADOLC
        "trace_on/trace_off, gradient by fos_reverse"
#else
        "not built (needs libadolc-dev and -DSUBGRAD_BENCH_ADOLC=ON)"
#endif
    );
    if (json) write_json_atomically(*json, rows);
  } catch (const std::exception& error) {
    fmt::print(stderr, "bench_scalar: {}\n", error.what());
    return 1;
  }
  return 0;
}
