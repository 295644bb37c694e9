// The LibTorch peer of bench_training (Debian's libtorch-dev): the same tasks, network, initial
// parameters and data order as subgrad's worker, read from the files bench_training writes;
// prints one JSON line. Not run on its own: bench_training drives it.
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <subgrad/data.hpp>

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<torch::Tensor> read_parameters(const std::string& path) {
  std::vector<torch::Tensor> out;
  std::ifstream in(path, std::ios::binary);
  std::uint32_t shape[2];
  while (in.read(reinterpret_cast<char*>(shape), sizeof shape)) {
    torch::Tensor t = torch::empty({shape[0], shape[1]}, torch::kFloat32);
    in.read(reinterpret_cast<char*>(t.data_ptr<float>()),
            static_cast<std::streamsize>(t.numel() * 4));
    out.push_back(t);
  }
  return out;
}

torch::nn::Sequential mlp(const std::vector<std::int64_t>& sizes,
                          const std::vector<torch::Tensor>& parameters) {
  torch::nn::Sequential model;
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k + 1 < sizes.size(); ++k) {
    torch::nn::Linear linear(sizes[k], sizes[k + 1]);
    linear->weight.copy_(parameters[2 * k]);
    linear->bias.copy_(parameters[2 * k + 1].reshape({-1}));
    model->push_back(linear);
    if (k + 2 < sizes.size()) model->push_back(torch::nn::ReLU());
  }
  return model;
}

torch::Tensor as_tensor(const subgrad::Tensor<float>& t) {
  return torch::from_blob(
             const_cast<float*>(t.data()),
             {static_cast<std::int64_t>(t.rows()), static_cast<std::int64_t>(t.cols())},
             torch::kFloat32)
      .clone();
}

}  // namespace

int main(int argc, char** argv) {
  std::string task, scratch = ".";
  int threads = 1, seed = 1, epochs = 5, steps = 5000;
  std::int64_t batch = 128;
  for (int k = 1; k + 1 < argc; k += 2) {
    const std::string option = argv[k], value = argv[k + 1];
    if (option == "--task")
      task = value;
    else if (option == "--threads")
      threads = std::stoi(value);
    else if (option == "--scratch")
      scratch = value;
    else if (option == "--seed")
      seed = std::stoi(value);
    else if (option == "--epochs")
      epochs = std::stoi(value);
    else if (option == "--steps")
      steps = std::stoi(value);
    else if (option == "--batch")
      batch = std::stol(value);
  }
  torch::set_num_threads(threads);
  std::string json;
  if (task == "n1") {
    const subgrad::data::FashionMnist set = subgrad::data::load_fashion_mnist();
    const torch::Tensor train_x = as_tensor(set.train.inputs);
    const torch::Tensor train_y = torch::tensor(set.train.labels, torch::kInt64);
    const torch::Tensor test_x = as_tensor(set.test.inputs);
    const torch::Tensor test_y = torch::tensor(set.test.labels, torch::kInt64);
    auto model = mlp({784, 256, 128, 10},
                     read_parameters(scratch + "/n1_init_" + std::to_string(seed) + ".bin"));
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    std::vector<double> seconds;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      std::vector<std::uint32_t> order32(60000);
      std::ifstream(
          scratch + "/n1_order_" + std::to_string(seed) + "_" + std::to_string(epoch) + ".bin",
          std::ios::binary)
          .read(reinterpret_cast<char*>(order32.data()), 60000 * 4);
      const torch::Tensor order =
          torch::tensor(std::vector<std::int64_t>(order32.begin(), order32.end()), torch::kInt64);
      const auto start = Clock::now();
      for (std::int64_t first = 0; first < 60000; first += batch) {
        const torch::Tensor index =
            order.slice(0, first, std::min<std::int64_t>(first + batch, 60000));
        optimizer.zero_grad();
        const torch::Tensor loss = torch::nn::functional::cross_entropy(
            model->forward(train_x.index_select(0, index)), train_y.index_select(0, index));
        loss.backward();
        optimizer.step();
      }
      seconds.push_back(seconds_since(start));
    }
    torch::NoGradGuard no_grad;
    const double accuracy =
        model->forward(test_x).argmax(1).eq(test_y).to(torch::kFloat32).mean().item<double>();
    json = "{\"epoch_seconds\": [";
    for (std::size_t k = 0; k < seconds.size(); ++k)
      json += (k ? ", " : "") + std::to_string(seconds[k]);
    json += "], \"accuracy\": " + std::to_string(accuracy);
  } else if (task == "n2") {
    std::vector<float> points(1024 * 3);
    std::ifstream(scratch + "/n2_data.bin", std::ios::binary)
        .read(reinterpret_cast<char*>(points.data()), points.size() * 4);
    const torch::Tensor data = torch::from_blob(points.data(), {1024, 3}, torch::kFloat32).clone();
    auto model = mlp({2, 64, 64, 1}, read_parameters(scratch + "/n2_init.bin"));
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
    std::vector<std::pair<torch::Tensor, torch::Tensor>> batches;
    for (std::int64_t k = 0; k < 1024; k += 32) {
      batches.emplace_back(data.slice(0, k, k + 32).slice(1, 0, 2).contiguous(),
                           data.slice(0, k, k + 32).slice(1, 2, 3).contiguous());
    }
    double loss_value = 0.0;
    const auto start = Clock::now();
    for (int step = 0; step < steps; ++step) {
      const auto& [x, y] = batches[static_cast<std::size_t>(step) % batches.size()];
      adam.zero_grad();
      const torch::Tensor loss = torch::mse_loss(model->forward(x), y);
      loss.backward();
      adam.step();
      if (step + 1 == steps) loss_value = loss.item<double>();
    }
    json = "{\"step_us\": " + std::to_string(seconds_since(start) / steps * 1e6) +
           ", \"final_loss\": " + std::to_string(loss_value);
  } else if (task == "n3") {
    const torch::Tensor x0 = torch::tensor({{0.5f}});
    std::vector<double> times;
    for (int r = 0; r < 7; ++r) {
      const auto start = Clock::now();
      for (int k = 0; k < 10000; ++k) {
        torch::Tensor x = x0.clone().requires_grad_();
        torch::relu(x).sum().backward();
      }
      times.push_back(seconds_since(start) / 10000 * 1e6);
    }
    std::sort(times.begin(), times.end());
    json = "{\"iteration_us\": " + std::to_string(times[3]);
  } else if (task == "gemm") {
    const torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
    torch::mm(a, b);
    std::vector<double> times;
    for (int r = 0; r < 5; ++r) {
      const auto start = Clock::now();
      torch::mm(a, b);
      times.push_back(seconds_since(start));
    }
    std::sort(times.begin(), times.end());
    json = "{\"gflops\": " + std::to_string(2.0 * 1024 * 1024 * 1024 / times[2] / 1e9);
  } else {
    std::fprintf(stderr, "bench_training_libtorch: unknown task\n");
    return 2;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s, \"max_rss_kb\": %ld}\n", json.c_str(), usage.ru_maxrss);
  return 0;
}
