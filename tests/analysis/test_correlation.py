"""ξ̂ from the shape of a per-stage curve: known lengths, bounds, and curves it cannot read."""

import numpy as np
import pytest

from reprobe.analysis import fit_saturation, fitted_curve


def _curve(xi, depth, noise=0.0, d_inf=1.2, amp=1.0, seed=0):
    l = np.arange(1, depth + 1)
    rng = np.random.default_rng(seed)
    return d_inf - amp * np.exp(-l / xi) + noise * amp * rng.standard_normal(depth)


@pytest.mark.parametrize("xi,depth", [(3.0, 40), (8.0, 50), (15.0, 100), (25.0, 100)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_a_known_length_within_ten_percent(xi, depth, seed):
    fit = fit_saturation(_curve(xi, depth, noise=0.005, seed=seed))
    assert not fit.lower_bound and fit.xi is not None
    assert abs(fit.xi - xi) <= 0.1 * xi, (xi, fit)
    assert fit.xi_err is not None and 0 < fit.xi_err < 0.2 * xi
    assert abs(fit.asymptote - 1.2) < 0.05


def test_net_shallower_than_xi_gives_a_bound_not_a_number():
    fit = fit_saturation(_curve(200.0, 30, noise=0.002))
    assert fit.lower_bound and fit.xi_err is None
    assert fit.xi is not None and fit.xi >= 30  # it knows ξ is at least about the depth, not its value
    assert "no saturation" in fit.reason


def test_fitted_curve_follows_the_data():
    y = _curve(6.0, 30)
    fit = fit_saturation(y)
    assert np.max(np.abs(fitted_curve(fit, np.arange(1, 31)) - y)) < 1e-3


@pytest.mark.parametrize("values,words", [
    ([0.1, 0.2, None, float("nan"), 0.4, 0.45, 0.47, 0.48, 0.485, 0.487], None),  # NaN stages are skipped
    ([0.3, 0.5], "at least 4"),  # a 2-stage net
    ([0.7] * 12, "flat"),  # a constant curve
    ([None] * 6, "0 finite"),
])
def test_curves_it_cannot_read_give_a_reason_not_a_crash(values, words):
    fit = fit_saturation(values)
    if words is None:
        assert fit.xi is not None and 3 not in fit.stages and 4 not in fit.stages
    else:
        assert fit.xi is None and words in fit.reason


def test_classifier_head_is_left_out_on_request():
    y = list(_curve(4.0, 20)) + [9.0]  # the 10-class output layer jumps
    assert abs(fit_saturation(y, exclude_last=True).xi - 4.0) < 0.2


def test_describe_says_estimate_bound_or_why_not():
    from reprobe.analysis import describe

    assert describe(fit_saturation(_curve(5.0, 40))).startswith("ξ̂ = 5")
    assert describe(fit_saturation(_curve(500.0, 20))).startswith("ξ̂ ≥ ")
    assert describe(fit_saturation([1.0, 2.0])).startswith("ξ̂ undefined (only 2")


def test_a_run_records_and_plots_its_correlation_length(tmp_path):
    import json

    from reprobe.experiments.run import run_named

    res, _, _ = run_named("mlp", "digits", model_options=dict(depth=12, width=64, sigma_w2=1.0, sigma_b2=0.05),
                          samples=40, progress=False)
    res.save(tmp_path)
    saved = json.loads((tmp_path / "result.json").read_text())["extra"]["correlation_length"]
    assert set(saved) == set(res.metrics)
    fit = saved["relative_entropy"]
    assert fit["stages"][-1] == 11  # the 10-class head (stage 12) is left out
    assert fit["xi"] is not None and 0 < fit["xi"] < 12  # an ordered net saturates within its depth
