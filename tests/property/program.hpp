#pragma once
// Random straight-line programs over every registered unary primitive, arithmetic, max/min,
// maxout and prelu, evaluated generically on double, Var and Dual<double>. A program is a DAG
// (nodes refer to earlier nodes, so subexpressions are reused), with fused nodes recorded as
// one statement of several operands and self-referential update loops (s = s * a + c).
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "subgrad/math/registry.hpp"
#include "subgrad/subgrad.hpp"

namespace property {

using subgrad::KinkRule;

/// The registry's unary primitives, each with an argument map that keeps it inside its domain.
struct UnaryChoice {
  subgrad::DynamicUnaryRule rule;
  bool mapped;  // apply to low + (high - low) sigmoid(x) instead of x
  double low, high;
};

inline const std::vector<UnaryChoice>& unary_choices() {
  static const std::vector<UnaryChoice> choices = [] {
    std::vector<UnaryChoice> result;
    subgrad::for_each_unary_primitive([&](const auto& entry) {
      const bool kinked = !subgrad::rule_kinks(entry.rule, -10, 10).empty();
      const bool mapped = entry.family == subgrad::Family::elementary && !kinked &&
                          (entry.low > -3.5 || entry.high < 3.5);
      result.push_back({*subgrad::find_unary_primitive(entry.name), mapped, entry.low, entry.high});
    });
    return result;
  }();
  return choices;
}

enum class Op {
  input,
  constant,
  unary,
  add,
  subtract,
  multiply,
  divide,
  max,
  min,
  maxout,
  prelu,
  fused_affine,
  fused_relu,
  fused_mix,
  loop
};

struct Node {
  Op op;
  int a = 0, b = 0, c = 0;  // earlier nodes
  int input = 0;
  double constant = 0.0;
  int unary = 0;
  bool per_call_rule = false;
  KinkRule rule = subgrad::kink::min_norm;
  int repeat = 0;  // loop: s = s * a + constant, repeated
};

struct Program {
  int inputs = 1;
  std::vector<Node> nodes;  // the last node is the output
  KinkRule scope_rule = subgrad::kink::min_norm;
};

inline KinkRule random_rule(std::mt19937_64& g) {
  switch (std::uniform_int_distribution<int>(0, 4)(g)) {
    case 0:
      return subgrad::kink::min_norm;
    case 1:
      return subgrad::kink::left;
    case 2:
      return subgrad::kink::right;
    case 3:
      return subgrad::kink::midpoint;
    default:
      return subgrad::kink::convex(std::uniform_real_distribution<double>(0.0, 1.0)(g));
  }
}

inline int grow(Program& p, std::mt19937_64& g, int depth) {
  auto chance = [&](double probability) {
    return std::uniform_real_distribution<double>(0, 1)(g) < probability;
  };
  Node node;
  if (depth == 0 || chance(0.25)) {
    if (!p.nodes.empty() && chance(0.3))
      return std::uniform_int_distribution<int>(0, static_cast<int>(p.nodes.size()) - 1)(g);
    if (chance(0.75)) {
      node.op = Op::input;
      node.input = std::uniform_int_distribution<int>(0, p.inputs - 1)(g);
    } else {
      node.op = Op::constant;
      const double constants[] = {0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 6.0};
      node.constant = chance(0.5) ? constants[std::uniform_int_distribution<int>(0, 6)(g)]
                                  : std::uniform_real_distribution<double>(-2, 2)(g);
    }
  } else {
    node.op = static_cast<Op>(std::uniform_int_distribution<int>(static_cast<int>(Op::unary),
                                                                 static_cast<int>(Op::loop))(g));
    if (node.op != Op::unary && chance(0.5)) node.op = Op::unary;  // primitives are the point
    node.a = grow(p, g, depth - 1);
    node.b = grow(p, g, depth - 1);
    node.c = grow(p, g, depth - 1);
    node.unary =
        std::uniform_int_distribution<int>(0, static_cast<int>(unary_choices().size()) - 1)(g);
    node.per_call_rule = chance(0.4);
    node.rule = random_rule(g);
    node.constant = std::uniform_real_distribution<double>(-0.9, 0.9)(g);
    node.repeat = std::uniform_int_distribution<int>(1, 4)(g);
  }
  p.nodes.push_back(node);
  return static_cast<int>(p.nodes.size()) - 1;
}

inline Program generate(std::uint64_t seed) {
  std::mt19937_64 g(seed);
  Program p;
  p.inputs = std::uniform_int_distribution<int>(1, 4)(g);
  p.scope_rule = random_rule(g);
  const int depth = std::uniform_int_distribution<int>(2, 8)(g);
  const int root = grow(p, g, depth);
  if (root != static_cast<int>(p.nodes.size()) - 1) p.nodes.push_back(Node{Op::add, root, root});
  return p;
}

/// Points that include exact kinks and ties: 0, +-1, +-3, 6, copies of other coordinates.
inline std::vector<double> random_point(const Program& p, std::mt19937_64& g) {
  std::vector<double> x(static_cast<std::size_t>(p.inputs));
  const double specials[] = {0.0, 0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5};
  for (std::size_t i = 0; i < x.size(); ++i) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(g);
    if (kind < 4) {
      x[i] = specials[std::uniform_int_distribution<int>(0, 7)(g)];
    } else if (kind < 5 && i > 0) {
      x[i] = x[std::uniform_int_distribution<std::size_t>(0, i - 1)(g)];  // a tie
    } else {
      x[i] = std::uniform_real_distribution<double>(-3, 3)(g);
    }
  }
  return x;
}

