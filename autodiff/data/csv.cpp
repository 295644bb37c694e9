#include "subgrad/data/csv.hpp"

#include <locale.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
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

// The fields of one line, separated by commas and trimmed of spaces. A field may be quoted
// (RFC 4180: commas inside, a doubled quote for a quote); its text is then what the quotes hold.
std::vector<std::string> split(std::string_view line, const std::filesystem::path& path,
                               std::size_t line_number) {
  std::vector<std::string> fields;
  while (true) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start != std::string_view::npos && line[start] == '"') {
      std::string text;
      std::size_t at = start + 1;
      while (true) {
        const std::size_t quote = line.find('"', at);
        if (quote == std::string_view::npos) {
          fail(path, fmt::format("line {}: a quote opened in field {} is not closed", line_number,
                                 fields.size() + 1));
        }
        text.append(line.substr(at, quote - at));
        if (quote + 1 < line.size() && line[quote + 1] == '"') {  // "" inside quotes
          text.push_back('"');
          at = quote + 2;
          continue;
        }
        line.remove_prefix(quote + 1);
        break;
      }
      const std::size_t comma = line.find(',');
      if (!trim(line.substr(0, comma)).empty()) {
        fail(path, fmt::format("line {}, field {}: text after the closing quote", line_number,
                               fields.size() + 1));
      }
      fields.push_back(std::string(trim(text)));
      if (comma == std::string_view::npos) return fields;
      line.remove_prefix(comma + 1);
      continue;
    }
    const auto comma = line.find(',');
    fields.emplace_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return fields;
    line.remove_prefix(comma + 1);
  }
}

// The number a field holds, if it is one. A number beyond double's range (1e400, 1e-400) is
// rounded to infinity or to zero (or a denormal), as strtod, NumPy and pandas read it: from_chars
// leaves it unread, so it goes to strtod in the "C" locale (whatever the program's locale), which
// reads every form from_chars does. Before, it was "not a number", and on the first line it made
// a row of data a header, silently.
std::optional<double> number(std::string_view field) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  if (field.empty()) return std::nullopt;
  const char* const last = field.data() + field.size();
  double value = 0.0;
  const auto [end, error] = std::from_chars(field.data(), last, value);
  if (end != last) return std::nullopt;
  if (error == std::errc()) return value;
  if (error != std::errc::result_out_of_range) return std::nullopt;
  static const locale_t c_locale = ::newlocale(LC_ALL_MASK, "C", locale_t{});
  const std::string text(field);
  return ::strtod_l(text.c_str(), nullptr, c_locale);
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
    // A UTF-8 byte order mark, as spreadsheets write, is not part of the first field.
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (trim(line).empty()) continue;
    const std::vector<std::string> fields = split(line, path, line_number);
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
        table.header = fields;
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
