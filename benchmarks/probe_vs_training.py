"""Probe fit time versus one epoch of ordinary training, same MLP, same data, one run.

    python benchmarks/probe_vs_training.py                 # paper's net: width 784, depth 100
    python benchmarks/probe_vs_training.py --depth 30 --width 256

Prints the training epoch (SGD, lr 1e-3, batch 64, cross-entropy: the paper's training), the probe
fit with reprobe's defaults (closed-form ridge decoders), the variants (ridge on all images, the
paper's Adam decoders), and ends with ``probe_fit/train_epoch = <ratio>`` for the default fit.
The paper reports the probe at about 3 training epochs.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from reprobe import CascadeProbe
from reprobe.data import load_dataset
from reprobe.models import mlp
from reprobe.experiments.run import train_loader


def train_epoch(model, loader, lr: float, optimizer: str = "sgd") -> float:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "sgd" else torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for x, y in loader:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - t0


def probe_fit(model, loader, **options) -> float:
    with CascadeProbe(model, progress=False, **options) as probe:
        t0 = time.perf_counter()
        probe.fit(loader)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--width", type=int, default=784)
    ap.add_argument("--sigma-w2", type=float, default=1.76)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--skip-adam", action="store_true", help="skip the slow paper-Adam probe variant")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bundle = load_dataset("mnist-5k")
    loader = train_loader(bundle, args.batch_size, seed=0)
    make = lambda: mlp(depth=args.depth, width=args.width, sigma_w2=args.sigma_w2, sigma_b2=0.05, seed=0)
    print(f"tanh MLP depth {args.depth}, width {args.width}, {len(bundle.train)} MNIST training images, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads")
    make()(next(iter(loader))[0])  # warm-up (allocator, kernels)
    t_train = train_epoch(make(), loader, lr=1e-3)
    print(f"train epoch (SGD)                    {t_train:8.2f} s")
    t_train_adam = train_epoch(make(), loader, lr=1e-3, optimizer="adam")
    print(f"train epoch (Adam)                   {t_train_adam:8.2f} s")
    t_all = probe_fit(make(), loader, ridge_samples=None)
    print(f"probe fit, ridge on all images       {t_all:8.2f} s   ratio {t_all / t_train:.3f}")
    if not args.skip_adam:
        t_adam = probe_fit(make(), loader, fit="adam")
        print(f"probe fit, paper (Adam, 1 epoch)     {t_adam:8.2f} s   ratio {t_adam / t_train:.3f}")
    t_default = probe_fit(make(), loader)
    print(f"probe fit, default (ridge, 2048 img) {t_default:8.2f} s   ratio {t_default / t_train:.3f}")
    print(f"probe_fit/train_epoch = {t_default / t_train:.3f}")


if __name__ == "__main__":
    main()
