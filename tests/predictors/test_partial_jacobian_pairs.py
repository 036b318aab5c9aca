"""The partial-Jacobian score reads the hidden stage pairs of equal shape after the transient, as the χ = 1 search does.

Before (every stage pair averaged): a critical tanh MLP (width 300, depth 30, σ_w² = 1.76) read a depth
scale of 47 (its class layer, χ = σ_w², and its transient pulled the mean), and the plain ``cnn`` ranked
σ_w² = 3.0 above 1.76 (``ln χ`` ≈ −6 through its global average pool decided the mean).
"""

import math

import pytest
import torch

from reprobe import theory
from reprobe.analysis.chi import mean_log_chi
from reprobe.analysis.critical_lines import critical_lines, line_key
from reprobe.models import build_model
from reprobe.models.mlp import mlp
from reprobe.predictors import score
from reprobe.predictors.runner import one_batch

SIGMA_W2 = (1.0, 1.76, 3.0)


@pytest.fixture(scope="module")
def x(mnist):
    return one_batch(mnist.train).x  # 64 MNIST images (``mnist_5k``), the predictors' batch


@pytest.fixture(scope="module")
def mlp_scores(x):
    return {sw: score(mlp(depth=30, width=300, sigma_w2=sw, sigma_b2=0.05, seed=0), x, "partial_jacobian")["partial_jacobian"]
            for sw in SIGMA_W2}


def test_mlp_depth_scale_is_long_at_the_edge_of_chaos_and_short_off_it(mlp_scores):
    # measured: 3.6 (σ_w² 1.0), 105 (1.76), 5.5 (3.0); before: 3.8, 47, 4.4
    assert mlp_scores[1.76].depth_scale > 50
    assert mlp_scores[1.0].depth_scale < 6
    assert mlp_scores[1.0].depth_scale == pytest.approx(theory.xi_c("tanh", 1.0, 0.05), rel=0.1)


def test_mlp_order_over_sigma_w2_is_mean_fields(mlp_scores):
    mf = {sw: abs(math.log(theory.chi1("tanh", sw, 0.05))) for sw in SIGMA_W2}
    assert min(mf, key=mf.get) == 1.76
    by_mean_field = sorted(SIGMA_W2, key=lambda sw: mf[sw])
    by_score = sorted(SIGMA_W2, key=lambda sw: -mlp_scores[sw].score)  # higher score = closer to critical
    assert by_score == by_mean_field == [1.76, 3.0, 1.0]
    for sw in SIGMA_W2:  # and each value is mean field's |ln χ₁| (finite width, 23 pairs)
        assert abs(mlp_scores[sw].score + mf[sw]) < 0.015


def test_mlp_score_leaves_out_the_transient_the_width_change_and_the_head(mlp_scores):
    r = mlp_scores[1.76]
    assert len(r.per_stage) == 29  # every pair is still recorded
    assert r.per_stage[-1] == pytest.approx(1.76, rel=0.1)  # the class layer: χ = σ_w², not χ₁
    kept = [math.log(c) for c in r.per_stage[4:27]]  # pairs 0–3: transient; 27: 300 → 400; 28: head
    assert r.score == pytest.approx(-abs(sum(kept) / len(kept)), rel=1e-12)
    assert "23 of 29 stage pairs" in r.reason and "4 transient" in r.reason and "1 into the head" in r.reason


def test_cnn_no_longer_ranks_a_chaotic_net_above_the_critical_one(x):
    rs = {sw: score(build_model("cnn", (1, 28, 28), 10, sigma_w2=sw, sigma_b2=0.05, seed=0), x[:16],
                    "partial_jacobian")["partial_jacobian"] for sw in SIGMA_W2}
    # measured: -0.283, -0.034, -0.223; before: -0.93, -0.56, -0.31 (3.0 above 1.76)
    assert rs[1.76].score > rs[3.0].score and rs[1.76].score > rs[1.0].score
    for sw, r in rs.items():  # the pair through the global average pool, χ ≈ σ_w²/HW, is recorded, not scored
        assert r.per_stage[-1] == pytest.approx(sw / 28 ** 2, rel=0.5)
        assert abs(r.score) < 0.5


def test_score_search_and_sweep_line_read_the_same_mean_log_chi(x):
    """The predictor, the χ = 1 search's evaluator and a sweep's χ = 1 line, on the same nets."""
    from reprobe.experiments.critical import chi_evaluator
    from reprobe.probe import CascadeProbe

    search = chi_evaluator("mlp", "mnist-5k", depth=30, width=300, sigma_b2=0.05)
    records = []
    for sw in (1.0, 1.76):
        net = mlp(depth=30, width=300, sigma_w2=sw, sigma_b2=0.05, seed=0)
        r = score(net, x, "partial_jacobian")["partial_jacobian"]
        mean = search(sw)
        assert r.score == pytest.approx(-abs(mean), rel=1e-12, abs=1e-15)
        assert r.depth_scale == pytest.approx(1 / abs(mean), rel=1e-12)
        with CascadeProbe(net) as probe:
            shapes = [list(s.shape) for s in probe.dry_run(x[:2])]
        assert mean_log_chi(r.per_stage, shapes) == pytest.approx(mean, rel=1e-12)
        records.append({"sigma_w2": sw, "sigma_b2": 0.05, "depth": 30, "width": 300, "seed": 0,
                        "stage_shapes": shapes, "prediction": {"xi": 10.0},
                        "predictors": {"partial_jacobian": r.to_dict()}})
    chi = critical_lines(records)[line_key(0.05, 30, 300)]["grid"]["chi"]
    assert [math.log(c) for c in chi] == pytest.approx([search(1.0), search(1.76)], rel=1e-12)


def test_a_net_without_two_equal_stages_gets_no_score_and_says_why():
    net = mlp(depth=4, width=32, sigma_w2=1.5, sigma_b2=0.05, shape="shrinking", seed=0)  # every width differs
    r = score(net, torch.rand(8, 1, 28, 28), "partial_jacobian")["partial_jacobian"]
    assert r.score is None and r.depth_scale is None and len(r.per_stage) == 3
    assert "no stage pair" in r.reason and "changing shape" in r.reason
