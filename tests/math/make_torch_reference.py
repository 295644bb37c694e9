#!/usr/bin/python3
"""Writes tests/math/torch_reference.csv: values and derivatives of the ReLU family and a few
elementary functions from PyTorch (Debian 12's python3-torch, 1.13), float64, on a grid that
includes every kink. Run once; the CSV is committed, so the tests need no torch.

    /usr/bin/python3 tests/math/make_torch_reference.py
"""
import csv
import os

import torch
import torch.nn.functional as F

# The names are those of subgrad's registry (include/subgrad/math/registry.hpp).
FUNCTIONS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "leaky_relu(0.2)": lambda x: F.leaky_relu(x, 0.2),
    "rrelu": lambda x: F.rrelu(x, 1.0 / 8.0, 1.0 / 3.0, training=False),
    "elu": lambda x: F.elu(x, 1.0),
    "elu(2)": lambda x: F.elu(x, 2.0),
    "elu(0.5)": lambda x: F.elu(x, 0.5),
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 1.0),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x, 1.0, 20.0),
    "softplus(2, 4)": lambda x: F.softplus(x, 2.0, 4.0),
    "relu6": F.relu6,
    "hardtanh": lambda x: F.hardtanh(x, -1.0, 1.0),
    "hardtanh(-2, 3)": lambda x: F.hardtanh(x, -2.0, 3.0),
    "hardsigmoid": F.hardsigmoid,
    "hardswish": F.hardswish,
    "threshold(1, -0.5)": lambda x: F.threshold(x, 1.0, -0.5),
    "threshold(0.5, 0.5)": lambda x: F.threshold(x, 0.5, 0.5),
    "thresholded_relu": lambda x: F.threshold(x, 1.0, 0.0),
    "abs": torch.abs,
    "clamp(x, -1, 2)": lambda x: torch.clamp(x, -1.0, 2.0),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "exp": torch.exp,
    "square": torch.square,
}

POINTS = sorted(set(
    [k * 0.25 for k in range(-24, 33)] + [-0.5, -1e-3, 1e-3, 0.1, -0.1, 5.5, 6.0, 6.5, 7.0, 9.9, 10.0, 10.1]
))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "torch_reference.csv")
    partial = path + ".partial"
    with open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "x", "value", "derivative"])
        for name, function in FUNCTIONS.items():
            for point in POINTS:
                x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
                y = function(x)
                (derivative,) = torch.autograd.grad(y, x)
                writer.writerow([name, repr(point), repr(y.item()), repr(derivative.item())])
    os.replace(partial, path)  # never leave a half-written file
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
