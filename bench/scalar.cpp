// bench_scalar: time of one full gradient (record + sweep + read out) against the plain double
// function, for subgrad and ADOL-C, in the same run. Each case is written once, as a template
// over the scalar type. Prints a table; --json PATH also writes the figures.
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#ifdef SUBGRAD_BENCH_ADOLC
#include <adolc/adolc.h>
#endif

namespace {

using subgrad::Var;

// The few operations whose spelling differs between scalar types.
double relu_of(double x) { return x > 0.0 ? x : 0.0; }
double square_of(double x) { return x * x; }
double softplus_max_term(double a, double b) {
  return std::log(1.0 + std::exp(a)) * std::max(b, 0.0);
}
template <subgrad::Expression E>
auto relu_of(const E& x) {
  return subgrad::max(x, 0.0);
}
template <subgrad::Expression E>
auto square_of(const E& x) {
  return subgrad::square(x);
}
template <subgrad::Expression A, subgrad::Expression B>
auto softplus_max_term(const A& a, const B& b) {
  return log(1.0 + exp(a)) * subgrad::max(b, 0.0);
}
#ifdef SUBGRAD_BENCH_ADOLC
adouble relu_of(const adouble& x) { return fmax(x, 0.0); }
adouble square_of(const adouble& x) { return x * x; }
adouble softplus_max_term(const adouble& a, const adouble& b) {
  return log(1.0 + exp(a)) * fmax(b, 0.0);
}
#endif

// mlp: 16 -> 32 -> 32 -> 1, relu hidden layers, mean squared error over a batch of 32.
constexpr int batch = 32, inputs = 16, hidden = 32;
constexpr int mlp_parameters = hidden * inputs + hidden + hidden * hidden + hidden + hidden + 1;

struct MlpData {
  std::vector<double> x;  // batch x inputs
  std::vector<double> y;  // batch
  MlpData() {
    for (int s = 0; s < batch; ++s) {
      for (int j = 0; j < inputs; ++j) x.push_back(std::sin(0.37 * s + 0.11 * j));
      y.push_back(std::cos(0.5 * s));
    }
  }
};
const MlpData mlp_data;

template <class T>
T mlp(const std::vector<T>& p) {
  const T* w1 = p.data();
  const T* b1 = w1 + hidden * inputs;
  const T* w2 = b1 + hidden;
  const T* b2 = w2 + hidden * hidden;
  const T* w3 = b2 + hidden;
  const T* b3 = w3 + hidden;
  T loss = 0.0;
  std::vector<T> h1(hidden), h2(hidden);
  for (int s = 0; s < batch; ++s) {
    const double* x = &mlp_data.x[static_cast<std::size_t>(s) * inputs];
    for (int i = 0; i < hidden; ++i) {
      T z = b1[i];
      for (int j = 0; j < inputs; ++j) z += w1[i * inputs + j] * x[j];
      h1[i] = relu_of(z);
    }
    for (int i = 0; i < hidden; ++i) {
      T z = b2[i];
      for (int j = 0; j < hidden; ++j) z += w2[i * hidden + j] * h1[j];
      h2[i] = relu_of(z);
    }
    T out = b3[0];
    for (int j = 0; j < hidden; ++j) out += w3[j] * h2[j];
    loss += square_of(out - mlp_data.y[s]);
  }
  return loss * (1.0 / batch);
}

std::vector<double> mlp_point() {
  std::vector<double> p(mlp_parameters);
  for (int k = 0; k < mlp_parameters; ++k) p[k] = 0.1 * std::sin(0.7 * k + 0.3);
  return p;
}

template <class T>
T rosenbrock(const std::vector<T>& x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    f += 100.0 * square_of(x[i + 1] - x[i] * x[i]) + square_of(1.0 - x[i]);
  }
  return f;
}
std::vector<double> rosenbrock_point() {
  std::vector<double> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 + 0.001 * static_cast<double>(i % 100);
  return x;
}

template <class T>
T softplus_max(const std::vector<T>& x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) f += softplus_max_term(x[i], x[i + 1]);
  return f;
}
std::vector<double> softplus_max_point() {
  std::vector<double> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 3.0 * std::sin(0.001 * static_cast<double>(i));
  return x;
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
  double plain_ns = 0, subgrad_ns = 0;
  std::optional<double> adolc_ns;
  double bytes_per_operand = 0, bytes_per_statement = 0;
  std::size_t statements = 0, operands = 0;
  std::optional<double> max_difference;
};

