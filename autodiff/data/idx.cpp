#include "subgrad/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"

namespace subgrad::data {

namespace {

constexpr std::uint8_t unsigned_byte_type = 0x08;
// Larger arrays are refused before anything is allocated (Fashion-MNIST has 47 million elements).
constexpr std::uint64_t largest_element_count = std::uint64_t{1} << 32;

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw Error(fmt::format("subgrad::data::read_idx: {}: {}", path.string(), what));
}

// A gzip or plain file read through zlib, which reads plain files as they are.
class CompressedReader {
 public:
  explicit CompressedReader(const std::filesystem::path& path) : path_(path) {
    if (!std::filesystem::exists(path)) fail(path, "no such file");
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) fail(path, "cannot be opened");
  }
  CompressedReader(const CompressedReader&) = delete;
  CompressedReader& operator=(const CompressedReader&) = delete;
  ~CompressedReader() { gzclose(file_); }

  /// Reads up to `size` bytes, as many as there are; an Error on corrupted compressed data.
  std::size_t read(void* out, std::size_t size) {
    std::size_t total = 0;
    auto* bytes = static_cast<unsigned char*>(out);
    while (total < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - total, 1u << 30));
      const int got = gzread(file_, bytes + total, chunk);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        fail(path_, fmt::format("corrupted compressed data ({})", message));
      }
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    // A gzip stream cut short reads as a short read with Z_BUF_ERROR.
    int code = 0;
    const char* message = gzerror(file_, &code);
    if (code != Z_OK && code != Z_STREAM_END) {
      fail(path_, fmt::format("corrupted or truncated compressed data ({})", message));
    }
    return total;
  }

 private:
  std::filesystem::path path_;
  gzFile file_ = nullptr;
};

}  // namespace

std::size_t IdxArray::item_size() const noexcept {
  std::size_t size = 1;
  for (std::size_t k = 1; k < dimensions.size(); ++k) size *= dimensions[k];
  return size;
}

IdxArray read_idx(const std::filesystem::path& path) {
  CompressedReader reader(path);
  std::array<std::uint8_t, 4> magic{};
  if (reader.read(magic.data(), 4) != 4) fail(path, "too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0) {
    fail(path, fmt::format("wrong magic number {:02x} {:02x} {:02x} {:02x} (an IDX file starts "
                           "with 00 00, the type and the number of dimensions)",
                           magic[0], magic[1], magic[2], magic[3]));
  }
  if (magic[2] != unsigned_byte_type) {
    fail(path, fmt::format("element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                           magic[2]));
  }
  if (magic[3] == 0) fail(path, "has no dimensions");
  IdxArray array;
  std::uint64_t elements = 1;
  for (int k = 0; k < magic[3]; ++k) {
    std::array<std::uint8_t, 4> b{};
    if (reader.read(b.data(), 4) != 4) {
      fail(path, fmt::format("truncated header: dimension {} of {} is missing", k + 1, magic[3]));
    }
    const std::uint64_t dimension = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) |
                                    (std::uint64_t{b[2]} << 8) | std::uint64_t{b[3]};
    elements *= dimension;
    if (elements > largest_element_count) {
      fail(path,
           fmt::format("declares more than 2^32 elements (dimension {} is {})", k + 1, dimension));
    }
    array.dimensions.push_back(static_cast<std::size_t>(dimension));
  }
  // Read in chunks, growing as data arrives: a header declaring more than the file holds costs
  // no more memory than the file.
  const std::size_t declared = static_cast<std::size_t>(elements);
  constexpr std::size_t chunk = std::size_t{1} << 22;
  std::size_t got = 0;
  while (got < declared) {
    const std::size_t want = std::min(chunk, declared - got);
    array.data.resize(got + want);
    const std::size_t read = reader.read(array.data.data() + got, want);
    got += read;
    if (read < want) break;
  }
  if (got != declared) {
    fail(path, fmt::format("truncated: the header declares {} bytes of data, the file has {}",
                           declared, got));
  }
  std::uint8_t extra = 0;
  if (reader.read(&extra, 1) != 0) {
    fail(path, fmt::format("has bytes after the {} declared by its header", array.data.size()));
  }
  return array;
}

}  // namespace subgrad::data
