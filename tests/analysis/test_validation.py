"""Scoring trainability rules against trained cells: agreement, AUROC, Spearman, calibration."""

import numpy as np
import pytest

from reprobe.analysis.validation import (
    auroc, calibrate, cross_validate, deepest_points, score_rule, spearman, validate,
)


def _point(sw, xi, depth=60):
    l = np.arange(1, depth + 1)
    rel = list(1.0 - np.exp(-l / xi)) + [5.0]  # + the classifier head, which jumps
    return {"sigma_w2": sw, "sigma_b2": 0.05, "width": 64, "depth": depth, "stages": depth + 1,
            "stage_shapes": [[64]] * depth + [[10]], "metrics": {"relative_entropy": rel},
            "cutoffs": {"relative_entropy": min(depth, int(5 * xi))}}


XI = {1.0: 3.0, 1.5: 8.0, 2.0: 15.0, 3.0: 6.0}
DEPTHS = (10, 20, 30, 46, 60)  # none on a boundary c·ξ


def _trained(c=3.0):
    """Ground truth made by the rule depth ≤ c·ξ (accuracy 0.9 if so, 0.1 if not)."""
    return [{"sigma_w2": sw, "sigma_b2": 0.05, "width": 64, "depth": d, "accuracy": 0.9 if d <= c * xi else 0.1}
            for sw, xi in XI.items() for d in DEPTHS]


def test_auroc_and_spearman_by_hand():
    assert auroc([3, 2, 1, 0], [True, True, False, False]) == 1.0
    assert auroc([0, 1], [True, False]) == 0.0
    assert auroc([1, 1], [True, False]) == 0.5
    assert auroc([1, 2], [True, True]) is None
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_score_rule_counts_agreeing_cells():
    trained = _trained()
    perfect = {(sw, 0.05, 64): 3.0 * xi for sw, xi in XI.items()}
    s = score_rule("truth", perfect, trained, 0.5)
    assert (s.cells, s.agree, s.agreement, s.auroc) == (20, 20, 1.0, 1.0)
    assert s.spearman == pytest.approx(1.0)
    never = score_rule("never", {k: 0.0 for k in perfect}, trained, 0.5)
    assert never.agree == sum(t["accuracy"] < 0.5 for t in trained)


def test_calibration_recovers_the_factor_that_made_the_truth():
    lines = deepest_points(_point(sw, xi) for sw, xi in XI.items())
    c, floor, s = calibrate(lines, _trained(3.0), 0.5, metric="relative_entropy", floors=(None,))
    assert s.agreement == 1.0 and 2.0 <= c <= 4.0 and floor is None
    cv = cross_validate(lines, _trained(3.0), 0.5, metric="relative_entropy", floors=(None,))
    assert cv.cells == 20 and cv.agreement >= 0.9


def test_validate_puts_every_rule_side_by_side():
    lines = [_point(sw, xi) for sw, xi in XI.items()] + [_point(1.0, 3.0, depth=20)]  # a shallower probe is ignored
    rows = validate(lines, _trained(3.0), 0.5, lambda sw, sb: 6.0 * XI[sw], metric="relative_entropy",
                    depth_per_xi=3.0, floor_xi=None)
    names = [r.rule for r in rows]
    assert names == ["prediction:relative_entropy", "l_star:relative_entropy", "mean_field:6xi_c"]
    pred, lstar, mf = rows
    assert pred.agreement == 1.0 and mf.agreement < 1.0  # 6ξ is twice the true depth here
    assert all(r.cells == 20 for r in rows)
