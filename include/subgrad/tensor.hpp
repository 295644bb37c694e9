#pragma once
/// \file
/// The tensor layer: Tensor, TensorVar, fused element-wise expressions over every primitive,
/// matmul, reductions and losses, on the same tape as scalar Vars. Opt-in: <subgrad/subgrad.hpp>
/// stays scalar-only.

#include "subgrad/subgrad.hpp"  // IWYU pragma: export

#include "subgrad/tensor/backend.hpp"         // IWYU pragma: export
#include "subgrad/tensor/check.hpp"           // IWYU pragma: export
#include "subgrad/tensor/expression.hpp"      // IWYU pragma: export
#include "subgrad/tensor/linear_algebra.hpp"  // IWYU pragma: export
#include "subgrad/tensor/reduction.hpp"       // IWYU pragma: export
#include "subgrad/tensor/relu_family.hpp"     // IWYU pragma: export
#include "subgrad/tensor/storage.hpp"         // IWYU pragma: export
#include "subgrad/tensor/tensor.hpp"          // IWYU pragma: export
#include "subgrad/tensor/tensor_var.hpp"      // IWYU pragma: export
#include "subgrad/tensor/threads.hpp"         // IWYU pragma: export
