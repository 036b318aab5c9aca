"""Benchmark: how well do reprobe's prediction, the paper's ℓ* rules and mean field predict training?

    .venv/bin/python benchmarks/trainability.py [--grid benchmarks/grids/mlp-w300] [--make]

A grid folder holds a sweep's probed nets (``points.jsonl``: one probe per σ_w² at the deepest
depth) and the same nets trained at several depths (``trained.jsonl``). The cached grids under
``benchmarks/grids/`` re-make the table in about 90 s; ``--make`` re-computes a missing grid with the
protocol below (on 2 CPU cores: about an hour for the width-300 MLP grid, 1–17 min for widths 64–512,
13 min for the CNN grid).

Protocol ("trainable" made well defined):

* tanh MLP, MNIST 5000-digit subset (4500 training / 500 held out), width 300 (and 64, 128, 512 in
  ``mlp-w64`` … ``mlp-w512``), σ_b² = 0.05,
  σ_w² = 1.0, 1.3, …, 4.0 (11 values), depths 10, 20, 40, 60, 100;
* training: plain SGD, learning rate 0.05, batch 64, 5 epochs, seed 0;
* a net is *trainable* when its held-out accuracy reaches twice chance (0.2).

The CNN grid (``cnn-c16``): the plain tanh CNN (3×3 convolutions, 16 channels, same padding, global
average pool, Linear), scikit-learn's 8×8 digits (1617 training / 180 held out), σ_b² = 0.05,
σ_w² = 1.0, 1.5, …, 4.0 (7 values), depths 10, 20, 40, 60; SGD with momentum 0.9, learning rate
0.01, batch 64, 1000 steps, seed 0; trainable at twice chance, as above. (The MLP protocol's 5 plain
SGD epochs on MNIST train no CNN at all, not even at depth 5; this one trains the near-critical net
at depth 60 and fails the ordered and chaotic ones there, in about 12 min on 2 cores.)

Printed: for each rule, the share of cells that agree with training, AUROC and Spearman (see
:mod:`reprobe.analysis.validation`), and the *ceiling* of ξ̂ and of 6ξ_c: the best agreement any
rule "depth ≤ f(score)" with f non-decreasing could reach, i.e. what the score's order across σ_w²
allows whatever the calibration. The prediction ships with c = 3 (``DEPTH_PER_XI``), fitted on
this grid; the table re-fits c (and, as the variant that did not generalise, c with ξ_floor) and
shows the leave-one-σ_w²-out agreement, which is the honest figure for a fitted constant.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
GRIDS = {
    "mlp-w300": [
        ["sweep", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "100", "--width", "300", "-j", "1", "-q"],
        ["train-grid", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "10,20,40,60,100",
         "--width", "300", "--lr", "0.05", "--epochs", "5", "-j", "1", "-q", "--resume"],
    ],
    **{f"mlp-w{w}": [
        ["sweep", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "100", "--width", str(w), "-j", "2", "-q"],
        ["train-grid", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "10,20,40,60,100",
         "--width", str(w), "--lr", "0.05", "--epochs", "5", "-j", "2", "-q", "--resume"],
    ] for w in (64, 128, 512)},
    "cnn-c16": [
        ["sweep", "--model", "cnn", "--data", "digits", "--width", "16", "--sigma-w2", "1.0:4.0:0.5", "--sigma-b2", "0.05",
         "--depth", "60", "--decoder-kernel", "7", "-j", "1", "-q"],
        ["train-grid", "--model", "cnn", "--data", "digits", "--width", "16", "--sigma-w2", "1.0:4.0:0.5",
         "--sigma-b2", "0.05", "--depth", "10,20,40,60", "--lr", "0.01", "--momentum", "0.9", "--steps", "1000",
         "-j", "2", "-q", "--resume"],
    ],
}


V2 = HERE / "grids" / "v2"
#: Protocol v2 (the default of train-grid: best of four SGD rates, 1000 steps, training accuracy ≥ 0.55).
#: The probed points of the families the v1 grids cover are theirs (the probe did not change), with
#: their saturation levels added (:func:`add_saturation`).
_TANH = ["--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "10,20,40,60,100"]
GRIDS_V2 = {
    **{f"mlp-w{w}": [["train-grid", *_TANH, "--width", str(w), "-j", "2", "-q", "--resume"]] for w in (64, 128, 300, 512)},
    "relu-w128": [
        ["sweep", "--activation", "relu", "--sigma-w2", "1.0:4.0:0.3", "--sigma-b2", "0.05", "--depth", "100",
         "--width", "128", "-j", "2", "-q", "--resume"],
        ["train-grid", "--activation", "relu", *_TANH, "--width", "128", "-j", "2", "-q", "--resume"],
    ],
    "cnn-c16": [["train-grid", "--model", "cnn", "--data", "digits", "--width", "16", "--sigma-w2", "1.0:4.0:0.5",
                 "--sigma-b2", "0.05", "--depth", "10,20,40,60", "--momentum", "0.9", "-j", "2", "-q", "--resume"]],
}


def add_saturation(folder: Path) -> None:
    """Give each probed point of ``folder`` its ``saturation`` (each metric of the evaluated inputs against
    their mean), for points probed before the probe recorded it."""
    import json

    import torch

    from reprobe.data import load_dataset
    from reprobe.metrics import saturation_levels

    path, inputs = folder / "points.jsonl", {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in records:
        s = r["settings"]
        key = json.dumps([s["data"], s["data_options"], s["probe"]["samples"]], sort_keys=True)
        if key not in inputs:
            test = load_dataset(s["data"], **s["data_options"]).test
            inputs[key] = torch.stack([test[i][0] for i in range(min(len(test), s["probe"]["samples"]))])
        r.setdefault("saturation", saturation_levels(inputs[key], list(r["metrics"])))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def make_grid(name: str, out: Path) -> None:
    if out.resolve().parent == V2:
        return make_grid_v2(name, out)
    for args in GRIDS[name]:
        cmd = [sys.executable, "-m", "reprobe.cli", *args, "--out", str(out)]
        print("running:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)


def make_grid_v2(name: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    v1 = HERE / "grids" / name / "points.jsonl"
    if not (out / "points.jsonl").is_file() and v1.is_file():
        (out / "points.jsonl").write_text(v1.read_text())
        add_saturation(out)
    for args in GRIDS_V2[name]:
        cmd = [sys.executable, "-m", "reprobe.cli", *args, "--out", str(out)]
        print("running:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)


def grid_rows(out: Path) -> Tuple[str, List[Tuple[str, object]], List[str]]:
    """(the grid's heading, [(rule, RuleScore)], notes on what was fitted) for one grid folder."""
    from reprobe.analysis.prediction import DEFAULT_METRIC
    from reprobe.analysis.validation import (
        RuleScore, calibrate, cross_validate, deepest_points, monotone_ceiling, predicted_depths, validate,
    )
    from reprobe.experiments.sweep import default_acc_threshold, load_grid, six_xi, theory_reference

    probes, trained = load_grid(out)
    thr = default_acc_threshold(trained)
    lines = deepest_points(probes)
    activation = (probes[0].get("settings") or {}).get("model_options", {}).get("activation", "tanh")
    theory = theory_reference(activation, sorted({p["sigma_w2"] for p in probes}), sorted({p["sigma_b2"] for p in probes}))
    head = f"{'v2' if out.resolve().parent == V2 else 'v1'} {out.name}: {len(lines)} σ_w² lines, {len(trained)} trained nets, trainable ⇔ accuracy ≥ {thr:.2f}"
    mf = lambda sw, sb: six_xi(theory, sw, sb)  # noqa: E731
    rows, notes = [], []
    for metric in ("relative_entropy", "mse"):
        t0 = time.perf_counter()
        scored = validate(probes, trained, thr, mf, metrics=(metric,), metric=metric)  # the shipped calibration
        tag = " (the default)" if metric == DEFAULT_METRIC else ""
        rows.append((f"prediction {metric}{tag}", scored[0]))
        fitted = {}
        for form in ("linear", "floor"):
            fitted[form], score = calibrate(lines, trained, thr, metric=metric, form=form)
            rows.append((f"  {form} map fitted on this grid", score))
            rows.append((f"  {form} map, leave-one-σ_w²-out", cross_validate(lines, trained, thr, metric=metric, form=form)))
        rows.append((f"ℓ* {metric} (depth ≤ ℓ*)", scored[1]))
        lin, flo = fitted["linear"], fitted["floor"]
        notes.append(f"{out.name}, {metric}: fitted c (at width 300) = {lin.depth_per_xi:g}; c, ξ_floor (at width 300) "
                     f"= {flo.depth_per_xi:g}, {flo.floor_xi:g} ({time.perf_counter() - t0:.0f} s)")
    scored = validate(probes, trained, thr, mf, metrics=("differential_entropy",))
    rows.append(("ℓ* differential_entropy (depth ≤ ℓ*)", scored[1]))
    rows.append(("mean field (depth ≤ 6ξ_c)", scored[-1]))
    xi = predicted_depths(lines, depth_per_xi=1.0, floor_xi=None, width_exponent=0.0)  # ξ̂ itself
    six = {k: mf(k[0], k[1]) for k in lines}
    for name, scores in (("ceiling: any monotone rule on ξ̂", xi), ("ceiling: any monotone rule on 6ξ_c", six)):
        rows.append((name, RuleScore(name, 0, 0, monotone_ceiling(scores, trained, thr), None, None)))
    return head, rows, notes


def print_table(grids: List[Tuple[str, List[Tuple[str, object]], List[str]]]) -> None:
    """One table: a row per rule, a column per grid holding agreement / AUROC / Spearman ρ."""
    f = lambda v, digits: "–" if v is None else f"{v:.{digits}f}"  # noqa: E731
    for i, (head, _, _) in enumerate(grids):
        print(f"[{i + 1}] {head}")
    print(f"{'rule':<46}" + "".join(f" {f'[{i + 1}] agree/AUROC/ρ':>18}" for i in range(len(grids))))
    for r, (name, _) in enumerate(grids[0][1]):
        cells = [rows[r][1] for _, rows, _ in grids]
        pad = 46 + sum(unicodedata.combining(ch) > 0 for ch in name)  # ξ̂'s hat takes no column
        print(f"{name:<{pad}}" + "".join(
            f" {f(s.agreement, 3) + '/' + f(s.auroc, 2) + '/' + f(s.spearman, 2):>18}" for s in cells))
    for _, _, notes in grids:
        for n in notes:
            print("  " + n)


def width_law(folders: List[Path]) -> None:
    """Does ``c · (300/n)^p`` carry across MLP widths? Fit (c, p) on all but one width, score the held-out one."""
    import numpy as np

    from reprobe.analysis.prediction import DEPTH_PER_XI, WIDTH_EXPONENT
    from reprobe.analysis.validation import deepest_points, line_fits, line_widths, predicted_depths, score_rule
    from reprobe.experiments.sweep import default_acc_threshold, load_grid

    grids = {}
    for out in folders:
        probes, trained = load_grid(out)
        lines = deepest_points(probes)
        widths = line_widths(lines)
        if any(w is None for w in widths.values()):
            continue  # not an MLP grid
        grids[out.name] = (lines, trained, default_acc_threshold(trained), line_fits(lines), widths)
    if len(grids) < 2:
        return
    print("how c scales with an MLP's hidden width n (v1 linear map, relative entropy):")

    def agree(name, c, p):
        lines, trained, thr, fits, widths = grids[name]
        s = score_rule("w", predicted_depths(lines, depth_per_xi=c, floor_xi=None, fits=fits, widths=widths,
                                             width_exponent=p), trained, thr)
        return s.agree, s.cells

    def fit(names):
        return max((sum(agree(n, c, p)[0] for n in names), -abs(p - WIDTH_EXPONENT), c, p)
                   for c in np.arange(2.0, 4.51, 0.25) for p in np.arange(0.0, 0.81, 0.05))[2:]

    total = sum(agree(n, DEPTH_PER_XI, 0.0)[1] for n in grids)
    for label, (c, p) in (("width-blind, shipped", (DEPTH_PER_XI, 0.0)), ("width law, shipped", (DEPTH_PER_XI, WIDTH_EXPONENT)),
                          ("width law, fitted on all", fit(list(grids)))):
        hit = sum(agree(n, c, p)[0] for n in grids)
        print(f"  {label:<28} c = {c:g} · (300/n)^{p:.2f}: {hit}/{total} = {hit / total:.3f}")
    hit = 0
    for held in grids:
        c, p = fit([n for n in grids if n != held])
        a, n = agree(held, c, p)
        hit += a
        print(f"    leave {held} out: c = {c:g}, p = {p:.2f} → {a}/{n} = {a / n:.3f}")
    print(f"  width law, leave one width out: {hit}/{total} = {hit / total:.3f}")


def calibration_grids(folders: List[Path]):
    """Each folder as a :class:`reprobe.analysis.calibration.Grid` (ξ̂ with the saturation level fixed)."""
    from reprobe.analysis.validation import calibration_grid, deepest_points
    from reprobe.experiments.sweep import default_acc_threshold, load_grid

    grids = []
    for out in folders:
        probes, trained = load_grid(out)
        grids.append(calibration_grid(deepest_points(probes), trained, default_acc_threshold(trained), name=out.name))
    return grids


def forms_table(folders: List[Path]) -> None:
    """Which map from ξ̂ to depth holds out of sample: each form fitted on all grids, on all σ_w² but one,
    on all grids but one (see :mod:`reprobe.analysis.calibration`)."""
    from reprobe.analysis.calibration import FORMS, agreement, fit_form, leave_one_out
    from reprobe.analysis.prediction import CALIBRATION

    grids = calibration_grids(folders)
    a, n = agreement(CALIBRATION, grids)
    print(f"maps from ξ̂ to depth on {', '.join(g.name for g in grids)} ({n} cells); shipped: {a}/{n} = {a / max(n, 1):.3f}")
    for form in FORMS:
        t0 = time.perf_counter()
        cal, a, n = fit_form(form, grids)
        sa, sn = leave_one_out(form, grids, "sigma_w2")
        ga, gn = leave_one_out(form, grids, "grid") if len(grids) > 1 else (0, 0)
        held = f"{ga / gn:.3f}" if gn else "–"
        print(f"  {form:<7} in sample {a / n:.3f}, leave one σ_w² out {sa / sn:.3f}, leave one grid out {held}: "
              f"c = {cal.depth_per_xi:.3g}, p = {cal.width_exponent:g}, b = {cal.power:g}, ξ_floor = {cal.floor_xi}, "
              f"q = {cal.floor_width_exponent:g}  ({time.perf_counter() - t0:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", action="append", help="grid folder(s) (default: every cached grid, v1 and v2)")
    ap.add_argument("--make", action="store_true", help="compute grids that are missing (long; v2 resumes)")
    ap.add_argument("--forms", action="store_true", help="also compare the maps from ξ̂ to depth out of sample (minutes)")
    args = ap.parse_args()
    folders = [Path(g) for g in args.grid] if args.grid else (
        [HERE / "grids" / n for n in GRIDS] + [V2 / n for n in GRIDS_V2])
    grids, ready = [], []
    for out in folders:
        known = GRIDS_V2 if out.resolve().parent == V2 else GRIDS
        if args.make and out.name in known:
            make_grid(out.name, out)
        if not (out / "trained.jsonl").is_file() or not (out / "points.jsonl").is_file():
            print(f"{out}: no grid here; run with --make to compute it")
            continue
        grids.append(grid_rows(out))
        ready.append(out)
    if grids:
        print_table(grids)
        width_law([f for f in ready if f.resolve().parent != V2])
    v2_mlp = [f for f in ready if f.resolve().parent == V2 and f.name.startswith("mlp-")]
    if args.forms and v2_mlp:
        forms_table(v2_mlp)


if __name__ == "__main__":
    main()
