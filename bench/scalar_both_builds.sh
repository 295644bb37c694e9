#!/bin/sh
# bench_scalar in both builds users make, -O3 (preset release) and -O3 -march=native (preset
# release-native), one after the other in one run; each table names the flags it was built with.
# Usage: bench/scalar_both_builds.sh [--json-prefix PREFIX]   (writes PREFIX-release.json, ...)
set -eu
cd "$(dirname "$0")/.."
prefix=""
if [ "${1:-}" = "--json-prefix" ]; then prefix="$2"; fi
for preset in release release-native; do
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" --target bench_scalar >/dev/null
done
for preset in release release-native; do
  if [ -n "$prefix" ]; then
    "build/$preset/bench/bench_scalar" --json "$prefix-$preset.json"
  else
    "build/$preset/bench/bench_scalar"
  fi
  echo
done
