"""From reconstructions to a :class:`~reprobe.probe.result.ProbeResult`: per-stage metrics, cutoffs
by every detector, and the warnings an evaluation gives.

:func:`build_result` is the one result builder: :class:`~reprobe.probe.probe.CascadeProbe` and
:class:`~reprobe.probe.batched.BatchedMLPProbe` (once per net) both call it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .. import metrics as metric_registry
from .cascade import Reconstructions
from .result import ProbeResult
from .scale import activation_names
from .stages import StageInfo

#: Fewer held-out inputs than this make the entropy estimates (and so ℓ*) noise.
MIN_RELIABLE_SAMPLES = 32

#: A decoder with fewer fit rows than this share of its features is underdetermined beyond what the
#: ridge makes up for (on VGG16, 0.5 rows per feature still gives the R² of 2 rows to within 0.005).
MIN_ROWS_PER_FEATURE = 0.5


def stage_metrics(recon: torch.Tensor, nonfinite_acts: Sequence[int], sq_err: Sequence[float], counts: Sequence[int],
                  stage_names: Sequence[str], metrics: Sequence[str]):
    """Per stage: each metric of ``recon[ℓ]`` against the inputs ``recon[0]`` (None where not finite),
    the one-step decoder MSE, and the stages with non-finite values: (values, decoder_mse, nonfinite)."""
    x = recon[0]
    nonfinite: Dict[str, Dict[str, int]] = {}
    values: Dict[str, List[Optional[float]]] = {m: [] for m in metrics}
    decoder_mse: List[Optional[float]] = []
    for l, name in enumerate(stage_names, start=1):
        bad_act = nonfinite_acts[l - 1]
        bad_rec = int((~torch.isfinite(recon[l])).sum())
        if bad_act or bad_rec:
            nonfinite[name] = {"activations": bad_act, "reconstructions": bad_rec}
        for m in metrics:
            if bad_rec:
                values[m].append(None)
            else:
                v = metric_registry.get(m)(x, recon[l])
                values[m].append(v if math.isfinite(v) else None)
        e = sq_err[l - 1] / max(1, counts[l - 1])
        decoder_mse.append(e if math.isfinite(e) else None)
    return values, decoder_mse, nonfinite


def evaluation_warnings(nonfinite: Mapping[str, Mapping[str, int]], asked: int, measured: int,
                        fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                        stage_names: Sequence[str]) -> List[str]:
    """What an evaluation warns about: non-finite values, fit fallbacks and skipped rows, too little data."""
    warnings = []
    if nonfinite:
        warnings.append(
            f"non-finite activations or reconstructions at {len(nonfinite)} stage(s) "
            f"(first: {next(iter(nonfinite))}); their metrics are null"
        )
    if fit_info.get("closed_form_over_memory_budget_message"):
        warnings.append(fit_info["closed_form_over_memory_budget_message"])
    if fit_info.get("skipped_nonfinite"):
        warnings.append(f"training rows with non-finite values were skipped at {len(fit_info['skipped_nonfinite'])} stage(s)")
    return warnings + data_size_warnings(asked, measured, fit_info, decoders, stage_names)


def data_size_warnings(asked: int, measured: int, fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                       stage_names: Sequence[str]) -> List[str]:
    """Warnings when the data was smaller than asked for, or too small for the verdict to mean much."""
    out = []
    if measured < asked:
        out.append(f"samples={asked} asked for, but the test data has {measured} inputs: measured on {measured}")
    if measured < MIN_RELIABLE_SAMPLES:
        out.append(f"only {measured} held-out inputs measured (fewer than {MIN_RELIABLE_SAMPLES}): "
                   "the entropies and the cutoff ℓ* are unreliable")
    worst = _least_determined_decoder(fit_info, decoders, stage_names)
    if worst is not None:
        name, rows, features = worst
        out.append(f"decoders were fitted on {fit_info.get('fit_samples')} training inputs: stage {name}'s decoder saw "
                   f"{rows} rows for its {features} features, so it is underdetermined and the cutoff ℓ* is unreliable")
    return out


def _least_determined_decoder(fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                              stage_names: Sequence[str]) -> Optional[Tuple[str, int, int]]:
    """(stage, rows, features) of the decoder with the fewest rows per feature, if below the minimum."""
    worst = least_determined(fit_info, decoders, stage_names)
    return worst if worst is not None and worst[1] < MIN_ROWS_PER_FEATURE * worst[2] else None


def least_determined(fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                     stage_names: Sequence[str]) -> Optional[Tuple[str, int, int]]:
    """(stage, rows, features) of the decoder with the fewest fit rows per feature (None: no decoder
    says its features); the verdict's rule reads it from ``result.fit["least_determined"]``."""
    closed_rows = fit_info.get("closed_form_rows", {})
    worst = None
    for name, d in zip(stage_names, decoders):
        features = getattr(d, "n_features", None)
        if not features:
            continue
        rows = closed_rows.get(name, (fit_info.get("fit_samples") or 0) * getattr(d, "rows_per_input", 1))
        if worst is None or rows / features < worst[1] / worst[2]:
            worst = (name, int(rows), int(features))
    return worst


