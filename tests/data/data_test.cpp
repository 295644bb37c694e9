// The data layer: IDX files plain and gzipped with every kind of damage, Fashion-MNIST from the
// Debian package, CSV tables, and mini-batches that visit every sample once per pass.
#include "subgrad/data.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "error_message.hpp"

namespace data = subgrad::data;

namespace {

// A fresh folder for one test's files, removed afterwards.
struct Scratch {
  std::filesystem::path folder;
  Scratch() {
    folder =
        std::filesystem::temp_directory_path() /
        ("subgrad_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(folder);
  }
  ~Scratch() { std::filesystem::remove_all(folder); }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path write(const std::string& name, const std::string& bytes) const {
    std::ofstream(folder / name, std::ios::binary) << bytes;
    return folder / name;
  }
  std::filesystem::path write_gzip(const std::string& name, const std::string& bytes) const {
    const std::filesystem::path path = folder / name;
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return path;
  }
};

std::string idx_bytes(std::vector<std::uint32_t> dimensions, const std::string& data,
                      char type = 0x08) {
  std::string bytes{'\0', '\0', type, static_cast<char>(dimensions.size())};
  for (std::uint32_t d : dimensions) {
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return bytes + data;
}

std::string bytes_of_size(std::size_t n) {
  std::string s;
  for (std::size_t k = 0; k < n; ++k) s.push_back(static_cast<char>(k * 37 % 256));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(idx_files_read_plain_and_gzipped) {
  Scratch scratch;
  const std::string bytes = idx_bytes({3, 2, 2}, bytes_of_size(12));
  for (const auto& path : {scratch.write("a.idx", bytes), scratch.write_gzip("a.idx.gz", bytes)}) {
    const data::IdxArray array = data::read_idx(path);
    BOOST_TEST((array.dimensions == std::vector<std::size_t>{3, 2, 2}));
    BOOST_TEST(array.count() == 3u);
    BOOST_TEST(array.item_size() == 4u);
    BOOST_TEST(array.data.size() == 12u);
    BOOST_TEST(array.data[5] == 5 * 37 % 256);
  }
}

BOOST_AUTO_TEST_CASE(damaged_idx_files_are_errors_naming_the_file) {
  Scratch scratch;
  const std::string good = idx_bytes({3, 4}, bytes_of_size(12));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.folder / "absent.idx"), subgrad::Error,
                        says("absent.idx: no such file"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("magic.idx", "\x01\x02\x08\x01" + good)),
                        subgrad::Error, says("magic.idx: wrong magic number 01 02 08 01"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("type.idx", idx_bytes({3}, "abc", 0x0d))),
                        subgrad::Error, says("type.idx: element type 0x0d is not supported"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("short.idx", good.substr(0, 10))),
                        subgrad::Error, says("short.idx: truncated header"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("cut.idx", good.substr(0, good.size() - 1))),
                        subgrad::Error, says("cut.idx: truncated: the header declares 12 bytes"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("long.idx", good + "x")), subgrad::Error,
                        says("long.idx: has bytes after the 12"));
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("huge.idx", idx_bytes({65536, 65536, 2}, ""))),
                        subgrad::Error, says("huge.idx: declares more than 2^32 elements"));
  // A gzip stream cut in the middle, and one with a flipped byte in its compressed data.
  const std::string big = idx_bytes({1000, 10}, bytes_of_size(10000));
  scratch.write_gzip("whole.gz", big);
  std::ifstream in(scratch.folder / "whole.gz", std::ios::binary);
  const std::string compressed((std::istreambuf_iterator<char>(in)), {});
  BOOST_CHECK_EXCEPTION(
      data::read_idx(scratch.write("cut.gz", compressed.substr(0, compressed.size() / 2))),
      subgrad::Error, says("cut.gz: "));
  std::string flipped = compressed;
  flipped[compressed.size() / 2] = static_cast<char>(flipped[compressed.size() / 2] ^ 0x55);
  BOOST_CHECK_EXCEPTION(data::read_idx(scratch.write("flipped.gz", flipped)), subgrad::Error,
                        says("flipped.gz: "));
}

BOOST_AUTO_TEST_CASE(an_idx_data_set_checks_counts_and_labels) {
  Scratch scratch;
  const auto images =
      scratch.write("images", idx_bytes({3, 2}, std::string("\x00\xff\x80\x01\x02\x03", 6)));
  const data::Dataset set = data::read_idx_dataset(
      images, scratch.write("labels", idx_bytes({3}, std::string("\x02\x00\x01", 3))), 3);
  BOOST_TEST(set.size() == 3u);
  BOOST_TEST(set.inputs.cols() == 2u);
  BOOST_TEST(set.inputs(0, 1) == 1.0f);
  BOOST_TEST(set.inputs(1, 0) == 128.0f / 255.0f);
  BOOST_TEST((set.labels == std::vector<int>{2, 0, 1}));
  BOOST_CHECK_EXCEPTION(
      data::read_idx_dataset(images,
                             scratch.write("two", idx_bytes({2}, std::string("\x00\x01", 2))), 3),
      subgrad::Error, says("has 3 images but"));
  BOOST_CHECK_EXCEPTION(
      data::read_idx_dataset(
          images, scratch.write("big", idx_bytes({3}, std::string("\x00\x07\x01", 3))), 3),
      subgrad::Error, says("big: label 7 of item 1 is not below the 3 classes"));
  BOOST_CHECK_EXCEPTION(data::load_fashion_mnist(scratch.folder / "nowhere"), subgrad::Error,
                        says("dataset-fashion-mnist"));
}

