"""Benchmark: locating the critical σ_w² by golden-section search, ranked by ξ̂ or by ℓ*.

    .venv/bin/python benchmarks/critical_search.py [--depth 40] [--width 256] [--tol 0.05]
                                                    [--sigma-b2 0.05 --sigma-b2 0.2] [--grid]

Each search probes tanh MLPs (mnist-5k, ridge decoders) over σ_w² ∈ [1, 4] and reports the σ_w² it
finds, its distance from mean field's critical point, the number of probes and the wall time, for
``rank_by="xi"`` (the correlation length ξ̂, the default) and ``rank_by="cutoff"`` (ℓ*, ties broken
by the mean relative entropy), and the partial Jacobian's χ = 1 found by bisection (``chi``: one
backward pass per net, no decoders; :mod:`reprobe.analysis.chi_crossing`). ``--grid`` adds a 0.1-step grid with the cutoff score for reference.
Probes are cached per σ_w², so a σ_w² both searches visit is probed once (times are per search).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reprobe import theory as mf
from reprobe.analysis.chi_crossing import find_chi_crossing
from reprobe.analysis.critical import find_critical, score_record
from reprobe.experiments.critical import chi_evaluator, probe_evaluator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--sigma-b2", type=float, action="append")
    ap.add_argument("--tol", type=float, default=0.05)
    ap.add_argument("--grid", action="store_true", help="also probe a 0.1-step grid (31 probes per σ_b²)")
    args = ap.parse_args()
    print(f"tanh MLP width {args.width}, depth {args.depth}, mnist-5k, tol {args.tol}")
    print(f"{'σ_b²':>5} {'mean field':>10} {'rank by':>8} {'found':>7} {'error':>7} {'probes':>6} {'time':>7}  bracket")
    for sb in args.sigma_b2 or [0.05, 0.2]:
        evaluate = probe_evaluator("mlp", "mnist-5k", depth=args.depth, width=args.width, sigma_b2=sb,
                                   model_options={"activation": "tanh"}, probe_options={"progress": False})
        cache = {}

        def cached(sw, evaluate=evaluate, cache=cache):
            if sw not in cache:
                t0 = time.perf_counter()
                cache[sw] = (evaluate(sw), time.perf_counter() - t0)
            return cache[sw][0]

        crit = mf.critical_sigma_w2("tanh", sb)
        for rank_by in ("xi", "cutoff"):
            seen = set(cache)
            res = find_critical(cached, 1.0, 4.0, args.tol, rank_by=rank_by)
            secs = sum(cache[round(e["sigma_w2"], 4)][1] for e in res.evaluated if round(e["sigma_w2"], 4) not in seen)
            print(f"{sb:>5g} {crit:>10.3f} {rank_by:>8} {res.sigma_w2:>7.3f} {res.sigma_w2 - crit:>+7.3f} "
                  f"{res.probes:>6} {secs:>6.0f}s  [{res.bracket[0]:.3f}, {res.bracket[1]:.3f}]", flush=True)
            print("        probes: " + ", ".join(f"{e['sigma_w2']:.3f}→{e[rank_by]:.3g}" for e in res.evaluated), flush=True)
        log_chi = chi_evaluator("mlp", "mnist-5k", depth=args.depth, width=args.width, sigma_b2=sb,
                                model_options={"activation": "tanh"})
        res = find_chi_crossing(log_chi, 1.0, 4.0, args.tol)
        print(f"{sb:>5g} {crit:>10.3f} {'chi':>8} {res.sigma_w2:>7.3f} {res.sigma_w2 - crit:>+7.3f} "
              f"{res.probes:>6} {res.time:>6.1f}s  [{res.bracket[0]:.3f}, {res.bracket[1]:.3f}]", flush=True)
        print("        probes: " + ", ".join(f"{e['sigma_w2']:.3f}→{e['chi']:.3g}" for e in res.evaluated), flush=True)
        if args.grid:
            grid = np.round(np.arange(1.0, 4.0 + 1e-9, 0.1), 6)
            best = max(grid, key=lambda sw: score_record(cached(float(sw)), rank_by="xi"))
            print(f"{sb:>5g} {crit:>10.3f} {'grid ξ̂':>8} {best:>7.3f} {best - crit:>+7.3f} {len(grid):>6}")


if __name__ == "__main__":
    main()
