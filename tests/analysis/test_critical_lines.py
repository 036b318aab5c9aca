"""Each predictor's critical σ_w² read off a sweep's records: ξ̂ peak, χ = 1 crossing, mean field."""

from __future__ import annotations

import math

import pytest

from reprobe.analysis.critical_lines import (
    chi_crossing, critical_lines, line_key, mean_log_chi, parabola_peak, peak_band,
)


@pytest.mark.parametrize("peak", [1.83, 2.0, 2.41])
def test_parabola_peak_of_a_known_parabola_on_an_uneven_grid(peak):
    xs = [1.0, 1.3, 1.7, 1.9, 2.2, 2.6, 3.0]
    ys = [20.0 - 7.0 * (x - peak) ** 2 for x in xs]
    x, note = parabola_peak(xs[::-1], ys[::-1])  # order does not matter
    assert x == pytest.approx(peak, abs=1e-9) and note == ""


def test_parabola_peak_at_the_edge_and_on_missing_values():
    x, note = parabola_peak([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert x == 3.0 and "edge" in note
    x, note = parabola_peak([1.0, 2.0, 3.0, 4.0], [None, 1.0, math.nan, 0.5])
    assert x == 2.0 and "only 2 grid point" in note  # only 2.0 and 4.0 count
    assert parabola_peak([1.0, 2.0], [None, None])[0] is None
    x, note = parabola_peak([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert x == 2.0 and "flat" in note


def test_peak_band_spans_the_values_within_their_error():
    xs = [1.0, 1.5, 2.0, 2.5, 3.0]
    ys = [5.0, 9.5, 10.0, 9.9, 8.0]
    errs = [0.1, 0.1, 0.2, 0.2, 0.1]
    assert peak_band(xs, ys, errs) == (2.0, 2.5)  # 9.9 within √(0.2²+0.2²); 9.5 not within √(0.2²+0.1²)
    assert peak_band(xs, ys, [1.0] * 5) == (1.5, 2.5)


def test_chi_crossing_interpolates_log_chi():
    xs = [1.0, 1.5, 2.0, 2.5]
    ys = [math.log(2.0 * x / 3.6) for x in xs]  # χ = x / 1.8 crosses 1 at 1.8, log-linear between points
    x, note = chi_crossing(xs, ys)
    lo, hi = math.log(1.5 / 1.8), math.log(2.0 / 1.8)
    assert x == pytest.approx(1.5 + 0.5 * (-lo) / (hi - lo)) and note == ""
    assert abs(x - 1.8) < 0.02  # interpolation error of ln χ between grid points
    assert chi_crossing(xs, [-1, -0.5, -0.2, -0.1])[0] is None
    assert "above σ_w² = 2.5" in chi_crossing(xs, [-1, -0.5, -0.2, -0.1])[1]
    assert "below σ_w² = 1" in chi_crossing(xs, [0.1, 0.2, 0.3, 0.4])[1]


def test_mean_log_chi_leaves_the_head_out():
    chis = [0.5, 2.0, 100.0]
    assert mean_log_chi(chis, head=True) == pytest.approx(0.0)
    assert mean_log_chi(chis, head=False) == pytest.approx(math.log(100.0) / 3)
    assert mean_log_chi([None, 0.0], head=False) is None


def _record(sw, sb, xi, chi, depth=10, width=64):
    shapes = [[width]] * (depth - 1) + [[10]]
    return {"sigma_w2": sw, "sigma_b2": sb, "depth": depth, "width": width, "seed": 0, "stage_shapes": shapes,
            "metrics": {"relative_entropy": [0.0] * depth},
            "prediction": {"xi": xi, "xi_err": 0.01 * xi, "xi_is_bound": False},
            "predictors": {"partial_jacobian": {"score": -abs(math.log(chi)), "per_stage": [chi] * (depth - 2) + [sw]}}}


def test_critical_lines_from_synthetic_records():
    recs = []
    for sb, crit in ((0.05, 1.8), (0.2, 2.3)):
        for sw in (1.0, 1.5, 2.0, 2.5, 3.0):
            recs.append(_record(sw, sb, xi=30 - 8 * (sw - crit) ** 2, chi=math.exp(0.8 * (sw - crit))))
    recs.append({"sigma_w2": 2.0, "sigma_b2": 0.05, "depth": 10, "width": 64, "seed": 0, "accuracy": 0.9})  # trained only
    lines = critical_lines(recs, {"0.05": 1.761, "0.2": 2.285})
    assert list(lines) == [line_key(0.05, 10, 64), line_key(0.2, 10, 64)] == ["sigma_b2=0.05,depth=10,width=64",
                                                                                "sigma_b2=0.2,depth=10,width=64"]
    for (key, row), crit, mf in zip(lines.items(), (1.8, 2.3), (1.761, 2.285)):
        assert row["probe_xi_peak"] == pytest.approx(crit)
        assert row["partial_jacobian"] == pytest.approx(crit)  # ln χ linear in σ_w²: exact
        assert row["mean_field"] == mf
        assert row["vs_mean_field"]["partial_jacobian"] == pytest.approx(crit / mf - 1)
        assert row["grid"]["sigma_w2"] == [1.0, 1.5, 2.0, 2.5, 3.0]
    # without partial-Jacobian scores: no such line (not a None that looks like "no crossing")
    plain = [{k: v for k, v in r.items() if k != "predictors"} for r in recs]
    row = critical_lines(plain)["sigma_b2=0.05,depth=10,width=64"]
    assert "partial_jacobian" not in row and row["mean_field"] is None and "vs_mean_field" not in row
