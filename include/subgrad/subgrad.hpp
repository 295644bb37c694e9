#pragma once
/// \file
/// Everything of the scalar library, fmt formatters included, layer by layer (each block uses
/// only the blocks above it). Not included, because each costs more to compile than it is worth
/// to code that does not use it (docs/performance.md, compile time): the registry's compile-time
/// list of primitives (<subgrad/math/registry.hpp>, for code that iterates over every primitive;
/// find_unary_primitive is included) and the file utility <subgrad/io/file.hpp>.

#include "subgrad/core/core.hpp"    // IWYU pragma: export
#include "subgrad/core/format.hpp"  // IWYU pragma: export

#include "subgrad/math/elementary.hpp"          // IWYU pragma: export
#include "subgrad/math/find_primitive.hpp"      // IWYU pragma: export
#include "subgrad/math/maxout.hpp"              // IWYU pragma: export
#include "subgrad/math/relu.hpp"                // IWYU pragma: export
#include "subgrad/math/smooth_activations.hpp"  // IWYU pragma: export

#include "subgrad/forward/derivative.hpp"  // IWYU pragma: export
#include "subgrad/forward/dual.hpp"        // IWYU pragma: export
#include "subgrad/forward/format.hpp"      // IWYU pragma: export
#include "subgrad/forward/hessian.hpp"     // IWYU pragma: export

#include "subgrad/check/format.hpp"          // IWYU pragma: export
#include "subgrad/check/gradient_check.hpp"  // IWYU pragma: export
