"""Metric and cutoff-detector registries: ``register_metric``, ``get_metric``, ``list_metrics`` and
``register_cutoff``, ``get_cutoff``, ``list_cutoffs``.

Built-in metrics: ``relative_entropy``, ``differential_entropy``, ``mse``.
Built-in cutoff detectors: ``threshold`` (the paper's rule), ``plateau`` (noise-aware).
"""

from .registry import (  # noqa: F401
    CUTOFFS,
    METRICS,
    MetricSpec,
    available,
    compute_cutoff,
    get,
    get_cutoff,
    get_metric,
    list_cutoffs,
    list_metrics,
    register_cutoff,
    register_metric,
    saturation_levels,
)
from . import entropy, cutoffs  # noqa: F401  (registers the built-ins)
from .entropy import differential_entropy, mse, relative_entropy, to_probability  # noqa: F401
from .cutoffs import plateau_cutoff, threshold_cutoff  # noqa: F401

DEFAULT_METRICS = ("relative_entropy", "differential_entropy", "mse")
