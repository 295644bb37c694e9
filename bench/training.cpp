// bench_training: training speed against PyTorch and LibTorch, side by side in one run.
//   N1    Fashion-MNIST, MLP 784-256-128-10 ReLU, cross-entropy, SGD momentum 0.9, lr 0.05;
//         batch 128 (5 epochs x 3 seeds, test accuracy per seed) and batch 32 (3 epochs)
//   N2    2-64-64-1 ReLU MLP, batch 32, Adam lr 1e-3, MSE on a smooth 2-D target, 5000 steps
//   N3    relu + sum + backward on a 1-element tensor (framework overhead)
//   GEMM  1024^3 float matmul
//   peak resident memory of the N1 process
// Every framework gets the same initial parameters, data order and hyper-parameters (written
// here to a scratch folder); each measurement runs in a process of its own, frameworks
// alternating. Peers: /usr/bin/python3 with Debian's python3-torch (bench/training_torch.py) at 1
// thread and at 2 threads with OMP_WAIT_POLICY=PASSIVE, and bench_training_libtorch (Debian's
// libtorch-dev) likewise, each optional. subgrad's first column splits each N1 step over both
// cores with nn::DataParallel (the ratio column compares it); the second, for N1 only, trains on
// one tape whose products OpenBLAS splits over two threads. Usage:
//   bench_training [--json PATH] [--chart PATH] [--quick]
// The worker side (`--worker subgrad --task ...`) is what this program runs in its subprocesses.
#include <sys/resource.h>
#include <unistd.h>
#include <subgrad/data.hpp>
#include <subgrad/io/file.hpp>
#include <subgrad/io/gnuplot.hpp>
#include <subgrad/nn.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace fs = std::filesystem;
namespace nn = subgrad::nn;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t train_size = 60000;
constexpr std::size_t n2_points = 1024;

long max_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- files shared with the peers: parameters (u32 rows, u32 cols, float32 row-major each) and
// ---- data orders (u32 per sample).
void write_parameters(const fs::path& path, nn::Sequential& model) {
  std::string bytes;
  for (const auto& p : model.parameters()) {
    const subgrad::Tensor<float>& t = p.parameter->value();
    const std::array<std::uint32_t, 2> shape{static_cast<std::uint32_t>(t.rows()),
                                             static_cast<std::uint32_t>(t.cols())};
    bytes.append(reinterpret_cast<const char*>(shape.data()), sizeof shape);
    bytes.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
  }
  subgrad::write_file_atomically(path, bytes);
}
void read_parameters(const fs::path& path, nn::Sequential& model) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw subgrad::Error(fmt::format(
        "bench_training: cannot open {} (the driver writes it: run bench_training without "
        "--worker, or give the driver's --scratch folder)",
        path.string()));
  }
  for (const auto& p : model.parameters()) {
    std::array<std::uint32_t, 2> shape{};
    in.read(reinterpret_cast<char*>(shape.data()), sizeof shape);
    subgrad::Tensor<float>& t = p.parameter->value();
    if (!in || shape[0] != t.rows() || shape[1] != t.cols()) {
      throw subgrad::Error(
          fmt::format("bench_training: {} does not fit {}", path.string(), p.name));
    }
    in.read(reinterpret_cast<char*>(t.data()),
            static_cast<std::streamsize>(t.size() * sizeof(float)));
  }
}
std::uint64_t order_seed(int seed, int epoch) {
  return static_cast<std::uint64_t>(seed) * 1000 + epoch;
}

nn::Sequential mlp(std::size_t in, std::size_t a, std::size_t b, std::size_t out) {
  return nn::Sequential{nn::Linear(in, a), nn::Activation(subgrad::relu), nn::Linear(a, b),
                        nn::Activation(subgrad::relu), nn::Linear(b, out)};
}

