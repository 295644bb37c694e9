#pragma once
/// \file
/// The data layer: IDX and CSV files, Fashion-MNIST, mini-batches.

#include "subgrad/data/batches.hpp"  // IWYU pragma: export
#include "subgrad/data/csv.hpp"      // IWYU pragma: export
#include "subgrad/data/dataset.hpp"  // IWYU pragma: export
#include "subgrad/data/idx.hpp"      // IWYU pragma: export
