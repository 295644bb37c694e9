#pragma once
/// \file
/// Everything of the scalar library, fmt formatters included, layer by layer (each block uses
/// only the blocks above it).

#include "subgrad/core/core.hpp"  // IWYU pragma: export

#include "subgrad/math/elementary.hpp"          // IWYU pragma: export
#include "subgrad/math/maxout.hpp"              // IWYU pragma: export
#include "subgrad/math/registry.hpp"            // IWYU pragma: export
#include "subgrad/math/relu.hpp"                // IWYU pragma: export
#include "subgrad/math/smooth_activations.hpp"  // IWYU pragma: export

#include "subgrad/forward/derivative.hpp"  // IWYU pragma: export
#include "subgrad/forward/dual.hpp"        // IWYU pragma: export
#include "subgrad/forward/hessian.hpp"     // IWYU pragma: export

#include "subgrad/check/gradient_check.hpp"  // IWYU pragma: export

#include "subgrad/io/file.hpp"  // IWYU pragma: export
