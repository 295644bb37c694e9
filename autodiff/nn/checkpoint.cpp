#include "subgrad/nn/checkpoint.hpp"

#include <zlib.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/io/file.hpp"

namespace subgrad::nn::detail {

namespace {

// The layout, all integers little-endian:
//   magic "subgrad\x1a" | u32 version | u32 element size | u32 n, optimizer name (n bytes) |
//   f64 learning rate | u64 steps |
//   u64 count, per optimizer parameter: u32 n, name (n bytes), u64 steps that updated it |
//   u64 tensor count | per tensor: u32 n, name (n bytes), u64 rows, u64 cols, rows * cols
//   elements | u32 CRC-32 of everything before it.
// Version 1 had no per-parameter step counts: every parameter counted every step.
constexpr std::string_view magic{"subgrad\x1a", 8};
constexpr std::uint32_t version = 2;
constexpr std::uint32_t oldest_version = 1;

static_assert(std::endian::native == std::endian::little,
              "subgrad checkpoints store elements as little-endian bytes");

void put(std::string& out, std::uint64_t value, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xff));
}

std::string element_name(std::uint64_t size) {
  return size == 4 ? "float" : size == 8 ? "double" : fmt::format("{}-byte", size);
}

// Reads the file's fields in order, refusing to read past its end.
class Reader {
 public:
  Reader(const std::filesystem::path& path, std::string_view bytes) : path_(path), bytes_(bytes) {}
  std::uint64_t integer(int size, std::string_view what) {
    need(static_cast<std::size_t>(size), what);
    std::uint64_t value = 0;
    for (int k = 0; k < size; ++k) {
      value |= std::uint64_t{static_cast<unsigned char>(bytes_[at_ + k])} << (8 * k);
    }
    at_ += static_cast<std::size_t>(size);
    return value;
  }
  std::string_view bytes(std::uint64_t size, std::string_view what) {
    need(size, what);
    const std::string_view out = bytes_.substr(at_, static_cast<std::size_t>(size));
    at_ += static_cast<std::size_t>(size);
    return out;
  }
  std::size_t remaining() const noexcept { return bytes_.size() - at_; }

 private:
  void need(std::uint64_t size, std::string_view what) const {
    if (size > bytes_.size() - at_) {
      throw Error(fmt::format("subgrad::nn::load: {}: ends inside {}", path_.string(), what));
    }
  }
  const std::filesystem::path& path_;
  std::string_view bytes_;
  std::size_t at_ = 0;
};

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw Error(fmt::format("subgrad::nn::load: {}: {}", path.string(), what));
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const CheckpointContents& contents) {
  std::string out(magic);
  put(out, version, 4);
  put(out, contents.element_size, 4);
  put(out, contents.optimizer.size(), 4);
  out += contents.optimizer;
  put(out, std::bit_cast<std::uint64_t>(contents.learning_rate), 8);
  put(out, contents.steps, 8);
  put(out, contents.parameter_steps.size(), 8);
  for (const CheckpointStepCount& count : contents.parameter_steps) {
    put(out, count.name.size(), 4);
    out += count.name;
    put(out, count.steps, 8);
  }
  put(out, contents.tensors.size(), 8);
  for (const CheckpointTensor& t : contents.tensors) {
    put(out, t.name.size(), 4);
    out += t.name;
    put(out, t.rows, 8);
    put(out, t.cols, 8);
    out.append(static_cast<const char*>(t.data), t.rows * t.cols * contents.element_size);
  }
  const uLong checksum = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(out.data()),
                               static_cast<uInt>(out.size()));
  put(out, checksum, 4);
  write_file_atomically(path, out);
}

