"""Probe fit time vs one training epoch for VGG16 and ResNet18 on the same images, plus peak RSS.

    .venv/bin/python benchmarks/cnn_probe_vs_training.py                     # 64x64, 256 noise images
    .venv/bin/python benchmarks/cnn_probe_vs_training.py --size 224 --batch-size 16 --images 64 --models vgg16

Prints per model: probe fit time, one training epoch (SGD, cross-entropy, same batches), the ratio
``probe_fit/train_epoch = X``, evaluate time and the process's peak RSS so far.
"""

import argparse
import resource
import sys
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from reprobe.models import build_model
from reprobe.probe import CascadeProbe


def peak_rss_gib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20 if sys.platform != "darwin" else kib / 2**30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["vgg16", "resnet18"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--samples", type=int, default=100, help="held-out inputs for evaluate")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(a.images, 3, a.size, a.size, generator=g)
    y = torch.randint(0, 10, (a.images,), generator=g)
    test = torch.randn(a.samples, 3, a.size, a.size, generator=g)
    print(f"{a.images} noise images {a.size}x{a.size}, batch {a.batch_size}, {a.samples} evaluation samples, "
          f"{torch.get_num_threads()} threads")
    for spec in a.models:
        model = build_model(spec, (3, a.size, a.size), 10, seed=0)
        loader = DataLoader(TensorDataset(x, y), batch_size=a.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        with CascadeProbe(model, progress=False, batch_size=a.batch_size, samples=a.samples) as probe:
            t0 = time.perf_counter()
            probe.fit(loader)
            fit = time.perf_counter() - t0
            rss_fit = peak_rss_gib()
            t0 = time.perf_counter()
            res = probe.evaluate(test)
            ev = time.perf_counter() - t0
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        epoch = time.perf_counter() - t0
        print(f"{spec}: {res.depth} stages; probe fit {fit:.1f}s, evaluate {ev:.1f}s, one training epoch {epoch:.1f}s; "
              f"probe_fit/train_epoch = {fit / epoch:.2f}; peak RSS after fit {rss_fit:.2f} GiB, "
              f"after all {peak_rss_gib():.2f} GiB", flush=True)
        del model, probe, opt


if __name__ == "__main__":
    main()
