// Must not compile: f returns a string. The static_assert says so in a sentence.
#include <subgrad/subgrad.hpp>

#include <string>
#include <vector>

int main() {
  auto f = [](std::span<const subgrad::Var>) { return std::string("not a Var"); };
  return static_cast<int>(subgrad::gradient(f, std::vector<double>{1.0}).size());
}
