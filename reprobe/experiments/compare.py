"""Compare trainability across models: probe each on the same data, rank, summarise.

``compare_models`` loads the dataset once, probes every model spec with :func:`reprobe.experiments.run.run_named`,
saves each run into ``OUT/runs/<slug>/`` and writes ``OUT/summary.json`` (schema ``reprobe.compare/1``),
``OUT/summary.csv``, then calls ``report(OUT)`` when given (the CLI writes ``OUT/report.html`` there).

``summary.json``::

    {
      "schema": "reprobe.compare/1",
      "command": "reprobe compare …",
      "data": {...},                      # DatasetBundle.describe()
      "settings": {"probe": {...}, "model": {...}, "data": {...}},
      "rank_metric": "differential_entropy",
      "models": [{"name": "mlp(depth=10, sigma_w2=1.76)", "spec": "mlp", "options": {...},
                  "run": "runs/mlp-depth-10-sigma_w2-1.76", "depth": L,
                  "cutoffs": {metric: l_star}, "cutoff_fraction": {metric: l_star / L},
                  "final": {metric: value at L}, "saturation": {metric: level}, "parameters": n, "timings": {...},
                  "prediction": {...}, "predictors": {name: {"score": …, "direction": "higher", …}},
                  "rank": 1, "reason": "…", "warnings": [...]}, ...],   # in rank order
      "predictors": [names given],
      "failed": [{"name": ..., "spec": ..., "error": "..."}],
      "timings": {"data": s, "total": s}
    }
"""

from __future__ import annotations

import csv
import inspect
import io
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..analysis import recheck_prediction
from ..predictors import get_predictor
from ..analysis.ranking import rank_entries, rank_metric_for
from ..core.errors import ReprobeError, param

#: A model spec, named in messages (the CLI: --model).
MODEL = param("model", python="model spec")
from ..core.io import finite_or_none
from ..probe.config import MAX_WHOLE, TYPE_WORDS, check_probe_options, coerce_option, probe_option_fields
from .executors import check_run_options

SCHEMA = "reprobe.compare/1"

#: Keys used by both the model builder and the probe (the seed sets weights and the probe's shuffling).
SHARED_KEYS = {"seed"}
#: Per-model option keys that go to the probe rather than (only) to the model builder: the declared
#: probe options (:func:`reprobe.probe.config.probe_option_fields`).
PROBE_KEYS = {f.name for f in probe_option_fields()} - SHARED_KEYS
#: Per-model keys that :func:`reprobe.experiments.run.build_for_data` uses itself (not only the builder).
DATA_MODEL_KEYS = {"image_size", "weights", "adapt_data", "subset"}


@dataclass
class ModelSpec:
    """One ``--model`` argument: NAME[:k=v,k=v]."""

    name: str
    options: Dict[str, Any] = field(default_factory=dict)
    display: str = ""
    slug: str = ""

    def __post_init__(self):
        if not self.display:
            self.display = display_name(self.name, self.options)


