"""Maps from ξ̂ to the deepest trainable depth: each form, the vectorised search, leave-one-out."""

import math

import pytest

from reprobe.analysis.calibration import (
    Calibration, Grid, _agreement_table, agreement, candidates, fit_form, leave_one_out, predicted_depth,
)
from reprobe.analysis.correlation import SaturationFit

DEPTHS = (10, 20, 40, 60, 100)


def _fit(xi, bound=False):
    return SaturationFit(xi, None if bound else 0.01 * xi, bound, None, None, tuple(range(1, 100)))


def _grid(name, width, xis, truth: Calibration):
    """Lines of the given ξ̂ at one width, trained cells made by ``truth``'s map (probed at depth 100)."""
    fits = {(sw, 0.05, width): (_fit(xi), 100) for sw, xi in xis.items()}
    cells = [(k, d, d <= predicted_depth(f, 100, truth, width)[0]) for k, (f, _) in fits.items() for d in DEPTHS]
    return Grid(name, fits, {k: width for k in fits}, cells)


XIS = {1.0: 4.0, 1.3: 5.2, 1.6: 5.9, 1.9: 6.2, 2.5: 5.5, 3.1: 5.0, 4.0: 4.4}


def test_the_floor_makes_the_depth_diverge_at_the_edge_of_chaos():
    cal = Calibration(5.0, floor_xi=20.0, floor_width_exponent=0.5)
    assert cal.floor_at(300) == 20.0 and cal.floor_at(75) == pytest.approx(10.0)
    assert cal.net_xi(5.0, 300) == pytest.approx(1 / (1 / 5 - 1 / 20))
    assert math.isinf(cal.depth_of(25.0, 300))
    # Beyond the floor the depth is "at least the probed depth", a bound.
    depth, bound = predicted_depth(_fit(25.0), 100, cal, 300)
    assert bound and depth >= 100
    linear = Calibration(3.0, width_exponent=0.45)
    assert linear.depth_of(10.0, 300) == pytest.approx(30.0)
    assert linear.depth_of(10.0, 64) == pytest.approx(30.0 * (300 / 64) ** 0.45)
    assert Calibration(2.0, power=2.0).depth_of(10.0, None) == pytest.approx(200.0)


def test_the_vectorised_search_agrees_with_the_rule_cell_by_cell():
    truth = Calibration(5.0, floor_xi=8.0)
    grids = [_grid("w64", 64, XIS, truth)]
    cands = candidates("linear")[:40] + candidates("floor")[:40] + [truth]
    table, total = _agreement_table(cands, grids, None)
    for cal, agree in zip(cands, table):
        assert (int(agree), total) == agreement(cal, grids)


@pytest.mark.parametrize("form", ["floor", "power", "linear"])
def test_a_form_recovers_truth_of_its_own_form(form):
    truth = {"floor": Calibration(5.0, floor_xi=8.0, floor_width_exponent=0.54),
             "power": Calibration(1.375, power=2.375),
             "linear": Calibration(6.0)}[form]
    grids = [_grid("w64", 64, XIS, truth)]
    cal, agree, total = fit_form(form, grids)
    assert agree == total == len(XIS) * len(DEPTHS)
    held, cells = leave_one_out(form, grids, "sigma_w2")
    assert cells == total and held >= 0.85 * cells


def test_the_floor_form_beats_a_linear_map_on_truth_that_diverges():
    """Truth like the v2 grids: near the edge every depth trains, away from it a few tens of stages."""
    truth = Calibration(5.0, floor_xi=8.0)  # ξ̂ 6.2 → ξ_net 27.6 → 138 stages; ξ̂ 4 → 40
    grids = [_grid("w64", 64, XIS, truth)]
    _, lin, n = fit_form("linear", grids)
    _, flo, _ = fit_form("floor", grids)
    assert flo == n and lin < n
