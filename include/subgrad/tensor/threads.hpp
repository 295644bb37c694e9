#pragma once
/// \file
/// How many threads the tensor layer's matrix products use (OpenBLAS's; all cores by default).

namespace subgrad {

/// Sets the number of threads of matrix products (n >= 1; subgrad::Error otherwise).
void set_num_threads(int threads);
/// The number of threads matrix products use.
int num_threads();

namespace detail {
/// While one lives, every matrix product runs on the thread that calls it, whatever
/// set_num_threads asked for: for callers that multiply on several threads at once
/// (nn::DataParallel), where OpenBLAS's own threads would only compete with them. Nests; the
/// requested count is back when the last one ends.
class OneThreadPerProduct {
 public:
  OneThreadPerProduct();
  ~OneThreadPerProduct();
  OneThreadPerProduct(const OneThreadPerProduct&) = delete;
  OneThreadPerProduct& operator=(const OneThreadPerProduct&) = delete;
};
}  // namespace detail

}  // namespace subgrad
