"""Sweeps over the phase diagram: a whole sweep from Python, its summary and agreement with ground truth.

A sweep probes (and/or trains) one network per grid point ``(σ_w², σ_b², depth, width, seed)``.
The parts live beside this module: :mod:`.grid` (axes and points), :mod:`.store` (the resumable
``points.jsonl``), :mod:`.points` (one point's record) and :mod:`.executors` (running the points).

Agreement with ground truth (:func:`agreement`): a cell is a trained net at ``(σ_w², σ_b², width,
depth d)``. The probe predicts it trainable when ``d ≤ ℓ*``, where ℓ* comes from the probed net at
the same ``(σ_w², σ_b², width)`` and the same depth if there is one, else the deepest probed net
there (ℓ* of a deep net measures how far information travels at that σ_w²). Mean-field predicts
trainable when ``d ≤ 6 ξ_c``. Truth: test accuracy ≥ ``acc_threshold``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..analysis.validation import deepest_points, predicted_depths, score_rule, spearman
from ..analysis.critical import score_record
from ..analysis.critical_lines import critical_lines
from ..analysis.records import SweepPoint, as_point
from ..core.errors import ReprobeError, param
from ..core.io import json_safe
from .executors import check_run_options, run_tasks
from .grid import KEY_FIELDS, expand_grid, point_key, sweep_grid
from .points import _bundle, _width_key
from .store import PointStore, check_resume_settings, open_store

SCHEMA = "reprobe.sweep/1"


# --- summaries and agreement ------------------------------------------------------------------

def theory_reference(activation: str, sigma_w2: Iterable[float], sigma_b2: Iterable[float]) -> Dict[str, Any]:
    """Mean-field critical σ_w² per σ_b² and 6ξ_c per (σ_b², σ_w²); {} when the activation is unknown to theory."""
    from .. import theory as mf

    try:
        act = mf.get_activation(activation)
    except ReprobeError:
        return {}
    out: Dict[str, Any] = {"activation": act.name, "factor": 6.0, "critical_sigma_w2": {}, "six_xi_c": {}}
    for sb in sigma_b2:
        try:
            out["critical_sigma_w2"][f"{sb:g}"] = mf.critical_sigma_w2(act, sb)
        except ReprobeError:
            out["critical_sigma_w2"][f"{sb:g}"] = None
        row = {}
        for sw in sigma_w2:
            try:
                d = mf.trainable_depth(act, sw, sb)
                row[f"{sw:g}"] = "inf" if math.isinf(d) else d
            except ReprobeError:
                row[f"{sw:g}"] = None
        out["six_xi_c"][f"{sb:g}"] = row
    return out


def six_xi(theory: Dict[str, Any], sw: float, sb: float) -> Optional[float]:
    v = (theory.get("six_xi_c") or {}).get(f"{sb:g}", {}).get(f"{sw:g}") if theory else None
    if v == "inf":
        return math.inf
    return v


def compact(rec: Union[dict, SweepPoint]) -> dict:
    """The summary row of one point for sweep.json."""
    p = as_point(rec)
    out = {k: p.json_value(k) for k in KEY_FIELDS}
    if p.probed:
        out["cutoffs"] = p.json_value("cutoffs")
        out["final"] = {m: p.final(m) for m in p.metrics}
    if p.has("accuracy"):
        out["accuracy"] = p.accuracy
    if p.predictors:
        out["predictors"] = {n: p.predictor_score(n) for n in p.predictors}
    return out


def agreement(probes: List[dict], trained: List[dict], theory: Dict[str, Any], acc_threshold: float,
              metric: str = "relative_entropy") -> Dict[str, Any]:
    """How well ``depth ≤ ℓ*`` (and ``depth ≤ 6ξ_c``) predicts ``accuracy ≥ acc_threshold``.

    Returns cell counts and accuracies of both rules, and the Spearman correlation across σ_w²
    (per σ_b², width; pooled) between the rule's depth (ℓ*, or 6ξ_c capped at the deepest trained
    depth) and the deepest trainable depth (0 when none trains).
    """
    by_sw: Dict[Tuple, List[SweepPoint]] = {}
    for p in map(as_point, probes):
        if p.cutoff(metric) is not None:
            by_sw.setdefault((round(p.sigma_w2, 6), round(p.sigma_b2, 6), p.width), []).append(p)
    cells = []
    for t in trained:
        if t.get("accuracy") is None:
            continue
        key = (round(t["sigma_w2"], 6), round(t["sigma_b2"], 6), t.get("width"))
        cands = by_sw.get(key)
        if not cands:
            continue
        same = [p for p in cands if p.depth == t["depth"]]
        ref = same[0] if same else max(cands, key=lambda p: p.depth)
        ell = ref.cutoff(metric)
        xi = six_xi(theory, t["sigma_w2"], t["sigma_b2"])
        cells.append({
            "sigma_w2": t["sigma_w2"], "sigma_b2": t["sigma_b2"], "width": t.get("width"), "depth": t["depth"],
            "accuracy": t["accuracy"], "trainable": t["accuracy"] >= acc_threshold,
            "l_star": ell, "probe_depth": ref.depth, "six_xi_c": xi,
            "probe_predicts": t["depth"] <= ell, "theory_predicts": (None if xi is None else t["depth"] <= xi),
        })
    if not cells:
        return {}
    n = len(cells)
    probe_ok = sum(c["probe_predicts"] == c["trainable"] for c in cells)
    th_cells = [c for c in cells if c["theory_predicts"] is not None]
    th_ok = sum(c["theory_predicts"] == c["trainable"] for c in th_cells)
    # per σ_w² line: deepest trainable depth vs ℓ* and 6ξ_c
    lines: Dict[Tuple, Dict[float, dict]] = {}
    for c in cells:
        g = lines.setdefault((c["sigma_b2"], c["width"]), {})
        row = g.setdefault(c["sigma_w2"], {"l_star": None, "six_xi_c": c["six_xi_c"], "deepest_trainable": 0,
                                           "depths": []})
        if row["l_star"] is None:
            # How deep information travels at this σ_w²: ℓ* of the deepest probed net (a shallow
            # net's ℓ* is capped by its own depth and says nothing about longer propagation).
            deepest = max(by_sw[(round(c["sigma_w2"], 6), round(c["sigma_b2"], 6), c["width"])], key=lambda p: p.depth)
            row["l_star"] = deepest.cutoff(metric)
        row["depths"].append(c["depth"])
        if c["trainable"]:
            row["deepest_trainable"] = max(row["deepest_trainable"], c["depth"])
    xs_p, xs_t, ys, ys_t = [], [], [], []
    per_line = []
    for (sb, w), rows in sorted(lines.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        cap = max(max(r["depths"]) for r in rows.values())
        sws = sorted(rows)
        lp = [rows[s]["l_star"] for s in sws]
        dt = [rows[s]["deepest_trainable"] for s in sws]
        th = [None if rows[s]["six_xi_c"] is None else min(rows[s]["six_xi_c"], cap) for s in sws]
        per_line.append({"sigma_b2": sb, "width": w, "sigma_w2": sws, "l_star": lp, "deepest_trainable": dt,
                         "six_xi_c_capped": th, "spearman_probe": spearman(lp, dt),
                         "spearman_theory": (spearman(th, dt) if all(v is not None for v in th) else None)})
        xs_p += lp
        ys += dt
        if all(v is not None for v in th):
            xs_t += th
            ys_t += dt
    return {
        "metric": metric,
        "acc_threshold": acc_threshold,
        "rule": "trainable predicted iff depth <= l_star (probe) or depth <= 6 xi_c (mean field); "
                "l_star from the probed net of the same sigma_w2, sigma_b2, width and depth, else the deepest one",
        "cells": n,
        "probe": {"agree": probe_ok, "fraction": probe_ok / n, "spearman": spearman(xs_p, ys)},
        "theory": {"agree": th_ok, "cells": len(th_cells), "fraction": (th_ok / len(th_cells)) if th_cells else None,
                   "spearman": spearman(xs_t, ys_t) if xs_t else None},
        "lines": per_line,
        "table": cells,
    }


def write_summary(out: Path, config: Dict[str, Any], command: str, grid: Dict[str, Any], probes: List[dict],
                  trained: List[dict], theory: Dict[str, Any], agree: Dict[str, Any],
                  critical: Optional[dict] = None, lines: Optional[dict] = None) -> Path:
    from ..core.io import write_json

    obj = {
        "schema": SCHEMA,
        "config": config,
        "command": command,
        "grid": grid,
        "points": [compact(_merge_accuracy(p, trained)) for p in probes],
        "trained": [compact(t) for t in trained],
        "theory": theory,
    }
    if critical:
        obj["critical"] = critical
    if lines:
        obj["critical_lines"] = lines
    if agree:
        obj["agreement"] = {k: v for k, v in agree.items() if k != "table"}
    path = Path(out) / "sweep.json"
    write_json(path, json_safe(obj))
    return path


def _merge_accuracy(p: dict, trained: List[dict]) -> dict:
    if "accuracy" in p:
        return p
    k = point_key(p)
    for t in trained:
        if point_key(t) == k and "accuracy" in t:
            return {**p, "accuracy": t["accuracy"]}
    return p


def probe_critical_estimate(probes: Sequence[Union[dict, SweepPoint]], metric: str = "relative_entropy") -> Dict[str, Any]:
    """Per σ_b² (deepest depth, first width): the grid σ_w² with the best score (ℓ*, then lowest mean
    relative entropy); a grid estimate of the critical point."""

    out = {}
    groups: Dict[float, List[SweepPoint]] = {}
    for p in map(as_point, probes):
        if p.probed:
            groups.setdefault(p.sigma_b2, []).append(p)
    for sb, ps in sorted(groups.items()):
        dmax = max(p.depth for p in ps)
        ps = [p for p in ps if p.depth == dmax]
        best = max(ps, key=lambda p: score_record(p, metric))
        out[f"{sb:g}"] = {"sigma_w2": best.sigma_w2, "depth": dmax, "l_star": best.cutoff(metric)}
    return out


def finalize_sweep(out, *, meta: Optional[Dict[str, Any]] = None, acc_threshold: float = 0.2,
                   activation: str = "tanh", metric: str = "relative_entropy") -> Dict[str, Any]:
    """Summarise a sweep folder: read ``points.jsonl`` and ``trained.jsonl`` in ``out``, compute the
    mean-field reference, the agreement with ground truth and the critical estimate, and write
    ``sweep.json`` (merged with the one already there; ``meta`` holds this run's ``config``,
    ``grid`` and ``command``).

    ``critical_lines`` holds each predictor's critical σ_w² per σ_b², depth and width (the probe's
    ξ̂ peak, mean field's, and the partial Jacobian's χ = 1 where points were scored with it;
    :func:`reprobe.analysis.critical_lines.critical_lines`).

    Returns:
        ``{"probes", "trained", "agreement", "theory", "critical", "critical_lines", "command",
        "files": ["sweep.json"]}``; :func:`reprobe.figures.phase.draw_sweep` draws the pictures from it.
    """
    out = Path(out)
    meta = meta or {}
    probes, trained_only = _read_stores(out)
    trained = _all_trained(probes, trained_only)
    sws = sorted({p["sigma_w2"] for p in probes + trained})
    sbs = sorted({p["sigma_b2"] for p in probes + trained})
    theory = theory_reference(activation, sws, sbs)
    agree = agreement(probes, trained, theory, acc_threshold, metric) if trained and probes else {}
    if agree:
        agree["prediction"] = prediction_agreement(probes, trained, acc_threshold)
    old = {}
    if (out / "sweep.json").is_file():
        try:
            old = json.loads((out / "sweep.json").read_text())
        except (ValueError, OSError):
            old = {}
    config = {**(old.get("config") or {}), **meta.get("config", {})}
    grid = {**(old.get("grid") or {}), **meta.get("grid", {})}
    command = meta.get("command") or old.get("command")
    critical = probe_critical_estimate(probes, metric) if probes else None
    if critical:
        critical = {"method": "best grid point by (l_star, -mean relative entropy) at the deepest depth",
                    "by_sigma_b2": critical,
                    "mean_field": theory.get("critical_sigma_w2") if theory else None}
    lines = critical_lines(probes, (theory or {}).get("critical_sigma_w2")) if probes else {}
    write_summary(out, config, command, grid, probes, trained_only, theory, agree, critical, lines)
    return {"probes": probes, "trained": trained, "agreement": agree, "theory": theory, "files": ["sweep.json"],
            "critical": critical, "critical_lines": lines, "command": command}


def prediction_agreement(probes: List[dict], trained: List[dict], acc_threshold: float) -> Dict[str, Any]:
    """How well the prediction (depth ≤ max_trainable_depth of the line's deepest probe) matches training:
    ``{"agree", "cells", "fraction", "auroc", "spearman"}`` (see :mod:`reprobe.analysis.validation`)."""
    r = score_rule("prediction", predicted_depths(deepest_points(probes)), trained, acc_threshold)
    return {"agree": r.agree, "cells": r.cells, "fraction": r.agreement, "auroc": r.auroc, "spearman": r.spearman}


def load_grid(out: Path) -> Tuple[List[dict], List[dict]]:
    """Probed points and trained cells of a grid folder (``points.jsonl``, ``trained.jsonl`` and nets
    a sweep trained with ``verify``; a net trained twice counts once)."""
    out = Path(out)
    if not out.is_dir():
        raise ReprobeError(f"grid folder {out} does not exist; make one with `reprobe sweep` and `reprobe train-grid`")
    probes, trained_only = _read_stores(out)
    check_point_records(probes, out / "points.jsonl")
    return probes, _all_trained(probes, trained_only)


def check_point_records(records: Sequence[dict], path: Path) -> None:
    """Refuse probed records whose parts disagree (per-stage lengths, finite values, cutoffs within the
    stages): one line naming the file, the record and the field."""
    from ..probe.result import check_curve, check_cutoffs

    for i, rec in enumerate(records, 1):
        if "metrics" not in rec:
            continue
        where = f"{path} (record {i})"
        depth = rec.get("stages") if isinstance(rec.get("stages"), int) else len(rec.get("stage_shapes") or [])
        if not isinstance(rec["metrics"], dict):
            raise ReprobeError(f"{where}: field metrics is not an object of metric → per-stage values; re-run the sweep")
        for m, values in rec["metrics"].items():
            check_curve(values, depth, where, f"metrics.{m}")
        check_cutoffs(rec.get("cutoffs") or {}, depth, where)


def _read_stores(out: Path) -> Tuple[List[dict], List[dict]]:
    """The probed points and the train-grid records of a folder (half-written lines skipped quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PointStore(out / "points.jsonl").load().records, PointStore(out / "trained.jsonl").load().records


def _all_trained(probes: List[dict], trained_only: List[dict]) -> List[dict]:
    """Every trained net: train-grid's and those a sweep trained with verify (a net in both counts once)."""
    seen = {point_key(t) for t in trained_only}
    return trained_only + [p for p in probes if p.get("accuracy") is not None and point_key(p) not in seen]


def default_acc_threshold(trained: Sequence[dict]) -> float:
    """The target the trained records were judged by (protocol v2 stores it), else twice chance (0.2 for
    ten classes; the single-rate grids)."""
    targets = {(t.get("training") or {}).get("target") for t in trained}
    if len(targets) == 1 and isinstance(next(iter(targets)), (int, float)):
        return float(next(iter(targets)))
    chance = [(t.get("training") or {}).get("chance") for t in trained]
    chance = [c for c in chance if isinstance(c, (int, float)) and c > 0]
    return min(1.0, 2.0 * (min(chance) if chance else 0.1))


def validate_grid(out: Path, acc_threshold: Optional[float] = None, activation: str = "tanh",
                  **prediction_options: Any) -> Dict[str, Any]:
    """Score the prediction, every ℓ* rule and mean field against a grid folder's trained nets.

    Args:
        out: a folder holding a sweep's ``points.jsonl`` and ``trained.jsonl`` (train-grid or verify).
        acc_threshold: accuracy that counts as trained (default: twice chance).
        activation: for mean field's 6ξ_c.
        prediction_options: ``metric``, ``depth_per_xi``, ``floor_xi`` of the prediction.

    Returns:
        ``{"cells", "acc_threshold", "rules": [RuleScore, ...]}``.
    """
    from ..analysis.validation import validate

    probes, trained = load_grid(out)
    if not probes or not trained:
        raise ReprobeError(f"{out} needs probed points and trained nets (reprobe sweep and reprobe train-grid into "
                           f"that folder, or run_sweep(out, train={{...}})); found {len(probes)} and {len(trained)}")
    thr = default_acc_threshold(trained) if acc_threshold is None else float(acc_threshold)
    theory = theory_reference(activation, sorted({p["sigma_w2"] for p in probes}), sorted({p["sigma_b2"] for p in probes}))
    rules = validate(probes, trained, thr, lambda sw, sb: six_xi(theory, sw, sb), **prediction_options)
    return {"cells": max((r.cells for r in rules), default=0), "acc_threshold": thr, "rules": rules}


# --- a whole sweep from Python ------------------------------------------------------------------

#: Probe options of a sweep that leaves them out: the command line's defaults, so that a sweep run
#: from Python and ``reprobe sweep`` with the same settings give the same points (and may resume
#: each other's folders).
SWEEP_PROBE_DEFAULTS: Dict[str, Any] = {
    "cutoff": "threshold", "eta": 0.005, "fit": "ridge", "ridge": 0.1, "epochs": 1, "lr": 1e-3,
    "batch_size": 64, "samples": 100, "device": "auto", "train_samples": None,
}
#: Training options of a sweep that leaves them out: protocol v2's (``lr`` None: its rates).
SWEEP_TRAIN_DEFAULTS: Dict[str, Any] = {
    "lr": None, "epochs": None, "steps": None, "batch_size": 64, "momentum": 0.0, "optimizer": "sgd",
    "train_samples": None, "device": "cpu",
}


def _check_sweep_model(model: str, data: str, data_options: Dict[str, Any], model_options: Dict[str, Any],
                       grid: Dict[str, list], probe: Dict[str, Any]):
    """Build the model at the first grid point (a bad name or option fails once, here) and check
    the biggest point's memory. Returns the data bundle."""
    from ..models import build_model
    from ..probe.memory import check_model_memory

    bundle = _bundle(data, data_options)
    opts = {**model_options, "sigma_w2": grid["sigma_w2"][0], "sigma_b2": grid["sigma_b2"][0],
            "depth": min(grid["depth"])}
    if grid["width"][0] is not None:
        opts[_width_key(model)] = min(grid["width"])
    build_model(model, bundle.input_shape, bundle.num_classes, **opts)
    biggest = {**opts, "depth": max(grid["depth"])}
    if grid["width"][0] is not None:
        biggest[_width_key(model)] = max(grid["width"])
    check_model_memory(model, bundle, biggest, {**probe, "progress": False})
    return bundle


def check_predictors(names: Union[str, Sequence[str], None]) -> List[str]:
    """Predictor names for a sweep's points, checked before any work (an unknown name is one line
    listing the valid ones); duplicates dropped, order kept."""
    from ..predictors import get_predictor

    names = [names] if isinstance(names, str) else list(names or ())
    for n in names:
        get_predictor(n)
    return list(dict.fromkeys(names))


def with_predictors(tasks: List[Dict[str, Any]], predictors: Sequence[str]) -> List[Dict[str, Any]]:
    """``tasks`` whose probed nets are also scored by ``predictors`` (a task field beside the settings:
    a resumed sweep may add or drop predictors; its finished points keep what they have)."""
    if predictors:
        for t in tasks:
            t["predictors"] = list(predictors)
    return tasks


def run_sweep(out, *, model: str = "mlp", sigma_w2: Any = "1.0:4.0:0.25", sigma_b2: Any = (0.05,),
              depth: Any = (50,), width: Any = (None,), data: str = "mnist-5k", probe: Optional[Dict[str, Any]] = None,
              train: Optional[Dict[str, Any]] = None, jobs: Optional[int] = 1, resume: bool = False,
              acc_threshold: Optional[float] = None, activation: str = "tanh", seed: int = 0,
              progress: bool = False, data_options: Optional[Dict[str, Any]] = None,
              model_options: Optional[Dict[str, Any]] = None, predictors: Sequence[str] = (),
              batch: int = 1, executor: str = "local", address: Optional[str] = None,
              cpus_per_point: float = 1.0, gpus_per_point: float = 0.0, retries: int = 3) -> Dict[str, Any]:
    """Probe one net per grid point into ``out`` (``points.jsonl``, ``sweep.json``), from Python.

    What ``reprobe sweep`` does, without the pictures and the report page (draw them with
    :func:`reprobe.figures.phase.draw_sweep` and :func:`reprobe.report.write_report`).

    Args:
        out: output folder. Finished points there are an error unless ``resume``, which skips them
            (and refuses points made with other settings).
        sigma_w2, sigma_b2, depth, width: grid axes: a number, a spec string (``"1.0:4.0:0.25"``,
            ``"1,2,3"``) or a sequence; width ``None``: the model's own.
        probe: probe options (``samples``, ``ridge``, ``train_samples`` …) over
            :data:`SWEEP_PROBE_DEFAULTS`. train: training options over :data:`SWEEP_TRAIN_DEFAULTS`
            to also train every probed net (ground truth); None: probe only.
        jobs: worker processes of the local executor (None: one per core; 1: in this process).
        batch: probe up to this many nets of one shape (a σ_w² row: same depth, width, seed) together,
            in one batched forward and solve (built-in ``mlp``, probe only; the same points as one at a
            time, up to float rounding); 1: one at a time.
        acc_threshold: accuracy that counts as trained (default: 2 × chance).
        data_options, model_options: passed to the dataset and the model builder.
        executor: ``"local"`` (this machine) or ``"ray"`` (a Ray cluster: this process writes
            ``points.jsonl``, Ray workers probe). address, cpus_per_point, gpus_per_point,
            retries: the Ray options of :func:`~.executors.run_tasks` (``address="auto"`` joins
            the cluster running here; None starts a local one unless this process joined one).
        predictors: predictor names (``reprobe.predictors``) also scored on every probed net: each
            point's record gets ``predictors`` like ``result.json``'s, and ``critical_lines`` the
            partial Jacobian's χ = 1 crossing when ``"partial_jacobian"`` is among them.

    Returns:
        :func:`finalize_sweep`'s summary (``probes``, ``trained``, ``agreement``, ``theory``,
        ``critical``, ``critical_lines``, ``command``, ``files``).
    """
    from ..core.outdir import SWEEP_LOCK, claimed
    from .ground_truth import default_target, train_settings

    out = Path(out)
    if jobs is not None and jobs < 1:
        raise ReprobeError(f"{param('jobs')} must be at least 1, got {jobs}")
    predictors = check_predictors(predictors)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ReprobeError(f"{param('batch')} must be a whole number of at least 1, got {batch!r}")
    run = {"executor": executor, "address": address, "cpus_per_point": cpus_per_point,
           "gpus_per_point": gpus_per_point, "retries": retries}
    check_run_options(**run)
    run["batch"] = batch
    grid = sweep_grid(sigma_w2, sigma_b2, depth, width)
    probe = {**SWEEP_PROBE_DEFAULTS, "seed": seed, **(probe or {}), "progress": False}
    if train is not None:  # bad options fail before any net is built
        train = train_settings(**{**SWEEP_TRAIN_DEFAULTS, **train}, acc_threshold=acc_threshold)
    data_options = {"root": None, "seed": seed, "test_fraction": 0.1, **(data_options or {})}
    model_options = {"activation": activation, "shape": "wide", **(model_options or {})}
    bundle = _check_sweep_model(model, data, data_options, model_options, grid, probe)
    thr = acc_threshold if acc_threshold is not None else default_target(train["split"] if train else "test",
                                                                         bundle.num_classes)
    if not (0 <= thr <= 1):
        raise ReprobeError(f"{param('acc_threshold')} is a fraction in [0, 1], got {thr}")
    settings = {"model": model, "model_options": model_options, "data": data, "data_options": data_options,
                "probe": probe, "train": train}
    tasks = with_predictors([{**p, **settings} for p in expand_grid(grid["sigma_w2"], grid["sigma_b2"],
                                                                    grid["depth"], grid["width"], seed)], predictors)
    with claimed(out, marker=SWEEP_LOCK, must_be_empty=False):
        done = run_grid(out / "points.jsonl", tasks, resume=resume, jobs=jobs, progress=progress, desc="sweep", **run)
        meta = {"config": {**settings, "acc_threshold": thr, "seed": seed, "wall_time_last_run": done["seconds"],
                           "predictors": predictors},
                "grid": grid, "command": f"run_sweep({str(out)!r}, …)"}
        return finalize_sweep(out, meta=meta, acc_threshold=thr, activation=activation)


def run_grid(path, tasks: List[Dict[str, Any]], *, resume: bool = False, jobs: Optional[int] = 1,
             progress: bool = False, desc: str = "sweep", warn: Optional[Callable[[str], None]] = None,
             echo: Optional[Callable[[str], None]] = None, **run: Any) -> Dict[str, Any]:
    """Run a grid's tasks into the store at ``path`` (``points.jsonl`` or ``trained.jsonl``): what
    :func:`run_sweep`, ``reprobe sweep`` and ``reprobe train-grid`` share.

    Args:
        path: the JSONL store. Finished points there are an error unless ``resume``, which skips
            them (and refuses points made with other settings).
        tasks: grid points with their settings (all alike but for the grid).
        jobs, progress, desc: see :func:`~.executors.run_tasks`.
        warn: called with each warning about the store (a half-written last line cut off);
            None: dropped. echo: called with a line saying how many points are resumed.
        run: the executor options of :func:`~.executors.run_tasks` (``executor``, ``address``,
            ``cpus_per_point``, ``gpus_per_point``, ``retries``, ``batch``).

    Returns:
        ``{"ran", "skipped", "seconds", "store"}``.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = open_store(path, resume)
    for w in store.warnings:
        if warn:
            warn(w)
    check_resume_settings(store.records, tasks[0], path)
    skipped = sum(t in store for t in tasks)
    if skipped and echo:
        echo(f"resuming: {skipped} of {len(tasks)} points already done")
    t0 = time.perf_counter()
    ran = run_tasks(tasks, store, jobs=jobs, progress=progress, desc=desc, **run)
    return {"ran": ran, "skipped": skipped, "seconds": time.perf_counter() - t0, "store": store}
