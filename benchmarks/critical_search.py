"""Benchmark: locating the critical σ_w² by golden-section search, ranked by ξ̂ or by ℓ*.

    .venv/bin/python benchmarks/critical_search.py [--depth 40] [--width 256] [--tol 0.05]
                                                    [--sigma-b2 0.05 --sigma-b2 0.2] [--grid]
    .venv/bin/python benchmarks/critical_search.py --ridge-scan [--ridge 0.1 --ridge 0.01 --ridge 0.001]

Each search probes tanh MLPs (mnist-5k, ridge decoders) over σ_w² ∈ [1, 4] and reports the σ_w² it
finds, its distance from mean field's critical point, the number of probes and the wall time, for
``rank_by="xi"`` (the correlation length ξ̂, the default) and ``rank_by="cutoff"`` (ℓ*, ties broken
by the mean relative entropy), and the partial Jacobian's χ = 1 found by bisection (``chi``: one
backward pass per net, no decoders; :mod:`reprobe.analysis.chi_crossing`). ``--grid`` adds a 0.1-step grid with the cutoff score for reference.
``--ridge-scan`` instead probes σ_w² = 1.2, 1.3, …, 3.0 at each ``--ridge`` and prints where the
reconstruction ξ̂ peaks and how flat it is there: the evidence that the ξ̂ peak depends on the
decoders' ridge, so that the search by ξ̂ finds a band, not the edge of chaos.
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


def ridge_scan(depth: int, width: int, sigma_b2: float, ridges) -> None:
    """Where ξ̂ peaks over σ_w² ∈ [1.2, 3.0], per ridge."""
    grid = np.round(np.arange(1.2, 3.0 + 1e-9, 0.1), 6)
    crit = mf.critical_sigma_w2("tanh", sigma_b2)
    print(f"σ_b² = {sigma_b2:g} (mean field {crit:.3f}): ξ̂ over σ_w² {grid[0]:g}…{grid[-1]:g}, step 0.1")
    print(f"{'ridge':>7} {'peak σ_w²':>10} {'ξ̂ there':>8} {'within 1 % of it':>18} {'ξ̂ at 1.2 / 3.0':>16}  time")
    for ridge in ridges:
        evaluate = probe_evaluator("mlp", "mnist-5k", depth=depth, width=width, sigma_b2=sigma_b2,
                                   model_options={"activation": "tanh"}, probe_options={"progress": False, "ridge": ridge})
        t0 = time.perf_counter()
        xi = np.array([score_record(evaluate(float(sw)), rank_by="xi")[0] for sw in grid])
        best = int(np.argmax(xi))
        band = grid[xi >= 0.99 * xi[best]]
        edge = " (grid edge)" if best in (0, len(grid) - 1) else ""
        print(f"{ridge:>7g} {grid[best]:>10.2f} {xi[best]:>8.3g} {f'{band.min():.1f}–{band.max():.1f}':>18} "
              f"{f'{xi[0]:.3g} / {xi[-1]:.3g}':>16}  {time.perf_counter() - t0:.0f}s{edge}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--sigma-b2", type=float, action="append")
    ap.add_argument("--tol", type=float, default=0.05)
    ap.add_argument("--grid", action="store_true", help="also probe a 0.1-step grid (31 probes per σ_b²)")
    ap.add_argument("--ridge-scan", action="store_true", help="where ξ̂ peaks over a σ_w² grid, per --ridge")
    ap.add_argument("--ridge", type=float, action="append", help="ridges for --ridge-scan (default 0.1, 0.01, 0.001)")
    args = ap.parse_args()
    if args.ridge_scan:
        print(f"tanh MLP width {args.width}, depth {args.depth}, mnist-5k")
        for sb in args.sigma_b2 or [0.05]:
            ridge_scan(args.depth, args.width, sb, args.ridge or [0.1, 0.01, 0.001])
        return
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