BOOST_AUTO_TEST_CASE(fashion_mnist_from_the_debian_package) {
  const data::FashionMnist set = data::load_fashion_mnist();
  BOOST_TEST(set.train.size() == 60000u);
  BOOST_TEST(set.test.size() == 10000u);
  BOOST_TEST(set.train.inputs.cols() == 784u);
  BOOST_TEST(set.train.inputs.rows() == 60000u);
  const auto [low, high] = std::minmax_element(set.train.inputs.data(),
                                               set.train.inputs.data() + set.train.inputs.size());
  BOOST_TEST(*low == 0.0f);
  BOOST_TEST(*high == 1.0f);
  // Both sets are balanced: 6,000 and 1,000 images per class.
  for (int c = 0; c < 10; ++c) {
    BOOST_TEST(std::count(set.train.labels.begin(), set.train.labels.end(), c) == 6000);
    BOOST_TEST(std::count(set.test.labels.begin(), set.test.labels.end(), c) == 1000);
  }
}

BOOST_AUTO_TEST_CASE(csv_tables_with_and_without_header) {
  Scratch scratch;
  const data::CsvTable with =
      data::read_csv(scratch.write("a.csv", "x, y ,z\n1,2.5,-3\n\n 4 ,5e-1,nan\r\n"));
  BOOST_TEST((with.header == std::vector<std::string>{"x", "y", "z"}));
  BOOST_TEST(with.values.rows() == 2u);
  BOOST_TEST(with.values(0, 1) == 2.5);
  BOOST_TEST(with.values(1, 0) == 4.0);
  BOOST_TEST(std::isnan(with.values(1, 2)));
  const data::CsvTable without = data::read_csv(scratch.write("b.csv", "1,2\n+3,4"));
  BOOST_TEST(without.header.empty());
  BOOST_TEST(without.values(1, 0) == 3.0);
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.write("c.csv", "1,2\n3\n")), subgrad::Error,
                        says("c.csv: line 2 has 1 fields, the first line has 2"));
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.write("d.csv", "a,b\n1,2\n3,x4\n")), subgrad::Error,
                        says("d.csv: line 3, field 2: \"x4\" is not a number"));
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.write("e.csv", "\n\n")), subgrad::Error,
                        says("e.csv: is empty"));
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.folder / "f.csv"), subgrad::Error,
                        says("f.csv: no such file"));
}

BOOST_AUTO_TEST_CASE(csv_byte_order_marks_and_quoted_fields) {
  Scratch scratch;
  // A UTF-8 byte order mark (spreadsheets write one) is not part of the first field: it made the
  // first row of numbers a header, silently one sample fewer.
  const data::CsvTable marked = data::read_csv(scratch.write("bom.csv",
                                                             "\xEF\xBB\xBF"
                                                             "1,2\n3,4\n"));
  BOOST_TEST(marked.header.empty());
  BOOST_TEST(marked.values.rows() == 2u);
  BOOST_TEST(marked.values(0, 0) == 1.0);
  const data::CsvTable marked_header = data::read_csv(scratch.write("bom_header.csv",
                                                                    "\xEF\xBB\xBF"
                                                                    "x,y\n3,4\n"));
  BOOST_TEST((marked_header.header == std::vector<std::string>{"x", "y"}));
  // Quoted fields (RFC 4180): a comma or a doubled quote inside quotes, quoted numbers.
  const data::CsvTable quoted = data::read_csv(scratch.write(
      "quoted.csv", "\"width, cm\",\"the \"\"label\"\"\"\n\"1.5\", 2\n 3 ,\" 4 \"\n"));
  BOOST_TEST((quoted.header == std::vector<std::string>{"width, cm", "the \"label\""}));
  BOOST_TEST(quoted.values.rows() == 2u);
  BOOST_TEST(quoted.values(0, 0) == 1.5);
  BOOST_TEST(quoted.values(1, 1) == 4.0);
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.write("open.csv", "a,\"b\n1,2\n")), subgrad::Error,
                        says("open.csv: line 1: a quote opened in field 2 is not closed"));
  BOOST_CHECK_EXCEPTION(data::read_csv(scratch.write("after.csv", "a,\"b\"c\n1,2\n")),
                        subgrad::Error,
                        says("after.csv: line 1, field 2: text after the closing quote"));
}

