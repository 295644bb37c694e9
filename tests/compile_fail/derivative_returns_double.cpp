// Must not compile: f returns the value of its Dual, a double, which would convert to a Dual with
// tangent 0 and give a derivative of 0. The static_assert says why.
#include <subgrad/subgrad.hpp>

int main() {
  auto f = [](subgrad::Dual<double> t) { return t.value() * t.value(); };
  return static_cast<int>(subgrad::derivative(f, 3.0));
}
