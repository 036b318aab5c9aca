"""One grid point: build the net, probe and/or train it, and return its JSON record.

This is the unit of work every executor runs (in this process, in worker processes or on Ray).
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Tuple

from ..analysis import predict_trainability
from ..core.errors import ReprobeError
from ..core.io import json_safe
from ..probe.batched import NotBatchable
from .grid import KEY_FIELDS
from .store import settings_of


_BUNDLES: Dict[Tuple, Any] = {}


def bundle_key(data: str, data_options: Dict[str, Any]) -> Tuple[str, str]:
    """The cache key of a data set loaded with these options."""
    return (data, json.dumps(data_options or {}, sort_keys=True, default=str))


def _bundle(data: str, data_options: Dict[str, Any]):
    from ..data import load_dataset

    key = bundle_key(data, data_options)
    if key not in _BUNDLES:
        _BUNDLES[key] = load_dataset(data, **data_options)
    return _BUNDLES[key]


def _width_key(model: str) -> str:
    """The model option a grid's width sets (cnn/resnet: channels); an error where there is none."""
    from ..models.registry import width_option

    key = width_option(model)
    if key is None:
        raise ReprobeError(f"model {model!r} has no width or channels option; leave the width axis out")
    return key


def _net_options(task: Dict[str, Any]) -> Dict[str, Any]:
    """The model builder's options at the task's point (its σ_w², σ_b², depth, width, seed)."""
    mopts = dict(task.get("model_options") or {})
    mopts.update({"sigma_w2": task["sigma_w2"], "sigma_b2": task["sigma_b2"], "depth": task["depth"],
                  "seed": task["seed"]})
    if task["width"] is not None:
        mopts[_width_key(task["model"])] = task["width"]
    return mopts


def _record_start(task: Dict[str, Any]) -> Dict[str, Any]:
    record: Dict[str, Any] = {k: task[k] for k in KEY_FIELDS}
    record["model"] = task["model"]
    record["settings"] = settings_of(task)
    return record


def _probe_fields(result) -> Tuple[Dict[str, Any], Dict[str, float]]:
    """A probed point's record fields, and its ``probe_*`` timings."""
    d = result.to_dict()
    fields = {
        "stages": len(d["stages"]),
        "stage_shapes": [st["shape"] for st in d["stages"]],
        "metrics": d["metrics"],
        "saturation": d["saturation"],
        "stage_scale": d["stage_scale"],
        "activations": d["model"].get("activations", []),
        "cutoffs": d["cutoffs"],
        "cutoff_detector": d["cutoff_detector"],
        "cutoffs_by_detector": d["cutoffs_by_detector"],
        "decoder_mse": d["decoder_mse"],
        "warnings": d["warnings"],
        "prediction": predict_trainability(result).to_dict(),
    }
    return fields, {f"probe_{k}": v for k, v in d["timings"].items()}


def run_point(task: Dict[str, Any]) -> Dict[str, Any]:
    """Probe and/or train the net of one grid point. ``task``: the point's key fields plus
    ``model``, ``model_options``, ``data``, ``data_options``, ``probe`` (probe kwargs or None),
    ``train`` (train kwargs or None) and optionally ``predictors`` (predictor names scored on the
    probed net: the record's ``predictors``, see :func:`_add_predictors`). Returns the JSON record."""
    from ..models import build_model
    from .run import probe_model

    t0 = time.perf_counter()
    bundle = _bundle(task["data"], task.get("data_options") or {})
    mopts = _net_options(task)
    record = _record_start(task)
    timings: Dict[str, float] = {}
    if task.get("probe") is not None:
        net = build_model(task["model"], bundle.input_shape, bundle.num_classes, **mopts)
        result, _ = probe_model(net, bundle, **{**task["probe"], "progress": False})
        fields, probe_timings = _probe_fields(result)
        record.update(fields)
        timings.update(probe_timings)
        _add_predictors(record, timings, task, result, net, bundle)
    if task.get("train") is not None:
        from .ground_truth import train_task

        def build():  # a fresh net, the same initial weights, for every learning rate tried
            return build_model(task["model"], bundle.input_shape, bundle.num_classes, **mopts)

        tr = train_task(build, bundle, task["train"], seed=task["seed"])
        timings["train"] = tr.pop("time")
        record["accuracy"] = tr.pop("accuracy")
        record["training"] = tr
    timings["total"] = time.perf_counter() - t0
    record["timings"] = timings
    return json_safe(record)


