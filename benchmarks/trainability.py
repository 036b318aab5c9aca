"""Benchmark: how well do reprobe's prediction, the paper's ℓ* rules and mean field predict training?

    .venv/bin/python benchmarks/trainability.py [--grid benchmarks/grids/mlp-w300] [--make]

A grid folder holds a sweep's probed nets (``points.jsonl``: one probe per σ_w² at the deepest
depth) and the same nets trained at several depths (``trained.jsonl``). The cached grids under
``benchmarks/grids/`` re-make the table in seconds; ``--make`` re-computes a missing grid with the
protocol below (about an hour on 2 CPU cores for the MLP grid).

Protocol ("trainable" made well defined):

* tanh MLP, MNIST 5000-digit subset (4500 training / 500 held out), width 300, σ_b² = 0.05,
  σ_w² = 1.0, 1.3, …, 4.0 (11 values), depths 10, 20, 40, 60, 100;
* training: plain SGD, learning rate 0.05, batch 64, 5 epochs, seed 0;
* a net is *trainable* when its held-out accuracy reaches twice chance (0.2).

Printed: for each rule, the share of cells that agree with training, AUROC and Spearman (see
:mod:`reprobe.analysis.validation`). The prediction ships with c = 3 (``DEPTH_PER_XI``), fitted on
this grid; the table re-fits c (and, as the variant that did not generalise, c with ξ_floor) and
shows the leave-one-σ_w²-out agreement, which is the honest figure for a fitted constant.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRIDS = {
    "mlp-w300": [
        ["sweep", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "100", "--width", "300", "-j", "1", "-q"],
        ["train-grid", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "10,20,40,60,100",
         "--width", "300", "--lr", "0.05", "--epochs", "5", "-j", "1", "-q", "--resume"],
    ],
}


def make_grid(name: str, out: Path) -> None:
    for args in GRIDS[name]:
        cmd = [sys.executable, "-m", "reprobe.cli", *args, "--out", str(out)]
        print("running:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)


def table(out: Path) -> None:
    from reprobe.analysis.prediction import DEFAULT_METRIC, DEPTH_PER_XI, FLOOR_XI
    from reprobe.analysis.validation import calibrate, cross_validate, deepest_points, validate
    from reprobe.experiments.sweep import default_acc_threshold, load_grid, six_xi, theory_reference

    probes, trained = load_grid(out)
    thr = default_acc_threshold(trained)
    lines = deepest_points(probes)
    theory = theory_reference("tanh", sorted({p["sigma_w2"] for p in probes}), sorted({p["sigma_b2"] for p in probes}))
    print(f"grid {out.name}: {len(lines)} probed σ_w² lines, {len(trained)} trained nets, trainable ⇔ accuracy ≥ {thr:.2f}")
    print(f"  {'rule':<44} {'agreement':>10} {'AUROC':>6} {'spearman':>9}")

    def row(name, r):
        f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"  {name:<44} {f(r.agreement):>10} {f(r.auroc):>6} {f(r.spearman):>9}")

    mf = lambda sw, sb: six_xi(theory, sw, sb)  # noqa: E731
    for metric in ("relative_entropy", "mse"):
        t0 = time.perf_counter()
        rows = validate(probes, trained, thr, mf, metrics=(metric,), metric=metric, depth_per_xi=DEPTH_PER_XI,
                        floor_xi=FLOOR_XI)
        tag = " (the default)" if metric == DEFAULT_METRIC else ""
        row(f"prediction {metric}, shipped c={DEPTH_PER_XI:g}{tag}", rows[0])
        c, _, fitted = calibrate(lines, trained, thr, metric=metric, floors=(None,))
        row(f"  c fitted here: {c:g}", fitted)
        row("  c fitted, leave-one-σ_w²-out", cross_validate(lines, trained, thr, metric=metric, floors=(None,)))
        c2, floor, fitted2 = calibrate(lines, trained, thr, metric=metric)
        row(f"  c and ξ_floor fitted: {c2:g}, {floor}", fitted2)
        row(f"  c and ξ_floor, leave-one-σ_w²-out ({time.perf_counter() - t0:.0f} s)",
            cross_validate(lines, trained, thr, metric=metric))
        row(f"ℓ* {metric} (depth ≤ ℓ*)", rows[1])
    rows = validate(probes, trained, thr, mf, metrics=("differential_entropy",))
    row("ℓ* differential_entropy (depth ≤ ℓ*)", rows[1])
    row("mean field (depth ≤ 6ξ_c)", rows[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", action="append", help="grid folder(s) (default: every cached grid)")
    ap.add_argument("--make", action="store_true", help="compute grids that are missing (long)")
    args = ap.parse_args()
    folders = [Path(g) for g in args.grid] if args.grid else [HERE / "grids" / n for n in GRIDS]
    for out in folders:
        if not (out / "trained.jsonl").is_file():
            if not args.make or out.name not in GRIDS:
                print(f"{out}: no grid here; run with --make to compute it")
                continue
            make_grid(out.name, out)
        table(out)


if __name__ == "__main__":
    main()
