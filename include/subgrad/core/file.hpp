#pragma once
/// \file
/// Writing files so that nothing is ever left half-written.

#include <filesystem>
#include <string_view>

namespace subgrad {

/// Writes `text` to `path` through a temporary file in the same folder, renamed over `path` once
/// complete: a reader sees the old file or the whole new one. Throws subgrad::Error naming the
/// path when writing fails (and removes the temporary file).
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace subgrad
