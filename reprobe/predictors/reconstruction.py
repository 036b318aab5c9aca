"""``reconstruction``: reprobe's own prediction (reconstruction-entropy probe → ξ̂ → deepest trainable net)."""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from .registry import Batch, NotApplicable, PredictorScore, register_predictor


@register_predictor("reconstruction", direction="higher", needs=("inputs",))
def reconstruction(model: nn.Module, batch: Batch, fit_data: Any = None, eval_data: Any = None,
                   **probe_options: Any) -> PredictorScore:
    """reprobe's prediction as a score: ≥ 1 exactly when the verdict is ``trainable`` (0.5–1 ``marginal``).

    Thurn et al. 2024 (reconstruction entropy of cascaded decoders) with reprobe's calibrated verdict
    (:func:`reprobe.analysis.prediction.predict_trainability`: ``max_trainable_depth = c ξ̂``, c = 3 at
    width 300, scaled with an MLP's width); the score is
    :func:`~reprobe.analysis.prediction.trainability_score` of that verdict.

    Data: the whole data given to the runner (a DataLoader, Dataset, tensor or ``(x, y)`` pair), not
    only its first batch, split by :func:`reprobe.check` into inputs to fit on and held-out inputs to
    measure (:func:`reprobe.probe.held_out.probe_held_out`, the call ``reprobe.check`` makes), so the score
    and ``reprobe.check`` never disagree. ``fit_data`` and
    ``eval_data`` given together are used as they are.

    Mode policy: the probe's own: eval mode, ``requires_grad`` off, everything restored afterwards.

    Args:
        model: the network.
        batch: the batch, and the data as given.
        fit_data, eval_data: override the data (anything ``CascadeProbe.fit``/``evaluate`` take);
            ``fit_data`` alone is split like the runner's data.
        **probe_options: :func:`reprobe.check` options (``samples``, ``fit_samples``, ``seed``, ``ridge`` …).

    Returns:
        ``score`` (see above), ``depth_scale`` = ξ̂, ``per_stage`` = the relative-entropy curve,
        ``reason`` = the verdict and its evidence; None with the reason when undecidable.
    """
    from ..analysis.prediction import predict_trainability
    from ..core.errors import ReprobeError
    from ..probe.held_out import probe_held_out
    from ..probe.probe import CascadeProbe

    probe_options.setdefault("progress", False)
    try:
        if fit_data is not None and eval_data is not None:
            with CascadeProbe(model, **probe_options) as probe:
                result = probe.fit(fit_data).evaluate(eval_data)
        else:
            data = fit_data if fit_data is not None else (batch.data if batch.data is not None else batch.x)
            result, _ = probe_held_out(model, data, **probe_options)
    except ReprobeError as e:
        raise NotApplicable(str(e)) from None
    return score_of_prediction(predict_trainability(result), result.metrics)


def score_of_prediction(pred, metrics) -> PredictorScore:
    """The ``reconstruction`` predictor's answer for a prediction: ``score`` =
    :func:`~reprobe.analysis.prediction.trainability_score` (≥ 1 exactly when ``trainable``),
    ``depth_scale`` = ξ̂, ``per_stage`` = the curve ξ̂ was read from (``metrics``: a result's per-stage
    metrics), ``reason`` = the verdict line. Runs that already probed the net use it, so the probe
    is not run twice.

    Args:
        pred: a :class:`~reprobe.analysis.prediction.Prediction`.
        metrics: metric → per-stage values.

    Returns:
        A :class:`PredictorScore` (the runner adds name and direction).
    """
    from ..analysis.prediction import describe_prediction, trainability_score

    curve = metrics.get(pred.metric)
    per_stage = None if curve is None else [None if v is None else float(v) for v in curve]
    if pred.max_trainable_depth is None:
        return PredictorScore(score=None, per_stage=per_stage, reason=f"undecidable: {pred.reason}")
    return PredictorScore(score=trainability_score(pred), per_stage=per_stage, depth_scale=pred.xi,
                          reason=describe_prediction(pred))
