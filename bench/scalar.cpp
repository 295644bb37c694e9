// bench_scalar: time of one full gradient (record + sweep + read out) against the plain double
// function, for subgrad and ADOL-C, in the same run. Each case is written once, as a template
// over the scalar type. Prints a table; --json PATH also writes the figures.
#include <subgrad/io/file.hpp>
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
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

// Median wall time of `run` in nanoseconds: at least `min_runs` runs and about `budget` seconds.
double median_ns(const std::function<void()>& run, int min_runs = 7, double budget = 0.5) {
  using clock = std::chrono::steady_clock;
  std::vector<double> times;
  const auto start = clock::now();
  run();  // warm-up: caches, tape memory
  while (static_cast<int>(times.size()) < min_runs ||
         (std::chrono::duration<double>(clock::now() - start).count() < budget &&
          times.size() < 1001)) {
    const auto t0 = clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2),
                   times.end());
  return times[times.size() / 2];
}

volatile double sink = 0.0;  // keeps the plain function from being optimised away

struct Row {
  std::string name;
  double plain_ns = 0, tape_ns = 0, functional_ns = 0;
  std::optional<double> adolc_ns, hand_ns;
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
  row.plain_ns = median_ns([&] { sink = sink + function.template operator()<double>(point); });

  // The tape API: a reused Tape, the inputs and the gradient moved in one call each.
  subgrad::Tape tape;
  std::vector<double> gradient(point.size());
  std::vector<Var> x(point.size());
  auto tape_gradient = [&] {
    tape.clear();
    subgrad::variables(point, x);
    const Var y = function.template operator()<Var>(std::span<const Var>(x));
    subgrad::backward(y);
    subgrad::adjoints(x, gradient);
  };
  row.tape_ns = median_ns(tape_gradient);
  tape_gradient();
  row.statements = tape.statement_count();
  row.operands = tape.operand_count();
  row.bytes_per_operand =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.operands);
  row.bytes_per_statement =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.statements);

  // The functional API: one call, on the thread's scratch tape.
  std::vector<double> functional;
  auto functional_gradient = [&] {
    functional = subgrad::gradient(
        [&](std::span<const Var> v) { return function.template operator()<Var>(v); }, point);
  };
  row.functional_ns = median_ns(functional_gradient);
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
  if (by_hand != nullptr) {
    std::vector<double> hand(point.size());
    row.hand_ns = median_ns([&] { sink = sink + by_hand(point, hand); });
    compare(hand);
  }

#ifdef SUBGRAD_BENCH_ADOLC
  std::vector<double> adolc_gradient(point.size());
  const short tag = 1;
  const unsigned buffer = 1u << 23;  // keep the whole tape in memory, as subgrad does
  auto adolc = [&] {
    trace_on(tag, 1, buffer, buffer, buffer, buffer);
    std::vector<adouble> ax(point.size());
    for (std::size_t i = 0; i < point.size(); ++i) ax[i] <<= point[i];
    adouble ay = function.template operator()<adouble>(std::span<const adouble>(ax));
    double y = 0.0;
    ay >>= y;
    trace_off();
    double seed = 1.0;
    fos_reverse(tag, 1, static_cast<int>(point.size()), &seed, adolc_gradient.data());
  };
  row.adolc_ns = median_ns(adolc);
  adolc();
  compare(adolc_gradient);
#endif
  return row;
}

std::string optional_figure(const std::optional<double>& ns, double scale = 1.0,
                            std::string_view none = "null") {
  return ns ? fmt::format("{:.1f}", *ns / scale) : std::string(none);
}

void write_json_atomically(const std::filesystem::path& path, const std::vector<Row>& rows) {
  std::string text = fmt::format("{{\"flags\": \"{}\", \"cases\": [", SUBGRAD_BENCH_FLAGS);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    text += fmt::format(
        "{}\n  {{\"name\": \"{}\", \"plain_ns\": {:.1f}, \"tape_ns\": {:.1f}, "
        "\"functional_ns\": {:.1f}, \"adolc_ns\": {}, \"hand_ns\": {}, "
        "\"bytes_per_operand\": {:.3f}, \"bytes_per_statement\": {:.3f}}}",
        i == 0 ? "" : ",", r.name, r.plain_ns, r.tape_ns, r.functional_ns,
        optional_figure(r.adolc_ns), optional_figure(r.hand_ns), r.bytes_per_operand,
        r.bytes_per_statement);
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
          r.name, r.plain_ns / 1e3, r.tape_ns / 1e3, r.functional_ns / 1e3,
          optional_figure(r.adolc_ns, 1e3, "n/a"), optional_figure(r.hand_ns, 1e3, "n/a"),
          r.tape_ns / r.plain_ns, r.functional_ns / r.plain_ns,
          optional_figure(r.adolc_ns, r.plain_ns, "n/a"),
          optional_figure(r.hand_ns, r.plain_ns, "n/a"), r.operands, r.bytes_per_operand,
          r.max_difference ? fmt::format("{:.1e}", *r.max_difference) : std::string("n/a"));
    }
    fmt::print(
        "(medians; right of the bar: gradient time / plain time. tape: a reused subgrad::Tape with "
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
