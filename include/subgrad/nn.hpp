#pragma once
/// \file
/// The nn layer: modules, initialisers, losses, optimizers, checkpoints and training diagnostics,
/// over the tensor layer.

#include "subgrad/tensor.hpp"  // IWYU pragma: export

#include "subgrad/nn/checkpoint.hpp"     // IWYU pragma: export
#include "subgrad/nn/data_parallel.hpp"  // IWYU pragma: export
#include "subgrad/nn/diagnostics.hpp"    // IWYU pragma: export
#include "subgrad/nn/init.hpp"           // IWYU pragma: export
#include "subgrad/nn/layers.hpp"         // IWYU pragma: export
#include "subgrad/nn/loss.hpp"           // IWYU pragma: export
#include "subgrad/nn/module.hpp"         // IWYU pragma: export
#include "subgrad/nn/optim.hpp"          // IWYU pragma: export
#include "subgrad/nn/parameter.hpp"      // IWYU pragma: export
#include "subgrad/nn/training.hpp"       // IWYU pragma: export
