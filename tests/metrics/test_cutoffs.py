import math

import numpy as np
import pytest

import reprobe.metrics as rm
from reprobe.core.errors import ReprobeError


def test_threshold_by_hand():
    thr = rm.get_cutoff("threshold")
    # saturates from stage 3 on (values 3 == value at L)
    assert thr([1.0, 2.0, 3.0, 3.0, 3.0], eta=0.005) == 3
    # still changing at the end: l* = L
    assert thr([1.0, 2.0, 3.0, 4.0, 5.0], eta=0.005) == 5
    # flat from the first stage: l* = 1
    assert thr([2.0, 2.0, 2.0], eta=0.005) == 1
    # relative tolerance: 0.5% of |-20| = 0.1
    assert thr([-10.0, -19.95, -20.05, -20.0], eta=0.005) == 2
    assert thr([-10.0, -19.8, -20.05, -20.0], eta=0.005) == 3
    # absolute tolerance on request
    assert thr([0.0, 0.9, 1.0], eta=0.2, relative=False) == 2


def test_threshold_non_finite():
    thr = rm.get_cutoff("threshold")
    assert thr([1.0, 2.0, float("nan")]) is None
    # a NaN stage counts as different from the end value
    assert thr([1.0, float("nan"), 3.0, 3.0]) == 3


def test_plateau_ignores_a_late_spike():
    v = list(np.concatenate([np.linspace(0, 1, 10), np.ones(30)]))
    v[-3] = 1.5  # one spike near the end fools the paper's rule
    assert rm.get_cutoff("threshold")(v) >= 38
    assert rm.get_cutoff("plateau")(v) <= 12


def test_plateau_scales_tolerance_with_noise():
    rng = np.random.default_rng(0)
    v = np.concatenate([np.linspace(-5, -20, 15), -20 + 0.5 * rng.standard_normal(35)])
    assert rm.get_cutoff("threshold")(list(v), eta=0.005) > 40  # noise > 0.5% of 20
    assert 12 <= rm.get_cutoff("plateau")(list(v), eta=0.005) <= 18


def test_plateau_does_not_see_a_trend_as_noise():
    v = list(np.linspace(-8, -12, 50))  # still falling: information still flows
    assert rm.get_cutoff("plateau")(v) >= 48


def test_compute_cutoff_accepts_none():
    assert rm.compute_cutoff("threshold", [1.0, None, 3.0, 3.0]) == 3
    assert rm.compute_cutoff("plateau", [1.0, 2.0, None]) is None


def test_register_custom_detector():
    @rm.register_cutoff("test_last", help="always L")
    def last(values, **_):
        return len(values)

    assert rm.compute_cutoff("test_last", [1.0, 2.0, 3.0]) == 3
    assert rm.list_cutoffs()[:2] == ["threshold", "plateau"] and "test_last" in rm.list_cutoffs()


def test_unknown_detector():
    with pytest.raises(ReprobeError, match="threshold"):
        rm.get_cutoff("treshold")
