"""Probing for the critical search: σ_w² → a sweep-point record.

The search itself (:func:`reprobe.analysis.critical.find_critical`) is pure; this module gives it a
record per σ_w² by running one sweep point.
"""

from __future__ import annotations

from typing import Callable, Optional

from .points import run_point


def probe_evaluator(model: str, data: str, *, depth: int, width: Optional[int], sigma_b2: float, seed: int = 0,
                    model_options: Optional[dict] = None, data_options: Optional[dict] = None,
                    probe_options: Optional[dict] = None) -> Callable[[float], dict]:
    """σ_w² → a sweep-style probe record for ``model`` (any builder taking sigma_w2/sigma_b2)."""
    def evaluate(sw: float) -> dict:
        return run_point({
            "sigma_w2": float(sw), "sigma_b2": float(sigma_b2), "depth": int(depth), "width": width, "seed": int(seed),
            "model": model, "model_options": model_options or {}, "data": data, "data_options": data_options or {},
            "probe": dict(probe_options or {}), "train": None,
        })

    return evaluate


def chi_evaluator(model: str, data: str, *, depth: int, width: Optional[int], sigma_b2: float, seed: int = 0,
                  model_options: Optional[dict] = None, data_options: Optional[dict] = None) -> Callable[[float], Optional[float]]:
    """σ_w² → the mean ``ln χ`` of the partial Jacobian, for :func:`reprobe.analysis.chi_crossing.find_chi_crossing`.

    The mean the ``partial_jacobian`` predictor scores, by the same function
    (:func:`reprobe.predictors.partial_jacobian.measure_log_chi`, defined in
    :mod:`reprobe.analysis.chi`): hidden stage pairs of equal shape after the transient; the pair into
    a classifier head and pairs that change shape (a pool) are left out. Each call builds the net at
    σ_w² (same seed) and measures χ on one training batch (the predictors' batch,
    :func:`reprobe.predictors.runner.one_batch`); no decoders are fitted. None where no pair has a
    finite χ > 0.
    """
    from ..models import build_model
    from ..predictors.partial_jacobian import measure_log_chi
    from ..predictors.runner import one_batch
    from .points import _bundle, _net_options

    bundle = _bundle(data, data_options or {})
    x = one_batch(bundle.train).x
    base = {"sigma_b2": float(sigma_b2), "depth": int(depth), "width": width, "seed": int(seed), "model": model,
            "model_options": model_options or {}}

    def log_chi(sw: float) -> Optional[float]:
        net = build_model(model, bundle.input_shape, bundle.num_classes, **_net_options({**base, "sigma_w2": float(sw)}))
        return measure_log_chi(net, x)[1].mean

    return log_chi
