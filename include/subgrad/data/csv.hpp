#pragma once
/// \file
/// Numeric tables from CSV files.

#include <filesystem>
#include <string>
#include <vector>

#include "subgrad/tensor/tensor.hpp"

namespace subgrad::data {

/// A numeric table: the column names (empty when the file has no header) and the values, one
/// tensor row per line.
struct CsvTable {
  std::vector<std::string> header;
  Tensor<double> values;
};

/// Reads a comma-separated table of numbers. The first line is a header when one of its fields is
/// not a number. Fields may be surrounded by spaces and may be quoted (RFC 4180: `"width, cm"`,
/// `""` for a quote; a quoted field ends on its line); a UTF-8 byte order mark is skipped; blank
/// lines are skipped; `nan` and `inf` are numbers, and one beyond double's range rounds to infinity
/// or zero (1e400, 1e-400), as NumPy reads it. An unreadable or empty file, a line with another
/// number of fields than the first, a field that is not a number or a quote left open throws
/// subgrad::Error naming the file, the line and the field.
CsvTable read_csv(const std::filesystem::path& path);

}  // namespace subgrad::data
