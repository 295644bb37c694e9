#include "subgrad/io/gnuplot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
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

namespace {

// `text` as one word for /bin/sh: in single quotes, each quote written as '\''.
std::string shell_quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The end of gnuplot's log, where it says what went wrong, on one line.
std::string tail_of(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  constexpr std::size_t kept = 300;
  if (text.size() > kept) text = "..." + text.substr(text.size() - kept);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text.empty() ? "no message" : text;
}

}  // namespace

std::string gnuplot_quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "'";
}

void GnuplotPlot::render(const std::filesystem::path& image, int width, int height,
                         std::string_view script) const {
  // gnuplot draws into the scratch folder, which may be on another file system than the image:
  // the image is then copied as any file is written, through a temporary of its own, so that a
  // failed or killed run leaves neither a half-drawn image nor a temporary file beside it.
  const std::filesystem::path drawn = folder_ / "drawing.png";
  const std::filesystem::path script_path = folder_ / "plot.gp";
  const std::filesystem::path log = folder_ / "log";
  std::error_code ignored;
  std::filesystem::remove(drawn, ignored);
  write_file_atomically(script_path,
                        fmt::format("set terminal pngcairo size {},{} font 'DejaVu Sans,10'\n"
                                    "set termoption noenhanced\nset output {}\n{}\nset output\n",
                                    width, height, gnuplot_quoted(drawn.string()), script));
  const std::string command = fmt::format(
      "gnuplot {} > {} 2>&1", shell_quoted(script_path.string()), shell_quoted(log.string()));
  const int status = std::system(command.c_str());
  if (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 127)) {
    throw Error(fmt::format(
        "subgrad::GnuplotPlot: cannot draw {}: gnuplot did not run (Debian: apt-get install "
        "gnuplot-nox)",
        image.string()));
  }
  if (WIFSIGNALED(status)) {
    throw Error(
        fmt::format("subgrad::GnuplotPlot: cannot draw {}: gnuplot was stopped by signal {}",
                    image.string(), WTERMSIG(status)));
  }
  std::ifstream in(drawn, std::ios::binary);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !in) {
    throw Error(fmt::format("subgrad::GnuplotPlot: gnuplot could not draw {}: {}", image.string(),
                            tail_of(log)));
  }
  const std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    write_file_atomically(image, png);
  } catch (const Error& error) {
    throw Error(
        fmt::format("subgrad::GnuplotPlot: could not draw {}: {}", image.string(), error.what()));
  }
}

}  // namespace subgrad
