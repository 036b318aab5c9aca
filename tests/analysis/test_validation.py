"""Scoring trainability rules against trained cells: agreement, AUROC, Spearman, calibration."""

import numpy as np
import pytest

from reprobe.analysis.validation import (
    auroc, calibrate, cross_validate, deepest_points, score_rule, spearman, validate,
)


W = 300  # REFERENCE_WIDTH: c is not rescaled there


def _point(sw, xi, depth=60, width=W):
    l = np.arange(1, depth + 1)
    rel = list(1.0 - np.exp(-l / xi)) + [5.0]  # + the classifier head, which jumps
    return {"sigma_w2": sw, "sigma_b2": 0.05, "width": width, "depth": depth, "stages": depth + 1,
            "stage_shapes": [[width]] * depth + [[10]], "metrics": {"relative_entropy": rel},
            "cutoffs": {"relative_entropy": min(depth, int(5 * xi))}}


XI = {1.0: 3.0, 1.5: 8.0, 2.0: 15.0, 3.0: 6.0}
DEPTHS = (10, 20, 30, 46, 60)  # none on a boundary c·ξ


def _trained(c=3.0, width=W):
    """Ground truth made by the rule depth ≤ c·ξ (accuracy 0.9 if so, 0.1 if not)."""
    return [{"sigma_w2": sw, "sigma_b2": 0.05, "width": width, "depth": d, "accuracy": 0.9 if d <= c * xi else 0.1}
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
    perfect = {(sw, 0.05, W): 3.0 * xi for sw, xi in XI.items()}
    s = score_rule("truth", perfect, trained, 0.5)
    assert (s.cells, s.agree, s.agreement, s.auroc) == (20, 20, 1.0, 1.0)
    assert s.spearman == pytest.approx(1.0)
    never = score_rule("never", {k: 0.0 for k in perfect}, trained, 0.5)
    assert never.agree == sum(t["accuracy"] < 0.5 for t in trained)


def test_calibration_recovers_the_factor_that_made_the_truth():
    lines = deepest_points(_point(sw, xi) for sw, xi in XI.items())
    cal, s = calibrate(lines, _trained(3.0), 0.5, metric="relative_entropy")
    assert s.agreement == 1.0 and 2.0 <= cal.depth_per_xi <= 4.0 and cal.floor_xi is None
    cv = cross_validate(lines, _trained(3.0), 0.5, metric="relative_entropy")
    assert cv.cells == 20 and cv.agreement >= 0.9
    wrong = cross_validate(lines, _trained(3.0), 0.5, metric="relative_entropy", form="floor")
    assert wrong.cells == 20  # the floor form is scored on the same held-out cells


def test_calibration_recovers_a_floor_that_made_the_truth():
    """Truth made by depth ≤ 2·ξ_net with ξ_net = 1/(1/ξ − 1/20): the floor form finds a floor, the
    linear form cannot fit the line whose ξ lies near the floor."""
    xi = {1.0: 3.0, 1.5: 8.0, 2.0: 15.0, 3.0: 6.0}
    net = {sw: 1.0 / (1.0 / x - 1.0 / 20.0) for sw, x in xi.items()}  # 3.5, 13.3, 60, 8.6
    depths = (5, 10, 20, 40, 80, 100)
    truth = [{"sigma_w2": sw, "sigma_b2": 0.05, "width": W, "depth": d, "accuracy": 0.9 if d <= 2.0 * net[sw] else 0.1}
             for sw in xi for d in depths]
    lines = deepest_points(_point(sw, x) for sw, x in xi.items())
    floor, s = calibrate(lines, truth, 0.5, metric="relative_entropy", form="floor")
    _, linear = calibrate(lines, truth, 0.5, metric="relative_entropy")
    assert s.agreement == 1.0 and linear.agreement < 1.0
    assert floor.floor_xi is not None and 15.0 < floor.floor_xi < 40.0


def test_validate_puts_every_rule_side_by_side():
    lines = [_point(sw, xi) for sw, xi in XI.items()] + [_point(1.0, 3.0, depth=20)]  # a shallower probe is ignored
    rows = validate(lines, _trained(3.0), 0.5, lambda sw, sb: 6.0 * XI[sw], metric="relative_entropy",
                    depth_per_xi=3.0, floor_xi=None)
    names = [r.rule for r in rows]
    assert names == ["prediction:relative_entropy", "l_star:relative_entropy", "mean_field:6xi_c"]
    pred, lstar, mf = rows
    assert pred.agreement == 1.0 and mf.agreement < 1.0  # 6ξ is twice the true depth here
    assert all(r.cells == 20 for r in rows)


def _cells(truth):
    """{σ_w²: {depth: trains}} → trained records (σ_b² 0.05, width 8)."""
    return [{"sigma_w2": sw, "sigma_b2": 0.05, "width": 8, "depth": d, "accuracy": 0.9 if y else 0.1}
            for sw, cells in truth.items() for d, y in cells.items()]


def test_monotone_ceiling_by_hand():
    from reprobe.analysis.validation import monotone_ceiling

    truth = {1.0: {10: True, 20: False}, 2.0: {10: True, 20: True}, 3.0: {10: True, 20: False}}
    key = lambda sw: (sw, 0.05, 8)  # noqa: E731
    # line 3.0 trains less deep than 2.0 but scores higher: one of the six cells must be wrong
    assert monotone_ceiling({key(1.0): 1, key(2.0): 2, key(3.0): 3}, _cells(truth), 0.5) == pytest.approx(5 / 6)
    # scored in the order of what trains, every cell can agree
    assert monotone_ceiling({key(1.0): 1, key(2.0): 3, key(3.0): 2}, _cells(truth), 0.5) == 1.0
    # equal scores must share a depth: 1.0 and 2.0 tied, one of their 20s is wrong
    assert monotone_ceiling({key(1.0): 1, key(2.0): 1, key(3.0): 0}, _cells(truth), 0.5) == pytest.approx(5 / 6)
    assert monotone_ceiling({}, _cells(truth), 0.5) is None


def test_monotone_ceiling_equals_brute_force_on_random_grids():
    import itertools

    from reprobe.analysis.validation import monotone_ceiling

    rng = np.random.default_rng(0)
    depths, levels = (10, 20, 40), (0, 10, 20, 40)
    for _ in range(30):
        sws = [1.0, 1.5, 2.0, 2.5, 3.0]
        truth = {sw: {d: bool(rng.random() < 0.6) for d in depths} for sw in sws}
        scores = {(sw, 0.05, 8): float(rng.integers(0, 4)) for sw in sws}  # ties happen
        best = 0
        for assign in itertools.product(levels, repeat=len(sws)):
            f = dict(zip(sws, assign))
            if any(scores[(a, 0.05, 8)] < scores[(b, 0.05, 8)] and f[a] > f[b] for a in sws for b in sws):
                continue
            if any(scores[(a, 0.05, 8)] == scores[(b, 0.05, 8)] and f[a] != f[b] for a in sws for b in sws):
                continue
            best = max(best, sum((d <= f[sw]) == y for sw in sws for d, y in truth[sw].items()))
        assert monotone_ceiling(scores, _cells(truth), 0.5) == pytest.approx(best / 15)


def test_c_scales_with_an_mlps_width():
    """Truth made at width 64 by depth ≤ c₆₄·ξ with c₆₄ = 3·(300/64)^0.45 ≈ 6: calibrating the
    width-scaled rule recovers the reference c = 3, and the predicted depths are c₆₄·ξ̂."""
    from reprobe.analysis.prediction import depth_per_xi_at, hidden_width
    from reprobe.analysis.validation import predicted_depths

    c64 = depth_per_xi_at(64, 3.0, 0.45)
    assert c64 == pytest.approx(3.0 * (300 / 64) ** 0.45)
    assert depth_per_xi_at(300, 3.0, 0.45) == 3.0 and depth_per_xi_at(None, 3.0, 0.45) == 3.0
    assert hidden_width([[64]] * 5 + [[10]]) == 64 and hidden_width([[16, 8, 8], [16, 8, 8], [10]]) is None
    assert hidden_width([[128], [64], [32], [10]]) == 64  # the median hidden width of a shrinking MLP
    lines = deepest_points(_point(sw, xi, width=64) for sw, xi in XI.items())
    truth = _trained(c64, width=64)
    cal, s = calibrate(lines, truth, 0.5, metric="relative_entropy", width_exponent=0.45)
    assert s.agreement == 1.0 and 2.0 <= cal.depth_per_xi <= 4.0 and cal.width_exponent == 0.45
    depths = predicted_depths(lines, depth_per_xi=3.0, width_exponent=0.45)
    assert all(depths[(sw, 0.05, 64)] == pytest.approx(c64 * xi, rel=0.1) for sw, xi in XI.items())