// ---- the subgrad worker
struct WorkerOptions {
  std::string task;
  int threads = 2, seed = 1, epochs = 5, steps = 5000;
  std::size_t batch = 128;
  bool data_parallel = false;  // N1's steps split over the threads by nn::DataParallel
  fs::path scratch;
};

std::string work_n1(const WorkerOptions& o) {
  const subgrad::data::FashionMnist set = subgrad::data::load_fashion_mnist();
  nn::Sequential model = mlp(784, 256, 128, 10);
  read_parameters(o.scratch / fmt::format("n1_init_{}.bin", o.seed), model);
  nn::SGD optimizer(model.parameters(), 0.05, {.momentum = 0.9});
  subgrad::Tape tape;
  std::optional<nn::DataParallel> parallel;
  if (o.data_parallel) parallel.emplace(model, static_cast<std::size_t>(o.threads));
  std::vector<double> seconds;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const auto start = Clock::now();
    for (const auto& batch :
         subgrad::data::batches(set.train, o.batch, true, order_seed(o.seed, epoch))) {
      if (parallel) {
        parallel->step(optimizer, batch.inputs, batch.labels,
                       [](nn::Module& m, const subgrad::Tensor<float>& x, std::span<const int> y) {
                         return nn::cross_entropy(m(x), y);
                       });
      } else {
        subgrad::backward(nn::cross_entropy(model(batch.inputs), batch.labels));
        optimizer.step();
      }
    }
    seconds.push_back(seconds_since(start));
  }
  const double accuracy = nn::evaluate_classifier(model, set.test.inputs, set.test.labels).accuracy;
  return fmt::format("{{\"epoch_seconds\": [{}], \"accuracy\": {}", fmt::join(seconds, ", "),
                     accuracy);
}

std::string work_n2(const WorkerOptions& o) {
  std::vector<float> points(n2_points * 3);
  std::ifstream(o.scratch / "n2_data.bin", std::ios::binary)
      .read(reinterpret_cast<char*>(points.data()),
            static_cast<std::streamsize>(points.size() * 4));
  std::vector<std::pair<subgrad::Tensor<float>, subgrad::Tensor<float>>> batches;
  for (std::size_t first = 0; first < n2_points; first += 32) {
    subgrad::Tensor<float> x(32, 2), y(32, 1);
    for (std::size_t i = 0; i < 32; ++i) {
      x(i, 0) = points[(first + i) * 3];
      x(i, 1) = points[(first + i) * 3 + 1];
      y(i, 0) = points[(first + i) * 3 + 2];
    }
    batches.emplace_back(std::move(x), std::move(y));
  }
  nn::Sequential model = mlp(2, 64, 64, 1);
  read_parameters(o.scratch / "n2_init.bin", model);
  nn::Adam adam(model.parameters(), 1e-3);
  subgrad::Tape tape;
  double loss = 0.0;
  const auto start = Clock::now();
  for (int step = 0; step < o.steps; ++step) {
    const auto& [x, y] = batches[static_cast<std::size_t>(step) % batches.size()];
    const subgrad::Var l = nn::mse(model(x), y);
    subgrad::backward(l);
    adam.step();
    loss = l.value();
  }
  return fmt::format("{{\"step_us\": {}, \"final_loss\": {}", seconds_since(start) / o.steps * 1e6,
                     loss);
}

std::string work_n3(const WorkerOptions&) {
  const subgrad::Tensor<float> one{{0.5f}};
  subgrad::Tape tape;
  std::vector<double> times;
  for (int r = 0; r < 7; ++r) {
    const auto start = Clock::now();
    for (int k = 0; k < 10000; ++k) {
      tape.clear();
      subgrad::TensorVar<float> x(one);
      subgrad::backward(subgrad::sum(subgrad::relu(x)));
    }
    times.push_back(seconds_since(start) / 10000 * 1e6);
  }
  std::sort(times.begin(), times.end());
  return fmt::format("{{\"iteration_us\": {}", times[3]);
}

