// registry_points: prints every registry entry that has a PyTorch counterpart with the points to
// evaluate it at (a grid over its interval, each declared kink, and points 1e-3 either side), for
// tests/math/make_torch_reference.py. One line per entry:
//   unary|NAME|EXPRESSION|x1 x2 ...
//   binary|NAME|EXPRESSION|x1,y1 x2,y2 ...
#include <subgrad/math/registry.hpp>

#include <set>
#include <string>

#include <fmt/format.h>

int main() {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    if (entry.torch.expression.empty()) return;
    std::set<double> points;
    for (int k = 0; k <= 40; ++k) points.insert(entry.low + (entry.high - entry.low) * k / 40.0);
    for (const subgrad::KinkPoint& kink : subgrad::rule_kinks(entry.rule, entry.low, entry.high)) {
      for (double offset : {-1e-3, 0.0, 1e-3}) points.insert(kink.at + offset);
    }
    std::string list;
    for (double x : points) list += fmt::format("{}{}", list.empty() ? "" : " ", x);
    fmt::print("unary|{}|{}|{}\n", entry.name, entry.torch.expression, list);
  });
  // Binary: a grid with ties (x == y), a zero side and both signs.
  const double values[] = {-1.5, -0.5, 0.0, 0.5, 1.5};
  subgrad::for_each_binary_primitive([&](const auto& entry) {
    if (entry.torch.expression.empty()) return;
    std::string list;
    for (double x : values) {
      for (double y : values) list += fmt::format("{}{},{}", list.empty() ? "" : " ", x, y);
    }
    fmt::print("binary|{}|{}|{}\n", entry.name, entry.torch.expression, list);
  });
}