template <class Function>
Row measure(std::string name, Function function, const std::vector<double>& point) {
  Row row;
  row.name = std::move(name);
  row.plain_ns = median_ns([&] { sink = sink + function.template operator()<double>(point); });

  subgrad::Tape tape;
  std::vector<double> gradient(point.size());
  std::vector<Var> x(point.size());
  auto subgrad_gradient = [&] {
    tape.clear();
    subgrad::variables(point, x);  // the independent variables, in one tape call
    const Var y = function.template operator()<Var>(x);
    subgrad::backward(y);
    subgrad::adjoints(x, gradient);
  };
  row.subgrad_ns = median_ns(subgrad_gradient);
  subgrad_gradient();
  row.statements = tape.statement_count();
  row.operands = tape.operand_count();
  row.bytes_per_operand =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.operands);
  row.bytes_per_statement =
      static_cast<double>(tape.memory_bytes()) / static_cast<double>(row.statements);

#ifdef SUBGRAD_BENCH_ADOLC
  std::vector<double> adolc_gradient(point.size());
  const short tag = 1;
  const unsigned buffer = 1u << 23;  // keep the whole tape in memory, as subgrad does
  auto adolc = [&] {
    trace_on(tag, 1, buffer, buffer, buffer, buffer);
    std::vector<adouble> ax(point.size());
    for (std::size_t i = 0; i < point.size(); ++i) ax[i] <<= point[i];
    adouble ay = function.template operator()<adouble>(ax);
    double y = 0.0;
    ay >>= y;
    trace_off();
    double seed = 1.0;
    fos_reverse(tag, 1, static_cast<int>(point.size()), &seed, adolc_gradient.data());
  };
  row.adolc_ns = median_ns(adolc);
  adolc();
  double difference = 0.0;
  for (std::size_t i = 0; i < point.size(); ++i) {
    difference = std::max(difference, std::abs(gradient[i] - adolc_gradient[i]));
  }
  row.max_difference = difference;
#endif
  return row;
}

struct Mlp {
  template <class T>
  T operator()(const std::vector<T>& p) const {
    return mlp(p);
  }
};
struct Rosenbrock {
  template <class T>
  T operator()(const std::vector<T>& x) const {
    return rosenbrock(x);
  }
};
struct SoftplusMax {
  template <class T>
  T operator()(const std::vector<T>& x) const {
    return softplus_max(x);
  }
};

void write_json_atomically(const std::filesystem::path& path, const std::vector<Row>& rows) {
  std::string text = "{\"cases\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    text += fmt::format(
        "{}\n  {{\"name\": \"{}\", \"plain_ns\": {:.1f}, \"subgrad_ns\": {:.1f}, \"adolc_ns\": {}, "
        "\"bytes_per_operand\": {:.3f}, \"bytes_per_statement\": {:.3f}}}",
        i == 0 ? "" : ",", r.name, r.plain_ns, r.subgrad_ns,
        r.adolc_ns ? fmt::format("{:.1f}", *r.adolc_ns) : std::string("null"), r.bytes_per_operand,
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

    fmt::print("{:<13} {:>11} {:>12} {:>12} {:>9} {:>9} {:>10} {:>10} {:>9} {:>11}\n", "case",
               "plain us", "subgrad us", "ADOL-C us", "subgrad x", "ADOL-C x", "operands",
               "B/operand", "B/stmt", "max |diff|");
    for (const Row& r : rows) {
      fmt::print(
          "{:<13} {:>11.1f} {:>12.1f} {:>12} {:>9.1f} {:>9} {:>10} {:>10.2f} {:>9.2f} {:>11}\n",
          r.name, r.plain_ns / 1e3, r.subgrad_ns / 1e3,
          r.adolc_ns ? fmt::format("{:.1f}", *r.adolc_ns / 1e3) : std::string("n/a"),
          r.subgrad_ns / r.plain_ns,
          r.adolc_ns ? fmt::format("{:.1f}", *r.adolc_ns / r.plain_ns) : std::string("n/a"),
          r.operands, r.bytes_per_operand, r.bytes_per_statement,
          r.max_difference ? fmt::format("{:.1e}", *r.max_difference) : std::string("n/a"));
    }
    fmt::print("(medians; 'x' = gradient time / plain time; ADOL-C: {})\n",
#ifdef SUBGRAD_BENCH_ADOLC
               "taped with trace_on/trace_off, gradient by fos_reverse"
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