// Numbers beyond double's range read as NumPy and pandas read them (1e400 is inf, 1e-400 is 0):
// they were "not a number", and on the first line they made a row of data a header, silently.
BOOST_AUTO_TEST_CASE(csv_numbers_beyond_the_range_of_double) {
  Scratch scratch;
  const data::CsvTable table =
      data::read_csv(scratch.write("range.csv", "1e400,-1e400,1e-400,-1e-5000\n1e-320,2,3,4\n"));
  BOOST_TEST(table.header.empty());
  BOOST_TEST(table.values.rows() == 2u);
  BOOST_TEST(table.values(0, 0) == std::numeric_limits<double>::infinity());
  BOOST_TEST(table.values(0, 1) == -std::numeric_limits<double>::infinity());
  BOOST_TEST(table.values(0, 2) == 0.0);
  BOOST_TEST((table.values(0, 3) == 0.0 && std::signbit(table.values(0, 3))));
  BOOST_TEST(table.values(1, 0) == 1e-320);  // a denormal, exactly as the compiler reads it
  // Under a header, too.
  const data::CsvTable with_header =
      data::read_csv(scratch.write("range_header.csv", "a,b\n2.5e-400,1.5\n"));
  BOOST_TEST(with_header.values(0, 0) == 0.0);
  BOOST_TEST(with_header.values(0, 1) == 1.5);
}

BOOST_AUTO_TEST_CASE(batches_visit_every_sample_once_per_pass) {
  data::Dataset set;
  set.inputs = subgrad::Tensor<float>(10, 2);
  for (int k = 0; k < 10; ++k) {
    set.inputs(k, 0) = static_cast<float>(k);
    set.inputs(k, 1) = static_cast<float>(-k);
    set.labels.push_back(k);
  }
  auto order_of = [&](bool shuffle, std::uint64_t seed) {
    std::vector<int> order;
    std::vector<std::size_t> sizes;
    for (const data::Batch& batch : data::batches(set, 4, shuffle, seed)) {
      sizes.push_back(batch.size());
      for (std::size_t k = 0; k < batch.size(); ++k) {
        BOOST_TEST(batch.inputs(k, 0) == static_cast<float>(batch.labels[k]));  // rows follow
        BOOST_TEST(batch.inputs(k, 1) == -static_cast<float>(batch.labels[k]));
        order.push_back(batch.labels[k]);
      }
    }
    BOOST_TEST((sizes == std::vector<std::size_t>{4, 4, 2}));
    return order;
  };
  BOOST_TEST((order_of(false, 0) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  const std::vector<int> a = order_of(true, 1), b = order_of(true, 1), c = order_of(true, 2);
  BOOST_TEST((std::set<int>(a.begin(), a.end()).size() == 10u));
  BOOST_TEST((a == b));
  BOOST_TEST((a != c));
  BOOST_TEST((a != order_of(false, 0)));
  BOOST_CHECK_EXCEPTION(data::batches(set, 0, false), subgrad::Error, says("batch_size"));
}

BOOST_AUTO_TEST_CASE(shards_split_each_batch_of_the_single_process_order) {
  auto numbered = [](int size) {
    data::Dataset set;
    set.inputs = subgrad::Tensor<float>(static_cast<std::size_t>(size), 1);
    for (int k = 0; k < size; ++k) {
      set.inputs(static_cast<std::size_t>(k), 0) = static_cast<float>(k);
      set.labels.push_back(k);
    }
    return set;
  };
  const data::Dataset set = numbered(13);  // batches of 5, 5 and 3
  std::vector<std::vector<int>> whole;
  for (const data::Batch& batch : data::batches(set, 5, true, 3)) {
    whole.emplace_back(batch.labels.begin(), batch.labels.end());
  }
  for (const std::size_t ranks : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    std::vector<std::vector<int>> joined(whole.size());
    for (std::size_t rank = 0; rank < ranks; ++rank) {
      std::size_t b = 0;
      for (const data::Batch& batch : data::batches(set, 5, true, 3, {rank, ranks})) {
        BOOST_TEST(batch.inputs.rows() == batch.size());
        // Parts differ by at most one sample: 5 samples over 2 ranks are 2 + 3.
        const std::size_t whole_size = whole[b].size();
        BOOST_TEST(batch.size() == whole_size * (rank + 1) / ranks - whole_size * rank / ranks);
        joined[b].insert(joined[b].end(), batch.labels.begin(), batch.labels.end());
        ++b;
      }
      BOOST_TEST(b == whole.size());
    }
    BOOST_TEST((joined == whole));  // rank order restores the single-process batches
  }
  // With 11 samples the last batch holds 1: it cannot be split over 2 ranks.
  BOOST_CHECK_EXCEPTION(data::batches(numbered(11), 5, true, 3, {0, 2}), subgrad::Error,
                        says("cannot be split into 2 shards"));
  BOOST_CHECK_EXCEPTION(data::batches(set, 5, true, 3, {2, 2}), subgrad::Error,
                        says("shard 2 of 2"));
}