std::string work_gemm(const WorkerOptions&) {
  constexpr std::size_t n = 1024;
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  subgrad::Tensor<float> a(n, n), b(n, n), c(n, n);
  for (float& v : a.span()) v = normal(generator);
  for (float& v : b.span()) v = normal(generator);
  auto median = [](auto&& body) {
    body();
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      const auto start = Clock::now();
      body();
      t.push_back(seconds_since(start));
    }
    std::sort(t.begin(), t.end());
    return 2.0 * n * n * n / t[2] / 1e9;
  };
  subgrad::Tape tape;
  const double through = median([&] {
    tape.clear();
    const subgrad::TensorVar<float> p = subgrad::matmul(a, b);
    c(0, 0) += p.value()(0, 0);
  });
  const auto direct = [&] {
    return median([&] {
      subgrad::detail::gemm<float>(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
    });
  };
  const double backend = direct();  // the one matmul uses (subgrad::matmul_backend())
  subgrad::set_matmul_backend(subgrad::MatmulBackend::openblas);
  const double openblas = direct();
  subgrad::set_matmul_backend(subgrad::MatmulBackend::automatic);
  return fmt::format("{{\"gflops\": {}, \"backend_gflops\": {}, \"openblas_gflops\": {}", through,
                     backend, openblas);
}

int worker(const WorkerOptions& o) {
  subgrad::set_num_threads(o.threads);
  std::string json;
  if (o.task == "n1")
    json = work_n1(o);
  else if (o.task == "n2")
    json = work_n2(o);
  else if (o.task == "n3")
    json = work_n3(o);
  else if (o.task == "gemm")
    json = work_gemm(o);
  else
    throw subgrad::Error(fmt::format("bench_training: unknown task {}", o.task));
  fmt::print("{}, \"max_rss_kb\": {}}}\n", json, max_rss_kb());
  return 0;
}

// ---- the driver
struct Framework {
  std::string name;
  std::string command;  // the worker command line without task arguments
  bool peer;
  bool n1_only = false;  // runs the N1 tasks only (a second configuration of subgrad)
};

// A flat JSON object of numbers and one array of numbers, as the workers print.
std::map<std::string, std::vector<double>> parse_json(const std::string& text) {
  std::map<std::string, std::vector<double>> out;
  std::size_t at = 0;
  while ((at = text.find('"', at)) != std::string::npos) {
    const std::size_t end = text.find('"', at + 1);
    const std::string key = text.substr(at + 1, end - at - 1);
    std::size_t value = text.find(':', end) + 1;
    std::vector<double> numbers;
    const bool array = text.find_first_not_of(' ', value) != std::string::npos &&
                       text[text.find_first_not_of(' ', value)] == '[';
    const std::size_t stop = array ? text.find(']', value) : text.find_first_of(",}", value);
    std::string body = text.substr(value, stop - value);
    for (char& c : body) {
      if (c == '[' || c == ',') c = ' ';
    }
    std::istringstream in(body);
    for (double x; in >> x;) numbers.push_back(x);
    out[key] = numbers;
    at = array ? stop + 1 : stop;
  }
  return out;
}

std::optional<std::map<std::string, std::vector<double>>> run(const Framework& f,
                                                              const std::string& arguments) {
  const std::string command = f.command + " " + arguments;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  if (::pclose(pipe) != 0 || output.find('{') == std::string::npos) {
    fmt::print(stderr, "bench_training: {} failed: {}\n", command, output);
    return std::nullopt;
  }
  return parse_json(output.substr(output.rfind('{')));
}

