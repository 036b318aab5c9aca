"""Partial Jacobian against its exact value and mean-field criticality; mean field where it applies."""

import math
import statistics

import pytest
import torch
import torch.nn as nn

from reprobe import theory
from reprobe.models import build_model
from reprobe.predictors import score


@pytest.fixture(scope="module")
def x():
    return torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))  # MNIST-shaped


def test_partial_jacobian_of_a_linear_net_is_sigma_w2(x):
    m = build_model("mlp", (1, 28, 28), 10, depth=6, width=512, sigma_w2=1.5, sigma_b2=0.0, activation="linear", seed=0)
    r = score(m, x, "partial_jacobian")["partial_jacobian"]
    assert len(r.per_stage) == 5  # 6 stages, 5 consecutive pairs
    assert statistics.mean(r.per_stage) == pytest.approx(1.5, rel=0.05)
    # scored: the three 512 → 512 pairs (512 → 400 changes shape, 400 → 10 is the head; no transient
    # is cut from so few pairs)
    assert r.score == pytest.approx(-abs(statistics.mean(math.log(c) for c in r.per_stage[:3])))
    assert "3 of 5 stage pairs" in r.reason
    assert r.depth_scale == pytest.approx(1 / math.log(1.5), rel=0.15)


def _hidden_chi(sw, x):
    m = build_model("mlp", (1, 28, 28), 10, depth=30, width=512, sigma_w2=sw, sigma_b2=0.05, seed=0)
    r = score(m, x, "partial_jacobian")["partial_jacobian"]
    # The last pair is the class layer (no activation: χ = σ_w²); the hidden pairs carry χ₁.
    return r, statistics.mean(r.per_stage[:-1])


def test_partial_jacobian_locates_the_mean_field_critical_point(x):
    sw_c = theory.critical_sigma_w2("tanh", 0.05)
    assert sw_c == pytest.approx(1.761, abs=1e-3)
    crit, chi_c = _hidden_chi(sw_c, x)
    ordered, chi_o = _hidden_chi(1.0, x)
    chaotic, chi_ch = _hidden_chi(4.0, x)
    assert chi_c == pytest.approx(1.0, abs=0.05)
    assert chi_o < 0.85 and chi_ch > 1.2
    for sw, chi in ((1.0, chi_o), (4.0, chi_ch)):  # and it is mean field's χ₁ on both sides
        assert chi == pytest.approx(theory.chi1("tanh", sw, 0.05), rel=0.05)
    assert crit.score > ordered.score and crit.score > chaotic.score  # closer to critical ranks higher
    assert crit.depth_scale > 5 * max(ordered.depth_scale, chaotic.depth_scale)
    d = crit.to_dict()
    assert d["direction"] == "higher" and len(d["per_stage"]) == 29


def test_mean_field_on_reprobes_mlp_is_six_xi_c():
    m = build_model("mlp", (1, 28, 28), 10, depth=5, width=32, sigma_w2=1.3, sigma_b2=0.05, seed=0)
    r = score(m, None, "mean_field")["mean_field"]
    assert r.applicable and r.score == pytest.approx(theory.trainable_depth("tanh", 1.3, 0.05))
    assert r.depth_scale == pytest.approx(theory.xi_c("tanh", 1.3, 0.05))
    cnn = build_model("cnn", (1, 28, 28), 10, depth=2, sigma_w2=2.5, sigma_b2=0.05)
    assert score(cnn, None, "mean_field")["mean_field"].score == pytest.approx(theory.trainable_depth("tanh", 2.5, 0.05))


@pytest.mark.parametrize("model", [
    nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
    build_model("resnet", (1, 28, 28), 10, depth=1, channels=4),
])
def test_mean_field_is_not_applicable_elsewhere(model):
    r = score(model, None, "mean_field")["mean_field"]
    assert not r.applicable and r.score is None
    assert r.reason.startswith("not applicable: ") and type(model).__name__ in r.reason
    assert r.to_dict()["score"] is None
