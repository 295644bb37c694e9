#pragma once
/// \file
/// Everything subgrad offers, fmt formatters included.

#include "subgrad/core/core.hpp"        // IWYU pragma: export
#include "subgrad/math/elementary.hpp"  // IWYU pragma: export
