// relu_gallery: for every primitive of the registry's ReLU family (and abs, clamp), a plot of the
// function and its derivative with gnuplot, each kink's subdifferential drawn as a vertical segment
// and the value each kink rule picks marked; and docs/relu-family.md with formula, defaults and the
// kink table, and the kink table of docs/conventions.md (between its "generated" markers).
// Everything is computed from the registry's rules through the engine.
//
//   relu_gallery [--out DIR] [--docs DIR]
//     --out   where relu-family.md, conventions.md and images/ are written (default: docs)
//     --docs  where the conventions.md to update is read from (default: the --out folder)
#include <subgrad/io/file.hpp>
#include <subgrad/io/gnuplot.hpp>
#include <subgrad/math/registry.hpp>
#include <subgrad/subgrad.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace {

namespace fs = std::filesystem;
using subgrad::KinkRule;
using subgrad::Smoothness;

struct NamedRule {
  std::string_view name;
  KinkRule rule;
  std::string_view style;  // gnuplot point type and colour
};
const std::vector<NamedRule> named_rules = {
    {"min_norm", subgrad::kink::min_norm, "pt 7 ps 1.6 lc rgb '#d62728'"},
    {"left", subgrad::kink::left, "pt 4 ps 1.4 lc rgb '#2ca02c'"},
    {"right", subgrad::kink::right, "pt 6 ps 1.4 lc rgb '#9467bd'"},
    {"midpoint", subgrad::kink::midpoint, "pt 2 ps 1.4 lc rgb '#ff7f0e'"},
};

