// read_idx on arbitrary bytes (plain or gzip): an array or a subgrad::Error.
#include "fuzz_input.hpp"
#include "subgrad/core/error.hpp"
#include "subgrad/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const subgrad::data::IdxArray array = subgrad::data::read_idx(fuzz_input_file(data, size));
    std::size_t product = 1;
    for (const std::size_t d : array.dimensions) product *= d;
    if (product != array.data.size()) __builtin_trap();  // the header must describe the data
  } catch (const subgrad::Error&) {
  }
  return 0;
}
