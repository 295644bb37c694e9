#include "subgrad/io/gnuplot.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/io/file.hpp"

namespace subgrad {

GnuplotPlot::GnuplotPlot() {
  static std::atomic<unsigned> counter{0};
  folder_ = std::filesystem::temp_directory_path() /
            fmt::format("subgrad_gnuplot_{}_{}", ::getpid(), counter++);
  std::filesystem::create_directories(folder_);
}

GnuplotPlot::~GnuplotPlot() {
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

std::filesystem::path GnuplotPlot::data(std::string_view name, std::string_view contents) const {
  const std::filesystem::path path = folder_ / name;
  write_file_atomically(path, contents);
  return path;
}

void GnuplotPlot::render(const std::filesystem::path& image, int width, int height,
                         std::string_view script) const {
  std::filesystem::path partial = image;
  partial += ".partial";
  const std::filesystem::path script_path = folder_ / "plot.gp";
  write_file_atomically(script_path,
                        fmt::format("set terminal pngcairo size {},{} font 'DejaVu Sans,10'\n"
                                    "set termoption noenhanced\nset output '{}'\n{}\nset output\n",
                                    width, height, partial.string(), script));
  const std::string command =
      fmt::format("gnuplot '{}' > '{}' 2>&1", script_path.string(), (folder_ / "log").string());
  if (std::system(command.c_str()) != 0 || !std::filesystem::exists(partial)) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw Error(
        fmt::format("subgrad::GnuplotPlot: gnuplot could not draw {} (is gnuplot-nox "
                    "installed?)",
                    image.string()));
  }
  std::filesystem::rename(partial, image);
}

}  // namespace subgrad
