// Must not compile: the derivative with respect to an expression would be that of a new Var on
// which y does not depend (0). The static_assert says what to write instead.
#include <subgrad/subgrad.hpp>

int main() {
  subgrad::Var a = 1.0, b = 2.0;
  subgrad::Var y = subgrad::exp(a * b);
  return static_cast<int>(subgrad::grad(y, a * b));
}
