#include "subgrad/data/csv.hpp"

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"

namespace subgrad::data {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw Error(fmt::format("subgrad::data::read_csv: {}: {}", path.string(), what));
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    const auto comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return fields;
    line.remove_prefix(comma + 1);
  }
}

std::optional<double> number(std::string_view field) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  double value = 0.0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (field.empty() || error != std::errc() || end != field.data() + field.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  CsvTable table;
  std::vector<double> values;
  std::size_t columns = 0, rows = 0, line_number = 0;
  std::string line;
  while (std::getline(file, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> fields = split(line);
    const bool first = columns == 0;
    if (first) columns = fields.size();
    if (fields.size() != columns) {
      fail(path, fmt::format("line {} has {} fields, the first line has {}", line_number,
                             fields.size(), columns));
    }
    std::vector<double> row;
    row.reserve(columns);
    std::optional<std::size_t> bad_field;
    for (std::size_t k = 0; k < columns && !bad_field; ++k) {
      if (const auto value = number(fields[k])) {
        row.push_back(*value);
      } else {
        bad_field = k;
      }
    }
    if (bad_field) {
      if (first) {  // a header
        for (const auto field : fields) table.header.emplace_back(field);
        continue;
      }
      fail(path, fmt::format("line {}, field {}: \"{}\" is not a number", line_number,
                             *bad_field + 1, fields[*bad_field]));
    }
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
  }
  if (file.bad()) fail(path, "reading failed");
  if (columns == 0) fail(path, "is empty");
  table.values = Tensor<double>(rows, columns);
  std::copy(values.begin(), values.end(), table.values.data());
  return table;
}

}  // namespace subgrad::data