/// How close the evaluation came to a kink, a jump or a tie (relative distance; large is safe).
struct Closeness {
  double nearest = 1e300;
  void see(double distance, double at) {
    nearest = std::min(nearest, std::abs(distance) / std::max(1.0, std::abs(at)));
  }
};

/// Evaluates the program on T (double, Var or Dual<double>); `closeness` is filled on double.
template <class T>
T evaluate(const Program& p, std::span<const T> x, Closeness* closeness = nullptr) {
  subgrad::KinkScope scope{p.scope_rule};
  std::vector<T> values;
  values.reserve(p.nodes.size());
  auto plain = [](const T& v) { return subgrad::primal_value(v); };
  for (const Node& n : p.nodes) {
    const T& a =
        n.op == Op::input || n.op == Op::constant ? x[0] : values[static_cast<std::size_t>(n.a)];
    const T& b =
        n.op == Op::input || n.op == Op::constant ? x[0] : values[static_cast<std::size_t>(n.b)];
    const T& c =
        n.op == Op::input || n.op == Op::constant ? x[0] : values[static_cast<std::size_t>(n.c)];
    const KinkRule rule = n.per_call_rule ? n.rule : subgrad::current_kink_rule();
    T out;
    switch (n.op) {
      case Op::input:
        out = x[static_cast<std::size_t>(n.input)];
        break;
      case Op::constant:
        out = T(n.constant) * 1.0;
        break;
      case Op::unary: {
        const UnaryChoice& u = unary_choices()[static_cast<std::size_t>(n.unary)];
        const subgrad::Primitive<subgrad::DynamicUnaryRule> f{u.rule};
        if (u.mapped) {
          const T argument = u.low + (u.high - u.low) * subgrad::sigmoid(a);
          out = f(argument, rule);
        } else {
          if (closeness) {
            for (const auto& k : u.rule.kinks(plain(a) - 1, plain(a) + 1))
              closeness->see(plain(a) - k.at, plain(a));
          }
          out = f(a, rule);
        }
        break;
      }
      case Op::add:
        out = a + b;
        break;
      case Op::subtract:
        out = a - b;
        break;
      case Op::multiply:
        out = a * b;
        break;
      case Op::divide:
        out = a / (1.0 + b * b);
        break;  // no pole
      case Op::max:
        if (closeness) closeness->see(plain(a) - plain(b), plain(a));
        out = subgrad::Primitive<subgrad::rules::Max>{}(a, b, rule);
        break;
      case Op::min:
        if (closeness) closeness->see(plain(a) - plain(b), plain(a));
        out = subgrad::Primitive<subgrad::rules::Min>{}(a, b, rule);
        break;
      case Op::maxout:
        if (closeness) {
          closeness->see(plain(a) - plain(b), plain(a));
          closeness->see(plain(b) - plain(c), plain(b));
          closeness->see(plain(a) - plain(c), plain(a));
        }
        out = subgrad::maxout(a, b, c, rule);
        break;
      case Op::prelu:
        if (closeness) closeness->see(plain(a), plain(a));
        out = subgrad::prelu(a, n.constant, rule);
        break;
      case Op::fused_affine:
        out = a * b + c * n.constant;
        break;  // one statement, three leaves
      case Op::fused_relu:
        if (closeness) closeness->see(plain(a) * plain(b) - plain(c), plain(c));
        out = relu(a * b - c, rule);
        break;
      case Op::fused_mix:
        if (closeness) {
          closeness->see(plain(a) - plain(b), plain(a));
          closeness->see(plain(a), plain(a));
        }
        out = subgrad::Primitive<subgrad::rules::Max>{}(a, b, rule) * c +
              subgrad::Primitive<subgrad::rules::Abs>{}(a, rule);
        break;
      case Op::loop: {
        T s = a;  // self-referential updates of one variable
        const T squashed = subgrad::Primitive<subgrad::rules::Tanh>{}(b)*1.0;
        for (int k = 0; k < n.repeat; ++k) s = s * squashed + n.constant;
        out = s;
        break;
      }
    }
    values.push_back(out);
  }
  return values.back();
}

inline std::string describe(const Program& p) {
  const char* names[] = {"input",    "constant",     "unary",      "add",       "subtract",
                         "multiply", "divide",       "max",        "min",       "maxout",
                         "prelu",    "fused_affine", "fused_relu", "fused_mix", "loop"};
  std::string text = fmt::format("{} inputs, scope rule {}\n", p.inputs, p.scope_rule.name());
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const Node& n = p.nodes[i];
    text += fmt::format("  v{} = {}", i, names[static_cast<int>(n.op)]);
    if (n.op == Op::input)
      text += fmt::format(" x{}", n.input);
    else if (n.op == Op::constant)
      text += fmt::format(" {}", n.constant);
    else {
      if (n.op == Op::unary)
        text += fmt::format(" {}", unary_choices()[static_cast<std::size_t>(n.unary)].rule.name);
      text += fmt::format("(v{}, v{}, v{}) c={} repeat={}", n.a, n.b, n.c, n.constant, n.repeat);
      if (n.per_call_rule) text += fmt::format(" rule {}", n.rule.name());
    }
    text += "\n";
  }
  return text;
}

}  // namespace property
