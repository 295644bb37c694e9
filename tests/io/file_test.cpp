#include "subgrad/io/file.hpp"
#include "subgrad/io/gnuplot.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/test/unit_test.hpp>

#include "error_message.hpp"
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

// A checkpoint kept behind a link (latest.bin -> run7/model.bin) must update the file, not
// replace the link with a copy; a private file must stay private.
BOOST_AUTO_TEST_CASE(links_are_followed_and_permissions_kept) {
  ScratchFolder folder;
  fs::create_directories(folder.path / "run7");
  const fs::path real = folder.path / "run7" / "model.bin";
  subgrad::write_file_atomically(real, "old");
  fs::permissions(real, fs::perms::owner_read | fs::perms::owner_write);
  const fs::path link = folder.path / "latest.bin";
  fs::create_symlink(fs::path("run7") / "model.bin", link);  // relative, as `ln -s` makes them
  subgrad::write_file_atomically(link, "new");
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(read(real) == "new");
  BOOST_TEST((fs::status(real).permissions() == (fs::perms::owner_read | fs::perms::owner_write)));
  // A link to a file not written yet: the file is made where the link points.
  const fs::path dangling = folder.path / "next.bin";
  fs::create_symlink(folder.path / "run7" / "later.bin", dangling);
  subgrad::write_file_atomically(dangling, "later");
  BOOST_TEST(fs::is_symlink(dangling));
  BOOST_TEST(read(folder.path / "run7" / "later.bin") == "later");
  // Links in a loop: an Error, nothing written.
  fs::create_symlink(folder.path / "b", folder.path / "a");
  fs::create_symlink(folder.path / "a", folder.path / "b");
  BOOST_CHECK_EXCEPTION(subgrad::write_file_atomically(folder.path / "a", "text"), subgrad::Error,
                        says("follow the symbolic links of"));
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

BOOST_AUTO_TEST_CASE(gnuplot_strings_double_their_quotes_and_lose_their_line_breaks) {
  BOOST_TEST(subgrad::gnuplot_quoted("Adam's run\nlr 0.1") == "'Adam''s run lr 0.1'");
  BOOST_TEST(subgrad::gnuplot_quoted("") == "''");
}

BOOST_AUTO_TEST_CASE(gnuplot_draws_where_titles_and_folders_hold_quotes) {
  ScratchFolder folder;
  const fs::path quoted_folder = folder.path / "it's here";
  fs::create_directories(quoted_folder);
  const fs::path image = quoted_folder / "a'b.png";
  subgrad::GnuplotPlot plot;
  const fs::path data = plot.data("points", "1 2\n2 3\n3 1\n");
  plot.render(image, 200, 150,
              fmt::format("set title {}\nplot {} with lines title {}",
                          subgrad::gnuplot_quoted("Adam's run\nsecond line"),
                          subgrad::gnuplot_quoted(data.string()), subgrad::gnuplot_quoted("it's")));
  const std::string png = read(image);
  BOOST_TEST(png.substr(1, 3) == "PNG");
  BOOST_TEST(partial_files(folder.path) == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_drawing_says_why_and_leaves_the_image_as_it_was) {
  ScratchFolder folder;
  const fs::path image = folder.path / "plot.png";
  subgrad::write_file_atomically(image, "the old image");
  subgrad::GnuplotPlot plot;
  BOOST_CHECK_EXCEPTION(plot.render(image, 200, 150, "plot no_such_function(x)"), subgrad::Error,
                        says(fmt::format("gnuplot could not draw {}: ", image.string())));
  BOOST_CHECK_EXCEPTION(plot.render(image, 200, 150, "plot no_such_function(x)"), subgrad::Error,
                        says("undefined function: no_such_function"));
  BOOST_TEST(read(image) == "the old image");
  const fs::path missing = folder.path / "no such folder" / "plot.png";
  BOOST_CHECK_EXCEPTION(plot.render(missing, 200, 150, "plot x"), subgrad::Error,
                        says(fmt::format("could not draw {}: ", missing.string())));
  BOOST_TEST(!fs::exists(missing.parent_path()));
  // Without gnuplot on the PATH the error says what to install.
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", (folder.path / "empty").c_str(), 1);
  BOOST_CHECK_EXCEPTION(plot.render(image, 200, 150, "plot x"), subgrad::Error,
                        says("gnuplot did not run (Debian: apt-get install gnuplot-nox)"));
  ::setenv("PATH", path.c_str(), 1);
  BOOST_TEST(read(image) == "the old image");
  BOOST_TEST(partial_files(folder.path) == 0);
  BOOST_TEST(std::distance(fs::directory_iterator(folder.path), fs::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_CASE(concurrent_drawings_of_one_image_all_succeed) {
  // Before, both drew into IMAGE.partial, and one's rename could take the other's file away.
  ScratchFolder folder;
  const fs::path image = folder.path / "shared.png";
  std::vector<std::thread> painters;
  for (int p = 0; p < 2; ++p) {
    painters.emplace_back([&image] {
      subgrad::GnuplotPlot plot;
      for (int k = 0; k < 3; ++k) plot.render(image, 120, 90, "plot x");
    });
  }
  for (std::thread& painter : painters) painter.join();
  BOOST_TEST(read(image).substr(1, 3) == "PNG");
  BOOST_TEST(partial_files(folder.path) == 0);
}
