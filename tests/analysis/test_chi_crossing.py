"""The χ = 1 bisection: a known crossing, the probe budget, and brackets that miss the edge."""

import math

import pytest

from reprobe.analysis.chi_crossing import find_chi_crossing
from reprobe.analysis.critical_lines import mean_log_chi
from reprobe.core.errors import ReprobeError


def test_finds_a_known_crossing_in_eight_probes():
    # χ = σ_w² E[φ'²] with E[φ'²] slowly falling: ln χ is smooth and increasing, zero at 1.7321
    def log_chi(sw):
        return math.log(sw) - 0.5 * math.log(3.0) + 0.01 * (sw - math.sqrt(3.0)) ** 2

    seen = []
    res = find_chi_crossing(log_chi, 1.0, 4.0, 0.05, on_probe=lambda sw, chi: seen.append((sw, chi)))
    assert res.probes == 8 == len(seen) == len(res.evaluated)
    assert res.bracket[1] - res.bracket[0] <= 0.05 and res.bracket[0] < math.sqrt(3.0) < res.bracket[1]
    assert res.sigma_w2 == pytest.approx(math.sqrt(3.0), abs=2e-3)  # interpolated: far inside the bracket
    assert res.to_dict()["rank_by"] == "chi"


@pytest.mark.parametrize("offset,words", [(-5.0, "χ < 1 at both ends"), (5.0, "χ > 1 at both ends")])
def test_a_bracket_without_the_edge_says_which_way_to_move(offset, words):
    with pytest.raises(ReprobeError, match=words):
        find_chi_crossing(lambda sw: offset + 0.1 * sw, 1.0, 4.0)


def test_bad_brackets_and_unmeasurable_chi_are_clear_errors():
    with pytest.raises(ReprobeError, match="lo < hi"):
        find_chi_crossing(math.log, 4.0, 1.0)
    with pytest.raises(ReprobeError, match="tol must be > 0"):
        find_chi_crossing(math.log, 0.5, 4.0, tol=0)
    with pytest.raises(ReprobeError, match="not measurable at σ_w² = 1"):
        find_chi_crossing(lambda sw: None, 1.0, 4.0)


def test_mean_log_chi_leaves_the_transient_out():
    # a critical net: χ = 1 at its fixed point, above 1 in the first pairs (the input's scale), head last
    chis = [1.16, 1.07, 1.03, 1.0] + [1.0] * 16 + [1.75]
    assert mean_log_chi(chis, head=True) == pytest.approx(0.0)
    assert mean_log_chi(chis, head=True, transient=0) > 0.01
    assert mean_log_chi([2.0, 1.0, 1.0], transient=4) == pytest.approx(math.log(2.0) / 3)  # short: nothing left out


def test_depth_scale_is_mean_fields_correlation_length_on_the_ordered_side():
    from reprobe import theory
    from reprobe.analysis.chi_crossing import chi_depth_scale

    for sw in (1.0, 1.3, 1.6):  # ordered tanh: ξ_c = −1/ln χ₁ (Schoenholz et al. 2017)
        assert chi_depth_scale(theory.chi1("tanh", sw, 0.05)) == pytest.approx(theory.xi_c("tanh", sw, 0.05), rel=1e-6)
    assert chi_depth_scale(1.0) is None and chi_depth_scale(float("nan")) is None and chi_depth_scale(0.0) is None
    assert chi_depth_scale(math.e) == pytest.approx(1.0) == chi_depth_scale(1 / math.e)


def test_each_probe_records_its_depth_scale():
    res = find_chi_crossing(lambda sw: math.log(sw / 1.8), 1.0, 4.0, 0.05)
    for e in res.evaluated:
        assert e["xi_chi"] == pytest.approx(1 / abs(math.log(e["chi"])))
