#pragma once
/// \file
/// Writing files so that nothing is ever left half-written (not differentiation: a utility the
/// examples, benchmarks and checkpoints share).

#include <filesystem>
#include <string_view>

namespace subgrad {

/// Writes `text` to `path` through a temporary file of its own in the same folder, flushed to disk
/// and renamed over `path` once complete: a reader sees the old file or the whole new one, and
/// concurrent writers of one path do not disturb each other. A symbolic link is followed (the
/// file it points to is replaced, the link stays), and a replaced file keeps its permissions.
/// Throws subgrad::Error naming the path when writing fails, and removes the temporary file on
/// every failure path.
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace subgrad
