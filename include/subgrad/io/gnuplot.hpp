#pragma once
/// \file
/// Drawing PNG images with gnuplot (Debian's gnuplot-nox): data files and the drawing in a scratch
/// folder of their own, the image then written as write_file_atomically writes any file.

#include <filesystem>
#include <string>
#include <string_view>

namespace subgrad {

/// `text` as a gnuplot string literal: in single quotes, each quote doubled, line breaks as
/// spaces (unquoted, either would end the string or the command). For titles and paths in scripts.
std::string gnuplot_quoted(std::string_view text);

/// One gnuplot drawing: write its data files, then render a script that reads them.
class GnuplotPlot {
 public:
  /// Makes a scratch folder for the data files (removed by the destructor).
  GnuplotPlot();
  GnuplotPlot(const GnuplotPlot&) = delete;
  GnuplotPlot& operator=(const GnuplotPlot&) = delete;
  ~GnuplotPlot();
  /// Writes a data file named `name` and returns its path, for the script.
  std::filesystem::path data(std::string_view name, std::string_view contents) const;
  /// Runs `script` (plot commands; terminal and output are set here) to draw `image`, a width x
  /// height PNG. Throws subgrad::Error naming the image when gnuplot is missing (with what to
  /// install), fails (with its own message) or the image cannot be written; the image is then
  /// left as it was, and no temporary file beside it.
  void render(const std::filesystem::path& image, int width, int height,
              std::string_view script) const;

 private:
  std::filesystem::path folder_;
};

}  // namespace subgrad