struct Summary {
  double median = NAN, low = NAN, high = NAN;
};
Summary summarize(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    WorkerOptions worker_options;
    std::string role, json_path, chart_path = "docs/images/training-benchmark.png";
    bool quick = false;
    for (int k = 1; k < argc; ++k) {
      const std::string option = argv[k];
      auto value = [&] {
        if (k + 1 >= argc) throw subgrad::Error("bench_training: " + option + " needs a value");
        return std::string(argv[++k]);
      };
      if (option == "--worker")
        role = value();
      else if (option == "--task")
        worker_options.task = value();
      else if (option == "--threads")
        worker_options.threads = std::stoi(value());
      else if (option == "--seed")
        worker_options.seed = std::stoi(value());
      else if (option == "--epochs")
        worker_options.epochs = std::stoi(value());
      else if (option == "--steps")
        worker_options.steps = std::stoi(value());
      else if (option == "--batch")
        worker_options.batch = std::stoul(value());
      else if (option == "--data-parallel")
        worker_options.data_parallel = true;
      else if (option == "--scratch")
        worker_options.scratch = value();
      else if (option == "--json")
        json_path = value();
      else if (option == "--chart")
        chart_path = value();
      else if (option == "--quick")
        quick = true;
      else
        throw subgrad::Error("usage: bench_training [--json PATH] [--chart PATH] [--quick]");
    }
    if (!role.empty()) return worker(worker_options);

    // The shared inputs.
    const fs::path scratch =
        fs::temp_directory_path() / fmt::format("subgrad_training_{}", ::getpid());
    fs::create_directories(scratch);
    const int seeds = quick ? 1 : 3, epochs = quick ? 2 : 5, epochs32 = quick ? 1 : 3;
    for (int seed = 1; seed <= seeds; ++seed) {
      nn::manual_seed(static_cast<std::uint64_t>(seed));
      nn::Sequential model = mlp(784, 256, 128, 10);
      write_parameters(scratch / fmt::format("n1_init_{}.bin", seed), model);
      for (int epoch = 0; epoch < std::max(epochs, epochs32); ++epoch) {
        const auto order = subgrad::data::shuffled_order(train_size, order_seed(seed, epoch));
        std::vector<std::uint32_t> narrow(order.begin(), order.end());
        subgrad::write_file_atomically(
            scratch / fmt::format("n1_order_{}_{}.bin", seed, epoch),
            std::string(reinterpret_cast<const char*>(narrow.data()), narrow.size() * 4));
      }
    }
    {
      nn::manual_seed(7);
      nn::Sequential model = mlp(2, 64, 64, 1);
      write_parameters(scratch / "n2_init.bin", model);
      std::mt19937_64 generator(11);
      std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
      std::vector<float> points;
      for (std::size_t k = 0; k < n2_points; ++k) {
        const float x = uniform(generator), y = uniform(generator);
        points.insert(points.end(), {x, y, std::sin(3.0f * x) * std::cos(2.0f * y)});
      }
      subgrad::write_file_atomically(
          scratch / "n2_data.bin",
          std::string(reinterpret_cast<const char*>(points.data()), points.size() * 4));
    }

    // The frameworks.
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    // subgrad as a user on 2 cores trains: N1's steps split over both by nn::DataParallel (the
    // ratio column); and, for N1 only, one thread whose products OpenBLAS splits.
    std::vector<Framework> frameworks = {
        {"subgrad",
         fmt::format("'{}' --worker subgrad --threads 2 --data-parallel --scratch '{}'", self,
                     scratch.string()),
         false},
        {"subgrad, one tape",
         fmt::format("'{}' --worker subgrad --threads 2 --scratch '{}'", self, scratch.string()),
         false, true}};
#ifdef SUBGRAD_BENCH_TORCH_SCRIPT
    if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0) {
      frameworks.push_back({"PyTorch 1 thread",
                            fmt::format("/usr/bin/python3 '{}' --threads 1 --scratch '{}'",
                                        SUBGRAD_BENCH_TORCH_SCRIPT, scratch.string()),
                            true});
      frameworks.push_back(
          {"PyTorch 2 threads",
           fmt::format("OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 '{}' --threads 2 --scratch '{}'",
                       SUBGRAD_BENCH_TORCH_SCRIPT, scratch.string()),
           true});
    }
