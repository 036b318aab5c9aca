"""Pure functions over probe results: correlation length ξ̂ and the trainability prediction."""

from .correlation import (  # noqa: F401
    SaturationFit, correlation_lengths, describe, ends_in_head, fit_saturation, fitted_curve,
)
from .prediction import (  # noqa: F401
    VERDICTS, Prediction, describe_prediction, predict, predict_trainability,
)