std::string slug(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.') {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

// The derivative that reverse mode gives at x under `rule`.
template <class Rule>
double derivative(const Rule& rule, double x, KinkRule kink_rule) {
  subgrad::Tape tape;
  subgrad::Var input = x;
  subgrad::Var output = subgrad::Primitive<Rule>{rule}(input, kink_rule);
  return subgrad::grad(output, input);
}

struct Plotted {
  std::string markdown;
};

template <class Entry>
Plotted plot(const Entry& entry, const fs::path& images) {
  const auto& rule = entry.rule;
  const subgrad::Primitive<std::remove_cvref_t<decltype(rule)>> f{rule};
  const std::vector<subgrad::KinkPoint> kinks = subgrad::rule_kinks(rule, entry.low, entry.high);
  const std::string name = slug(entry.name);

  // Function and derivative on a fine grid. The value curve breaks (a blank line) at jumps, the
  // derivative curve at every kink and jump.
  std::string values, slopes_curve;
  constexpr int samples = 1200;
  double previous = entry.low;
  for (int k = 0; k <= samples; ++k) {
    const double x = entry.low + (entry.high - entry.low) * k / samples;
    bool at_kink = false;
    for (const auto& point : kinks) {
      // Break before the first grid point past the kink, and around a grid point on it.
      if ((previous < point.at && point.at < x) || previous == point.at || x == point.at) {
        slopes_curve += "\n";
        if (point.kind == Smoothness::discontinuous) values += "\n";
      }
      at_kink |= point.at == x;
    }
    values += fmt::format("{} {}\n", x, f(x));
    if (!at_kink)
      slopes_curve += fmt::format("{} {}\n", x, derivative(rule, x, subgrad::kink::min_norm));
    previous = x;
  }
  // Subdifferential segments and the pick of each rule.
  std::string segments, picks;
  std::string table = "| point | kind | left slope | right slope |";
  for (const NamedRule& r : named_rules) table += fmt::format(" kink::{} |", r.name);
  table += "\n|---|---|---|---|";
  for (std::size_t i = 0; i < named_rules.size(); ++i) table += "---|";
  table += "\n";
  for (const auto& point : kinks) {
    const subgrad::Slopes slopes = subgrad::rule_slopes(rule, point.at);
    segments += fmt::format("{} {}\n{} {}\n\n", point.at, std::min(slopes.left, slopes.right),
                            point.at, std::max(slopes.left, slopes.right));
    table += fmt::format("| {} | {} | {:.6g} | {:.6g} |", point.at,
                         point.kind == Smoothness::discontinuous ? "jump" : "kink", slopes.left,
                         slopes.right);
    for (const NamedRule& r : named_rules)
      table += fmt::format(" {:.6g} |", derivative(rule, point.at, r.rule));
    table += "\n";
  }
  for (std::size_t i = 0; i < named_rules.size(); ++i) {
    for (const auto& point : kinks)
      picks += fmt::format("{} {}\n", point.at, derivative(rule, point.at, named_rules[i].rule));
    picks += "\n\n";  // one gnuplot data block per rule
  }
  subgrad::GnuplotPlot gnuplot;
  const std::string values_file =
      subgrad::gnuplot_quoted(gnuplot.data(name + ".values", values).string());
  const std::string slopes_file =
      subgrad::gnuplot_quoted(gnuplot.data(name + ".slopes", slopes_curve).string());
  const std::string segments_file = subgrad::gnuplot_quoted(
      gnuplot.data(name + ".segments", segments.empty() ? "nan nan\n" : segments).string());
  const std::string picks_file = subgrad::gnuplot_quoted(
      gnuplot.data(name + ".picks", picks.empty() ? "nan nan\n" : picks).string());

  const fs::path image = images / (name + ".png");
  const std::string title = subgrad::gnuplot_quoted(entry.name);
  std::string script = fmt::format(
      "set multiplot layout 1,2 title {0}\n"
      "set grid lc rgb '#dddddd'\nset key top left\nset xrange [{1}:{2}]\nset offsets 0, 0, graph "
      "0.05, graph 0.05\n"
      "set title 'value'\nplot {3} with lines lw 2 lc rgb '#1f77b4' title {4}\n"
      "set title 'derivative (min_norm); at kinks: subdifferential and each rule'\n"
      "set key outside right top vertical\n"
      "plot {5} with lines lw 2 lc rgb '#1f77b4' title 'derivative'",
      subgrad::gnuplot_quoted(fmt::format("{}: {}", entry.name, entry.formula)), entry.low,
      entry.high, values_file, title, slopes_file);
  if (!kinks.empty()) {
    script +=
        fmt::format(", {} with lines lw 5 lc rgb '#888888' title 'subdifferential'", segments_file);
    for (std::size_t i = 0; i < named_rules.size(); ++i) {
      script += fmt::format(", {} index {} with points {} title {}", picks_file, i,
                            named_rules[i].style, subgrad::gnuplot_quoted(named_rules[i].name));
    }
  }
  script += "\nunset multiplot";
  gnuplot.render(image, 1000, 380, script);

  Plotted plotted;
  plotted.markdown = fmt::format(
      "## `{}`\n\n{}\n\nDefaults: {}.\n\n![{}](images/{}.png)\n\n", entry.name, entry.formula,
      entry.defaults.empty() ? "none" : entry.defaults, entry.name, name);
  plotted.markdown +=
      kinks.empty() ? std::string("No kinks: differentiable everywhere.\n\n") : table + "\n";
  return plotted;
}

// Which registry entries the gallery and the tables cover: the ReLU family, abs and clamp.
template <class Entry>
bool in_gallery(const Entry& entry) {
  return entry.family == subgrad::Family::relu || entry.name == std::string_view("abs") ||
         entry.name.starts_with("clamp");
}

std::string format_number(double x) { return fmt::format("{:.6g}", x); }

// The conventions table: one row per declared kink of every entry, computed by reverse mode.
std::string conventions_table() {
  std::string table =
      "| primitive | point | left | right | **min_norm** | midpoint | convex(0.25) | kind |\n"
      "|---|---|---|---|---|---|---|---|\n";
  std::string smooth;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    if (!in_gallery(entry)) return;
    const auto kinks = subgrad::rule_kinks(entry.rule, entry.low, entry.high);
    if (kinks.empty()) {
      smooth += fmt::format("{}`{}`", smooth.empty() ? "" : ", ", entry.name);
      return;
    }
    for (const subgrad::KinkPoint& point : kinks) {
      const subgrad::Slopes slopes = subgrad::rule_slopes(entry.rule, point.at);
      const bool concave = slopes.left > slopes.right;
      table += fmt::format(
          "| `{}` | {} | {} | {} | **{}** | {} | {} | {} |\n", entry.name, format_number(point.at),
          format_number(slopes.left), format_number(slopes.right),
          format_number(derivative(entry.rule, point.at, subgrad::kink::min_norm)),
          format_number(derivative(entry.rule, point.at, subgrad::kink::midpoint)),
          format_number(derivative(entry.rule, point.at, subgrad::kink::convex(0.25))),
          point.kind == Smoothness::discontinuous ? "jump" : (concave ? "kink (concave)" : "kink"));
    }
  });
  table += fmt::format("\nNo kink or jump in the plotted interval: {}.\n", smooth);
  return table;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw subgrad::Error(fmt::format("relu_gallery: cannot read {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces what stands between the markers of `text` with `generated`.
std::string replace_generated(const std::string& text, const std::string& generated,
                              const fs::path& path) {
  const std::string begin = "<!-- generated by examples/relu_gallery: begin -->\n";
  const std::string end = "<!-- generated by examples/relu_gallery: end -->";
  const std::size_t first = text.find(begin);
  const std::size_t last = text.find(end);
  if (first == std::string::npos || last == std::string::npos || last < first) {
    throw subgrad::Error(
        fmt::format("relu_gallery: {} has no generated-table markers", path.string()));
  }
  return text.substr(0, first + begin.size()) + generated + text.substr(last);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path out = "docs";
  fs::path docs;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (argument == "--docs" && i + 1 < argc) {
      docs = argv[++i];
    } else {
      fmt::print(stderr, "usage: relu_gallery [--out DIR] [--docs DIR]\n");
      return 2;
    }
  }
  if (docs.empty()) docs = out;
  try {
    const fs::path images = out / "images";
    fs::create_directories(images);
    std::string markdown =
        "# The ReLU family\n\n"
        "Generated by `examples/relu_gallery` from the primitives' rules (do not edit by hand). "
        "Each plot shows the function and its derivative under `kink::min_norm`; at each kink the "
        "grey segment is the subdifferential [min(left, right), max(left, right)] and the markers "
        "are "
        "the derivative each kink rule gives there, computed by reverse mode. What PyTorch, JAX "
        "and "
        "TensorFlow give at the same points: [conventions.md](conventions.md).\n\n";
    int count = 0;
    subgrad::for_each_unary_primitive([&](const auto& entry) {
      if (!in_gallery(entry)) return;
      markdown += plot(entry, images).markdown;
      ++count;
    });
    markdown +=
        "## `maxout(x1, ..., xk)`\n\nThe largest of k pieces; two pieces behave exactly as "
        "`max(x, y)` (see conventions.md for ties under each rule).\n";
    subgrad::write_file_atomically(out / "relu-family.md", markdown);
    const fs::path conventions = docs / "conventions.md";
    subgrad::write_file_atomically(
        out / "conventions.md",
        replace_generated(read_file(conventions), conventions_table(), conventions));
    fmt::print("relu_gallery: {} plots in {}, tables in {} and {}\n", count, images.string(),
               (out / "relu-family.md").string(), (out / "conventions.md").string());
  } catch (const std::exception& error) {
    fmt::print(stderr, "relu_gallery: {}\n", error.what());
    return 1;
  }
  return 0;
}
