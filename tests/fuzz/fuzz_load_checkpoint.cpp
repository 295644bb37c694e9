// nn::load on arbitrary bytes: the model restored, or a subgrad::Error and the model unchanged.
#include <cstring>
#include <vector>

#include "fuzz_input.hpp"
#include "fuzz_model.hpp"
#include "subgrad/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzModel target;
  std::vector<float> before;
  for (const auto& p : target.model.parameters()) {
    before.insert(before.end(), p.parameter->value().span().begin(),
                  p.parameter->value().span().end());
  }
  try {
    subgrad::nn::load(fuzz_input_file(data, size), target.model, target.optimizer);
  } catch (const subgrad::Error&) {
    std::vector<float> after;
    for (const auto& p : target.model.parameters()) {
      after.insert(after.end(), p.parameter->value().span().begin(),
                   p.parameter->value().span().end());
    }
    if (std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) != 0) {
      __builtin_trap();  // a refused file must leave the model as it was
    }
  }
  return 0;
}
