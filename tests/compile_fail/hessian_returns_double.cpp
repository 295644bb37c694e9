// Must not compile: f sums values in a double, which would convert to a Dual<Var> on no tape and
// give a Hessian of zeros. The static_assert says why.
#include <subgrad/subgrad.hpp>

#include <span>
#include <vector>

int main() {
  auto f = [](std::span<const subgrad::Dual<subgrad::Var>> x) {
    double sum = 0.0;
    for (const auto& v : x) sum += v.value().value() * v.value().value();
    return sum;
  };
  return static_cast<int>(subgrad::hessian(f, std::vector<double>{1.0, 2.0}).size());
}
