#include "subgrad/core/file.hpp"

#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"

namespace subgrad {

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  std::filesystem::path temporary = path;
  temporary += ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw Error(
          fmt::format("subgrad::write_file_atomically: cannot write {}", temporary.string()));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw Error(fmt::format("subgrad::write_file_atomically: cannot rename {} to {}: {}",
                            temporary.string(), path.string(), error.message()));
  }
}

}  // namespace subgrad
