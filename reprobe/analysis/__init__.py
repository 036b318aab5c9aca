"""Pure functions over probe results and records (no probing, no files, no plots).

* :mod:`reprobe.analysis.records` — typed records: a sweep point (``SweepPoint``) and a compared model
  (``CompareEntry``), read from and written back to the JSON the files hold;
* :mod:`reprobe.analysis.correlation` — the correlation length ξ̂ of a metric curve;
* :mod:`reprobe.analysis.prediction` — the trainability prediction from ξ̂;
* :mod:`reprobe.analysis.verdict` — the one consistency rule a verdict is held to (a list of checks);
* :mod:`reprobe.analysis.validation` — the prediction checked against ground-truth grids;
* :mod:`reprobe.analysis.ranking` — ranking compared models (entries of ``summary.json``);
* :mod:`reprobe.analysis.critical` — the golden-section search for the critical σ_w².
* :mod:`reprobe.analysis.critical_lines` — each predictor's critical σ_w² on a sweep's records.
* :mod:`reprobe.analysis.chi` — the partial Jacobian's mean ``ln χ`` (which stage pairs count) and its
  depth scale, shared by the predictor, the χ = 1 search and a sweep's χ = 1 line;
* :mod:`reprobe.analysis.chi_crossing` — the bisection for χ = 1.

Layer: above :mod:`reprobe.probe` and the foundations, below :mod:`reprobe.experiments`.
"""

from .correlation import (  # noqa: F401
    SaturationFit, correlation_lengths, describe, ends_in_head, fit_saturation, fitted_curve,
)
from .prediction import (  # noqa: F401
    GATE_LEVELS, VERDICT_ORDER, VERDICTS, Prediction, describe_prediction, fails_gate, predict, predict_trainability,
    recheck_prediction, trainability_score,
)
