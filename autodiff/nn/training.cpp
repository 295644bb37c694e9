#include "subgrad/nn/training.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "subgrad/io/gnuplot.hpp"

namespace subgrad::nn {

Progress::Progress(std::string title, std::size_t total, std::FILE* out)
    : title_(std::move(title)),
      total_(total),
      out_(out),
      terminal_(out != nullptr && ::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line(std::size_t done) const {
  const double elapsed = seconds();
  const double rate = elapsed > 0.0 ? static_cast<double>(samples_) / elapsed : 0.0;
  std::string text = fmt::format("{}: batch {}/{}, loss {:.4f}, {:.0f} samples/s", title_, done,
                                 total_, running_loss_, rate);
  if (done < total_ && done > 0) {
    const double left = elapsed / static_cast<double>(done) * static_cast<double>(total_ - done);
    text += fmt::format(", {:.0f} s left", left);
  } else {
    text += fmt::format(", {:.1f} s", elapsed);
  }
  return text;
}

void Progress::update(std::size_t done, double running_loss, std::size_t samples) {
  done_ = done;
  running_loss_ = running_loss;
  samples_ = samples;
  if (!terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fmt::print(out_, "\r{}\x1b[K", line(done));
  std::fflush(out_);
}

void Progress::finish(const std::string& summary) {
  if (out_ == nullptr) return;
  const std::string text = line(done_) + (summary.empty() ? "" : ", " + summary);
  fmt::print(out_, "{}{}{}\n", terminal_ ? "\r" : "", text, terminal_ ? "\x1b[K" : "");
  std::fflush(out_);
}

void plot_training_curves(const TrainingHistory& history, const std::filesystem::path& image,
                          const std::string& title) {
  if (history.train.empty()) {
    throw Error(fmt::format("subgrad::nn::plot_training_curves: {}: the history has no epochs",
                            image.string()));
  }
  std::string rows;
  for (std::size_t e = 0; e < history.train.size(); ++e) {
    const ClassifierScore test = e < history.test.size() ? history.test[e] : ClassifierScore{};
    rows += fmt::format("{} {} {} {} {}\n", e + 1, history.train[e].loss,
                        100.0 * history.train[e].accuracy, test.loss, 100.0 * test.accuracy);
  }
  GnuplotPlot plot;
  const std::string data = gnuplot_quoted(plot.data("curves", rows).string());
  plot.render(image, 1000, 400,
              fmt::format("set multiplot layout 1,2 title {0}\nset grid lc rgb '#dddddd'\n"
                          "set xlabel 'epoch'\nset xtics 1\nset key top right\nset title 'loss'\n"
                          "plot {1} using 1:2 with linespoints lw 2 title 'train', {1} using "
                          "1:4 with linespoints lw 2 title 'test'\n"
                          "set key bottom right\nset title 'accuracy (%)'\n"
                          "plot {1} using 1:3 with linespoints lw 2 title 'train', {1} using "
                          "1:5 with linespoints lw 2 title 'test'\nunset multiplot",
                          gnuplot_quoted(title), data));
}

}  // namespace subgrad::nn
