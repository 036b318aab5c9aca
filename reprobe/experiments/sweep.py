"""Sweeps over the phase diagram: grid parsing, running points in parallel, resumable JSONL.

A sweep probes (and/or trains) one network per grid point ``(σ_w², σ_b², depth, width, seed)``.
Finished points go to ``points.jsonl`` (probes) or ``trained.jsonl`` (ground-truth training), one
JSON object per line, appended, flushed and fsynced by the parent process as each point finishes
(workers only send results back). A sweep can be killed at any time: ``resume=True`` reads the
file, ignores a half-written last line (with a warning, cutting it off), and skips points already
there, so no point is lost or duplicated.

Agreement with ground truth (:func:`agreement`): a cell is a trained net at ``(σ_w², σ_b², width,
depth d)``. The probe predicts it trainable when ``d ≤ ℓ*``, where ℓ* comes from the probed net at
the same ``(σ_w², σ_b², width)`` and the same depth if there is one, else the deepest probed net
there (ℓ* of a deep net measures how far information travels at that σ_w²). Mean-field predicts
trainable when ``d ≤ 6 ξ_c``. Truth: test accuracy ≥ ``acc_threshold``.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..analysis import predict_trainability
from ..analysis.validation import deepest_points, predicted_depths, score_rule, spearman
from ..analysis.critical import score_record
from ..core.errors import ParamMessage, ReprobeError, param
from ..core.io import json_safe

SCHEMA = "reprobe.sweep/1"
GRID_AXES = ("sigma_w2", "sigma_b2", "depth", "width")
KEY_FIELDS = ("sigma_w2", "sigma_b2", "depth", "width", "seed")
MAX_GRID = 100_000


# --- grid parsing -----------------------------------------------------------------------------

def parse_values(spec: Any, name: str = "value", integer: bool = False) -> List[float]:
    """Numbers from ``START:STOP:STEP`` (inclusive of STOP within rounding), ``a,b,c`` or one number.

    Raises:
        ReprobeError: for text that is neither, an empty or descending range, step <= 0, NaN/inf,
            non-integers where ``integer``.
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        values = [float(spec)]
    else:
        text = str(spec).strip()
        hint = f"use START:STOP:STEP (e.g. 1.0:4.0:0.1) or a list such as 1.0,1.5,2.0"
        try:
            if ":" in text:
                parts = [float(p) for p in text.split(":")]
                if len(parts) != 3:
                    raise ValueError
                start, stop, step = parts
                if not all(math.isfinite(v) for v in parts):
                    raise ValueError
                if step <= 0:
                    raise ReprobeError(f"{param(name)} {spec!r}: the step must be > 0; {hint}")
                if stop < start:
                    raise ReprobeError(f"{param(name)} {spec!r}: STOP is below START; {hint}")
                count = int(math.floor((stop - start) / step + 1e-6)) + 1
                if count > MAX_GRID:
                    raise ReprobeError(f"{param(name)} {spec!r} has {count} values; at most {MAX_GRID}")
                values = [round(start + i * step, 10) for i in range(count)]
            else:
                values = [float(p) for p in text.split(",") if p.strip()]
        except ValueError:
            raise ReprobeError(f"cannot read {param(name)} {spec!r}; {hint}") from None
    if not values:
        raise ReprobeError(f"{param(name)} {spec!r} gives no values")
    if not all(math.isfinite(v) for v in values):
        raise ReprobeError(f"{param(name)} {spec!r}: values must be finite numbers")
    if integer:
        if any(abs(v - round(v)) > 1e-9 for v in values):
            raise ReprobeError(f"{param(name)} {spec!r}: needs whole numbers, e.g. 10,20,40 or 10:40:10")
        values = [int(round(v)) for v in values]
    return list(dict.fromkeys(values))  # keep order, drop duplicates (linear time)


