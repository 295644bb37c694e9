#include "subgrad/io/file.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/error.hpp"

namespace fs = std::filesystem;

namespace {
std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
// Temporary files left in a folder (any name ending in .partial).
int partial_files(const fs::path& folder) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    count += entry.path().string().ends_with(".partial");
  return count;
}
struct ScratchFolder {
  fs::path path = fs::temp_directory_path() / ("subgrad_file_test_" + std::to_string(::getpid()));
  ScratchFolder() { fs::create_directories(path); }
  ~ScratchFolder() { fs::remove_all(path); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(writes_and_replaces_whole_files) {
  ScratchFolder folder;
  const fs::path file = folder.path / "out.txt";
  subgrad::write_file_atomically(file, "first");
  BOOST_TEST(read(file) == "first");
  subgrad::write_file_atomically(file, std::string(100000, 'x'));
  BOOST_TEST(read(file).size() == 100000u);
  BOOST_TEST(partial_files(folder.path) == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_write_names_the_path_and_leaves_nothing_behind) {
  ScratchFolder folder;
  const fs::path missing = folder.path / "no_such_folder" / "out.txt";
  BOOST_CHECK_EXCEPTION(subgrad::write_file_atomically(missing, "text"), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).find("no_such_folder") != std::string::npos;
                        });
  BOOST_TEST(!fs::exists(missing));
  // Renaming onto a folder fails: the old folder stays, the temporary file is removed.
  const fs::path folder_target = folder.path / "a_folder";
  fs::create_directories(folder_target / "inside");
  BOOST_CHECK_THROW(subgrad::write_file_atomically(folder_target, "text"), subgrad::Error);
  BOOST_TEST(fs::is_directory(folder_target));
  BOOST_TEST(partial_files(folder.path) == 0);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_of_one_path_all_succeed_with_whole_files) {
  ScratchFolder folder;
  const fs::path file = folder.path / "shared.txt";
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&file, w] {
      for (int k = 0; k < 50; ++k) subgrad::write_file_atomically(file, std::string(4096, 'a' + w));
    });
  }
  for (std::thread& writer : writers) writer.join();
  const std::string text = read(file);
  BOOST_TEST(text.size() == 4096u);
  BOOST_TEST(text == std::string(4096, text.front()));  // one writer's whole file, not a mix
  BOOST_TEST(partial_files(folder.path) == 0);
}
