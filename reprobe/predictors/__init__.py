"""Trainability predictors side by side: reprobe's own, mean field, partial Jacobian, zero-cost proxies.

Every predictor takes a model and data and returns a :class:`PredictorScore` with a documented
direction (``higher`` = more trainable for all built-ins), per-stage values and a depth scale where
meaningful, and a reason whenever a number is missing or means something particular::

    from reprobe.predictors import score
    scores = score(model, (x, y), ["params", "synflow", "partial_jacobian", "mean_field"])
    print(scores["partial_jacobian"].per_stage, scores["mean_field"].to_dict())

The runner (:func:`score`) uses one batch of the data (a DataLoader's first batch, or the first
:data:`BATCH_SIZE` = 64 rows) and gives the model back as it was: train/eval mode, ``requires_grad``,
``.grad``, hooks and weight values, also when a predictor raises.

Built in (one module each): ``reconstruction``, ``mean_field``, ``partial_jacobian``, ``grad_norm``,
``snip``, ``synflow`` (log10, float64, no overflow), ``naswot``, ``jacob_cov``, ``params``.
Add your own with :func:`register_predictor`.
"""

from .registry import (
    DIRECTIONS,
    NEEDS,
    PREDICTORS,
    Batch,
    NotApplicable,
    Predictor,
    PredictorScore,
    get_predictor,
    predictor_names,
    register_predictor,
)
from .runner import BATCH_SIZE, one_batch, restored, score

# Built-ins, in the order listings show them.
from . import reconstruction as _reconstruction  # noqa: F401,E402
from . import mean_field as _mean_field  # noqa: F401,E402
from . import partial_jacobian as _partial_jacobian  # noqa: F401,E402
from . import grad_norm as _grad_norm  # noqa: F401,E402
from . import snip as _snip  # noqa: F401,E402
from . import synflow as _synflow  # noqa: F401,E402
from . import naswot as _naswot  # noqa: F401,E402
from . import jacob_cov as _jacob_cov  # noqa: F401,E402
from . import params as _params  # noqa: F401,E402

__all__ = [
    "BATCH_SIZE",
    "DIRECTIONS",
    "NEEDS",
    "PREDICTORS",
    "Batch",
    "NotApplicable",
    "Predictor",
    "PredictorScore",
    "get_predictor",
    "one_batch",
    "predictor_names",
    "register_predictor",
    "restored",
    "score",
]
