"""The stage-1 gate: a probe that cannot reconstruct its first stage gives no verdict."""

import math

from reprobe.analysis.first_stage import FIRST_STAGE_MIN_R2, first_stage_r2
from reprobe.analysis.prediction import predict


def _curves(first_r2, depth=12, xi=3.0, level=1.0):
    """MSE (and relative entropy) decaying from stage 1's error towards the mean image's level."""
    mse = [level * (1 - first_r2 * math.exp(-(l - 1) / xi)) for l in range(1, depth + 1)]
    return {"mse": mse, "relative_entropy": [0.1 * v for v in mse]}, {"mse": level, "relative_entropy": 0.1 * level}


def test_r2_is_measured_against_the_mean_image():
    metrics, saturation = _curves(0.8)
    assert abs(first_stage_r2(metrics, saturation) - 0.8) < 1e-12
    assert first_stage_r2({"relative_entropy": [0.1]}, saturation) is None


def test_an_unreadable_first_stage_is_undecidable_and_named():
    metrics, saturation = _curves(FIRST_STAGE_MIN_R2 - 0.2)
    pred = predict(metrics, [(96, 16, 16)] * 12, saturation=saturation, stage_names=["layers.0.blocks.0"])
    assert pred.verdict == "undecidable" and pred.xi is None
    assert "stage 1 (layers.0.blocks.0)" in pred.reason and "R² 0.30" in pred.reason and "laid out" in pred.reason


def test_a_readable_first_stage_gets_its_verdict():
    metrics, saturation = _curves(0.95)
    pred = predict(metrics, [(96, 16, 16)] * 12, saturation=saturation)
    assert pred.verdict != "undecidable" and pred.xi is not None


def test_a_bottleneck_first_stage_keeps_its_verdict():
    metrics, saturation = _curves(0.3)
    narrow = predict(metrics, [(8,)] * 12, saturation=saturation, input_shape=(64,))
    wide = predict(metrics, [(96,)] * 12, saturation=saturation, input_shape=(64,))
    assert narrow.verdict != "undecidable" and wide.verdict == "undecidable"
