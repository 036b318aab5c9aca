"""Benchmark: locating the critical σ_w² with golden-section search vs a 0.1-step grid over [1, 4].

    .venv/bin/python benchmarks/critical_search.py [--depth 40] [--width 256] [--tol 0.05]

Both use the same probe (tanh MLP, σ_b² = 0.05, mnist-5k, ridge decoders) and the same score
(ℓ* of relative entropy, ties broken by the lowest mean relative entropy). One warm-up probe runs
first and is not counted. Prints the number of probes, the wall time and the σ_w² each finds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reprobe import theory as mf
from reprobe.analysis.critical import find_critical, score_record
from reprobe.experiments.critical import probe_evaluator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--sigma-b2", type=float, default=0.05)
    ap.add_argument("--tol", type=float, default=0.05)
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--train-samples", type=int, default=None)
    args = ap.parse_args()

    evaluate = probe_evaluator("mlp", "mnist-5k", depth=args.depth, width=args.width, sigma_b2=args.sigma_b2,
                               model_options={"activation": "tanh"},
                               probe_options={"train_samples": args.train_samples, "progress": False})
    evaluate(1.5)  # warm-up (data load, first-call overheads)

    t0 = time.perf_counter()
    res = find_critical(evaluate, 1.0, 4.0, args.tol)
    t_search = time.perf_counter() - t0

    grid = np.round(np.arange(1.0, 4.0 + 1e-9, args.step), 6)
    t0 = time.perf_counter()
    scores = {float(sw): score_record(evaluate(float(sw))) for sw in grid}
    t_grid = time.perf_counter() - t0
    best_grid = max(scores, key=lambda k: scores[k])

    crit = mf.critical_sigma_w2("tanh", args.sigma_b2)
    print(f"tanh MLP width {args.width} depth {args.depth}, sigma_b2 = {args.sigma_b2}, mnist-5k; "
          f"mean-field critical sigma_w2 = {crit:.3f}")
    print(f"search (golden section, tol {args.tol}): {res.probes:3d} probes, {t_search:7.1f} s, "
          f"sigma_w2 = {res.sigma_w2:.3f} (bracket {res.bracket[0]:.3f}..{res.bracket[1]:.3f})")
    print(f"grid   (step {args.step} over [1, 4])   : {len(grid):3d} probes, {t_grid:7.1f} s, "
          f"sigma_w2 = {best_grid:.3f}")
    print(f"ratio grid/search: {len(grid) / res.probes:.2f}x probes, {t_grid / t_search:.2f}x time")


if __name__ == "__main__":
    main()
