"""Which stage pairs the mean ln χ reads: hidden pairs of equal shape after the transient (pure, no nets)."""

import math

import pytest

from reprobe.analysis.chi import TRANSIENT_PAIRS, chi_pairs, log_chi, log_chi_depth_scale, mean_log_chi
from reprobe.analysis.chi_crossing import chi_depth_scale


def test_an_mlp_keeps_its_equal_width_pairs_after_the_transient():
    shapes = [[300]] * 28 + [[400], [10]]  # reprobe's wide MLP, depth 30
    sel = chi_pairs(29, shapes)
    assert sel.kept == list(range(4, 27)) and (sel.transient, sel.reshaped, sel.head) == (4, 1, 1)


def test_a_cnn_leaves_out_the_pair_through_its_pool():
    shapes = [[32, 28, 28]] * 10 + [[10]]
    chis = [1.3, 1.2] + [1.0] * 7 + [1.76 / 784]
    assert chi_pairs(10, shapes).kept == list(range(2, 9))  # transient capped at a quarter of 9
    assert mean_log_chi(chis, shapes) == pytest.approx(0.0)
    assert mean_log_chi(chis) < -0.5  # without shapes the pool pair would decide the mean


def test_shape_changes_inside_the_net_are_left_out_too():
    shapes = [[64, 8, 8], [64, 8, 8], [128, 4, 4], [128, 4, 4], [128, 4, 4], [10]]
    assert chi_pairs(5, shapes, transient=0).kept == [0, 2, 3]
    lc = log_chi([1.0, 0.25, math.e, math.e, 5.0], shapes, transient=0)
    assert lc.mean == pytest.approx(2 / 3) and lc.pairs == 3 and lc.of == 5
    assert "1 into the head" in lc.left_out and "1 changing shape" in lc.left_out


def test_a_head_of_the_hidden_shape_is_left_out_when_named():
    assert chi_pairs(3, [[10]] * 4, transient=0).kept == [0, 1, 2]
    assert chi_pairs(3, [[10]] * 4, head=True, transient=0).kept == [0, 1]


def test_mismatched_or_missing_shapes():
    lc = log_chi([1.0, 1.0], [[4], [4]])
    assert lc.mean is None and "2 stage shapes for 2 stage pairs" in lc.left_out
    assert "no stage pair" in lc.describe()
    assert mean_log_chi([2.0, 2.0], None) == pytest.approx(math.log(2.0))
    assert mean_log_chi([2.0, 0.0, None], [[4]] * 4) == pytest.approx(math.log(2.0))
    assert TRANSIENT_PAIRS == 4


def test_depth_scale_is_one_over_the_mean_and_none_at_zero():
    assert log_chi_depth_scale(-0.25) == pytest.approx(4.0) and log_chi_depth_scale(0.5) == pytest.approx(2.0)
    assert log_chi_depth_scale(0.0) is None and log_chi_depth_scale(None) is None
    assert chi_depth_scale(math.exp(-0.25)) == pytest.approx(4.0)
    lc = log_chi([math.exp(-0.1), math.exp(-0.3)], [[4]] * 3, transient=0)
    assert lc.depth_scale == pytest.approx(5.0) and lc.stderr == pytest.approx(0.1)
