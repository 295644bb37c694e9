// read_csv on arbitrary bytes: a table or a subgrad::Error.
#include "fuzz_input.hpp"
#include "subgrad/core/error.hpp"
#include "subgrad/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const subgrad::data::CsvTable table = subgrad::data::read_csv(fuzz_input_file(data, size));
    if (!table.header.empty() && table.header.size() != table.values.cols()) __builtin_trap();
  } catch (const subgrad::Error&) {
  }
  return 0;
}
