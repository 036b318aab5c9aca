"""Benchmark: every trainability predictor on the same nets and the same ground truth.

    .venv/bin/python benchmarks/predictors.py [--grid benchmarks/grids/mlp-w300] [--no-reconstruction]

For each σ_w² line of a cached ground-truth grid (``points.jsonl``: the probed depth-100 nets;
``trained.jsonl``: the same line trained at depths 10–100; a cell is *trainable* when its held-out
accuracy reaches 0.2), the depth-100 width-300 tanh MLP (σ_b² = 0.05, seed 0) is rebuilt and every
predictor of :mod:`reprobe.predictors` scores it on one MNIST batch (64 digits of ``mnist-5k``;
``reconstruction`` fits its decoders on the whole 4500-digit training split). One table:

* **spearman**: rank correlation, across σ_w², of the score with the deepest depth that trained
  (0 when none did);
* **AUROC**: of the score as a classifier of "this cell trains", over all trained cells. A score
  that ignores depth gives every depth of a line the same value; for the depth-aware predictors
  the second AUROC column uses their depth (6ξ_c, 1/|ln χ|, max_trainable_depth) divided by the
  cell's depth;
* **partial ρ | params**: the Spearman correlation with the parameter count held fixed (the answer
  to "it only counts parameters"). All nets of this grid have the same parameter count, so it
  equals the plain Spearman here; a grid over widths is needed to make it bite;
* **s/net**: seconds per network on this machine.

Also printed for comparison: reprobe's shipped prediction read from the grid's cached probes
(:func:`reprobe.analysis.validation.validate`), which is what ``reconstruction`` recomputes live.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
ACC_THRESHOLD = 0.2
#: Predictors whose depth scale (in layers) gives a depth-aware score ``scale / depth``.
DEPTH_AWARE = {"mean_field": "score", "partial_jacobian": "depth_scale", "reconstruction": "depth_of_xi"}


def read_jsonl(path: Path) -> List[dict]:
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def partial_spearman(a: Sequence[float], b: Sequence[float], z: Sequence[float]) -> Optional[float]:
    """Spearman of a and b with z held fixed (first-order partial correlation of the ranks).

    With a constant z (every net the same size) there is nothing to hold fixed and it is the plain
    Spearman.
    """
    from reprobe.analysis.validation import spearman

    r_ab = spearman(a, b)
    r_az, r_bz = spearman(a, z), spearman(b, z)
    if r_ab is None:
        return None
    if r_az is None or r_bz is None:  # z constant
        return r_ab
    den = math.sqrt(max(1e-12, (1 - r_az ** 2) * (1 - r_bz ** 2)))
    return (r_ab - r_az * r_bz) / den


def _num(v: Optional[float]) -> float:
    return -math.inf if v is None else float(v)  # "not applicable / undefined" ranks lowest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default=str(HERE / "grids" / "mlp-w300"))
    ap.add_argument("--no-reconstruction", action="store_true", help="skip the live probe (≈ 7 s per net)")
    ap.add_argument("--batch", type=int, default=64, help="rows of the one batch the predictors see")
    args = ap.parse_args()

    import torch

    from reprobe.analysis.validation import auroc, deepest_points, line_key, spearman, validate
    from reprobe.data import load_dataset
    from reprobe.experiments.sweep import six_xi, theory_reference
    from reprobe.models import build_model
    from reprobe.predictors import list_predictors, score

    grid = Path(args.grid)
    points, trained = read_jsonl(grid / "points.jsonl"), read_jsonl(grid / "trained.jsonl")
    lines = deepest_points(points)
    keys = sorted(lines)
    deepest = {k: max([int(t["depth"]) for t in trained if line_key(t) == k and t["accuracy"] >= ACC_THRESHOLD] or [0])
               for k in keys}
    bundle = load_dataset("mnist-5k")
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(bundle.train, batch_size=args.batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    x, y = next(iter(loader))
    names = [n for n in list_predictors() if not (n == "reconstruction" and args.no_reconstruction)]
    results: Dict[tuple, dict] = {}
    print(f"grid {grid.name}: {len(keys)} σ_w² lines, {len(trained)} trained cells (trainable ⇔ accuracy ≥ {ACC_THRESHOLD})")
    for k in keys:
        sw, sb, width = k
        depth = int(lines[k]["depth"])
        model = build_model("mlp", (1, 28, 28), 10, depth=depth, width=width, sigma_w2=sw, sigma_b2=sb, seed=0)
        res = {}
        for n in names:
            data = loader if n == "reconstruction" else (x, y)
            opts = {"reconstruction": {"fit_data": torch.utils.data.DataLoader(bundle.train, batch_size=64),
                                       "eval_data": bundle.test}} if n == "reconstruction" else None
            res.update(score(model, data, [n], options=opts))
        results[k] = res
        print(f"  σ_w² {sw:4.2f}  deepest trained {deepest[k]:3d}  " + "  ".join(
            f"{n}={'n/a' if r.score is None else f'{r.score:.3g}'}" for n, r in res.items()), flush=True)

    from reprobe.analysis.prediction import CALIBRATION

    def depth_value(n: str, r, d: int, width: Optional[int]) -> Optional[float]:
        kind = DEPTH_AWARE.get(n)
        if kind is None or r.score is None:
            return None
        if kind == "score":
            return r.score / d
        if kind == "depth_scale":
            return math.inf if r.depth_scale is None else r.depth_scale / d
        # max_trainable_depth / d from ξ̂ (the score itself is verdict-banded: trainability_score)
        return None if r.depth_scale is None else CALIBRATION.depth_of(r.depth_scale, width) / d

    cells = [(line_key(t), int(t["depth"]), t["accuracy"] >= ACC_THRESHOLD) for t in trained if line_key(t) in results]
    params = [_num(results[k]["params"].score) if "params" in results[k] else 0.0 for k in keys]
    f = lambda v: "  n/a" if v is None else f"{v:5.2f}"  # noqa: E731
    print(f"\n  {'predictor':<18} {'spearman':>8} {'AUROC':>6} {'AUROC depth':>11} {'partial ρ|params':>16} {'s/net':>6}")
    for n in names:
        s = [_num(results[k][n].score) for k in keys]
        rho = spearman(s, [deepest[k] for k in keys])
        au = auroc([_num(results[k][n].score) for k, _, _ in cells], [lab for _, _, lab in cells])
        dv = [depth_value(n, results[k][n], d, k[2]) for k, d, _ in cells]
        au_d = auroc([_num(v) for v in dv], [lab for _, _, lab in cells]) if n in DEPTH_AWARE else None
        part = partial_spearman(s, [deepest[k] for k in keys], params)
        secs = sum(results[k][n].seconds for k in keys) / len(keys)
        print(f"  {n:<18} {f(rho):>8} {f(au):>6} {f(au_d):>11} {f(part):>16} {secs:6.2f}")
    theory = theory_reference("tanh", sorted({k[0] for k in keys}), sorted({k[1] for k in keys}))
    print("\n  from the grid's cached probes (reprobe.analysis.validation; AUROC of D/depth):")
    for r in validate(points, trained, ACC_THRESHOLD, lambda sw, sb: six_xi(theory, sw, sb), metrics=()):
        if r.rule.startswith(("prediction", "mean_field")):
            print(f"  {r.rule:<28} spearman {f(r.spearman)}  AUROC {f(r.auroc)}  agreement {f(r.agreement)}")
    print("\n  partial ρ | params equals spearman: every net here has the same parameter count (width 300, depth 100).")


if __name__ == "__main__":
    main()
