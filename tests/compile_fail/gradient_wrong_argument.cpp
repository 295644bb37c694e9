// Must not compile: f takes a double, not std::span<const subgrad::Var>.
#include <subgrad/subgrad.hpp>

#include <vector>

int main() {
  auto f = [](double x) { return x; };
  return static_cast<int>(subgrad::value_and_gradient(f, std::vector<double>{1.0}).gradient.size());
}
