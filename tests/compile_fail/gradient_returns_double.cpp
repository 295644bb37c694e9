// Must not compile: f sums in a double accumulator and returns a double, which would otherwise
// become a new independent Var and give a gradient of zeros. The static_assert says why.
#include <subgrad/subgrad.hpp>

#include <vector>

int main() {
  auto f = [](std::span<const subgrad::Var> x) {
    double sum = 0.0;
    for (const subgrad::Var& v : x) sum += v.value() * v.value();
    return sum;
  };
  return static_cast<int>(subgrad::gradient(f, std::vector<double>{1.0, 2.0}).size());
}