def _add_predictors(record: Dict[str, Any], timings: Dict[str, float], task: Dict[str, Any], result: Any,
                    net: Any, bundle: Any) -> None:
    """Score the task's ``predictors`` (if any) on its probed net into ``record``: name → score, direction,
    per-stage values, depth scale, as in ``result.json`` (:func:`reprobe.experiments.run.score_predictors`:
    the net is scored on one training batch and given back unchanged; ``reconstruction`` reuses the probe)."""
    if task.get("predictors"):
        from .run import score_predictors

        t1 = time.perf_counter()
        record["predictors"] = score_predictors(result, net, bundle, list(task["predictors"]))
        timings["predictors"] = time.perf_counter() - t1


def group_units(tasks: List[Dict[str, Any]], batch: int = 1) -> List[List[Dict[str, Any]]]:
    """The tasks cut into units of work, each run by one :func:`run_unit` call.

    ``batch`` > 1 puts up to ``batch`` tasks of one net shape (same settings, depth, width and seed)
    into a unit, in grid order, so that a batched path can probe them together.
    """
    if batch <= 1:
        return [[t] for t in tasks]
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for t in tasks:
        shape = json.dumps([settings_of(t), t.get("depth"), t.get("width"), t.get("seed")], sort_keys=True)
        groups.setdefault(shape, []).append(t)
    return [g[i:i + batch] for g in groups.values() for i in range(0, len(g), batch)]


def batchable(tasks: List[Dict[str, Any]]) -> bool:
    """May :func:`run_unit` probe ``tasks`` together? More than one, all probe-only (no training),
    the built-in ``mlp``, one set of settings. (Their nets must also have one shape, and the probe
    options suit the batched path: :func:`run_unit` falls back to one at a time where not.)"""
    if len(tasks) < 2:
        return False
    if any(t.get("model") != "mlp" or t.get("probe") is None or t.get("train") is not None for t in tasks):
        return False
    first = settings_of(tasks[0])
    return all(settings_of(t) == first for t in tasks[1:])


def run_unit(tasks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The records of one unit of tasks (see :func:`group_units`), in the tasks' order.

    A unit that is :func:`batchable` is probed in one batched pass
    (:class:`reprobe.probe.batched.BatchedMLPProbe`): the same records as :func:`run_point` gives
    (up to float rounding), with ``timings.probe_batched`` = the number of nets probed together and
    each net's share of the unit's time. Nets the batched path does not take are probed one at a time.
    """
    if batchable(tasks):
        try:
            return _run_batched(tasks)
        except NotBatchable:
            pass
    return [run_point(t) for t in tasks]


def _run_batched(tasks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    from ..models import build_model
    from .run import probe_models_batched

    t0 = time.perf_counter()
    first = tasks[0]
    bundle = _bundle(first["data"], first.get("data_options") or {})
    nets = [build_model(t["model"], bundle.input_shape, bundle.num_classes, **_net_options(t)) for t in tasks]
    results = probe_models_batched(nets, bundle, **{**first["probe"], "progress": False})
    records = []
    for task, result, net in zip(tasks, results, nets):
        record = _record_start(task)
        fields, timings = _probe_fields(result)
        record.update(fields)
        _add_predictors(record, timings, task, result, net, bundle)
        record["timings"] = timings
        records.append(record)
    share = (time.perf_counter() - t0) / len(tasks)
    for record in records:
        record["timings"]["total"] = share
    return [json_safe(r) for r in records]


def bundles_of(tasks: List[Dict[str, Any]]) -> Dict[Tuple[str, str], Any]:
    """The data sets the tasks need, loaded (once per process) and keyed by :func:`bundle_key`."""
    out: Dict[Tuple[str, str], Any] = {}
    for t in tasks:
        key = bundle_key(t["data"], t.get("data_options") or {})
        if key not in out:
            out[key] = _bundle(t["data"], t.get("data_options") or {})
    return out


def run_unit_with(tasks: List[Dict[str, Any]], bundles: Dict[Tuple[str, str], Any]) -> List[Dict[str, Any]]:
    """:func:`run_unit` with the data sets given (an executor shipped them) instead of loaded here."""
    _BUNDLES.update(bundles or {})
    return run_unit(tasks)
