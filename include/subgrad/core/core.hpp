#pragma once
/// \file
/// The scalar engine: Tape, Var, expressions, Primitive, KinkRule, sweeps and nodes.

#include "subgrad/core/arithmetic.hpp"    // IWYU pragma: export
#include "subgrad/core/error.hpp"         // IWYU pragma: export
#include "subgrad/core/expression.hpp"    // IWYU pragma: export
#include "subgrad/core/finite_check.hpp"  // IWYU pragma: export
#include "subgrad/core/gradient.hpp"      // IWYU pragma: export
#include "subgrad/core/kink.hpp"          // IWYU pragma: export
#include "subgrad/core/limits.hpp"        // IWYU pragma: export
#include "subgrad/core/node.hpp"          // IWYU pragma: export
#include "subgrad/core/primitive.hpp"     // IWYU pragma: export
#include "subgrad/core/tape.hpp"          // IWYU pragma: export
#include "subgrad/core/var.hpp"           // IWYU pragma: export
