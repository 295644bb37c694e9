#pragma once
/// \file
/// Data-parallel training over MPI, the optional component subgrad::distributed (CMake option
/// SUBGRAD_WITH_MPI): Context, run, broadcast_parameters, allreduce_gradients, batches (the
/// sharded sampler), save and load. docs/distributed.md says how to use it.

#include "subgrad/distributed/context.hpp"
#include "subgrad/distributed/data_parallel.hpp"
