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
