"""Probing for the critical search: σ_w² → a sweep-point record.

The search itself (:func:`reprobe.analysis.critical.find_critical`) is pure; this module gives it a
record per σ_w² by running one sweep point.
"""

from __future__ import annotations

from typing import Callable, List, Optional

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
    """σ_w² → the mean ``ln χ`` of the partial Jacobian over the net's hidden stage pairs (the pair into
    a classifier head is left out, as on the phase diagram), for :func:`reprobe.analysis.chi_crossing.find_chi_crossing`.

    Each call builds the net at σ_w² (same seed) and scores ``partial_jacobian`` on one training batch;
    no decoders are fitted.
    """
    from ..analysis.correlation import ends_in_head
    from ..analysis.critical_lines import mean_log_chi
    from ..models import build_model
    from ..predictors import score
    from ..predictors.runner import one_batch
    from ..probe import CascadeProbe
    from .points import _bundle, _net_options

    bundle = _bundle(data, data_options or {})
    base = {"sigma_b2": float(sigma_b2), "depth": int(depth), "width": width, "seed": int(seed), "model": model,
            "model_options": model_options or {}}

    head: List[bool] = []  # does the net end in a classifier head? The same at every σ_w²: found once

    def log_chi(sw: float) -> Optional[float]:
        net = build_model(model, bundle.input_shape, bundle.num_classes, **_net_options({**base, "sigma_w2": float(sw)}))
        if not head:
            with CascadeProbe(net) as probe:
                head.append(ends_in_head([s.shape for s in probe.dry_run(one_batch(bundle.train, 2).x)]))
        chis = score(net, bundle.train, ["partial_jacobian"])["partial_jacobian"].per_stage
        return mean_log_chi(chis, head[0])

    return log_chi