void load_checkpoint(const std::filesystem::path& path, CheckpointContents& contents) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  const std::string bytes = std::move(buffer).str();

  if (bytes.size() < magic.size() || std::string_view(bytes).substr(0, magic.size()) != magic) {
    fail(path, "is not a subgrad checkpoint (wrong magic number)");
  }
  Reader header(path, std::string_view(bytes).substr(magic.size()));
  const std::uint64_t file_version = header.integer(4, "the header");
  if (file_version < oldest_version || file_version > version) {
    fail(path, fmt::format("is a version {} checkpoint; this subgrad reads versions {} to {}",
                           file_version, oldest_version, version));
  }
  // The checksum covers everything before it: a truncated or damaged file fails here, before
  // anything in it is trusted.
  if (bytes.size() < magic.size() + 4 + 4) fail(path, "is truncated (no checksum)");
  const std::size_t body = bytes.size() - 4;
  std::uint32_t stored = 0;
  for (int k = 0; k < 4; ++k) {
    stored |= std::uint32_t{static_cast<unsigned char>(bytes[body + k])} << (8 * k);
  }
  const uLong computed = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                               static_cast<uInt>(body));
  if (stored != static_cast<std::uint32_t>(computed)) {
    fail(path, fmt::format("is corrupted or truncated (checksum {:08x}, contents give {:08x})",
                           stored, static_cast<std::uint32_t>(computed)));
  }

  Reader reader(path, std::string_view(bytes).substr(magic.size() + 4, body - magic.size() - 4));
  const std::uint64_t element_size = reader.integer(4, "the header");
  if (element_size != contents.element_size) {
    fail(path, fmt::format("holds {} elements; the model's are {}", element_name(element_size),
                           element_name(contents.element_size)));
  }
  const std::string optimizer(reader.bytes(reader.integer(4, "the header"), "the header"));
  if (!contents.optimizer.empty() && optimizer != contents.optimizer) {
    fail(path, fmt::format("was saved with optimizer {}; this one is {}",
                           optimizer.empty() ? "none" : optimizer, contents.optimizer));
  }
  const double learning_rate = std::bit_cast<double>(reader.integer(8, "the header"));
  const std::uint64_t steps = reader.integer(8, "the header");
  std::map<std::string, std::uint64_t, std::less<>> stored_parameter_steps;
  if (file_version >= 2) {
    const std::uint64_t counts = reader.integer(8, "the header");
    for (std::uint64_t k = 0; k < counts; ++k) {
      const std::string name(
          reader.bytes(reader.integer(4, "a parameter's step count"), "a parameter's step count"));
      const std::uint64_t parameter_steps = reader.integer(8, "a parameter's step count");
      if (parameter_steps > steps) {
        fail(path, fmt::format("says parameter {} was updated in {} steps of {}", name,
                               parameter_steps, steps));
      }
      stored_parameter_steps[name] = parameter_steps;
    }
  }
  const std::uint64_t count = reader.integer(8, "the header");

  struct Stored {
    std::uint64_t rows, cols;
    std::string_view data;
  };
  std::map<std::string, Stored, std::less<>> stored_tensors;
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::string name(reader.bytes(reader.integer(4, "a tensor's name"), "a tensor's name"));
    const std::uint64_t rows = reader.integer(8, name), cols = reader.integer(8, name);
    if (cols != 0 && rows > (reader.remaining() / element_size) / cols) {
      fail(path,
           fmt::format("{} declares {} x {} elements, more than the file holds", name, rows, cols));
    }
    stored_tensors[name] = {rows, cols, reader.bytes(rows * cols * element_size, name)};
  }
  if (reader.remaining() != 0) fail(path, "has bytes after its last tensor");

  const bool with_optimizer = !contents.optimizer.empty();
  std::map<std::string, const CheckpointTensor*, std::less<>> expected;
  for (const CheckpointTensor& t : contents.tensors) {
    const auto found = stored_tensors.find(t.name);
    if (found == stored_tensors.end()) fail(path, fmt::format("has no {}", t.name));
    if (found->second.rows != t.rows || found->second.cols != t.cols) {
      fail(path, fmt::format("{} is {} x {} in the file, {} x {} here", t.name, found->second.rows,
                             found->second.cols, t.rows, t.cols));
    }
    expected[t.name] = &t;
  }
  for (const auto& [name, t] : stored_tensors) {
    const bool optimizer_part = name.starts_with("optimizer ");
    if (!expected.contains(name) && (with_optimizer || !optimizer_part)) {
      fail(path, fmt::format("has {}, which the model does not", name));
    }
  }
  if (with_optimizer && file_version >= 2) {
    for (const CheckpointStepCount& expected_count : contents.parameter_steps) {
      if (!stored_parameter_steps.contains(expected_count.name)) {
        fail(path, fmt::format("has no step count of parameter {}", expected_count.name));
      }
    }
    if (stored_parameter_steps.size() != contents.parameter_steps.size()) {
      fail(path, fmt::format("has step counts of {} parameters; the {} has {}",
                             stored_parameter_steps.size(), contents.optimizer,
                             contents.parameter_steps.size()));
    }
  }
  // Everything checked: now change the model.
  for (CheckpointTensor& t : contents.tensors) {
    const std::string_view data = stored_tensors.find(t.name)->second.data;
    std::memcpy(t.data, data.data(), data.size());
  }
  if (with_optimizer) {
    contents.learning_rate = learning_rate;
    contents.steps = steps;
    for (CheckpointStepCount& count : contents.parameter_steps)
      count.steps = file_version >= 2 ? stored_parameter_steps.find(count.name)->second : steps;
  }
}

}  // namespace subgrad::nn::detail