#endif
#ifdef SUBGRAD_BENCH_LIBTORCH
    frameworks.push_back(
        {"LibTorch 1 thread",
         fmt::format("'{}' --threads 1 --scratch '{}'", SUBGRAD_BENCH_LIBTORCH, scratch.string()),
         true});
    frameworks.push_back({"LibTorch 2 threads",
                          fmt::format("OMP_WAIT_POLICY=PASSIVE '{}' --threads 2 --scratch '{}'",
                                      SUBGRAD_BENCH_LIBTORCH, scratch.string()),
                          true});
#endif

    struct Results {
      std::vector<double> n1_128, n1_32, accuracy, n2, n2_loss, n3, gemm, backend, openblas, rss;
    };
    std::vector<Results> results(frameworks.size());
    auto each = [&](const std::string& arguments, auto&& take) {
      for (std::size_t f = 0; f < frameworks.size(); ++f) {  // alternating frameworks
        if (frameworks[f].n1_only && !arguments.starts_with("--task n1 ")) continue;
        fmt::print(stderr, "  {}: {}\n", frameworks[f].name, arguments);
        if (auto r = run(frameworks[f], arguments)) take(results[f], *r);
      }
    };
    for (int seed = 1; seed <= seeds; ++seed) {
      each(fmt::format("--task n1 --batch 128 --epochs {} --seed {}", epochs, seed),
           [](Results& r, auto& j) {
             r.n1_128.insert(r.n1_128.end(), j["epoch_seconds"].begin(), j["epoch_seconds"].end());
             r.accuracy.push_back(j["accuracy"][0]);
             r.rss.push_back(j["max_rss_kb"][0]);
           });
    }
    each(fmt::format("--task n1 --batch 32 --epochs {} --seed 1", epochs32),
         [](Results& r, auto& j) {
           r.n1_32.insert(r.n1_32.end(), j["epoch_seconds"].begin(), j["epoch_seconds"].end());
         });
    for (int rep = 0; rep < (quick ? 1 : 3); ++rep) {
      each("--task n2 --steps 5000", [](Results& r, auto& j) {
        r.n2.push_back(j["step_us"][0]);
        r.n2_loss.push_back(j["final_loss"][0]);
      });
      each("--task n3", [](Results& r, auto& j) { r.n3.push_back(j["iteration_us"][0]); });
    }
    each("--task gemm", [](Results& r, auto& j) {
      r.gemm.push_back(j["gflops"][0]);
      if (j.contains("backend_gflops")) r.backend.push_back(j["backend_gflops"][0]);
      if (j.contains("openblas_gflops")) r.openblas.push_back(j["openblas_gflops"][0]);
    });
    fs::remove_all(scratch);

    // One table: each row a measurement, each framework a column; ratio = best peer / subgrad.
    struct Row {
      std::string name, unit;
      std::vector<double> Results::*field;
      bool lower_is_better;
    };
    const std::vector<Row> rows = {{"N1 batch 128, s/epoch", "s", &Results::n1_128, true},
                                   {"N1 batch 32, s/epoch", "s", &Results::n1_32, true},
                                   {"N1 test accuracy after " + std::to_string(epochs) + " epochs",
                                    "%", &Results::accuracy, false},
                                   {"N2 step, us", "us", &Results::n2, true},
                                   {"N2 final loss", "", &Results::n2_loss, true},
                                   {"N3 relu+sum+backward, us", "us", &Results::n3, true},
                                   {"GEMM 1024^3, GFLOP/s", "", &Results::gemm, false},
                                   {"N1 peak resident memory, MB", "MB", &Results::rss, true}};
    std::string table = fmt::format("| measurement |");
    for (const auto& f : frameworks) table += fmt::format(" {} |", f.name);
    table += " ratio (best peer / subgrad) |\n|---|";
    for (std::size_t f = 0; f <= frameworks.size(); ++f) table += "---|";
    table += "\n";
    std::string json = "{";
    std::vector<std::pair<std::string, double>> chart;
    for (const Row& row : rows) {
      table += fmt::format("| {} |", row.name);
      std::optional<double> best;
      double mine = NAN;
      for (std::size_t f = 0; f < frameworks.size(); ++f) {
        std::vector<double> values = results[f].*row.field;
        if (row.field == &Results::accuracy) {
          for (double& v : values) v *= 100.0;
        }
        if (row.field == &Results::rss) {
          for (double& v : values) v /= 1024.0;
        }
        const Summary s = summarize(values);
        if (std::isnan(s.median)) {
          table += frameworks[f].n1_only ? " – |" : " n/a |";  // not run, or not measured
          continue;
        }
        const bool spread = values.size() > 1 && row.field != &Results::accuracy;
        table += spread ? fmt::format(" {:.4g} ({:.4g}–{:.4g}) |", s.median, s.low, s.high)
                        : fmt::format(" {:.4g} |", s.median);
        json += fmt::format("{}\"{} / {}\": {}", json.size() > 1 ? ", " : "", row.name,
                            frameworks[f].name, s.median);
        if (f == 0) {
          mine = s.median;  // the first column: subgrad as recommended
        } else if (frameworks[f].peer &&
                   (!best || (row.lower_is_better ? s.median < *best : s.median > *best))) {
          best = s.median;
        }
      }
      if (best && !std::isnan(mine) && row.field != &Results::accuracy &&
          row.field != &Results::n2_loss) {
        const double ratio = row.lower_is_better ? *best / mine : mine / *best;
        table += fmt::format(" {:.2f} |\n", ratio);
        if (row.field != &Results::rss) chart.emplace_back(row.name, ratio);
      } else if (best && row.field == &Results::accuracy) {
        table += fmt::format(" {:+.2f} points |\n", mine - *best);
      } else {
        table += " |\n";
      }
    }
    if (!results[0].backend.empty() && !results[0].openblas.empty()) {
      // The backends called directly, without the tape: subgrad's matmul against the best.
      const double backend = summarize(results[0].backend).median;
      const double openblas = summarize(results[0].openblas).median;
      table +=
          fmt::format("| GEMM 1024^3 directly, GFLOP/s: matmul's backend {:.4g}, OpenBLAS {:.4g} |",
                      backend, openblas);
      for (std::size_t f = 1; f < frameworks.size(); ++f) table += " |";
      table += fmt::format(" subgrad's matmul at {:.0f} % of the faster |\n",
                           100.0 * summarize(results[0].gemm).median / std::max(backend, openblas));
    }
    json += "}\n";
    fmt::print(
        "{}\n(medians, min–max in brackets; ratio > 1: subgrad is faster or leaner)\n"
        "subgrad's products: {}\n",
        table, subgrad::matmul_backend_description());
    if (!json_path.empty()) subgrad::write_file_atomically(json_path, json);
    if (!chart.empty() && !chart_path.empty()) {
      subgrad::GnuplotPlot plot;
      std::string bars;
      for (const auto& [name, ratio] : chart) bars += fmt::format("\"{}\" {}\n", name, ratio);
      const std::string data = plot.data("ratios", bars).string();
      plot.render(chart_path, 900, 440,
                  fmt::format("set title 'subgrad against the best PyTorch/LibTorch row: speed-up "
                              "(log scale; above the red line subgrad is faster)'\n"
                              "set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\n"
                              "set yrange [0.5:*]\nset grid ytics lc rgb '#dddddd'\n"
                              "set xtics rotate by -20\nunset key\n"
                              "plot '{0}' using 0:2:xtic(1) with boxes lc rgb '#1f77b4', '{0}' "
                              "using 0:($2*1.15):(sprintf('%.2f', $2)) with labels, 1 with lines "
                              "lc rgb '#d62728' lw 2",
                              data));
      fmt::print("chart: {}\n", chart_path);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
}
