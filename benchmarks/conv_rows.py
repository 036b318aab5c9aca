"""How many sampled patch rows do closed-form conv decoders need? Held-out decoder error vs rows.

    .venv/bin/python benchmarks/conv_rows.py [--model vgg16] [--data photos] [--per-feature 0.5 1 2 4]

Fits the same probe with ``ROWS_PER_FEATURE`` = each value (and ``MIN_ROWS`` off), and prints, per
setting, the fit time and the one-step R² of each decoder on held-out inputs (1 − decoder MSE /
target variance), next to the fit with the most rows. The closed-form fit samples
``max(MIN_ROWS, ROWS_PER_FEATURE·D)`` patch positions per decoder; this measures what that costs.
"""

import argparse
import time

import torch

import reprobe.probe.ridge as ridge
from reprobe.data import load_dataset
from reprobe.models import build_model
from reprobe.probe import CascadeProbe


def one_step_r2(probe, test):
    zs = probe.activations(test)
    out = []
    with torch.no_grad():
        for l in range(1, len(zs)):
            pred = probe.decoders[l - 1](zs[l].to(probe.device)).cpu()
            var = float(zs[l - 1].var())
            out.append(1 - float(((pred - zs[l - 1]) ** 2).mean()) / max(var, 1e-12))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--data", default="photos")
    ap.add_argument("--per-feature", type=float, nargs="+", default=[0.5, 1, 2, 4])
    ap.add_argument("--min-rows", type=int, default=0)
    ap.add_argument("--test", type=int, default=48)
    a = ap.parse_args()
    bundle = load_dataset(a.data)
    shape = bundle.input_shape if bundle.input_shape[0] == 3 else (3, *bundle.input_shape[1:])
    model = build_model(a.model, shape, bundle.num_classes, seed=0)
    train = torch.stack([bundle.train[i][0] for i in range(len(bundle.train))]).expand(-1, 3, -1, -1).contiguous()
    test = torch.stack([bundle.test[i][0] for i in range(min(a.test, len(bundle.test)))]).expand(-1, 3, -1, -1)
    print(f"{a.model} on {a.data} {tuple(train.shape[1:])}: {len(train)} training inputs, {len(test)} held out")
    results = {}
    for m in sorted(a.per_feature):
        ridge.ROWS_PER_FEATURE, ridge.MIN_ROWS = m, a.min_rows
        with CascadeProbe(model, progress=False) as probe:
            t0 = time.perf_counter()
            probe.fit(train)
            fit = time.perf_counter() - t0
            results[m] = (fit, one_step_r2(probe, test), probe.fit_info["closed_form_rows"])
    best = max(results)
    print(f"{'rows/feature':>12} {'fit s':>7} {'min R2':>7} {'max |dR2| vs ' + str(best):>16}  R2 per stage")
    for m, (fit, r2, rows) in results.items():
        diff = max(abs(a - b) for a, b in zip(r2, results[best][1]))
        print(f"{m:>12g} {fit:>7.1f} {min(r2):>7.3f} {diff:>16.4f}  " + " ".join(f"{v:.3f}" for v in r2))


if __name__ == "__main__":
    main()
