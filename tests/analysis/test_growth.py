"""A signal that only grows: its rate against mean-field theory, and how it caps the prediction."""

import math

import numpy as np
import pytest

from reprobe.analysis.growth import GROWTH_BUDGET, growth_depth, growth_rate
from reprobe.analysis.prediction import (
    CALIBRATION, RELU_MLP_CALIBRATION, calibration_for, predict, predict_trainability,
)


def test_growth_rate_reads_the_slope_of_ln_mean_square():
    scale = [2.0 * 1.5 ** l for l in range(20)]
    assert growth_rate(scale) == pytest.approx(math.log(1.5))
    assert growth_rate(scale + [1e-9], head=True) == pytest.approx(math.log(1.5))  # the head is left out
    assert growth_rate(scale + [1e-9]) < math.log(1.5)
    assert growth_rate([0.3 + 0.2 * (1 - math.exp(-l / 2)) for l in range(40)]) == pytest.approx(0.0, abs=1e-3)  # a transient is not growth
    assert growth_rate([1.0, None, 4.0]) is None  # too few usable stages
    assert growth_depth(math.log(1.5)) == pytest.approx(GROWTH_BUDGET / math.log(1.5))
    assert growth_depth(-0.1) is None and growth_depth(None) is None and growth_depth(0.005) is None


def _relu_mlp(sigma_w2, depth=30, width=256):
    from reprobe.models.mlp import mlp

    return mlp(depth, width, sigma_w2, 0.0, "relu", in_features=64)


@pytest.mark.parametrize("sigma_w2", [3.0, 4.0])
def test_probed_growth_of_a_relu_mlp_matches_mean_field(sigma_w2, digits):
    """Mean field: a ReLU layer multiplies the mean square by σ_w²/2 (σ_b² = 0); at width 256 each
    layer's gain scatters by ≈ 0.1 in ln, so 15 layers' slope is good to ≈ 0.03."""
    from reprobe import CascadeProbe

    _, x, _ = digits
    with CascadeProbe(_relu_mlp(sigma_w2), samples=64, progress=False) as probe:
        result = probe.fit(x[:256]).evaluate(x[256:320])
    assert result.model["activations"] == ["relu"]
    rate = growth_rate(result.stage_scale, head=True)
    assert rate == pytest.approx(math.log(sigma_w2 / 2), abs=0.08)
    pred = predict_trainability(result)
    assert pred.growth_rate == pytest.approx(rate)
    assert pred.growth_depth == pytest.approx(GROWTH_BUDGET / rate)


def test_a_tanh_mlp_does_not_grow(digits):
    from reprobe import CascadeProbe
    from reprobe.models.mlp import mlp

    _, x, _ = digits
    net = mlp(16, 64, 4.0, 0.05, "tanh", in_features=64)
    with CascadeProbe(net, samples=64, progress=False) as probe:
        result = probe.fit(x[:256]).evaluate(x[256:320])
    assert growth_depth(growth_rate(result.stage_scale, head=True)) is None
    assert predict_trainability(result).growth_depth is None


def _flat(depth):
    return {"relative_entropy": list(0.5 - 0.4 * np.exp(-np.arange(1, depth + 1) / 3.0))}


def test_growth_caps_the_depth_and_never_improves_the_verdict():
    depth, rate = 60, 0.5  # B / g = 26 stages
    scale = [math.exp(rate * l) for l in range(depth)]
    free = predict(_flat(depth), depth=depth, depth_per_xi=100.0, floor_xi=None)
    capped = predict(_flat(depth), depth=depth, depth_per_xi=100.0, floor_xi=None, stage_scale=scale)
    assert free.verdict == "trainable" and capped.verdict == "untrainable"
    assert capped.max_trainable_depth == pytest.approx(GROWTH_BUDGET / rate)
    assert capped.reason.startswith("the activations' mean square grows")
    shallow = predict(_flat(depth), depth=depth, depth_per_xi=0.5, floor_xi=None, stage_scale=scale)
    assert shallow.max_trainable_depth == pytest.approx(1.5, rel=0.2)  # reconstruction's limit is lower: kept
    assert shallow.verdict == "untrainable" and shallow.growth_depth == pytest.approx(26, rel=0.01)


def test_relu_mlps_get_their_own_map():
    assert calibration_for(["relu"], 128) is RELU_MLP_CALIBRATION
    assert calibration_for(["relu"], None) is CALIBRATION  # a conv net: no family map
    assert calibration_for(["relu", "tanh"], 128) is CALIBRATION
    assert calibration_for([], 128) is CALIBRATION
    shapes = [[128]] * 30 + [[10]]
    relu = predict(_flat(31), shapes, 30, activations=["relu"])
    tanh = predict(_flat(31), shapes, 30, activations=["tanh"])
    assert relu.calibration == RELU_MLP_CALIBRATION.source and tanh.calibration == CALIBRATION.source
    assert relu.floor_xi == RELU_MLP_CALIBRATION.floor_xi
