"""The score says what the verdict says: ≥ 1 exactly when trainable, [0.5, 1) marginal, < 0.5 untrainable;
and the gate orders verdicts trainable > marginal > untrainable."""

import math
from dataclasses import replace

import numpy as np
import pytest

from reprobe.analysis.prediction import (
    MARGINAL_SCORE, TRAINABLE_SCORE, Prediction, check_gate_level, effective_margin, fails_gate, predict,
    trainability_score,
)
from reprobe.core.errors import ReprobeError


def _decay(xi, depth, d_inf=1.0, amp=1.0):
    l = np.arange(1, depth + 1)
    return list(d_inf - amp * np.exp(-l / xi))


def _metrics(xi, depth, mse_xi=None, spread_drop=0.0):
    s = list(-3.0 - spread_drop * (1 - np.exp(-np.arange(1, depth + 1) / xi)))
    return {"relative_entropy": _decay(xi, depth), "mse": _decay(mse_xi or xi, depth, d_inf=0.07, amp=0.06),
            "differential_entropy": s}


def _band(score):
    if score is None:
        return "undecidable"
    return "trainable" if score >= TRAINABLE_SCORE else ("marginal" if score >= MARGINAL_SCORE else "untrainable")


@pytest.mark.parametrize("xi", [3.0, 6.0, 10.0])
def test_the_score_band_is_the_verdict_at_every_depth(xi):
    """Walk L past the predicted depth: every verdict, and the score falls as L grows."""
    seen, last = set(), math.inf
    for depth in range(8, 130, 4):
        p = predict(_metrics(xi, depth), depth=depth, depth_per_xi=6.0, floor_xi=None)
        s = trainability_score(p)
        assert _band(s) == p.verdict, (depth, s, str(p))
        seen.add(p.verdict)
        if p.xi and abs(p.xi - xi) < 0.1 * xi:  # same ξ̂: L alone moves the score
            assert s < last + 1e-9
            last = s
    assert {"trainable", "untrainable"} <= seen, seen


def test_the_margin_is_what_the_verdict_used():
    p = predict(_metrics(6.0, 40), depth=40, depth_per_xi=3.0, floor_xi=None, margin=0.4)
    assert p.margin == 0.4 and effective_margin(p) >= 0.4
    assert _band(trainability_score(p)) == p.verdict
    # L at 0.7 of the predicted depth: trainable within a 25 % band, marginal within a 40 % one
    assert trainability_score(_pred("trainable", 100.0, 70, margin=0.25)) >= 1
    assert 0.5 <= trainability_score(_pred("marginal", 100.0, 70, margin=0.4)) < 1


def _pred(verdict, max_depth, depth, margin=0.25, xi=10.0, xi_err=None, bound=False):
    return Prediction("relative_entropy", xi, xi_err, bound, xi, max_depth, bound, depth, verdict, "r", margin=margin)


@pytest.mark.parametrize("verdict,max_depth,depth,band", [
    ("trainable", 100.0, 50, "trainable"),          # d = 0.5
    ("trainable", 30.0, 30, "trainable"),           # an "at least L" bound: r = 1, still ≥ 1
    ("marginal", 100.0, 100, "marginal"),           # d = 1
    ("untrainable", 100.0, 200, "untrainable"),     # d = 2
    ("marginal", 243.0, 100, "marginal"),           # a cross-check made r = 2.43 marginal: not ≥ 1
    ("marginal", 40.0, 100, "marginal"),            # the metrics disagree on an untrainable net
])
def test_every_verdict_lands_in_its_band(verdict, max_depth, depth, band):
    p = _pred(verdict, max_depth, depth, bound=(max_depth == depth))
    assert _band(trainability_score(p)) == band


def test_the_pieces_meet_and_a_cross_check_keeps_the_order():
    m = 0.25
    at_trainable_edge = trainability_score(_pred("trainable", 100.0, 75))   # d = 1 − m
    assert at_trainable_edge == pytest.approx(1.0)
    assert trainability_score(_pred("marginal", 100.0, 76)) == pytest.approx(1.0, abs=0.03)
    assert trainability_score(_pred("marginal", 100.0, 125)) == pytest.approx(0.5)   # d = 1 + m
    assert trainability_score(_pred("untrainable", 100.0, 126)) == pytest.approx(0.5, abs=0.01)
    downgraded = [trainability_score(_pred("marginal", md, 100)) for md in (150.0, 300.0, 1000.0)]
    assert downgraded == sorted(downgraded) and all(0.75 <= s < 1 for s in downgraded)
    from_untrainable = [trainability_score(_pred("marginal", md, 100)) for md in (10.0, 40.0, 70.0)]
    assert from_untrainable == sorted(from_untrainable) and all(0.5 < s < 0.75 for s in from_untrainable)
    assert m == effective_margin(_pred("marginal", 100.0, 100))


def test_a_large_error_widens_the_band_like_the_verdict():
    wide = _pred("marginal", 100.0, 30, xi_err=9.0)  # ξ̂ ± 90 %: L at 0.3 of the depth is only marginal
    assert effective_margin(wide) == pytest.approx(0.9)
    assert 0.5 <= trainability_score(wide) < 1
    assert trainability_score(_pred("trainable", 100.0, 30)) >= 1  # the same L with a sharp ξ̂


def test_undecidable_has_no_score():
    p = predict({"relative_entropy": [0.3, 0.5]})
    assert p.verdict == "undecidable" and trainability_score(p) is None


@pytest.mark.parametrize("verdict,level,fails", [
    ("trainable", "untrainable", False), ("marginal", "untrainable", False), ("untrainable", "untrainable", True),
    ("trainable", "marginal", False), ("marginal", "marginal", True), ("untrainable", "marginal", True),
    ("untrainable", "none", False), ("undecidable", "marginal", False),
])
def test_the_gate_fails_at_or_below_its_level(verdict, level, fails):
    assert fails_gate(verdict, level) is fails


def test_a_bad_level_names_the_parameter():
    with pytest.raises(ReprobeError, match="abort_on must be one of none, marginal, untrainable"):
        check_gate_level("bad", "abort_on")
    with pytest.raises(ReprobeError, match="unknown verdict"):
        fails_gate("great", "marginal")
