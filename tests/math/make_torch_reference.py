#!/usr/bin/python3
"""Writes tests/math/torch_reference.csv and torch_reference_binary.csv: values and derivatives of
every registry entry that names a PyTorch counterpart (include/subgrad/math/registry.hpp), from
PyTorch (Debian 12's python3-torch, 1.13), float64, at the points the registry gives (every kink
and 1e-3 either side included). The CSVs are committed, so the tests need no torch. After adding
a primitive, run it with the registry_points program of a build:

    cmake --build build/release --target registry_points
    /usr/bin/python3 tests/math/make_torch_reference.py build/release/tests/registry_points
"""
import csv
import os
import subprocess
import sys

import torch
import torch.nn.functional as F  # noqa: F401 (used by the registry's expressions)


def write_atomically(path, header, rows):
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)  # never leave a half-written file


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    listing = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
    unary_rows, binary_rows = [], []
    for line in listing.splitlines():
        kind, name, expression, points = line.split("|")
        for point in points.split():
            if kind == "unary":
                x = torch.tensor(float(point), dtype=torch.float64, requires_grad=True)
                value = eval(expression, {"torch": torch, "F": F, "x": x})
                (dx,) = torch.autograd.grad(value, x)
                unary_rows.append([name, repr(float(point)), repr(value.item()), repr(dx.item())])
            else:
                px, py = (float(v) for v in point.split(","))
                x = torch.tensor(px, dtype=torch.float64, requires_grad=True)
                y = torch.tensor(py, dtype=torch.float64, requires_grad=True)
                value = eval(expression, {"torch": torch, "F": F, "x": x, "y": y})
                dx, dy = torch.autograd.grad(value, (x, y), allow_unused=True)
                dx = 0.0 if dx is None else dx.item()
                dy = 0.0 if dy is None else dy.item()
                binary_rows.append([name, repr(px), repr(py), repr(value.item()), repr(dx), repr(dy)])
    here = os.path.dirname(os.path.abspath(__file__))
    write_atomically(os.path.join(here, "torch_reference.csv"),
                     ["name", "x", "value", "derivative"], unary_rows)
    write_atomically(os.path.join(here, "torch_reference_binary.csv"),
                     ["name", "x", "y", "value", "dx", "dy"], binary_rows)
    print(f"wrote {len(unary_rows)} unary and {len(binary_rows)} binary rows with torch "
          f"{torch.__version__}")


if __name__ == "__main__":
    main()
