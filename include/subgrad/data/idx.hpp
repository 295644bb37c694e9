#pragma once
/// \file
/// IDX files (the format of MNIST and Fashion-MNIST), gzipped or not.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace subgrad::data {

/// An IDX array of unsigned bytes: its dimensions (the first counts the items) and its elements in
/// row-major order.
struct IdxArray {
  std::vector<std::size_t> dimensions;
  std::vector<std::uint8_t> data;
  /// The number of items (the first dimension).
  std::size_t count() const noexcept { return dimensions.empty() ? 0 : dimensions.front(); }
  /// The elements per item (the product of the other dimensions).
  std::size_t item_size() const noexcept;
};

/// Reads an IDX file of unsigned bytes (type 0x08), gzip-compressed or plain. A missing or
/// unreadable file, a wrong magic number, another element type, a size over 2^32 elements,
/// truncated or corrupted data and bytes after the data throw subgrad::Error naming the file.
IdxArray read_idx(const std::filesystem::path& path);

}  // namespace subgrad::data
