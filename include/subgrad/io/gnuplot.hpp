#pragma once
/// \file
/// Drawing PNG images with gnuplot (Debian's gnuplot-nox): data files in a scratch folder of their
/// own, the image written under a temporary name and renamed when complete.

#include <filesystem>
#include <string_view>

namespace subgrad {

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
  /// height PNG. Throws subgrad::Error naming the image when gnuplot is missing or fails; the
  /// image is then left as it was.
  void render(const std::filesystem::path& image, int width, int height,
              std::string_view script) const;

 private:
  std::filesystem::path folder_;
};

}  // namespace subgrad
