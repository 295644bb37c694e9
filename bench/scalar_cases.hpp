#pragma once
// The cases of bench_scalar and bench_check_costs, each written once as a template over the scalar
// type (double, subgrad::Var, ADOL-C's adouble: declare that one's relu_of, square_of and
// softplus_max_term before including this), with their points and a functor per case.
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

namespace {  // each benchmark is one translation unit

using subgrad::Var;

// The few operations whose spelling differs between scalar types.
double relu_of(double x) { return x > 0.0 ? x : 0.0; }
double square_of(double x) { return x * x; }
double softplus_max_term(double a, double b) {
  return std::log(1.0 + std::exp(a)) * std::max(b, 0.0);
}
template <subgrad::Expression E>
auto relu_of(const E& x) {
  return subgrad::max(x, 0.0);
}
template <subgrad::Expression E>
auto square_of(const E& x) {
  return subgrad::square(x);
}
template <subgrad::Expression A, subgrad::Expression B>
auto softplus_max_term(const A& a, const B& b) {
  return log(1.0 + exp(a)) * subgrad::max(b, 0.0);
}

// mlp: 16 -> 32 -> 32 -> 1, relu hidden layers, mean squared error over a batch of 32.
constexpr int batch = 32, inputs = 16, hidden = 32;
constexpr int mlp_parameters = hidden * inputs + hidden + hidden * hidden + hidden + hidden + 1;

struct MlpData {
  std::vector<double> x;  // batch x inputs
  std::vector<double> y;  // batch
  MlpData() {
    for (int s = 0; s < batch; ++s) {
      for (int j = 0; j < inputs; ++j) x.push_back(std::sin(0.37 * s + 0.11 * j));
      y.push_back(std::cos(0.5 * s));
    }
  }
};
const MlpData mlp_data;

template <class T>
T mlp(std::span<const T> p) {
  const T* w1 = p.data();
  const T* b1 = w1 + hidden * inputs;
  const T* w2 = b1 + hidden;
  const T* b2 = w2 + hidden * hidden;
  const T* w3 = b2 + hidden;
  const T* b3 = w3 + hidden;
  T loss = 0.0;
  std::vector<T> h1(hidden), h2(hidden);
  for (int s = 0; s < batch; ++s) {
    const double* x = &mlp_data.x[static_cast<std::size_t>(s) * inputs];
    for (int i = 0; i < hidden; ++i) {
      T z = b1[i];
      for (int j = 0; j < inputs; ++j) z += w1[i * inputs + j] * x[j];
      h1[i] = relu_of(z);
    }
    for (int i = 0; i < hidden; ++i) {
      T z = b2[i];
      for (int j = 0; j < hidden; ++j) z += w2[i * hidden + j] * h1[j];
      h2[i] = relu_of(z);
    }
    T out = b3[0];
    for (int j = 0; j < hidden; ++j) out += w3[j] * h2[j];
    loss += square_of(out - mlp_data.y[s]);
  }
  return loss * (1.0 / batch);
}

std::vector<double> mlp_point() {
  std::vector<double> p(mlp_parameters);
  for (int k = 0; k < mlp_parameters; ++k) p[k] = 0.1 * std::sin(0.7 * k + 0.3);
  return p;
}

template <class T>
T rosenbrock(std::span<const T> x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    f += 100.0 * square_of(x[i + 1] - x[i] * x[i]) + square_of(1.0 - x[i]);
  }
  return f;
}
std::vector<double> rosenbrock_point() {
  std::vector<double> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 + 0.001 * static_cast<double>(i % 100);
  return x;
}

template <class T>
T softplus_max(std::span<const T> x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) f += softplus_max_term(x[i], x[i + 1]);
  return f;
}
std::vector<double> softplus_max_point() {
  std::vector<double> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 3.0 * std::sin(0.001 * static_cast<double>(i));
  return x;
}

// advection: Adept's published benchmark. 100 grid points, 2000 time steps of a flux-form scheme
// with Courant number c = 0.125 and periodic boundaries; J = sum 0.1 * q_final, differentiated with
// respect to the initial profile.
constexpr int advection_points = 100, advection_steps = 2000;
constexpr double courant = 0.125;

struct LaxWendroffFlux {
  template <class T>
  T operator()(const T& left, const T& right) const {
    return 0.5 * courant * (left + right + courant * (left - right));
  }
};
struct ToonFlux {
  template <class T>
  T operator()(const T& left, const T& right) const {
    using std::exp;
    using std::log;
    return (exp(courant * log(left / right)) - 1.0) * left * right / (left - right);
  }
};

template <class T, class Flux>
T advection(std::span<const T> initial, Flux flux) {
  std::vector<T> q(initial.begin(), initial.end());
  std::vector<T> fluxes(advection_points - 1);
  for (int step = 0; step < advection_steps; ++step) {
    for (int i = 0; i < advection_points - 1; ++i) fluxes[i] = flux(q[i], q[i + 1]);
    for (int i = 1; i < advection_points - 1; ++i) q[i] += fluxes[i - 1] - fluxes[i];
    q[0] = q[advection_points - 2];
    q[advection_points - 1] = q[1];
  }
  T J = 0.0;
  for (int i = 0; i < advection_points; ++i) J += 0.1 * q[i];
  return J;
}
std::vector<double> advection_point() {
  std::vector<double> q(advection_points);
  for (int i = 0; i < advection_points; ++i) {
    q[i] = 1.5 + 0.5 * std::sin(2.0 * M_PI * i / (advection_points - 1.5));
  }
  return q;
}

struct Mlp {
  template <class T>
  T operator()(std::span<const T> p) const {
    return mlp(p);
  }
};
struct Rosenbrock {
  template <class T>
  T operator()(std::span<const T> x) const {
    return rosenbrock(x);
  }
};
struct SoftplusMax {
  template <class T>
  T operator()(std::span<const T> x) const {
    return softplus_max(x);
  }
};
struct AdvectionLaxWendroff {
  template <class T>
  T operator()(std::span<const T> x) const {
    return advection(x, LaxWendroffFlux{});
  }
};
struct AdvectionToon {
  template <class T>
  T operator()(std::span<const T> x) const {
    return advection(x, ToonFlux{});
  }
};

}  // namespace
