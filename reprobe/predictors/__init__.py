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

Built in (one module each, imported at start): ``grad_norm``, ``jacob_cov``, ``mean_field``, ``naswot``,
``params``, ``partial_jacobian``, ``reconstruction``, ``snip``, ``synflow`` (log10, float64, no overflow).
A new predictor is one new module in this folder that decorates its function with
:func:`register_predictor`: :func:`load_predictors` imports every module here whose name does not
start with ``_`` (listings follow module names), so no other file names it. A predictor kept outside
reprobe registers itself with :func:`register_predictor` once its module is imported.
"""

import importlib
import pkgutil
from typing import List

from .registry import (
    DIRECTIONS,
    NEEDS,
    PREDICTORS,
    Batch,
    NotApplicable,
    Predictor,
    PredictorScore,
    get_predictor,
    list_predictors,
    register_predictor,
)
from .runner import BATCH_SIZE, one_batch, restored, score

#: Modules of this package that hold the machinery, not a predictor.
MACHINERY = ("registry", "runner")


def load_predictors() -> List[str]:
    """Import every predictor module of this package (each registers its predictors on import).

    Modules are found on the package's ``__path__``; names starting with ``_`` (shared helpers) and
    :data:`MACHINERY` are skipped. Importing a module a second time does nothing.

    Returns:
        the names of all registered predictors (:func:`list_predictors`).
    """
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name not in MACHINERY:
            importlib.import_module(f"{__name__}.{module.name}")
    return list_predictors()


load_predictors()

__all__ = [
    "BATCH_SIZE",
    "DIRECTIONS",
    "MACHINERY",
    "NEEDS",
    "PREDICTORS",
    "Batch",
    "NotApplicable",
    "Predictor",
    "PredictorScore",
    "get_predictor",
    "list_predictors",
    "load_predictors",
    "one_batch",
    "register_predictor",
    "restored",
    "score",
]
