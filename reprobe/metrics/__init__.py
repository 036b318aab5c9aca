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

#: The metric whose curve decides by default: the verdict's ξ̂ fit, the critical-line search and the
#: sweeps' agreement with trained nets read it (chosen by agreement with trained nets; see
#: :mod:`reprobe.analysis.prediction`).
DEFAULT_METRIC = "relative_entropy"
#: The metric results are ranked and summarised by by default (``ProbeResult.cutoff()``, compare's
#: ranking, a sweep page's cutoff plot): higher means more information kept, so it ranks as it reads.
RANK_METRIC = "differential_entropy"
#: The metrics a probe measures by default.
DEFAULT_METRICS = (DEFAULT_METRIC, RANK_METRIC, "mse")
