"""From curves to verdicts: depth from ξ̂, the floor correction, margins, cross-checks, bad curves."""

import json
import math

import numpy as np
import pytest

from reprobe.analysis.prediction import (
    COLLAPSE_SPREAD, DEFAULT_METRIC, VERDICTS, describe_prediction, net_xi, predict, spread_ratio,
)


def _decay(xi, depth, d_inf=1.0, amp=1.0, noise=0.0, seed=0):
    l = np.arange(1, depth + 1)
    return list(d_inf - amp * np.exp(-l / xi) + noise * np.random.default_rng(seed).standard_normal(depth))


def _metrics(xi, depth, mse_xi=None, spread_drop=0.0):
    """Relative entropy and mse decaying with the given lengths; S falling by ``spread_drop`` nats."""
    s = list(-3.0 - spread_drop * (1 - np.exp(-np.arange(1, depth + 1) / xi)))
    return {"relative_entropy": _decay(xi, depth), "mse": _decay(mse_xi or xi, depth, d_inf=0.07, amp=0.06),
            "differential_entropy": s}


@pytest.mark.parametrize("xi,depth,verdict", [(4.0, 60, "untrainable"), (10.0, 30, "trainable"), (6.0, 36, "marginal")])
def test_verdict_follows_depth_against_c_xi(xi, depth, verdict):
    p = predict(_metrics(xi, depth), depth=depth, depth_per_xi=6.0, floor_xi=None)
    assert p.verdict == verdict, describe_prediction(p)
    assert abs(p.max_trainable_depth - 6.0 * xi) < 0.1 * 6.0 * xi
    assert abs(p.xi - xi) < 0.1 * xi and not p.depth_is_bound


def test_evidence_says_how_fast_information_falls_and_how_deep_nets_train():
    p = predict(_metrics(16.0, 100), depth=100, depth_per_xi=6.0, floor_xi=None)
    assert "falls to 1/e every 16" in p.reason and "nets up to ≈ 96 stages" in p.reason
    assert p.verdict == "marginal"  # 100 is within 25 % of 96


def test_floor_is_taken_out_of_the_rate():
    assert net_xi(10.0, None) == 10.0
    assert net_xi(10.0, 20.0) == pytest.approx(20.0)  # 1/10 − 1/20 = 1/20
    assert math.isinf(net_xi(25.0, 20.0))
    # A net decaying at the floor's own rate: no loss the probe can resolve, "at least" L.
    p = predict(_metrics(20.0, 80), depth=80, depth_per_xi=3.0, floor_xi=19.0)
    assert p.depth_is_bound and p.verdict == "trainable" and p.max_trainable_depth >= 80
    assert "floor" in p.reason
    assert p.to_dict()["xi_net"] is None  # JSON-safe: no infinity
    json.dumps(p.to_dict(), allow_nan=False)


def test_no_saturation_within_the_net_is_a_lower_bound():
    p = predict(_metrics(400.0, 30), depth=30, depth_per_xi=3.0, floor_xi=None)
    assert p.xi_is_bound and p.depth_is_bound and p.verdict == "trainable"
    assert p.max_trainable_depth >= 30 and "has not saturated" in p.reason


def test_metrics_that_disagree_make_the_verdict_marginal():
    p = predict(_metrics(20.0, 60, mse_xi=3.0), depth=60, depth_per_xi=6.0, floor_xi=None)
    assert p.metric == "relative_entropy"  # the default curve, chosen on trained nets
    assert p.verdict == "marginal" and "metrics disagree" in p.reason and "mse says untrainable" in p.reason


def test_all_reconstructions_alike_is_never_trainable():
    alike = predict(_metrics(20.0, 40, spread_drop=5.0), depth=40, depth_per_xi=6.0, floor_xi=None)
    assert alike.verdict == "marginal" and "nearly the same image" in alike.reason
    distinct = predict(_metrics(20.0, 40, spread_drop=0.5), depth=40, depth_per_xi=6.0, floor_xi=None)
    assert distinct.verdict == "trainable"


def test_spread_ratio_reads_the_differential_entropy():
    assert spread_ratio([-3.0, -4.0, -5.0], head=False) == pytest.approx(math.exp(-4.0))
    assert spread_ratio([-3.0, -4.0, 9.0], head=True) == pytest.approx(math.exp(-2.0))  # the head is left out
    assert spread_ratio([-3.0, None], head=False) is None
    assert math.exp(-2.0 * 2.31) < COLLAPSE_SPREAD < math.exp(-2.0 * 2.29)  # about 2.3 nats of S


def test_classifier_head_does_not_decide():
    m = _metrics(5.0, 30)
    for v in m.values():
        v.append(50.0)  # the 10-class output jumps
    shapes = [(256,)] * 30 + [(10,)]
    p = predict(m, shapes, depth=31, depth_per_xi=6.0, floor_xi=None)
    assert abs(p.xi - 5.0) < 0.5


@pytest.mark.parametrize("values,words", [
    ([0.3, 0.5], "at least 4"),  # a 2-stage net
    ([0.7] * 12, "flat"),  # a constant curve
    ([None, float("nan")] * 4, "finite"),  # NaN stages only
])
def test_curves_it_cannot_read_are_undecidable_with_the_reason(values, words):
    p = predict({DEFAULT_METRIC: values})
    assert p.verdict == "undecidable" and words in p.reason
    assert p.max_trainable_depth is None and p.depth == len(values)
    json.dumps(p.to_dict(), allow_nan=False)


def test_missing_metric_is_undecidable_naming_what_was_measured():
    p = predict({"differential_entropy": _decay(5.0, 20)})
    assert p.verdict == "undecidable" and "relative_entropy was not measured" in p.reason
    assert "differential_entropy" in p.reason


def test_every_verdict_is_a_known_word():
    for xi, depth in [(3.0, 50), (10.0, 20), (8.0, 48)]:
        assert predict(_metrics(xi, depth)).verdict in VERDICTS


def test_a_fit_over_few_e_folds_says_it_is_rough():
    short = predict(_metrics(8.0, 20), depth=20, depth_per_xi=3.0, floor_xi=None)
    assert "rough: the curve spans only 2.5 e-folds" in short.reason
    long = predict(_metrics(8.0, 60), depth=60, depth_per_xi=3.0, floor_xi=None)
    assert "rough" not in long.reason


def test_a_curve_that_stops_being_finite_is_undecidable():
    """An exploding net: metrics null from stage 5 (overflow) must not read as "information reaches L"."""
    m = _metrics(400.0, 12)
    for name in m:
        m[name][4:] = [None] * 8
    p = predict(m, depth=12, depth_per_xi=3.0, floor_xi=None)
    assert p.verdict == "undecidable" and "not finite from stage 5" in p.reason
    assert p.xi is None and p.max_trainable_depth is None
    json.dumps(p.to_dict(), allow_nan=False)
    # only the classifier head null: the body curve decides as before
    m = _metrics(400.0, 12)
    shapes = [[64]] * 11 + [[10]]
    m["relative_entropy"][-1] = None
    assert predict(m, shapes, depth=12, depth_per_xi=3.0, floor_xi=None).verdict == "trainable"
