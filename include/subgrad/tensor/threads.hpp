#pragma once
/// \file
/// How many threads the tensor layer's matrix products use (OpenBLAS's; all cores by default).

namespace subgrad {

/// Sets the number of threads of matrix products (n >= 1; subgrad::Error otherwise).
void set_num_threads(int threads);
/// The number of threads matrix products use.
int num_threads();

}  // namespace subgrad
