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


def run_unit(tasks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The records of one unit of tasks (see :func:`group_units`), in the tasks' order."""
    return [run_point(t) for t in tasks]


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
