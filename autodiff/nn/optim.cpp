#include "subgrad/nn/optim.hpp"

// Built with -fno-math-errno (CMakeLists.txt): the results are the same, and the loops vectorize.
namespace subgrad::nn::detail {

template <bool Decoupled, class T>
void adam_update(std::span<T> value, std::span<const T> gradient, T* first_moment, T* second_moment,
                 const AdamOptions& o, double rate, std::uint64_t step) {
  const double correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(step));
  const T step_size = static_cast<T>(rate / correction1);
  const T root_correction2 = static_cast<T>(std::sqrt(correction2));
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  const T eps = static_cast<T>(o.eps), decay = static_cast<T>(o.weight_decay);
  const T shrink = static_cast<T>(1.0 - rate * o.weight_decay);
  T* __restrict p = value.data();
  const T* __restrict g_in = gradient.data();
  T* __restrict m = first_moment;
  T* __restrict v = second_moment;
  const std::size_t n = value.size();
  const FlushSubnormals flush;
  for (std::size_t i = 0; i < n; ++i) {
    T g = g_in[i];
    if constexpr (Decoupled) {
      p[i] *= shrink;
    } else {
      g += decay * p[i];
    }
    m[i] = beta1 * m[i] + (T(1) - beta1) * g;
    v[i] = beta2 * v[i] + (T(1) - beta2) * g * g;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / root_correction2 + eps);
  }
}

template void adam_update<false, float>(std::span<float>, std::span<const float>, float*, float*,
                                        const AdamOptions&, double, std::uint64_t);
template void adam_update<true, float>(std::span<float>, std::span<const float>, float*, float*,
                                       const AdamOptions&, double, std::uint64_t);
template void adam_update<false, double>(std::span<double>, std::span<const double>, double*,
                                         double*, const AdamOptions&, double, std::uint64_t);
template void adam_update<true, double>(std::span<double>, std::span<const double>, double*,
                                        double*, const AdamOptions&, double, std::uint64_t);

}  // namespace subgrad::nn::detail