def fit_record(fit_info: Mapping[str, Any], decoders: Sequence[nn.Module], stage_names: Sequence[str]) -> Dict[str, Any]:
    """``fit_info`` with the least determined decoder, for the verdict's rule."""
    worst = least_determined(fit_info, decoders, stage_names)
    extra = {} if worst is None else {"least_determined": dict(zip(("stage", "rows", "features"), worst))}
    return {**dict(fit_info), **extra}


def model_record(model: nn.Module, adapter: Optional[str]) -> Dict[str, Any]:
    """The ``model`` entry of a result: class, parameter count, adapter, activation kinds."""
    return {"class": type(model).__name__, "parameters": int(sum(p.numel() for p in model.parameters())),
            "adapter": adapter, "activations": activation_names(model)}


def build_result(rec: Reconstructions, net: Optional[int], *, config: Any, stages: Sequence[StageInfo],
                 input_shape: Tuple[int, ...], decoders: Sequence[nn.Module], fit_info: Mapping[str, Any],
                 model: Mapping[str, Any], notes: Sequence[str] = ()) -> ProbeResult:
    """The :class:`ProbeResult` of one net's reconstructions: metrics, cutoffs by every detector,
    warnings (timings left empty).

    Args:
        rec: :func:`~reprobe.probe.cascade.reconstruct_all`'s output.
        net: which net of ``rec`` (None: ``rec`` holds one net).
        config: the :class:`~reprobe.probe.config.ProbeConfig`.
        stages: the stages, in order.
        input_shape: z⁰'s shape (one input).
        decoders: the decoders (their ``n_features`` and ``rows_per_input`` judge the fit's data).
        fit_info: the ``fit`` record.
        model: the ``model`` record (:func:`model_record`).
        notes: warnings found before evaluation (the dry run, the fit, notes on the inputs), listed first.
    """
    recon = rec.recon if net is None else rec.recon[net]
    k = 0 if net is None else net
    x = recon[0]
    names = [s.name for s in stages]
    values, decoder_mse, nonfinite = stage_metrics(recon, rec.nonfinite[k], rec.sq_err[k], rec.counts, names,
                                                   config.metrics)
    cutoffs_by: Dict[str, Dict[str, Optional[int]]] = {}
    for det in metric_registry.CUTOFFS.names():
        cutoffs_by[det] = {m: metric_registry.compute_cutoff(det, values[m], eta=config.eta) for m in config.metrics}
    warnings = list(notes) + evaluation_warnings(nonfinite, config.samples, int(x.shape[0]), fit_info, decoders, names)
    keep = min(config.keep_examples, x.shape[0])
    examples = recon[:, :keep].detach().cpu()
    return ProbeResult(
        stages=[dataclasses.replace(s) for s in stages],
        input_shape=tuple(input_shape),
        metrics=values,
        cutoffs=dict(cutoffs_by[config.cutoff]),
        cutoffs_by_detector=cutoffs_by,
        cutoff_detector=config.cutoff,
        decoder_mse=decoder_mse,
        nonfinite=nonfinite,
        saturation=metric_registry.saturation_levels(x, config.metrics),
        stage_scale=list(rec.stage_scale[k]) if rec.stage_scale else [],
        # a net of K: a copy, not a view that keeps all K nets' reconstructions alive
        reconstructions=examples if net is None else examples.clone(),
        timings={},
        config=config.to_dict(),
        fit=fit_record(fit_info, decoders, names),
        model=dict(model),
        warnings=warnings,
        samples=int(x.shape[0]),
    )
