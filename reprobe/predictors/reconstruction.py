"""``reconstruction``: reprobe's own prediction (reconstruction-entropy probe → ξ̂ → deepest trainable net)."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn as nn

from .registry import Batch, NotApplicable, PredictorScore, register_predictor


@register_predictor("reconstruction", direction="higher", needs=("inputs",))
def reconstruction(model: nn.Module, batch: Batch, fit_data: Any = None, eval_data: Any = None,
                   **probe_options: Any) -> PredictorScore:
    """reprobe's prediction: ``max_trainable_depth / L`` from the cascade probe's decay length ξ̂.

    Thurn et al. 2024 (reconstruction entropy of cascaded decoders) with reprobe's calibrated verdict
    (:func:`reprobe.analysis.prediction.predict_trainability`: ``max_trainable_depth = c ξ̂``, c = 3 at
    width 300, scaled with an MLP's width).

    Data: the decoders are fitted on ``fit_data`` — by default the data given to the runner when it
    is a DataLoader or Dataset (all of it), else the one batch — and evaluated on ``eval_data``
    (default: the same). One batch of 64 is few for ridge decoders of wide stages: give a loader.

    Mode policy: the probe's own: eval mode, ``requires_grad`` off, everything restored afterwards.

    Args:
        model: the network.
        batch: the batch, and the data as given.
        fit_data, eval_data: override the data (anything ``CascadeProbe.fit``/``evaluate`` take).
        **probe_options: :class:`~reprobe.probe.probe.ProbeConfig` fields (``samples``, ``ridge`` …).

    Returns:
        ``score`` = max_trainable_depth / L (≥ 1: trainable at this depth), ``depth_scale`` = ξ̂,
        ``per_stage`` = the relative-entropy curve; None with the reason when undecidable.
    """
    from ..analysis.prediction import predict_trainability
    from ..probe.probe import CascadeProbe
    from ..core.errors import ReprobeError

    data = batch.data if isinstance(batch.data, (torch.utils.data.DataLoader, torch.utils.data.Dataset)) else batch.x
    fit_data = data if fit_data is None else fit_data
    eval_data = fit_data if eval_data is None else eval_data
    probe_options.setdefault("progress", False)
    try:
        with CascadeProbe(model, **probe_options) as probe:
            result = probe.fit(fit_data).evaluate(eval_data)
    except ReprobeError as e:
        raise NotApplicable(str(e)) from None
    return score_of_prediction(predict_trainability(result), result.metrics)


def score_of_prediction(pred, metrics) -> PredictorScore:
    """The ``reconstruction`` score of a :class:`~reprobe.analysis.prediction.Prediction`: max_trainable_depth / L,
    depth scale ξ̂, per stage the curve ξ̂ was read from (``metrics``: a result's per-stage metrics).
    Runs that already probed the net use it too, so the probe is not run twice."""
    curve = metrics.get(pred.metric)
    per_stage = None if curve is None else [None if v is None else float(v) for v in curve]
    if pred.max_trainable_depth is None:
        return PredictorScore(score=None, per_stage=per_stage, reason=f"undecidable: {pred.reason}")
    reason = f"{pred.verdict} at depth {pred.depth}" + (" (a lower bound)" if pred.depth_is_bound else "")
    return PredictorScore(score=pred.max_trainable_depth / pred.depth, per_stage=per_stage, depth_scale=pred.xi,
                          reason=reason)
