// Must not compile: the checked function returns a vector.
#include <subgrad/subgrad.hpp>

#include <vector>

int main() {
  auto f = [](std::span<const subgrad::Var> x) {
    return std::vector<subgrad::Var>(x.begin(), x.end());
  };
  return subgrad::check_gradient(f, std::vector<double>{1.0}).ok() ? 0 : 1;
}