def expand_grid(sigma_w2: Sequence[float], sigma_b2: Sequence[float], depth: Sequence[int],
                width: Sequence[Optional[int]], seed: int = 0) -> List[Dict[str, Any]]:
    """All grid points (σ_b² outermost, then depth, width, σ_w²), as dicts with the key fields."""
    pts = [
        {"sigma_w2": float(sw), "sigma_b2": float(sb), "depth": int(d), "width": (None if w is None else int(w)),
         "seed": int(seed)}
        for sb in sigma_b2 for d in depth for w in width for sw in sigma_w2
    ]
    if len(pts) > MAX_GRID:
        raise ReprobeError(f"the grid has {len(pts)} points; at most {MAX_GRID} — use coarser ranges")
    return pts


def point_key(p: Dict[str, Any]) -> Tuple:
    """Identity of a grid point: (σ_w², σ_b², depth, width, seed), floats rounded to 6 decimals."""
    def r(v):
        return None if v is None else (round(float(v), 6) if isinstance(v, float) else v)

    return tuple(r(p.get(k)) for k in KEY_FIELDS)


# --- JSONL store ------------------------------------------------------------------------------

class PointStore:
    """An append-only JSONL file of finished points, written only by the parent process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: List[dict] = []
        self.keys: set = set()
        self.warnings: List[str] = []

    def load(self, repair: bool = False) -> "PointStore":
        """Read finished points. A half-written last line is ignored with a warning (and cut off
        when ``repair``, so that the next append starts on a fresh line); duplicates are dropped."""
        self.records, self.keys = [], set()
        if not self.path.is_file():
            return self
        data = self.path.read_bytes()
        pos = good_end = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            complete = nl != -1
            end = nl + 1 if complete else len(data)
            raw = data[pos:end].strip()
            is_last = end >= len(data)
            obj = None
            if raw:
                try:
                    obj = json.loads(raw.decode("utf-8"))
                    if not complete or not _valid_record(obj):
                        obj = None
                except (ValueError, UnicodeDecodeError):
                    obj = None
                if obj is None:
                    line_no = data.count(b"\n", 0, pos) + 1
                    msg = (f"{self.path}: ignoring a half-written {'last line' if is_last else f'line {line_no}'} "
                           f"({len(raw)} bytes)")
                    self.warnings.append(msg)
                    warnings.warn(msg, stacklevel=2)
                    if is_last:
                        break
                else:
                    k = point_key(obj)
                    if k not in self.keys:
                        self.keys.add(k)
                        self.records.append(obj)
            good_end = end
            pos = end
        if repair and good_end < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
        return self

    def __contains__(self, point: Dict[str, Any]) -> bool:
        return point_key(point) in self.keys

    def append(self, record: dict) -> bool:
        """Append one finished point (flushed and fsynced); False when its key is already there."""
        k = point_key(record)
        if k in self.keys:
            return False
        line = json.dumps(json_safe(record), allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.keys.add(k)
        self.records.append(record)
        return True


def _valid_record(obj: Any) -> bool:
    """A JSON object whose key fields have the types a grid point has (else it is a corrupt line)."""
    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def whole(v):
        return isinstance(v, int) and not isinstance(v, bool)

    return (isinstance(obj, dict) and num(obj.get("sigma_w2")) and num(obj.get("sigma_b2"))
            and whole(obj.get("depth")) and whole(obj.get("seed"))
            and (obj.get("width") is None or whole(obj.get("width"))))


def open_store(path: Path, resume: bool) -> PointStore:
    """The store at ``path``; an existing non-empty file without ``resume`` is an error."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > 0 and not resume:
        raise ReprobeError(f"{path} already holds finished points; pass --resume to continue it, or a new --out")
    return PointStore(path).load(repair=True)


# --- one grid point (runs in a worker) ----------------------------------------------------------

_BUNDLES: Dict[Tuple, Any] = {}


class Interrupted(ParamMessage, KeyboardInterrupt):
    """Ctrl-C during a sweep; the message says how many points were saved and how to go on."""


