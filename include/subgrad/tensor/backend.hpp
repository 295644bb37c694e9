#pragma once
/// \file
/// Which code runs the tensor layer's matrix products: OpenBLAS, or for float subgrad's own
/// AVX-512 kernels, chosen on the machine by default.

#include <string>

namespace subgrad {

/// The code behind matmul's products (and their backward products).
enum class MatmulBackend {
  /// subgrad's AVX-512 kernels for float where the CPU has AVX-512F and OpenBLAS does not use it
  /// (an OpenBLAS older than the CPU falls back to generic kernels: Debian 12's 0.3.21 runs its
  /// Prescott kernels on an Emerald Rapids Xeon, 4 times slower); OpenBLAS elsewhere.
  automatic,
  /// OpenBLAS for every product.
  openblas,
  /// subgrad's AVX-512 kernels for float products; double products stay on OpenBLAS.
  avx512,
};

/// Chooses the backend for the whole process (products already running finish on theirs).
/// MatmulBackend::avx512 on a CPU without AVX-512F throws subgrad::Error.
void set_matmul_backend(MatmulBackend backend);
/// The backend float products use now: openblas or avx512 (automatic resolved on this machine).
MatmulBackend matmul_backend();
/// One line naming the code behind products and why, such as "float: subgrad's AVX-512 kernels
/// (OpenBLAS 0.3.21 runs its Prescott kernels on this CPU); double: OpenBLAS 0.3.21": for
/// benchmark reports and bug reports.
std::string matmul_backend_description();

}  // namespace subgrad
