#!/usr/bin/python3
# The PyTorch peer of bench_training (Debian's python3-torch, run with /usr/bin/python3): the same
# tasks, network, initial parameters and data order as subgrad's worker, read from the files
# bench_training writes; prints one JSON line. Not run on its own: bench_training drives it.
import argparse
import gzip
import json
import resource
import struct
import time

import numpy as np
import torch

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def read_parameters(path):
    tensors = []
    with open(path, "rb") as f:
        while header := f.read(8):
            rows, cols = struct.unpack("<II", header)
            values = np.frombuffer(f.read(4 * rows * cols), dtype=np.float32).reshape(rows, cols)
            tensors.append(torch.from_numpy(values.copy()))
    return tensors


def read_order(path):
    return torch.from_numpy(np.fromfile(path, dtype=np.uint32).astype(np.int64))


def mlp(sizes, parameters):
    layers = []
    for k in range(len(sizes) - 1):
        linear = torch.nn.Linear(sizes[k], sizes[k + 1])
        with torch.no_grad():
            linear.weight.copy_(parameters[2 * k])
            linear.bias.copy_(parameters[2 * k + 1].reshape(-1))
        layers.append(linear)
        if k + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def n1(a):
    train_x = torch.from_numpy(read_idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(60000, 784).astype(np.float32) / 255.0)
    train_y = torch.from_numpy(read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz").astype(np.int64))
    test_x = torch.from_numpy(read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(10000, 784).astype(np.float32) / 255.0)
    test_y = torch.from_numpy(read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = mlp([784, 256, 128, 10], read_parameters(f"{a.scratch}/n1_init_{a.seed}.bin"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = []
    for epoch in range(a.epochs):
        order = read_order(f"{a.scratch}/n1_order_{a.seed}_{epoch}.bin")
        start = time.perf_counter()
        for first in range(0, 60000, a.batch):
            index = order[first:first + a.batch]
            x, y = train_x.index_select(0, index), train_y.index_select(0, index)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
    return {"epoch_seconds": seconds, "accuracy": accuracy}


def n2(a):
    data = torch.from_numpy(np.fromfile(f"{a.scratch}/n2_data.bin", dtype=np.float32).reshape(-1, 3))
    model = mlp([2, 64, 64, 1], read_parameters(f"{a.scratch}/n2_init.bin"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    batches = [(data[k:k + 32, 0:2], data[k:k + 32, 2:3]) for k in range(0, data.shape[0], 32)]
    start = time.perf_counter()
    for step in range(a.steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    elapsed = time.perf_counter() - start
    return {"step_us": elapsed / a.steps * 1e6, "final_loss": loss.item()}


def n3(a):
    x0 = torch.tensor([[0.5]])
    times = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(10000):
            x = x0.clone().requires_grad_()
            torch.relu(x).sum().backward()
        times.append((time.perf_counter() - start) / 10000 * 1e6)
    return {"iteration_us": sorted(times)[3]}


def gemm(a):
    x, y = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(x, y)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(x, y)
        times.append(time.perf_counter() - start)
    return {"gflops": 2 * 1024 ** 3 / sorted(times)[2] / 1e9}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--scratch", default=".")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=5000)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    result = {"n1": n1, "n2": n2, "n3": n3, "gemm": gemm}[a.task](a)
    result["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main()
