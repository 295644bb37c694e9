// Rank 1 throws while rank 0 waits in a collective: run() must stop both with rank 1's message
// (ctest checks the message and that the run ends within its timeout instead of hanging).
#include <vector>

#include "subgrad/distributed.hpp"

int main(int argc, char** argv) {
  namespace distributed = subgrad::distributed;
  return distributed::run(argc, argv, [](const distributed::Context& context) {
    if (context.rank() == 1) throw subgrad::Error("rank 1 gives up on purpose");
    std::vector<float> values(4, 1.0f);
    distributed::detail::allreduce_sum(std::span<float>(values), context.communicator(), "wait");
    return 0;
  });
}