def _init_worker(threads: int) -> None:
    import signal

    import torch

    # Ctrl-C goes to the whole process group: the parent alone answers it (one line, and it stops
    # the workers), instead of every worker printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing semaphore; a worker ended by Ctrl-C could not free
    # it, and multiprocessing would warn about a leak. Workers draw no bars: a thread lock does.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())

    torch.set_num_threads(max(1, int(threads)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _bundle(data: str, data_options: Dict[str, Any]):
    from ..data import load_dataset

    key = (data, json.dumps(data_options, sort_keys=True, default=str))
    if key not in _BUNDLES:
        _BUNDLES[key] = load_dataset(data, **data_options)
    return _BUNDLES[key]


#: The parts of a task that must be equal for points to belong to one sweep (the grid varies).
SETTINGS_FIELDS = ("model", "model_options", "data", "data_options", "probe", "train")


def settings_of(task: Dict[str, Any]) -> Dict[str, Any]:
    """The settings a point was made with, as stored in its record (JSON round-trip safe)."""
    return json.loads(json.dumps({k: task.get(k) for k in SETTINGS_FIELDS}, default=str))


def check_resume_settings(records: List[dict], task: Dict[str, Any], path: Path) -> None:
    """Refuse to resume into ``path`` when its points were made with other settings.

    Mixing them would draw one phase diagram from two different probes or nets without a word.
    Records without stored settings (older files) are not checked.
    """
    current = settings_of(task)
    for rec in records:
        old = rec.get("settings")
        if old is None or old == current:
            continue
        diffs = []
        for key in SETTINGS_FIELDS:
            a, b = old.get(key), current.get(key)
            if a == b:
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                diffs += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in sorted(set(a) | set(b))
                          if a.get(k) != b.get(k)]
            else:
                diffs.append(f"{key}: {a!r} there, {b!r} now")
        raise ReprobeError(
            f"{path} holds points made with other settings ({'; '.join(diffs[:3])}); resume with the same "
            f"options, or start a new sweep with another {param('out', python='output folder')}"
        )


def _width_key(model: str) -> str:
    """The model option a grid's width sets (cnn/resnet: channels); an error where there is none."""
    from ..models.registry import width_option

    key = width_option(model)
    if key is None:
        raise ReprobeError(f"model {model!r} has no width or channels option; leave the width axis out")
    return key


def run_point(task: Dict[str, Any]) -> Dict[str, Any]:
    """Probe and/or train the net of one grid point. ``task``: the point's key fields plus
    ``model``, ``model_options``, ``data``, ``data_options``, ``probe`` (probe kwargs or None),
    ``train`` (train kwargs or None). Returns the JSON record."""
    from ..models import build_model
    from .run import probe_model

    t0 = time.perf_counter()
    point = {k: task[k] for k in KEY_FIELDS}
    bundle = _bundle(task["data"], task.get("data_options") or {})
    mopts = dict(task.get("model_options") or {})
    mopts.update({"sigma_w2": point["sigma_w2"], "sigma_b2": point["sigma_b2"], "depth": point["depth"],
                  "seed": point["seed"]})
    if point["width"] is not None:
        mopts[_width_key(task["model"])] = point["width"]
    record: Dict[str, Any] = dict(point)
    record["model"] = task["model"]
    record["settings"] = settings_of(task)
    timings: Dict[str, float] = {}
    if task.get("probe") is not None:
        net = build_model(task["model"], bundle.input_shape, bundle.num_classes, **mopts)
        result, _ = probe_model(net, bundle, **{**task["probe"], "progress": False})
        d = result.to_dict()
        record.update({
            "stages": len(d["stages"]),
            "stage_shapes": [st["shape"] for st in d["stages"]],
            "metrics": d["metrics"],
            "cutoffs": d["cutoffs"],
            "cutoff_detector": d["cutoff_detector"],
            "cutoffs_by_detector": d["cutoffs_by_detector"],
            "decoder_mse": d["decoder_mse"],
            "warnings": d["warnings"],
            "prediction": predict_trainability(result).to_dict(),
        })
        timings.update({f"probe_{k}": v for k, v in d["timings"].items()})
    if task.get("train") is not None:
        net = build_model(task["model"], bundle.input_shape, bundle.num_classes, **mopts)
        from .ground_truth import train_model

        tr = train_model(net, bundle, seed=point["seed"], **task["train"])
        timings["train"] = tr.pop("time")
        record["accuracy"] = tr.pop("accuracy")
        record["training"] = tr
    timings["total"] = time.perf_counter() - t0
    record["timings"] = timings
    return json_safe(record)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run_tasks(tasks: List[Dict[str, Any]], store: PointStore, jobs: Optional[int] = None, progress: bool = True,
              desc: str = "points", on_record: Optional[Callable[[dict], None]] = None) -> int:
    """Run the tasks whose points are not in ``store`` yet; append each record as it lands.

    Workers (``jobs`` > 1) are spawned processes with ``max(1, cores // jobs)`` torch threads each
    (``OMP_NUM_THREADS``, when set, wins: :func:`threads_per_job`);
    only this process writes the store. Returns the number of points run now.
    """
    from tqdm.auto import tqdm

    todo = [t for t in tasks if t not in store]
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ReprobeError(f"--jobs must be at least 1, got {jobs}")
    jobs = min(jobs, max(1, len(todo)))
    threads = threads_per_job(jobs)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=desc, unit="pt", disable=not progress,
               dynamic_ncols=True)
    done = 0

    def land(rec):
        nonlocal done
        store.append(rec)
        done += 1
        bar.update(1)
        if on_record:
            on_record(rec)

    try:
        if not todo:
            return 0
        if jobs == 1:
            _run_here(todo, threads, land)
        else:
            _run_in_workers(todo, jobs, threads, land)
    except KeyboardInterrupt:
        saved = len(tasks) - len(todo) + done
        raise Interrupted(f"interrupted; {saved} of {len(tasks)} points saved, {param('resume', True)} continues") from None
    finally:
        bar.close()
    return done


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers: the cores shared out, or ``OMP_NUM_THREADS`` when the
    user set it (on a machine shared with other work, two threads per job can run many times slower
    than one: each parallel region waits for a thread that another process holds)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) >= 1:
        return int(env)
    return max(1, (os.cpu_count() or 1) // jobs)


def _run_here(todo: List[Dict[str, Any]], threads: int, land: Callable[[dict], None]) -> None:
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for t in todo:
            land(run_point(t))
    finally:
        torch.set_num_threads(old)


def _run_in_workers(todo: List[Dict[str, Any]], jobs: int, threads: int, land: Callable[[dict], None]) -> None:
    import signal

    ctx = multiprocessing.get_context("spawn")
    # Workers start with Ctrl-C ignored (a started interpreter keeps an inherited SIG_IGN), so that
    # one pressed while they import torch prints no traceback either; submitting starts them all.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ex = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(threads,))
        futures = [ex.submit(run_point, t) for t in todo]
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        for fut in cf.as_completed(futures):
            land(fut.result())
    except BaseException:
        _stop_workers(ex)
        raise
    ex.shutdown(wait=True)


def _stop_workers(ex: cf.ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (shutdown alone waits for running points)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
    # With its workers gone the pool is broken and shuts down at once; waiting lets it close its
    # queues (else multiprocessing warns about leaked semaphores at exit).
    ex.shutdown(wait=True, cancel_futures=True)


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


def final_value(rec: dict, metric: str) -> Optional[float]:
    vals = (rec.get("metrics") or {}).get(metric) or []
    return vals[-1] if vals else None


def compact(rec: dict) -> dict:
    """The summary row of one point for sweep.json."""
    out = {k: rec.get(k) for k in KEY_FIELDS}
    if "cutoffs" in rec:
        out["cutoffs"] = rec["cutoffs"]
        out["final"] = {m: final_value(rec, m) for m in rec.get("metrics", {})}
    if "accuracy" in rec:
        out["accuracy"] = rec["accuracy"]
    return out


def agreement(probes: List[dict], trained: List[dict], theory: Dict[str, Any], acc_threshold: float,
              metric: str = "relative_entropy") -> Dict[str, Any]:
    """How well ``depth ≤ ℓ*`` (and ``depth ≤ 6ξ_c``) predicts ``accuracy ≥ acc_threshold``.

    Returns cell counts and accuracies of both rules, and the Spearman correlation across σ_w²
    (per σ_b², width; pooled) between the rule's depth (ℓ*, or 6ξ_c capped at the deepest trained
    depth) and the deepest trainable depth (0 when none trains).
    """
    by_sw: Dict[Tuple, List[dict]] = {}
    for p in probes:
        if (p.get("cutoffs") or {}).get(metric) is not None:
            by_sw.setdefault((round(p["sigma_w2"], 6), round(p["sigma_b2"], 6), p.get("width")), []).append(p)
    cells = []
    for t in trained:
        if t.get("accuracy") is None:
            continue
        key = (round(t["sigma_w2"], 6), round(t["sigma_b2"], 6), t.get("width"))
        cands = by_sw.get(key)
        if not cands:
            continue
        same = [p for p in cands if p["depth"] == t["depth"]]
        ref = same[0] if same else max(cands, key=lambda p: p["depth"])
        ell = ref["cutoffs"][metric]
        xi = six_xi(theory, t["sigma_w2"], t["sigma_b2"])
        cells.append({
            "sigma_w2": t["sigma_w2"], "sigma_b2": t["sigma_b2"], "width": t.get("width"), "depth": t["depth"],
            "accuracy": t["accuracy"], "trainable": t["accuracy"] >= acc_threshold,
            "l_star": ell, "probe_depth": ref["depth"], "six_xi_c": xi,
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
            deepest = max(by_sw[(round(c["sigma_w2"], 6), round(c["sigma_b2"], 6), c["width"])], key=lambda p: p["depth"])
            row["l_star"] = deepest["cutoffs"][metric]
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
                  critical: Optional[dict] = None) -> Path:
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


def probe_critical_estimate(probes: List[dict], metric: str = "relative_entropy") -> Dict[str, Any]:
    """Per σ_b² (deepest depth, first width): the grid σ_w² with the best score (ℓ*, then lowest mean
    relative entropy); a grid estimate of the critical point."""

    out = {}
    groups: Dict[float, List[dict]] = {}
    for p in probes:
        if "cutoffs" in p:
            groups.setdefault(p["sigma_b2"], []).append(p)
    for sb, ps in sorted(groups.items()):
        dmax = max(p["depth"] for p in ps)
        ps = [p for p in ps if p["depth"] == dmax]
        best = max(ps, key=lambda p: score_record(p, metric))
        out[f"{sb:g}"] = {"sigma_w2": best["sigma_w2"], "depth": dmax, "l_star": best["cutoffs"].get(metric)}
    return out


def finalize_sweep(out, *, meta: Optional[Dict[str, Any]] = None, acc_threshold: float = 0.2,
                   activation: str = "tanh", metric: str = "relative_entropy") -> Dict[str, Any]:
    """Summarise a sweep folder: read ``points.jsonl`` and ``trained.jsonl`` in ``out``, compute the
    mean-field reference, the agreement with ground truth and the critical estimate, and write
    ``sweep.json`` (merged with the one already there; ``meta`` holds this run's ``config``,
    ``grid`` and ``command``).

    Returns:
        ``{"probes", "trained", "agreement", "theory", "critical", "command", "files": ["sweep.json"]}``;
        :func:`reprobe.figures.phase.draw_sweep` draws the pictures from it.
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
    write_summary(out, config, command, grid, probes, trained_only, theory, agree, critical)
    return {"probes": probes, "trained": trained, "agreement": agree, "theory": theory, "files": ["sweep.json"],
            "critical": critical, "command": command}


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
    return probes, _all_trained(probes, trained_only)


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
    """Twice chance, read from the trained records (0.2 for ten classes)."""
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
        raise ReprobeError(f"{out} needs probed points (reprobe sweep --out {out}) and trained nets "
                           f"(reprobe train-grid --out {out}); found {len(probes)} and {len(trained)}")
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
SWEEP_TRAIN_DEFAULTS: Dict[str, Any] = {
    "lr": 1e-3, "epochs": 1, "steps": None, "batch_size": 64, "momentum": 0.0, "optimizer": "sgd",
    "train_samples": None, "device": "cpu",
}


def _axis(spec: Any, name: str, integer: bool = False) -> List[Any]:
    """One grid axis from a number, a spec string (``START:STOP:STEP``, ``a,b,c``) or a sequence of them."""
    if spec is None or (isinstance(spec, (list, tuple)) and all(v is None for v in spec)):
        if name == "width":
            return [None]
        raise ReprobeError(f"{param(name)} needs at least one value")
    items = spec if isinstance(spec, (list, tuple, range)) else [spec]
    values = [v for item in items for v in parse_values(item, name, integer=integer)]
    if not values:
        raise ReprobeError(f"{param(name)} gives no values")
    return list(dict.fromkeys(values))


def sweep_grid(sigma_w2: Any, sigma_b2: Any = (0.05,), depth: Any = (50,), width: Any = (None,)) -> Dict[str, list]:
    """The checked grid axes of a sweep (each a number, a spec string or a sequence)."""
    grid = {"sigma_w2": _axis(sigma_w2, "sigma_w2"), "sigma_b2": _axis(sigma_b2, "sigma_b2"),
            "depth": _axis(depth, "depth", integer=True), "width": _axis(width, "width", integer=True)}
    if any(v <= 0 for v in grid["sigma_w2"]):
        raise ReprobeError(f"{param('sigma_w2')} values must be > 0")
    if any(v < 0 for v in grid["sigma_b2"]):
        raise ReprobeError(f"{param('sigma_b2')} values must be >= 0")
    if any(d < 1 for d in grid["depth"]):
        raise ReprobeError(f"{param('depth')} values must be at least 1")
    if any(w is not None and w < 1 for w in grid["width"]):
        raise ReprobeError(f"{param('width')} values must be at least 1")
    return grid


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


def run_sweep(out, *, model: str = "mlp", sigma_w2: Any = "1.0:4.0:0.25", sigma_b2: Any = (0.05,),
              depth: Any = (50,), width: Any = (None,), data: str = "mnist-5k", probe: Optional[Dict[str, Any]] = None,
              train: Optional[Dict[str, Any]] = None, jobs: Optional[int] = 1, resume: bool = False,
              acc_threshold: Optional[float] = None, activation: str = "tanh", seed: int = 0,
              progress: bool = False, data_options: Optional[Dict[str, Any]] = None,
              model_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
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
        jobs: worker processes (None: one per core; 1: in this process).
        acc_threshold: accuracy that counts as trained (default: 2 × chance).
        data_options, model_options: passed to the dataset and the model builder.

    Returns:
        :func:`finalize_sweep`'s summary (``probes``, ``trained``, ``agreement``, ``theory``,
        ``critical``, ``command``, ``files``).
    """
    from ..core.outdir import SWEEP_LOCK, claimed
    from .ground_truth import check_train_options

    out = Path(out)
    if jobs is not None and jobs < 1:
        raise ReprobeError(f"{param('jobs')} must be at least 1, got {jobs}")
    grid = sweep_grid(sigma_w2, sigma_b2, depth, width)
    probe = {**SWEEP_PROBE_DEFAULTS, "seed": seed, **(probe or {}), "progress": False}
    if train is not None:
        train = {**SWEEP_TRAIN_DEFAULTS, **train}
        check_train_options(**train)
    data_options = {"root": None, "seed": seed, "test_fraction": 0.1, **(data_options or {})}
    model_options = {"activation": activation, "shape": "wide", **(model_options or {})}
    bundle = _check_sweep_model(model, data, data_options, model_options, grid, probe)
    thr = acc_threshold if acc_threshold is not None else min(1.0, 2.0 / max(1, bundle.num_classes))
    if not (0 <= thr <= 1):
        raise ReprobeError(f"{param('acc_threshold')} is a fraction in [0, 1], got {thr}")
    settings = {"model": model, "model_options": model_options, "data": data, "data_options": data_options,
                "probe": probe, "train": train}
    tasks = [{**p, **settings} for p in expand_grid(grid["sigma_w2"], grid["sigma_b2"], grid["depth"],
                                                    grid["width"], seed)]
    with claimed(out, marker=SWEEP_LOCK, must_be_empty=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = open_store(out / "points.jsonl", resume)
        check_resume_settings(store.records, tasks[0], out / "points.jsonl")
        meta = {"config": {**settings, "acc_threshold": thr, "seed": seed}, "grid": grid,
                "command": f"run_sweep({str(out)!r}, …)"}
        t0 = time.perf_counter()
        run_tasks(tasks, store, jobs=jobs, progress=progress, desc="sweep")
        meta["config"]["wall_time_last_run"] = time.perf_counter() - t0
        return finalize_sweep(out, meta=meta, acc_threshold=thr, activation=activation)
