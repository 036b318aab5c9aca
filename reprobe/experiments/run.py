"""One probe run from names: data + model + probe → ProbeResult. Shared by the CLI commands
(``run``, ``sweep``, ``compare``) so that they all mean the same thing by the same options."""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset

from ..analysis import Prediction, correlation_lengths, predict_trainability
from ..data import DatasetBundle, load_dataset
from ..core.errors import ReprobeError, param
from ..probe.memory import check_probe_memory
from ..models import build_model
from ..probe import CascadeProbe, ProbeConfig, ProbeResult
from ..probe.batched import BatchedMLPProbe, NotBatchable
from ..predictors import get_predictor, score
from ..predictors.reconstruction import score_of_prediction


def limit_dataset(ds, n: Optional[int], seed: int = 0):
    """A seeded random subset of ``n`` items (the whole dataset when n is None or larger)."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ReprobeError(f"need at least 1 training sample, got {n}")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return Subset(ds, idx.tolist())


def train_loader(bundle: DatasetBundle, batch_size: int, seed: int = 0, train_samples: Optional[int] = None) -> DataLoader:
    """A shuffled (seeded) loader over the training split."""
    ds = limit_dataset(bundle.train, train_samples, seed)
    if len(ds) == 0:
        raise ReprobeError(f"dataset {bundle.name!r} has no training samples")
    return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


def probe_model(
    model: nn.Module,
    bundle: DatasetBundle,
    *,
    batch_size: int = 64,
    seed: int = 0,
    train_samples: Optional[int] = None,
    stages: Any = None,
    output_selector: Any = None,
    adapter_options: Optional[dict] = None,
    keep_probe: bool = False,
    names: Optional[Dict[str, str]] = None,
    **probe_options: Any,
) -> Tuple[ProbeResult, Optional[CascadeProbe]]:
    """Fit and evaluate a probe on ``model`` with ``bundle``'s train/test splits.

    Before the fit, the memory the probe will need is checked (:func:`reprobe.probe.memory.check_probe_memory`;
    ``names`` spells the options its error names, e.g. as CLI flags).

    Returns:
        (result, probe) — the probe (closed, decoders kept) only when ``keep_probe``.
    """
    if len(bundle.test) < 2:
        raise ReprobeError(f"dataset {bundle.name!r} has {len(bundle.test)} test samples; the probe needs at least 2")
    # The probe checks every setting (batch_size included) before a loader is made from them.
    probe = CascadeProbe(model, stages, output_selector=output_selector, adapter_options=adapter_options,
                         batch_size=batch_size, seed=seed, **probe_options)
    with probe:
        loader = train_loader(bundle, batch_size, seed, train_samples)
        _check_memory_before_fit(probe, bundle, names)
        result = probe.fit(loader).evaluate(bundle.test)
    # What the dry run found (dropped stages, skip connections) belongs with the numbers it qualifies.
    result.warnings = list(probe.warnings) + [w for w in result.warnings if w not in probe.warnings]
    result.data = bundle.describe()
    result.warnings.extend(cut_warnings(bundle, train_samples))
    return result, (probe if keep_probe else None)


def probe_models_batched(
    models: Sequence[nn.Module],
    bundle: DatasetBundle,
    *,
    batch_size: int = 64,
    seed: int = 0,
    train_samples: Optional[int] = None,
    names: Optional[Dict[str, str]] = None,
    **probe_options: Any,
) -> List[ProbeResult]:
    """:func:`probe_model` for K built-in MLPs of one shape at once (:class:`reprobe.probe.batched.BatchedMLPProbe`):
    the same loader, memory check and warnings; one result per model, equal to what
    :func:`probe_model` gives it up to float rounding.

    Raises:
        NotBatchable: models or options the batched path does not take (``stages``, ``output_selector``,
            ``adapter_options``, ``keep_probe``, a gradient ``fit``, other models): probe them one at a time.
    """
    for name in ("stages", "output_selector", "adapter_options", "keep_probe"):
        if probe_options.pop(name, None) not in (None, False, {}):
            raise NotBatchable(f"{param(name)} is not taken by the batched path; probe the models one at a time")
    if len(bundle.test) < 2:
        raise ReprobeError(f"dataset {bundle.name!r} has {len(bundle.test)} test samples; the probe needs at least 2")
    with BatchedMLPProbe(models, batch_size=batch_size, seed=seed, **probe_options) as probe:
        loader = train_loader(bundle, batch_size, seed, train_samples)
        _check_memory_before_fit(probe, bundle, names)
        results = probe.fit(loader).evaluate(bundle.test)
    found = probe.warnings
    for result in results:
        result.warnings = list(found) + [w for w in result.warnings if w not in found]
        result.data = bundle.describe()
        result.warnings.extend(cut_warnings(bundle, train_samples))
    return results


def _check_memory_before_fit(probe: Union[CascadeProbe, BatchedMLPProbe], bundle: DatasetBundle, names: Optional[Dict[str, str]]) -> None:
    """Learn the stage shapes from a dry run on a few test inputs and check the probe's memory.

    The loader is not touched (its shuffling must stay as the fit will see it), and the dry run is
    forgotten afterwards: the fit redoes it on its own first batch, so results do not change.
    """
    x = torch.stack([torch.as_tensor(bundle.test[i][0]) for i in range(min(2, len(bundle.test)))])
    probe.dry_run(x)
    check_probe_memory(probe, len(bundle.test), names=names)
    probe.input_shape = None


def cut_warnings(bundle: DatasetBundle, train_samples: Optional[int]) -> List[str]:
    """Say what loading the data changed (``bundle.info["notes"]``: images resized or converted, a subset
    larger than the data) and where the training split held fewer inputs than were asked for (the run
    used them all). Too few held-out inputs, or too few to fit on, the probe itself warns about."""
    out = list(dict.fromkeys(bundle.info.get("notes", [])))  # what loading and adapting the data changed (once)
    if train_samples is not None and train_samples > len(bundle.train):
        out.append(f"train_samples={train_samples} asked for, but {bundle.name!r} has {len(bundle.train)} "
                   f"training inputs: all {len(bundle.train)} were used")
    return out


def run_named(
    model: str = "mlp",
    data: str = "mnist-5k",
    *,
    model_options: Optional[Dict[str, Any]] = None,
    data_options: Optional[Dict[str, Any]] = None,
    bundle: Optional[DatasetBundle] = None,
    predictors: Sequence[str] = (),
    **probe_kwargs: Any,
) -> Tuple[ProbeResult, nn.Module, Optional[CascadeProbe]]:
    """Load data by name (unless ``bundle`` is given), build the model by name, probe it, and score
    it with each of ``predictors`` (names from ``reprobe.predictors``; see :func:`score_predictors`)."""
    for name in predictors:  # unknown names fail before any work
        get_predictor(name)
    data_options = dict(data_options or {})
    if bundle is None:
        bundle = load_dataset(data, **data_options)
    t0 = time.perf_counter()
    net, bundle = build_for_data(model, bundle, model_options, probe_kwargs)
    build_time = time.perf_counter() - t0
    result, probe = probe_model(net, bundle, **probe_kwargs)
    fits = correlation_lengths(result.metrics, [s["shape"] for s in result.stage_dicts()], result.saturation)
    result.extra["correlation_length"] = {m: f.to_dict() for m, f in fits.items()}
    result.prediction = predict_trainability(result).to_dict()
    result.timings["build_model"] = build_time
    result.model["spec"] = model
    result.model["options"] = {k: v for k, v in (model_options or {}).items() if _jsonable(v)}
    if probe_kwargs.get("adapter_options"):
        result.model["adapter_options"] = dict(probe_kwargs["adapter_options"])
    if predictors:
        result.predictors = score_predictors(result, net, bundle, predictors)
    return result, net, probe


def score_predictors(result: ProbeResult, net: nn.Module, bundle: DatasetBundle,
                     names: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """``result.json``'s ``predictors`` object: name → score, direction, per-stage values, depth scale.

    ``reconstruction`` is the run's own prediction (max_trainable_depth / L, depth scale ξ̂) — the
    probe is not run twice; every other predictor scores ``net`` on one training batch
    (:func:`reprobe.predictors.score`, which restores the model afterwards).
    """
    out: Dict[str, Dict[str, Any]] = {}
    others = [n for n in names if n != "reconstruction"]
    scores = score(net, bundle.train, others) if others else {}
    for name in names:
        if name == "reconstruction":
            pred = Prediction(**result.prediction) if result.prediction else predict_trainability(result)
            own = score_of_prediction(pred, result.metrics)
            out[name] = replace(own, name=name, direction=get_predictor(name).direction).to_dict()
        else:
            out[name] = scores[name].to_dict()
    return out


def build_for_data(model: str, bundle: DatasetBundle, model_options: Optional[Dict[str, Any]] = None,
                   probe_options: Optional[Dict[str, Any]] = None) -> Tuple[nn.Module, DatasetBundle]:
    """Build model ``model`` for ``bundle`` and adapt the data to the input the model expects.

    Model options used here (besides the builder's): ``image_size`` (resize images to it),
    ``weights`` (``none``/``imagenet``/a path), ``adapt_data`` (False: a channel/size mismatch is
    an error instead of a conversion), ``subset`` (a random subsample of the data). Vision models
    carry ``reprobe_input`` (channels, size, mean, std): grey data becomes RGB, images are resized
    and normalised, all in :func:`reprobe.data.images.adapt_bundle`. ``probe_options`` (the
    probe's settings) size the memory estimate checked before the model is built.
    """
    from ..data.images import adapt_bundle, subsample_bundle
    from ..data.tokens import adapt_tokens
    from ..probe.memory import check_model_memory
    from ..models import MODELS
    from ..models.vision import _weights_kind, load_weights_file

    opts = dict(model_options or {})
    allow = bool(opts.pop("adapt_data", True))
    subset = opts.pop("subset", None)
    if subset is not None:
        bundle = subsample_bundle(bundle, int(subset), seed=int(opts.get("seed") or 0))
    size = opts.get("image_size")
    if size is not None and not all(int(v) >= 1 for v in (size if isinstance(size, (list, tuple)) else [size])):
        raise ReprobeError(f"image_size must be at least 1 pixel, got {size}")
    if size is not None and model in MODELS and len(bundle.input_shape) == 3:
        s = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)[-2:]
        bundle = adapt_bundle(bundle, size=s, allow=allow)
    check_model_memory(model, bundle, opts, probe_options or {})  # before a huge model is allocated
    net = build_model(model, bundle.input_shape, bundle.num_classes, **opts)
    kind = _weights_kind(opts.get("weights"))
    if model in MODELS and kind == "imagenet":
        raise ReprobeError(f"model {model!r} has no imagenet weights; use {param('weights', 'none')} or {param('weights', 'PATH', python='weights=PATH')}")
    if model in MODELS and kind == "path":
        load_weights_file(net, opts["weights"])
    req = getattr(net, "reprobe_input", None)
    if req and req.get("tokens"):
        bundle = adapt_tokens(bundle, req["tokens"]["vocab"], req["tokens"].get("length"), model)
    elif req:
        bundle = adapt_bundle(bundle, req.get("channels"), req.get("size"), req.get("mean"), req.get("std"), allow=allow)
    return net, bundle


def _jsonable(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool, type(None), list, tuple))


#: Options stored with a run that only concern the data, not the model builder.
_DATA_ONLY = ("subset", "adapt_data")


def rebuild_probe(run_dir) -> Tuple[ProbeResult, nn.Module, CascadeProbe]:
    """(result, model, probe with loaded decoders) for a run folder saved with its decoders
    (``decoders.pt``: ``run_named(..., keep_probe=True)`` then ``probe.save_decoders``; the CLI's
    ``reprobe run --save-decoders``). The model is rebuilt from ``result.json``."""
    from ..core.outdir import check_complete
    from ..models import MODELS
    from ..models.vision import _weights_kind, load_weights_file

    run_dir = Path(run_dir)
    check_complete(run_dir)
    if not (run_dir / "result.json").is_file():
        raise ReprobeError(f"{run_dir} has no result.json; give a run folder (written by reprobe run, or ProbeResult.save)")
    result = ProbeResult.load(run_dir)
    dec = run_dir / "decoders.pt"
    if not dec.is_file():
        raise ReprobeError(f"{run_dir} has no decoders.pt; rerun reprobe run with "
                           f"{param('save_decoders', True, python='run_named(..., keep_probe=True) then probe.save_decoders')}")
    spec = result.model.get("spec")
    if not spec:
        raise ReprobeError(f"{run_dir}/result.json does not name its model (model.spec); it was not written by `reprobe run`")
    opts = {k: v for k, v in dict(result.model.get("options") or {}).items() if k not in _DATA_ONLY}
    num_classes = int(result.data.get("num_classes") or 10)
    model = build_model(spec, tuple(result.input_shape), num_classes, **opts)
    if spec in MODELS and _weights_kind(opts.get("weights")) == "path":
        load_weights_file(model, opts["weights"])
    names = [s.name for s in result.stages]
    probe = CascadeProbe(model, names, progress=False, device="cpu",
                         multi_call=result.config.get("multi_call", ProbeConfig.multi_call))
    probe.load_decoders(dec)
    return result, model, probe