def parse_value(text: str) -> Any:
    """``"3"`` → 3, ``"1.2"`` → 1.2, ``"true"`` → True, ``"none"`` → None, anything else a string."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        v = float(t)
        if math.isfinite(v):
            return v
    except ValueError:
        pass
    return t


def parse_model_spec(text: str) -> ModelSpec:
    """Parse ``NAME[:k=v,k=v]``. NAME may contain ':' (``timm:resnet18``, ``net.py:make``): the
    options are the last ':'-segment, and only when it contains '='.

    >>> parse_model_spec("mlp:depth=5,sigma_w2=1.2").options
    {'depth': 5, 'sigma_w2': 1.2}
    >>> parse_model_spec("timm:resnet18").name
    'timm:resnet18'
    """
    text = (text or "").strip()
    if not text:
        raise ReprobeError(f"empty {MODEL}; write NAME or NAME:key=value,key=value (e.g. mlp:depth=50,sigma_w2=1.2)")
    name, options = text, {}
    head, sep, tail = text.rpartition(":")
    if sep and "=" in tail:
        name = head.strip()
        for part in tail.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise ReprobeError(f"bad model option {part!r} in {text!r}; write key=value (e.g. depth=50)")
            k, v = part.split("=", 1)
            k = k.strip().replace("-", "_")
            if not k:
                raise ReprobeError(f"bad model option {part!r} in {text!r}; the key is empty")
            if not v.strip():
                raise ReprobeError(f"bad model option {part!r} in {text!r}; the value is empty (write {k}=VALUE)")
            if k == "net_shape":
                k = "shape"
            if k in options:
                raise ReprobeError(f"model option {k!r} is given twice in {text!r}")
            options[k] = parse_value(v)
        if not name:
            raise ReprobeError(f"{MODEL} {text!r} has options but no model name; write NAME:key=value")
    return ModelSpec(name=name, options=options)


def _fmt_opt(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def display_name(name: str, options: Dict[str, Any]) -> str:
    if not options:
        return name
    return f"{name}(" + ", ".join(f"{k}={_fmt_opt(v)}" for k, v in options.items()) + ")"


def slugify(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-.")
    return s[:80] or "model"


def unique_specs(specs: Sequence[ModelSpec]) -> List[ModelSpec]:
    """Give every spec a unique display name and folder slug (``#2`` … for exact repeats)."""
    seen: Dict[str, int] = {}
    slugs: set = set()
    out = []
    for s in specs:
        n = seen.get(s.display, 0) + 1
        seen[s.display] = n
        display = s.display if n == 1 else f"{s.display} #{n}"
        slug = slugify(display.replace("(", "-").replace(")", "").replace(", ", "-"))
        base, i = slug, 2
        while slug.lower() in slugs:
            slug = f"{base}-{i}"
            i += 1
        slugs.add(slug.lower())
        out.append(ModelSpec(name=s.name, options=dict(s.options), display=display, slug=slug))
    return out


def check_model_options(spec: ModelSpec) -> None:
    """Check ``spec``'s own options before any work: probe options against their declarations, and a
    registered model's options against its builder (unknown keys, values of the wrong type).

    Shared CLI options go to every model and builders ignore what they do not use; per-model
    options were typed for that model, so an unknown one (``widht=64``) is a mistake, not noise.
    Models from resolvers (``timm:…``, ``file.py:…``) and builders taking ``**kwargs`` are not checked.
    Probe options given as one name where a list is taken (``metrics=mse``) become a list of one.
    """
    for k, v in list(spec.options.items()):
        if k in PROBE_KEYS | SHARED_KEYS:
            try:
                spec.options[k] = coerce_option(k, v)
            except ReprobeError as e:
                raise ReprobeError(f"{MODEL} {spec.display!r}: option {k}={v!r}: {e}") from None
    hints = _builder_types(spec.name)
    if hints is None:
        return
    valid = set(hints) | DATA_MODEL_KEYS
    unknown = [k for k in spec.options if k not in valid and k not in PROBE_KEYS | SHARED_KEYS | {"preset"}]
    if unknown:
        raise ReprobeError(
            f"{MODEL} {spec.display!r}: model {spec.name!r} does not take option(s) {', '.join(unknown)}; "
            f"its options: {', '.join(sorted(valid))}; probe options: {', '.join(sorted(PROBE_KEYS | {'preset'}))}")
    for k, v in spec.options.items():
        expected = {**DATA_MODEL_TYPES, **hints}.get(k)
        if k not in PROBE_KEYS | SHARED_KEYS and expected is not None and not _of_type(v, expected):
            size = f" of at most {MAX_WHOLE}" if expected is int and isinstance(v, int) else ""
            raise ReprobeError(f"{MODEL} {spec.display!r}: option {k}={v!r} must be {TYPE_WORDS[expected]}{size}")


#: The types of the per-model options that :func:`reprobe.experiments.run.build_for_data` reads itself.
DATA_MODEL_TYPES = {"image_size": int, "subset": int, "adapt_data": bool, "weights": str}


def _builder_types(name: str) -> Optional[Dict[str, Any]]:
    """Option → simple type (int, float, str, bool; None when not one of them) of a registered
    model's builder; None when the builder is not checked (not registered, takes ``**kwargs``)."""
    import typing

    from ..models.registry import MODELS

    if name not in MODELS:
        return None
    builder = MODELS.get(name)
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    try:
        hints = typing.get_type_hints(builder)
    except Exception:  # annotations naming what the builder's module cannot resolve: check names only
        hints = {}
    out: Dict[str, Any] = {}
    for k in params:
        if k in ("input_shape", "num_classes"):
            continue
        hint = hints.get(k)
        args = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_args(hint) else [hint]
        out[k] = args[0] if len(args) == 1 and args[0] in TYPE_WORDS else None
    return out


def _of_type(value: Any, expected: type) -> bool:
    """Is a parsed spec value of ``expected`` (None is: it means the builder's default)?"""
    if value is None:
        return True
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_WHOLE
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 1e300
    return isinstance(value, expected)


def split_options(shared_model: Dict[str, Any], shared_probe: Dict[str, Any], options: Dict[str, Any]):
    """Merge per-model options over the shared ones: returns (model_kwargs, probe_kwargs)."""
    model_kw = dict(shared_model)
    probe_kw = dict(shared_probe)
    for k, v in options.items():
        if k == "preset":
            probe_kw["adapter_options"] = {**(probe_kw.get("adapter_options") or {}), "preset": v}
        elif k in PROBE_KEYS:
            probe_kw[k] = v
        elif k in SHARED_KEYS:
            probe_kw[k] = v
            model_kw[k] = v
        else:
            model_kw[k] = v
    return model_kw, probe_kw


def entry_from_result(result, spec: ModelSpec, run_rel: str) -> Dict[str, Any]:
    L = result.depth
    metrics = list(result.metrics)
    cutoffs = {m: result.cutoffs.get(m) for m in metrics}
    return {
        "name": spec.display,
        "spec": spec.name,
        "options": {k: v for k, v in spec.options.items() if isinstance(v, (str, int, float, bool, type(None)))},
        "slug": spec.slug,
        "run": run_rel,
        "depth": L,
        "cutoff_detector": result.cutoff_detector,
        "cutoffs": cutoffs,
        "cutoff_fraction": {m: (None if c is None or not L else c / L) for m, c in cutoffs.items()},
        "final": {m: finite_or_none(result.final(m)) for m in metrics},
        "saturation": {m: finite_or_none(v) for m, v in (result.saturation or {}).items()},
        "parameters": result.model.get("parameters"),
        "model_class": result.model.get("class"),
        "adapter": result.model.get("adapter"),
        "timings": {k: float(v) for k, v in result.timings.items() if finite_or_none(v) is not None},
        "warnings": list(result.warnings),
        "prediction": recheck_prediction(result)[0].to_dict(),
        "predictors": dict(result.predictors or {}),
    }


def summary_csv(summary: Dict[str, Any]) -> str:
    models = summary.get("models", [])
    metrics: List[str] = []
    for e in models:
        for m in e.get("cutoffs", {}):
            if m not in metrics:
                metrics.append(m)
    timing_keys: List[str] = []
    for e in models:
        for k in e.get("timings", {}):
            if k not in timing_keys:
                timing_keys.append(k)
    header = ["rank", "name", "spec", "depth", "parameters", "verdict", "predicted_depth", "xi"]
    header += [f"cutoff_{m}" for m in metrics] + [f"cutoff_fraction_{m}" for m in metrics]
    predictor_names = list(summary.get("predictors") or [])
    header += [f"final_{m}" for m in metrics] + [f"predictor_{n}" for n in predictor_names]
    header += [f"time_{k}_s" for k in timing_keys] + ["reason", "run"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for e in models:
        pred = e.get("prediction") or {}
        row = [e.get("rank"), e.get("name"), e.get("spec"), e.get("depth"), e.get("parameters"), pred.get("verdict"),
               finite_or_none(pred.get("max_trainable_depth")), finite_or_none(pred.get("xi"))]
        row += [e.get("cutoffs", {}).get(m) for m in metrics]
        row += [e.get("cutoff_fraction", {}).get(m) for m in metrics]
        row += [e.get("final", {}).get(m) for m in metrics]
        row += [(e.get("predictors") or {}).get(n, {}).get("score") for n in predictor_names]
        row += [e.get("timings", {}).get(k) for k in timing_keys]
        row += [e.get("reason"), e.get("run")]
        w.writerow(["" if v is None else v for v in row])
    for f in summary.get("failed", []):
        w.writerow(["", f.get("name"), f.get("spec")] + [""] * (len(header) - 5) + [f"failed: {f.get('error')}", ""])
    return buf.getvalue()


def probe_spec(job: tuple, bundle) -> tuple:
    """Probe one model (the work of one compare point, in this process or on a Ray worker).

    ``job``: ``(spec, data, model_options, probe_options, predictors)``. Returns ``(result, None)``,
    or ``(None, message)`` when the model failed (a bad name, wrong input shape …).
    """
    from .run import run_named

    spec, data, mkw, pkw, predictors = job
    t0 = time.perf_counter()
    try:
        result, _, _ = run_named(spec.name, data, model_options=mkw, bundle=bundle, predictors=predictors, **pkw)
    except (ReprobeError, RuntimeError, ValueError, TypeError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        if not isinstance(e, ReprobeError):
            msg = f"{type(e).__name__}: {msg}"
        return None, msg
    result.timings["total"] = time.perf_counter() - t0
    return result, None


def _probe_each(specs: Sequence[ModelSpec], out: Path, data: str, bundle, model_options, probe_options,
                command: Optional[str], echo: Callable[[str], None], predictors: Sequence[str] = (),
                run: Optional[Dict[str, Any]] = None):
    """Probe and save every spec into ``out/runs/<slug>/``: (entries, failed, metric names), in the
    specs' order. ``run``: executor options (``executor="ray"``: each model on a Ray worker, saved
    here as it lands)."""
    run = dict(run or {})
    jobs = []
    for spec in specs:
        mkw, pkw = split_options(model_options or {}, probe_options or {}, spec.options)
        jobs.append((spec, data, mkw, pkw, list(predictors)))
    landed: Dict[int, tuple] = {}

    def land(i: int, res: tuple) -> None:
        spec, (result, error) = specs[i], res
        if error is not None:
            echo(f"  {spec.display} failed: {error}")
            landed[i] = (None, {"name": spec.display, "spec": spec.name, "options": spec.options,
                                "error": error[:500]})
            return
        result.extra["command"] = command
        result.extra["compare_name"] = spec.display
        result.save(out / "runs" / spec.slug)
        landed[i] = (entry_from_result(result, spec, f"runs/{spec.slug}"), list(result.metrics))

    if run.pop("executor", "local") == "ray":
        from .ray_executor import ray_map

        echo(f"probing {len(specs)} models on Ray")
        jobs = [(s, d, m, {**p, "progress": False}, pr) for s, d, m, p, pr in jobs]
        ray_map(probe_spec, jobs, land, shared=bundle, address=run.get("address"),
                cpus_per_item=run.get("cpus_per_point", 1.0), gpus_per_item=run.get("gpus_per_point", 0.0),
                retries=run.get("retries", 3), name="reprobe-compare")
    else:
        for i, job in enumerate(jobs):
            echo(f"[{i + 1}/{len(specs)}] {specs[i].display}")
            land(i, probe_spec(job, bundle))
    entries, failed, metric_names = [], [], []
    for i in range(len(specs)):
        entry, extra = landed[i]
        if entry is None:
            failed.append(extra)
            continue
        entries.append(entry)
        metric_names += [m for m in extra if m not in metric_names]
    return entries, failed, metric_names


def _write_summary(out: Path, summary: Dict[str, Any]) -> None:
    """``summary.json`` and ``summary.csv``."""
    from ..core.io import atomic_write, write_json

    write_json(out / "summary.json", summary)
    text = summary_csv(summary)

    def w(tmp):
        Path(tmp).write_text(text)

    atomic_write(out / "summary.csv", w)


def _checked_specs(specs: Sequence[ModelSpec], predictors: Sequence[str], run: Dict[str, Any]) -> List[ModelSpec]:
    """The specs with unique names, after the checks that fail before any work."""
    check_run_options(**run)
    specs = unique_specs(specs)
    for spec in specs:
        check_model_options(spec)
    for name in predictors:
        get_predictor(name)
    return specs


def compare_models(
    specs: Sequence[ModelSpec],
    out_dir,
    *,
    data: str = "mnist-5k",
    data_options: Optional[Dict[str, Any]] = None,
    model_options: Optional[Dict[str, Any]] = None,
    probe_options: Optional[Dict[str, Any]] = None,
    command: Optional[str] = None,
    report: Optional[Callable[[Path], Any]] = None,
    echo: Callable[[str], None] = lambda s: None,
    bundle=None,
    predictors: Sequence[str] = (),
    executor: str = "local", address: Optional[str] = None,
    cpus_per_point: float = 1.0, gpus_per_point: float = 0.0, retries: int = 3,
) -> Dict[str, Any]:
    """Probe every spec on the same data, save runs, rank them, write summary (+ report).

    ``predictors`` (names from ``reprobe.predictors``) also score every model; each entry then
    carries ``predictors`` (name → score …) and summary.csv a ``predictor_<name>`` column each.

    ``report``, when given, is called with ``out_dir`` once the summary files are written (the CLI
    passes a function that writes ``report.html`` with :func:`reprobe.report.write_report`).

    A model that fails with a :class:`ReprobeError` (unknown name, wrong input shape …) is listed
    under ``failed`` and the others go on; if every model fails the first error is raised.

    ``executor="ray"`` probes each model on a Ray worker (``address``, ``cpus_per_point``,
    ``gpus_per_point``, ``retries``: see :func:`~.executors.run_tasks`); this process ships the
    data once, saves every run and writes the summary.

    Returns:
        The summary dict (also written to ``out_dir/summary.json``).
    """
    from ..data import load_dataset

    if not specs:
        raise ReprobeError(f"no models to compare; pass {param('model', python='a model spec')} at least once "
                           f"(e.g. {param('model', 'mlp', python='mlp')} {param('model', 'cnn', python='and cnn')})")
    run = {"executor": executor, "address": address, "cpus_per_point": cpus_per_point,
           "gpus_per_point": gpus_per_point, "retries": retries}
    specs = _checked_specs(specs, predictors, run)
    for spec in specs:  # every model's probe settings, shared and its own, are checked before any work
        check_probe_options(split_options(model_options or {}, probe_options or {}, spec.options)[1])
    out = Path(out_dir)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReprobeError(f"cannot create output folder {out}: {e.strerror}") from None
    t_start = time.perf_counter()
    if bundle is None:
        bundle = load_dataset(data, **(data_options or {}))
    t_data = time.perf_counter() - t_start
    entries, failed, metric_names = _probe_each(specs, out, data, bundle, model_options, probe_options, command, echo,
                                                list(predictors), run)
    if not entries:
        first = failed[0]
        raise ReprobeError(f"every model failed; first: {first['name']}: {first['error']}")
    rank_metric = rank_metric_for(metric_names)
    entries = rank_entries(entries, rank_metric)
    summary = {
        "schema": SCHEMA,
        "command": command,
        "data": bundle.describe(),
        "settings": {
            "probe": {k: v for k, v in (probe_options or {}).items() if isinstance(v, (str, int, float, bool, type(None), list, tuple))},
            "model": dict(model_options or {}),
            "data": {k: v for k, v in (data_options or {}).items()},
        },
        "rank_metric": rank_metric,
        "metrics": metric_names,
        "predictors": list(predictors),
        "models": entries,
        "failed": failed,
        "timings": {"data": t_data, "total": time.perf_counter() - t_start},
    }
    _write_summary(out, summary)
    if report:
        report(out)
    return summary
